// A real Prometheus for tests: Debian's `prometheus` binary on a loopback port with
// a temporary config (the shipped rules, static targets), plus a small HTTP client for its API,
// a poller with a deadline, Grafana variable substitution and an example-traffic generator.

import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface ScrapeTarget {
  job: string;
  /** `host:port` */
  address: string;
  /** Target labels (a Kubernetes `pod` label set by relabelling, say). */
  labels?: Record<string, string>;
}

export interface PrometheusOptions {
  rules: readonly string[];
  targets: readonly ScrapeTarget[];
  /** Scrape and rule-evaluation interval. */
  interval?: string;
  binary?: string;
  /** Also scrape Prometheus itself as job `prometheus`: a non-Vigil target next to the Vigil ones. */
  scrapeSelf?: boolean;
  /** Store the exemplars of scraped histograms (`/api/v1/query_exemplars`). */
  exemplars?: boolean;
}

export interface PromSample {
  metric: Record<string, string>;
  value?: [number, string];
  values?: [number, string][];
}

export interface Prometheus {
  readonly url: string;
  readonly output: () => string;
  /** GET an API path (with query parameters); resolves with the parsed JSON `data`, throws on error status. */
  api<T = unknown>(path: string, params?: Record<string, string | string[]>): Promise<T>;
  query(expr: string, time?: number): Promise<PromSample[]>;
  queryRange(expr: string, start: number, end: number, step: number): Promise<PromSample[]>;
  stop(): Promise<void>;
}

const agent = new Agent({ keepAlive: true, maxSockets: 16 });

/** GET over loopback, resolving with status and body. */
export function httpGet(url: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { agent }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }),
      );
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

/** A free loopback port (the kernel picks; a tiny race remains, callers retry on EADDRINUSE). */
export async function freePort(): Promise<number> {
  const srv = createServer();
  srv.listen(0, '127.0.0.1');
  await once(srv, 'listening');
  const { port } = srv.address() as { port: number };
  srv.close();
  await once(srv, 'close');
  return port;
}

/**
 * How long to wait for the records of a 1m-interval rule group (the SLO's long windows): its first
 * evaluation can predate the minute-aligned sample that the window-coverage subquery reads, so data
 * is certain only after the second, up to two intervals after the inputs appear.
 */
export const SLOW_GROUP_WAIT_MS = 150_000;

/**
 * Polls `fn` until it returns a value other than `undefined`, or fails after `timeoutMs` with the
 * last reason. Waits `intervalMs` between attempts (a poll, not a sleep for things to settle).
 */
export async function waitFor<T>(
  what: string,
  fn: () => Promise<T | undefined>,
  { timeoutMs = 30_000, intervalMs = 250 }: { timeoutMs?: number; intervalMs?: number } = {},
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v !== undefined) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) {
      throw new Error(
        `timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${(last as Error).message}` : ''}`,
      );
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

function qs(params: Record<string, string | string[]>): string {
  const u = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) for (const x of Array.isArray(v) ? v : [v]) u.append(k, x);
  const s = u.toString();
  return s ? `?${s}` : '';
}

/** Starts Prometheus and resolves once it is ready (`/-/ready`). */
export async function startPrometheus(o: PrometheusOptions): Promise<Prometheus> {
  const interval = o.interval ?? '1s';
  const dir = mkdtempSync(join(tmpdir(), 'vigil-prometheus-'));
  let lastError: unknown;
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = await freePort();
    const targets = o.scrapeSelf
      ? [...o.targets, { job: 'prometheus', address: `127.0.0.1:${port}` }]
      : o.targets;
    const config = {
      global: { scrape_interval: interval, evaluation_interval: interval, scrape_timeout: interval },
      rule_files: [...o.rules],
      scrape_configs: targets.map((t) => ({
        job_name: t.job,
        static_configs: [{ targets: [t.address], ...(t.labels ? { labels: t.labels } : {}) }],
      })),
    };
    // JSON is YAML: Prometheus reads it as is.
    writeFileSync(join(dir, 'prometheus.yml'), JSON.stringify(config, null, 2));
    const child: ChildProcess = spawn(
      o.binary ?? 'prometheus',
      [
        `--config.file=${join(dir, 'prometheus.yml')}`,
        `--storage.tsdb.path=${join(dir, `data-${attempt}`)}`,
        `--web.listen-address=127.0.0.1:${port}`,
        '--log.level=warn',
        ...(o.exemplars ? ['--enable-feature=exemplar-storage'] : []),
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let out = '';
    let failed: Error | undefined;
    child.on('error', (e) => (failed = e)); // e.g. ENOENT: no prometheus binary
    child.stdout?.on('data', (b: Buffer) => (out += b.toString()));
    child.stderr?.on('data', (b: Buffer) => (out += b.toString()));
    const url = `http://127.0.0.1:${port}`;
    const exited = once(child, 'exit');
    const stop = async () => {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        await exited;
      }
    };
    // Poll readiness until the deadline, giving up early if the process died (port taken, bad config).
    const deadline = Date.now() + 15_000;
    let ready = false;
    while (!ready) {
      if (failed) throw new Error(`cannot start ${o.binary ?? 'prometheus'}: ${failed.message}`);
      if (child.exitCode !== null || child.signalCode !== null) {
        lastError = new Error(`prometheus exited with ${child.exitCode ?? child.signalCode}:\n${out}`);
        break;
      }
      ready = await httpGet(`${url}/-/ready`).then(
        (r) => r.status === 200,
        () => false,
      );
      if (!ready && Date.now() > deadline) {
        lastError = new Error(`prometheus was not ready after 15 s:\n${out}`);
        break;
      }
      if (!ready) await new Promise((r) => setTimeout(r, 100));
    }
    if (!ready) {
      await stop();
      continue;
    }
    const api = async <T>(path: string, params: Record<string, string | string[]> = {}): Promise<T> => {
      const res = await httpGet(`${url}${path}${qs(params)}`);
      const body = JSON.parse(res.body) as { status: string; data: T; error?: string; errorType?: string };
      if (body.status !== 'success')
        throw new Error(`${path} ${JSON.stringify(params)}: ${body.errorType}: ${body.error}`);
      return body.data;
    };
    return {
      url,
      output: () => out,
      api,
      async query(expr, time) {
        const params: Record<string, string> = { query: expr };
        if (time !== undefined) params.time = String(time);
        return (await api<{ result: PromSample[] }>('/api/v1/query', params)).result;
      },
      async queryRange(expr, start, end, step) {
        return (
          await api<{ result: PromSample[] }>('/api/v1/query_range', {
            query: expr,
            start: String(start),
            end: String(end),
            step: String(step),
          })
        ).result;
      },
      async stop() {
        await stop();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  }
  rmSync(dir, { recursive: true, force: true });
  throw lastError instanceof Error ? lastError : new Error(String(lastError));
}

/** Grafana's template variables as Prometheus sees them after substitution. */
export interface VariableValues {
  /** Value for `$__rate_interval` (Grafana: at least 4 scrape intervals). */
  rateInterval: string;
  /** Regex per query variable, e.g. `{ job: '.*' }` or a concrete value. */
  vars: Record<string, string>;
}

/** Replaces `$__rate_interval`, `$__interval`, `$__range` and `$name` / `${name}` variables. */
export function substitute(expr: string, v: VariableValues): string {
  return expr
    .replace(/\$__rate_interval|\$\{__rate_interval\}/g, v.rateInterval)
    .replace(/\$__interval|\$\{__interval\}/g, v.rateInterval)
    .replace(/\$__range|\$\{__range\}/g, '1h')
    .replace(/\$\{(\w+)\}|\$(\w+)/g, (_all, a: string | undefined, b: string | undefined) => {
      const name = (a ?? b)!;
      const value = v.vars[name];
      if (value === undefined) throw new Error(`no value for variable $${name} in: ${expr}`);
      return value;
    });
}

/**
 * Translates a Grafana `label_values(selector, label)` variable query into the Prometheus API
 * call Grafana makes for it.
 */
export function labelValuesCall(query: string): { path: string; params: Record<string, string> } {
  const m = /^label_values\((.*),\s*(\w+)\)$/s.exec(query.trim());
  if (!m) throw new Error(`not a label_values() query: ${query}`);
  return { path: `/api/v1/label/${m[2]}/values`, params: { 'match[]': m[1]! } };
}

/**
 * Sends a mix of requests to the basic examples until stopped: users and items (200), errors
 * (500, one every `errorEvery` rounds), slow requests (up to `slowMs`) and unmatched paths (404),
 * in waves. Bounded: it stops by itself after `maxMs`.
 */
export function startTraffic(
  ports: readonly number[],
  { maxMs = 60_000, slowMs = 700, errorEvery = 4 } = {},
): { done: Promise<number>; stop(): Promise<number> } {
  let running = true;
  let sent = 0;
  const started = Date.now();
  const loops = ports.map(async (port) => {
    const base = `http://127.0.0.1:${port}`;
    for (let i = 0; running && Date.now() - started < maxMs; i++) {
      const wave = 1 + Math.round(3 * (1 + Math.sin(i / 15)));
      const batch: Promise<unknown>[] = [];
      for (let k = 0; k < wave; k++) {
        batch.push(
          httpGet(`${base}/users/${(i * 7 + k) % 50}`),
          httpGet(`${base}/api/v1/items/${(i + k) % 20}`),
        );
      }
      if (i % errorEvery === 0) batch.push(httpGet(`${base}/error`));
      if (i % 3 === 0) batch.push(httpGet(`${base}/slow?ms=${20 + ((i * 97) % slowMs)}`));
      if (i % 5 === 0) batch.push(httpGet(`${base}/no/such/page/${i}`));
      // Pacing, not waiting for state: keeps the load smooth over several scrapes.
      batch.push(new Promise((r) => setTimeout(r, 100)));
      const results = await Promise.allSettled(batch);
      sent += results.length - 1;
    }
  });
  const done = Promise.all(loops).then(() => sent);
  return {
    /** Resolves with the number of requests sent once the run is over (after `maxMs`). */
    done,
    async stop() {
      running = false;
      return done;
    },
  };
}
