import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { Agent } from 'node:http';
import type { Socket } from 'node:net';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { get as shared } from '../../../test/helpers/http.js';

// Real child processes receiving real signals. The fixture imports the built packages (run
// `pnpm build` first; the root `pnpm test` does) and reports events on stdout, so every wait here
// is for an event, never for time to pass.

const FIXTURE = fileURLToPath(new URL('./fixtures/server.mjs', import.meta.url));
const children = new Set<ChildProcess>();

beforeAll(() => {
  for (const pkg of ['shutdown', 'health']) {
    const dist = fileURLToPath(new URL(`../../${pkg}/dist/index.js`, import.meta.url));
    if (!existsSync(dist)) throw new Error(`${dist} is missing: run \`pnpm build\` first`);
  }
});

afterEach(() => {
  for (const c of children) c.kill('SIGKILL');
  children.clear();
});

interface Event {
  event: string;
  [k: string]: unknown;
}

function start(env: Record<string, string>) {
  const child = spawn(process.execPath, [FIXTURE], {
    env: { ...process.env, ...env },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  children.add(child);
  const events: Event[] = [];
  const waiters: { match: (e: Event) => boolean; resolve: (e: Event) => void }[] = [];
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
  let stderr = '';
  child.stderr!.setEncoding('utf8');
  child.stderr!.on('data', (d: string) => (stderr += d));
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
    return new Promise((resolve) => waiters.push({ match, resolve }));
  };
  return {
    child,
    waitFor,
    exited,
    stderr: () => stderr,
    logs: () =>
      stderr
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as { level: string; msg: string; [k: string]: unknown }),
    send: (line: string) => child.stdin!.write(`${line}\n`),
    port: async () => (await waitFor('listening')).port as number,
  };
}

/** One request on its own connection unless an agent is given; the `Connection` header it got. */
const get = async (port: number, path: string, agent: Agent | false = false) => {
  const r = await shared(port, path, {}, { agent });
  return { status: r.status, connection: r.headers.connection, body: r.body };
};

describe.each(['express', 'fastify', 'http'])('SIGTERM on a real %s service', (framework) => {
  it('drains: in-flight request 200, /ready 503 while /users/1 200, keep-alive clients closed cleanly, exit 0', async () => {
    const svc = start({ FRAMEWORK: framework, DRAIN: 'control' });
    const port = await svc.port();
    expect((await get(port, '/ready')).status).toBe(200);

    // Keep-alive clients with pooled, idle connections.
    const agent = new Agent({ keepAlive: true, maxSockets: 2 });
    await Promise.all([get(port, '/users/1', agent), get(port, '/users/2', agent)]);
    const pooled = Object.values(agent.freeSockets).flat() as Socket[];
    expect(pooled).toHaveLength(2);
    const socketErrors: unknown[] = [];
    const socketsClosed = pooled.map(
      (s) =>
        new Promise<void>((resolve) => {
          s.on('error', (e) => socketErrors.push(e));
          s.once('close', () => resolve());
        }),
    );

    // A request in flight when SIGTERM arrives.
    const inflight = get(port, '/hold');
    await svc.waitFor('held');
    svc.child.kill('SIGTERM');
    await svc.waitFor('state', { state: 'draining' });

    // During the drain: readiness 503 at once, the service still serves, liveness still passes.
    const ready = await get(port, '/ready');
    expect(ready.status).toBe(503);
    expect(JSON.parse(ready.body)).toEqual({ status: 'fail', output: 'shutting down' });
    const user = await get(port, '/users/1', agent);
    expect(user).toMatchObject({ status: 200, connection: 'close' });
    expect(JSON.parse(user.body)).toEqual({ id: '1', name: 'user 1' });
    expect((await get(port, '/health')).status).toBe(200);

    svc.send('end-drain');
    const held = await inflight; // released once the listener has closed
    expect(held.status).toBe(200);
    expect(held.connection).toBe('close');

    expect(await svc.exited).toEqual({ code: 0, signal: null });
    await Promise.all(socketsClosed);
    expect(socketErrors).toEqual([]);
    agent.destroy();
    const msgs = svc.logs().map((l) => l.msg);
    expect(msgs[0]).toMatch(/^SIGTERM: readiness now fails/);
    expect(msgs.at(-1)).toBe('shutdown complete; exiting with 0');
    expect(svc.logs().some((l) => l.level === 'error')).toBe(false);
  });
});

describe('exit codes of a real process', () => {
  it('a hook that hangs is cut at its timeout, later hooks still run, and the exit code is 1', async () => {
    const svc = start({ DRAIN: '0', HOOK: 'hang', HOOK_TIMEOUT: '200' });
    await svc.port();
    svc.child.kill('SIGTERM');
    expect(await svc.exited).toEqual({ code: 1, signal: null });
    const logs = svc.logs();
    expect(logs.find((l) => l.level === 'error')?.msg).toBe('hook "db" timed out after 200 ms; abandoned');
    expect(logs.at(-1)?.msg).toBe('shutdown complete; exiting with 1');
  });

  it('a hook that throws gives exit code 1 and logs the error', async () => {
    const svc = start({ DRAIN: '0', HOOK: 'throw' });
    await svc.port();
    svc.child.kill('SIGTERM');
    expect(await svc.exited).toEqual({ code: 1, signal: null });
    expect(svc.logs().find((l) => l.level === 'error')).toMatchObject({
      msg: 'hook "db" failed',
      err: { message: 'pool.end failed' },
    });
  });

  it('a hook that outlives the time for the hooks is cut before the flush: exit 1, not 124', async () => {
    const svc = start({
      DRAIN: '0',
      HOOK: 'hang',
      HOOK_TIMEOUT: '60000',
      DEADLINE: '1500',
      FLUSH_TIMEOUT: '1000',
    });
    await svc.port();
    svc.child.kill('SIGTERM');
    expect(await svc.exited).toEqual({ code: 1, signal: null });
    const errors = svc.logs().filter((l) => l.level === 'error');
    expect(errors.map((l) => l.msg)).toEqual([
      expect.stringMatching(
        /^hook "db" cut after \d+ ms: the time for the drain and hooks ran out \(deadlineMs - flushTimeoutMs = 500 ms\); abandoned$/,
      ),
      'hook "health" not run: the time for the drain and hooks ran out (deadlineMs - flushTimeoutMs = 500 ms)',
    ]);
  });

  it('the global deadline forces exit 124 with a log line naming what was pending', async () => {
    // The fixture's drainUntil ignores its signal: nothing ends the drain but the deadline.
    const svc = start({ DRAIN: 'control', DEADLINE: '300', FLUSH_TIMEOUT: '100' });
    await svc.port();
    svc.child.kill('SIGTERM');
    expect(await svc.exited).toEqual({ code: 124, signal: null });
    const line = svc.logs().find((l) => l.level === 'error');
    expect(line?.msg).toBe(
      'shutdown deadline of 300 ms passed; still pending: the drainUntil condition; exiting with 124',
    );
  });

  it('a second signal exits at once with 128 + its number', async () => {
    const svc = start({ DRAIN: 'control' });
    await svc.port();
    svc.child.kill('SIGTERM');
    await svc.waitFor('state', { state: 'draining' });
    svc.child.kill('SIGTERM');
    expect(await svc.exited).toEqual({ code: 143, signal: null });
    expect(svc.logs().at(-1)).toMatchObject({ level: 'warn', msg: 'second SIGTERM: exiting now with 143' });
  });

  it('SIGINT shuts down gracefully too', async () => {
    const svc = start({ DRAIN: '0' });
    await svc.port();
    svc.child.kill('SIGINT');
    expect(await svc.exited).toEqual({ code: 0, signal: null });
    expect(svc.logs()[0]?.msg).toMatch(/^SIGINT: readiness now fails/);
  });

  it('handleUncaught: an uncaught exception is logged, then a graceful shutdown exits 1', async () => {
    const svc = start({ DRAIN: '0', UNCAUGHT: '1' });
    const port = await svc.port();
    expect((await get(port, '/crash')).status).toBe(202);
    expect(await svc.exited).toEqual({ code: 1, signal: null });
    const logs = svc.logs();
    expect(logs[0]).toMatchObject({ level: 'error', msg: 'uncaught error: shutting down gracefully' });
    expect((logs[0]?.err as { stack?: string } | undefined)?.stack).toContain('boom outside a request');
    expect(logs.map((l) => l.msg)).toContain('servers closed');
    await svc.waitFor('hook', { name: 'db' }); // the cleanup hooks ran
  });
});
