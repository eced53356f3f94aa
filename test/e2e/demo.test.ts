import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, expect, it } from 'vitest';
import { findChromium, launchChromium } from '../../scripts/viewer/browser.mjs';
import { haveTool, IN_CI } from '../helpers/env.js';
import { waitFor } from '../helpers/services.js';
import { assertBuilt, metric, metricsOf, ROOT } from './stack.js';

// `pnpm demo` minus the build: scripts/demo/run.mjs as a user runs it (embedded database and
// cache), on a free port range. Traffic must flow, the live dashboards must draw it (the breaker
// opening during a chaos spell included), and Ctrl-C (SIGINT) must stop everything.

const prometheus = haveTool('prometheus', ['--version']);
const chromium = findChromium();
if (!chromium && IN_CI) throw new Error('chromium is required in CI (CI=true) but is not installed');
let demo: ChildProcess | undefined;
const descendants = new Set<number>();

afterAll(() => {
  // Only on failure is anything left: never leak processes into the rest of the run.
  if (demo?.pid && demo.exitCode === null && demo.signalCode === null) {
    for (const pid of childrenOf(demo.pid)) descendants.add(pid);
  }
  for (const pid of [...descendants, ...(demo?.pid ? [demo.pid] : [])]) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {}
  }
});

const portFree = (port: number) =>
  new Promise<boolean>((resolve) => {
    const s = net.createServer();
    s.once('error', () => resolve(false));
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });

async function freeRange(count: number): Promise<number> {
  for (let i = 0; i < 50; i++) {
    const base = 20_000 + Math.floor(Math.random() * 20_000);
    const ok = await Promise.all(Array.from({ length: count }, (_, k) => portFree(base + k)));
    if (ok.every(Boolean)) return base;
  }
  throw new Error('no free port range');
}

/** Children of `pid` (Linux /proc), recursively. */
function childrenOf(pid: number): number[] {
  const out: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === pid) out.push(Number(entry), ...childrenOf(Number(entry)));
    } catch {} // gone meanwhile
  }
  return out;
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

/** Waits until the page has refreshed and `predicate` holds on it (the page refreshes every 5 s). */
async function until(page: Page, what: string, predicate: () => boolean, timeoutMs = 90_000) {
  await page.waitForFunction(predicate, undefined, { timeout: timeoutMs, polling: 500 }).catch((e: Error) => {
    throw new Error(`${what}: ${e.message}`);
  });
}

it('starts the three services, traffic and live dashboards, and stops everything on SIGINT with exit 0', {
  timeout: 300_000,
}, async () => {
  assertBuilt();
  const base = await freeRange(5); // users, catalog, orders, Prometheus, dashboards
  const env: Record<string, string | undefined> = {
    ...process.env,
    DEMO_PORT_BASE: String(base),
    DEMO_PROMETHEUS_PORT: String(base + 3),
    DEMO_DASHBOARDS_PORT: String(base + 4),
    DEMO_DURATION_S: '240', // a safety net: the test sends SIGINT long before
    // A chaos spell soon after the start, long enough for the breaker to open and be scraped.
    DEMO_CHAOS_NORMAL_S: '10',
    DEMO_CHAOS_FLAKY_S: '25',
  };
  // As on a fresh machine: embedded database and cache, no collector.
  for (const k of ['DATABASE_URL', 'REDIS_URL', 'OTEL_EXPORTER_OTLP_ENDPOINT', 'DEMO_VERBOSE']) delete env[k];
  const child = spawn(process.execPath, [join(ROOT, 'scripts', 'demo', 'run.mjs')], {
    cwd: ROOT,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  demo = child;
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  const running = () => child.exitCode === null && child.signalCode === null;
  const ctx = () => `demo output:\n${out.slice(-4000)}`;

  await waitFor('the demo banner', () => running() && out.includes('Vigil demo is up'), 120_000, 200).catch(
    (e) => {
      throw new Error(`${e.message}\n${ctx()}`);
    },
  );
  for (const port of [base, base + 1, base + 2]) expect(out).toContain(`http://127.0.0.1:${port}/metrics`);

  // Traffic flows: orders are created through orders-service (which calls users and catalog).
  const orderPort = base + 2;
  await waitFor('orders created by the traffic', async () => {
    const text = await metricsOf(orderPort);
    return metric(text, 'http_requests_total', { route: '/orders', method: 'POST', status_code: '201' }) > 0;
  }).catch((e) => {
    throw new Error(`${e.message}\n${ctx()}`);
  });

  if (prometheus) {
    expect(out).toContain(`Prometheus       http://127.0.0.1:${base + 3}`);
    await waitFor(
      'Prometheus to report the three services up',
      async () => {
        const res = await fetch(`http://127.0.0.1:${base + 3}/api/v1/targets?state=active`);
        const body = (await res.json()) as {
          data: { activeTargets: { scrapeUrl: string; health: string }[] };
        };
        const up = body.data.activeTargets.filter((t) => t.health === 'up').map((t) => t.scrapeUrl);
        return [base, base + 1, base + 2].every((p) => up.includes(`http://127.0.0.1:${p}/metrics`));
      },
      60_000,
      500,
    );
  } else {
    console.warn('demo e2e: prometheus not installed, Prometheus and dashboards part skipped');
  }

  if (prometheus && chromium) {
    // The printed dashboards URL, opened as a newcomer would: live series, and the breaker opening.
    const dashboards = `http://127.0.0.1:${base + 4}`;
    expect(out).toContain(`Dashboards       ${dashboards}/`);
    const link = (name: RegExp) => {
      const line = out.split('\n').find((l) => name.test(l) && l.includes(`${dashboards}/d/`));
      expect(line, `a ${name} link in the banner`).toBeDefined();
      return /(http:\/\/\S+\/d\/\S+)/.exec(line!)![1]!;
    };
    const browser = await launchChromium();
    try {
      const page = await browser.newPage({ viewport: { width: 1600, height: 1000 } });
      const problems: string[] = [];
      page.on('console', (m) => {
        if (m.type() === 'error') problems.push(m.text());
      });
      page.on('pageerror', (e) => problems.push(e.message));
      await page.goto(link(/Service overview/));
      await until(page, 'Service overview drawing live series', () => {
        const drawn = [...document.querySelectorAll('.panel[data-type="timeseries"][data-state="data"]')];
        return drawn.filter((p) => p.querySelector('canvas')).length >= 8;
      });
      await page.goto(link(/Resilience/));
      await until(page, 'the breaker drawn open on the Resilience dashboard', () =>
        Boolean(document.querySelector('.panel[data-type="state-timeline"] .tl-seg[data-value="open"]')),
      );
      const open = await page.$$eval(
        '.panel[data-type="state-timeline"] .tl-seg[data-value="open"]',
        (s) => s.length,
      );
      expect(open).toBeGreaterThan(0);
      expect(problems, ctx()).toEqual([]);
    } finally {
      await browser.close();
    }
  } else if (prometheus) {
    console.warn('demo e2e: chromium not installed, dashboards part skipped');
  }

  for (const pid of childrenOf(child.pid!)) descendants.add(pid);
  // services x3, traffic, (Prometheus)
  expect(descendants.size, ctx()).toBeGreaterThanOrEqual(prometheus ? 5 : 4);
  expect(running(), ctx()).toBe(true);

  child.kill('SIGINT');
  const guard = setTimeout(() => child.kill('SIGKILL'), 45_000);
  const result = await exited;
  clearTimeout(guard);
  expect(result, ctx()).toEqual({ code: 0, signal: null });
  expect(out).toContain('all stopped');
  // Every service drained and exited 0 (the demo reports each).
  for (const name of ['users-service', 'catalog-service', 'orders-service'])
    expect(out).toContain(`${name} exited with 0`);
  await waitFor('no process of the demo left', () => [...descendants].every((pid) => !alive(pid)), 10_000);
  const tmp = /config from [^:]+: (\/\S+)\/prometheus\.yml/.exec(out)?.[1];
  if (prometheus) expect(tmp && existsSync(tmp), `temp dir ${tmp} removed`).toBe(false);
});
