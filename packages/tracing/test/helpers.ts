import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const FIXTURES = join(dirname(fileURLToPath(import.meta.url)), 'fixtures');
/** The package directory: `@vigil/tracing/register` resolves from here (package self-reference). */
export const PKG_DIR = join(FIXTURES, '..', '..');
export const DATABASE_URL = 'postgres://postgres@127.0.0.1:5432/test';

export interface Proc {
  child: ChildProcess;
  /** stdout lines parsed as JSON (others kept as { raw }). */
  lines: Record<string, any>[];
  stderr: () => string;
  port: number;
  /** Resolves with the first line matching `pred` (already seen or future), rejects after `ms`. */
  waitForLine(
    pred: (l: Record<string, any>) => boolean,
    what: string,
    ms?: number,
  ): Promise<Record<string, any>>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  stop(signal?: NodeJS.Signals): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

const running = new Set<ChildProcess>();
process.on('exit', () => {
  for (const c of running) c.kill('SIGKILL');
});

/** Spawns `node [...args]` in the package dir, stdin piped (fixtures exit when it closes) and waits for {"port"}. */
export async function startNode(args: string[], env: Record<string, string | undefined> = {}): Promise<Proc> {
  const child = spawn(process.execPath, args, {
    cwd: PKG_DIR,
    env: { ...process.env, NODE_OPTIONS: '', OTEL_LOG_LEVEL: 'none', ...env },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  running.add(child);
  const lines: Record<string, any>[] = [];
  let err = '';
  let buf = '';
  const waiters = new Set<() => void>();
  child.stdout!.on('data', (b: Buffer) => {
    buf += b.toString();
    let i = buf.indexOf('\n');
    while (i >= 0) {
      const line = buf.slice(0, i);
      buf = buf.slice(i + 1);
      try {
        lines.push(JSON.parse(line));
      } catch {
        lines.push({ raw: line });
      }
      i = buf.indexOf('\n');
    }
    for (const w of waiters) w();
  });
  child.stderr!.on('data', (b: Buffer) => {
    err += b.toString();
    for (const w of waiters) w();
  });
  const exited = once(child, 'exit').then(([code, signal]) => {
    running.delete(child);
    for (const w of waiters) w();
    return { code: code as number | null, signal: signal as NodeJS.Signals | null };
  });
  let done = false;
  void exited.then(() => {
    done = true;
  });
  const waitForLine: Proc['waitForLine'] = (pred, what, ms = 15_000) =>
    new Promise((resolve, reject) => {
      const check = () => {
        const hit = lines.find(pred);
        if (hit) {
          cleanup();
          resolve(hit);
        } else if (done) {
          cleanup();
          reject(
            new Error(`process exited before ${what}\nstdout: ${JSON.stringify(lines)}\nstderr: ${err}`),
          );
        }
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(new Error(`no ${what} within ${ms} ms\nstdout: ${JSON.stringify(lines)}\nstderr: ${err}`));
      }, ms);
      const cleanup = () => {
        clearTimeout(timer);
        waiters.delete(check);
      };
      waiters.add(check);
      check();
    });
  const first = await waitForLine((l) => typeof l.port === 'number', 'port line');
  return {
    child,
    lines,
    stderr: () => err,
    port: first.port as number,
    waitForLine,
    exited,
    async stop(signal = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
  };
}

export interface ReceivedSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind: number;
  attributes: Record<string, unknown>;
  events: string[];
  status: { code: number; message?: string };
  resource: Record<string, unknown>;
  scope?: string;
  encoding: 'json' | 'protobuf';
}

/** One export request as the receiver saw it. */
export interface ReceivedRequest {
  at: number;
  encoding?: string;
  authorization?: string;
  tenant?: string;
  /** CN of the client certificate (mutual TLS). */
  clientCN?: string;
}

export interface Receiver {
  port: number;
  url: string;
  /** `https://127.0.0.1:<port>` when started with RECEIVER_TLS_KEY / RECEIVER_TLS_CERT. */
  tlsUrl?: string;
  spans(): Promise<ReceivedSpan[]>;
  stats(): Promise<{
    requests: number;
    contentTypes: Record<string, number>;
    hanging: number;
    log: ReceivedRequest[];
  }>;
  setMode(mode: ReceiverMode): Promise<void>;
  /** Polls /spans until `pred` holds (no sleeps as synchronisation: a deadline, not a delay). */
  waitForSpans(pred: (s: ReceivedSpan[]) => boolean, what: string, ms?: number): Promise<ReceivedSpan[]>;
  stop(): Promise<void>;
}

/** How the receiver answers exports: 200, 500, never, or 200 after RECEIVER_DELAY_MS. */
export type ReceiverMode = 'ok' | 'hang' | 'error' | 'slow';

export async function startReceiver(
  mode: ReceiverMode = 'ok',
  env: Record<string, string> = {},
): Promise<Receiver> {
  const p = await startNode([join(FIXTURES, 'otlp-receiver.mjs')], { RECEIVER_MODE: mode, ...env });
  const base = `http://127.0.0.1:${p.port}`;
  const spans = async () => (await (await fetch(`${base}/spans`)).json()) as ReceivedSpan[];
  const tlsPort = p.lines.find((l) => typeof l.port === 'number')?.tlsPort as number | undefined;
  return {
    port: p.port,
    url: base,
    ...(tlsPort !== undefined && { tlsUrl: `https://127.0.0.1:${tlsPort}` }),
    spans,
    stats: async () => (await (await fetch(`${base}/stats`)).json()) as never,
    async setMode(m) {
      await fetch(`${base}/mode?m=${m}`, { method: 'POST' });
    },
    async waitForSpans(pred, what, ms = 15_000) {
      const deadline = Date.now() + ms;
      for (;;) {
        const s = await spans();
        if (pred(s)) return s;
        if (Date.now() > deadline)
          throw new Error(
            `receiver: no ${what} within ${ms} ms; got ${JSON.stringify(s.map((x) => x.name))}`,
          );
        // Poll interval of a deadline loop, not a synchronisation delay.
        await new Promise((r) => setTimeout(r, 50));
      }
    },
    async stop() {
      p.child.stdin?.end();
      await p.exited;
    },
  };
}

export { get } from '../../../test/helpers/http.js';

/** Env for a traced service sending http/json to the receiver, quickly. */
export function tracingEnv(receiver: Receiver, extra: Record<string, string> = {}): Record<string, string> {
  return {
    OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
    OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
    OTEL_BSP_SCHEDULE_DELAY: '50',
    DATABASE_URL,
    ...extra,
  };
}

export const SERVER = 2;
export const CLIENT = 3;
export const INTERNAL = 1;
