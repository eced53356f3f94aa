import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { parseSamples, request } from '../helpers/http.js';
import { startNestApp } from './app.mjs';
import * as nest11 from './nest11/index.mjs';
import * as nest12 from './nest12/index.mjs';

// Real Nest 11 and 12 apps on both of Nest's platforms, with Vigil's documented one-liners (see
// app.mjs): the Express platform takes @vigil/express' middleware through app.use(), the Fastify
// platform @vigil/fastify's plugins through app.register(); @vigil/shutdown drains either.

type Nest = any;
interface Started {
  app: any;
  port: number;
  release: () => void;
}

const closers: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const c of closers.splice(0).reverse()) await c();
});

beforeAll(() => {
  for (const pkg of ['express', 'fastify', 'shutdown', 'logger', 'tracing']) {
    const dist = fileURLToPath(new URL(`../../packages/${pkg}/dist/index.js`, import.meta.url));
    if (!existsSync(dist)) throw new Error(`${dist} is missing: run \`pnpm build\` first`);
  }
});

const count = (text: string, labels: string) => parseSamples(text).get(`http_requests_total{${labels}}`) ?? 0;

describe.each([
  ['Nest 11', '11', nest11 as Nest],
  ['Nest 12', '12', nest12 as Nest],
])('%s', (_name, major, nest) => {
  describe.each(['express', 'fastify'])('on its %s platform', (platform) => {
    async function start(
      extra: Record<string, unknown> = {},
    ): Promise<Started & { lines: Record<string, unknown>[] }> {
      const lines: Record<string, unknown>[] = [];
      const logger = nest.vigilLogger.createLogger({
        service: 'nest-test',
        destination: { write: (l: string) => void lines.push(JSON.parse(l)) },
      });
      const s = (await startNestApp(nest, platform, { logger, ...extra })) as Started;
      closers.push(() => s.app.close());
      return { ...s, lines };
    }

    it('labels by the controller template with global prefix and version, statuses from exception filters', async () => {
      const { port, lines } = await start();
      expect((await request(port, 'GET', '/api/v1/users/42')).status).toBe(200);
      expect((await request(port, 'GET', '/api/v1/users/43')).status).toBe(200);
      expect((await request(port, 'GET', '/api/items/7')).status).toBe(200);
      expect((await request(port, 'GET', '/api/items/not-a-number')).status).toBe(400); // ParseIntPipe
      expect((await request(port, 'GET', '/api/missing/9')).status).toBe(404); // NotFoundException
      expect((await request(port, 'GET', '/api/error')).status).toBe(500); // unhandled Error
      expect((await request(port, 'GET', '/api/v2/users/1')).status).toBe(404); // no such version
      expect((await request(port, 'GET', '/livez')).status).toBe(200);
      expect((await request(port, 'GET', '/ready')).status).toBe(200);
      const text = (await request(port, 'GET', '/metrics')).body;
      expect(count(text, 'route="/api/v1/users/:id",method="GET",status_code="200"')).toBe(2);
      expect(count(text, 'route="/api/items/:id",method="GET",status_code="200"')).toBe(1);
      expect(count(text, 'route="/api/items/:id",method="GET",status_code="400"')).toBe(1);
      expect(count(text, 'route="/api/missing/:id",method="GET",status_code="404"')).toBe(1);
      expect(count(text, 'route="/api/error",method="GET",status_code="500"')).toBe(1);
      // Nest 12 on Express answers unmatched paths under the global prefix from a route of its own
      // (`*path` in a router at the prefix): one bounded label, which `routeLabel` can rename.
      const unmatched = major === '12' && platform === 'express' ? '/api*path' : '__unmatched__';
      expect(count(text, `route="${unmatched}",method="GET",status_code="404"`)).toBe(1);
      // Never a concrete value, never the probes or the scrape.
      expect(text).not.toMatch(/route="[^"]*(42|43|not-a-number|\/9)"/);
      expect(text).not.toMatch(/route="\/(livez|ready|metrics)"/);

      const req = lines.filter((l) => l.msg === 'request completed');
      expect(req.map((l) => [l.route, l.path, l.status_code])).toEqual([
        ['/api/v1/users/:id', '/api/v1/users/42', 200],
        ['/api/v1/users/:id', '/api/v1/users/43', 200],
        ['/api/items/:id', '/api/items/7', 200],
        ['/api/items/:id', '/api/items/not-a-number', 400],
        ['/api/missing/:id', '/api/missing/9', 404],
        ['/api/error', '/api/error', 500],
        [unmatched, '/api/v2/users/1', 404],
      ]);
      expect(req[5]?.level).toBe('error');
      expect(typeof req[0]?.request_id).toBe('string');
    });

    it('routeLabel renames Nest 12 prefix 404 route to __unmatched__ (as documented)', async () => {
      const routeLabel = (_req: unknown, t: string) => (t.endsWith('*path') ? '__unmatched__' : undefined);
      const { port } = await start({ routeLabel });
      expect((await request(port, 'GET', '/api/nothing/here')).status).toBe(404);
      expect((await request(port, 'GET', '/elsewhere')).status).toBe(404);
      expect((await request(port, 'GET', '/api/v1/users/1')).status).toBe(200);
      const text = (await request(port, 'GET', '/metrics')).body;
      expect(count(text, 'route="__unmatched__",method="GET",status_code="404"')).toBe(2);
      expect(count(text, 'route="/api/v1/users/:id",method="GET",status_code="200"')).toBe(1);
    });

    it('starts one server span per request named by the template, 5xx as an error', async () => {
      const exporter = new nest.InMemorySpanExporter();
      const tracing = nest.vigilTracing.startTracing({ exporter, scheduledDelayMs: 1, logger: false });
      closers.push(() => tracing.close());
      const { port } = await start();
      await request(port, 'GET', '/api/v1/users/5', {
        traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01',
      });
      await request(port, 'GET', '/api/error');
      await tracing.forceFlush();
      const spans = exporter.getFinishedSpans().filter((s: any) => s.kind === 1);
      const byRoute = (r: string) => spans.find((s: any) => s.attributes['http.route'] === r);
      const users = byRoute('/api/v1/users/:id');
      expect(users?.name).toBe('GET /api/v1/users/:id');
      expect(users?.spanContext().traceId).toBe('0af7651916cd43dd8448eb211c80319c');
      expect(users?.parentSpanContext?.spanId).toBe('b7ad6b7169203331');
      expect(byRoute('/api/error')?.status.code).toBe(2);
      expect(spans).toHaveLength(2);
    });

    it("with the README's global filter, the exception is on the span and the line; statuses unchanged", async () => {
      const exporter = new nest.InMemorySpanExporter();
      const tracing = nest.vigilTracing.startTracing({ exporter, scheduledDelayMs: 1, logger: false });
      closers.push(() => tracing.close());
      const { port, lines } = await start({ errorFilter: true });
      expect((await request(port, 'GET', '/api/error')).status).toBe(500);
      expect((await request(port, 'GET', '/api/missing/1')).status).toBe(404);
      expect((await request(port, 'GET', '/api/v1/users/1')).status).toBe(200);
      await tracing.forceFlush();
      const spans = exporter.getFinishedSpans().filter((s: any) => s.kind === 1);
      const err = spans.find((s: any) => s.attributes['http.route'] === '/api/error');
      expect(err?.events.map((e: any) => e.name)).toContain('exception');
      const req = lines.filter((l) => l.msg === 'request completed');
      expect((req[0]?.err as { message?: string } | undefined)?.message).toBe('boom');
      expect(req.map((l) => l.status_code)).toEqual([500, 404, 200]);
    });

    it('refuses an app with enableShutdownHooks() as a shutdown target: one drain, not two', async () => {
      const { app } = await start();
      app.enableShutdownHooks();
      let err: unknown;
      try {
        nest.vigilExpress.createShutdown({ servers: [app], exit: () => {}, logger: false });
      } catch (e) {
        err = e;
      }
      expect(nest.vigilExpress.isVigilOptionError(err)).toBe(true);
      expect((err as { option?: string }).option).toBe('servers[0]');
      expect(String((err as Error).message)).toContain('enableShutdownHooks');
    });

    it('SIGTERM with a request in flight: readiness 503, the request completes, Nest hooks run once, exit 0', async () => {
      const child = startChild(major, platform);
      const port = (await child.waitFor('listening')).port as number;
      const inFlight = request(port, 'GET', '/api/hang');
      await child.waitFor('hang-entered');
      child.child.kill('SIGTERM');
      await child.waitFor('state', { state: 'draining' });
      expect((await request(port, 'GET', '/ready', {}, { agent: false })).status).toBe(503);
      child.child.stdin!.write('drained\n');
      const reply = await inFlight;
      expect(reply.status).toBe(200);
      expect(JSON.parse(reply.body)).toEqual({ released: true });
      expect(await child.exited).toEqual({ code: 0, signal: null });
      const names = child.events.map((e) => e.event);
      for (const hook of ['onModuleDestroy', 'beforeApplicationShutdown', 'onApplicationShutdown']) {
        expect(names.filter((n) => n === hook)).toHaveLength(1);
      }
      expect(child.events.find((e) => e.event === 'onApplicationShutdown')?.signal).toBe('SIGTERM');
      // The hooks ran after the drain: after the listener closed (state stopping).
      expect(names.indexOf('onModuleDestroy')).toBeGreaterThan(
        child.events.findIndex((e) => e.event === 'state' && e.state === 'stopping'),
      );
      expect(child.events.filter((e) => e.event === 'state' && e.state === 'draining')).toHaveLength(1);
      expect(child.events.at(-1)).toEqual({ event: 'exit', code: 0 });
    });
  });
});

interface Event {
  event: string;
  [k: string]: unknown;
}

const children = new Set<ChildProcess>();
afterEach(() => {
  for (const c of children) c.kill('SIGKILL');
  children.clear();
});

function startChild(major: string, platform: string) {
  const script = fileURLToPath(new URL('./shutdown-child.mjs', import.meta.url));
  const child = spawn(process.execPath, [script, major, platform], { stdio: ['pipe', 'pipe', 'pipe'] });
  children.add(child);
  const events: Event[] = [];
  const waiters: { match: (e: Event) => boolean; resolve: (e: Event) => void }[] = [];
  let stderr = '';
  child.stderr!.setEncoding('utf8');
  child.stderr!.on('data', (d: string) => (stderr += d));
  createInterface({ input: child.stdout! }).on('line', (line) => {
    const e = JSON.parse(line) as Event;
    events.push(e);
    for (const w of [...waiters]) {
      if (w.match(e)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(e);
      }
    }
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('exit', (code, signal) => {
      children.delete(child);
      resolve({ code, signal });
    });
  });
  const waitFor = (event: string, extra: Record<string, unknown> = {}): Promise<Event> => {
    const match = (e: Event) => e.event === event && Object.entries(extra).every(([k, v]) => e[k] === v);
    const seen = events.find(match);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      waiters.push({ match, resolve });
      child.once('exit', (code) => reject(new Error(`exited (${code}) before ${event}:\n${stderr}`)));
    });
  };
  return { child, events, exited, waitFor, stderr: () => stderr };
}
