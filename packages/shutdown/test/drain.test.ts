import { once } from 'node:events';
import { Agent, createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { type AddressInfo, connect, type Socket } from 'node:net';
import Fastify from 'fastify';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { get as shared } from '../../../test/helpers/http.js';
import { createShutdown, type Shutdown, type ShutdownLogger, type ShutdownOptions } from '../src/index.js';

// In-process drains against real servers and real sockets. Nothing here waits on the clock: the
// drain ends when the test opens a gate (`drainUntil`), and every wait is for an event.

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function gate() {
  let open!: () => void;
  const promise = new Promise<void>((r) => {
    open = r;
  });
  return { promise, open };
}

/** A plain http server: /users/:id answers at once, /hold answers when released. */
async function startServer() {
  const held = new Set<() => void>();
  let onHeld: (() => void) | undefined;
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    if (req.url === '/hold') {
      held.add(() => res.writeHead(200, { 'content-type': 'text/plain' }).end('held'));
      onHeld?.();
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json' }).end('{"id":"1"}');
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  cleanups.push(() => {
    if (server.listening) server.close();
    server.closeAllConnections();
  });
  return {
    server,
    port: (server.address() as AddressInfo).port,
    release: () => {
      for (const r of held) r();
      held.clear();
    },
    heldArrived: () =>
      new Promise<void>((r) => {
        onHeld = r;
      }),
  };
}

function logSpy(): ShutdownLogger & {
  wait(text: string): Promise<void>;
  msgs: string[];
  fields: Record<string, unknown>[];
} {
  const msgs: string[] = [];
  const fields: Record<string, unknown>[] = [];
  const waiters: { text: string; resolve: () => void }[] = [];
  const at = (f: Record<string, unknown>, msg: string) => {
    msgs.push(msg);
    fields.push(f);
    for (const w of waiters) if (msg.includes(w.text)) w.resolve();
  };
  return {
    msgs,
    fields,
    info: at,
    warn: at,
    error: at,
    wait: (text) =>
      msgs.some((m) => m.includes(text))
        ? Promise.resolve()
        : new Promise((resolve) => {
            waiters.push({ text, resolve });
          }),
  };
}

function shutdownFor(options: ShutdownOptions): {
  s: Shutdown;
  exit: ReturnType<typeof vi.fn>;
  log: ReturnType<typeof logSpy>;
} {
  const exit = vi.fn();
  const log = logSpy();
  const s = createShutdown({ signals: [], exit, logger: log, ...options });
  cleanups.push(() => s.close());
  return { s, exit, log };
}

/** One request on its own connection unless an agent is given; the `Connection` header it got. */
const get = async (port: number, path: string, agent: Agent | false = false) => {
  const r = await shared(port, path, {}, { agent });
  return { status: r.status, connection: r.headers.connection, body: r.body };
};

function sockets(agent: Agent): Socket[] {
  return Object.values(agent.freeSockets).flat() as Socket[];
}

describe('draining an http.Server', () => {
  it('keeps serving during the drain with Connection: close, then closes idle keep-alive sockets cleanly', async () => {
    const { server, port } = await startServer();
    const drain = gate();
    const { s } = shutdownFor({ servers: [server], drainUntil: () => drain.promise, idleGraceMs: 0 });

    const agent = new Agent({ keepAlive: true, maxSockets: 3 });
    cleanups.push(() => agent.destroy());
    const warm = await Promise.all([1, 2, 3].map(() => get(port, '/users/1', agent)));
    expect(warm.map((a) => a.connection)).toEqual(['keep-alive', 'keep-alive', 'keep-alive']);
    const pooled = sockets(agent);
    expect(pooled).toHaveLength(3);
    const errors: unknown[] = [];
    const closed = pooled.map((sock) => {
      sock.on('error', (e) => errors.push(e));
      return once(sock, 'close');
    });

    const done = s.trigger('test');
    expect(s.state).toBe('draining');
    // Still serving, on a reused keep-alive socket, now with Connection: close.
    const during = await get(port, '/users/1', agent);
    expect(during).toMatchObject({ status: 200, connection: 'close' });
    // A brand-new connection is accepted too: the listener stays open during the drain.
    expect((await get(port, '/users/1', false)).status).toBe(200);
    expect(sockets(agent)).toHaveLength(2); // the idle ones are left alone while draining

    drain.open();
    expect(await done).toBe(0);
    await Promise.all(closed);
    expect(errors).toEqual([]);
    expect(server.listening).toBe(false);
  });

  it('a request in flight when the shutdown starts completes with 200 after the listener closed', async () => {
    const { server, port, release, heldArrived } = await startServer();
    const drain = gate();
    const { s, log } = shutdownFor({ servers: [server], drainUntil: () => drain.promise });
    const arrived = heldArrived();
    const inflight = get(port, '/hold', false);
    await arrived;
    const done = s.trigger('test');
    drain.open();
    await log.wait('stopped accepting connections');
    expect(log.msgs).toContain('servers[0]: stopped accepting connections; finishing 1 request(s) in flight');
    // The listener is closed now: new connections are refused, not accepted-then-reset.
    await expect(get(port, '/users/1', false)).rejects.toMatchObject({ code: 'ECONNREFUSED' });
    release();
    expect(await inflight).toMatchObject({ status: 200, connection: 'close', body: 'held' });
    expect(await done).toBe(0);
  });

  it('a kept-alive connection is not closed under its client when the listener closes (server.close() would)', async () => {
    const { server, port } = await startServer();
    const drain = gate();
    const { s, log } = shutdownFor({
      servers: [server],
      drainUntil: () => drain.promise,
      idleGraceMs: 60_000,
    });
    const raw = connect({ port, host: '127.0.0.1' });
    await once(raw, 'connect');
    raw.setEncoding('utf8');
    let text = '';
    raw.on('data', (d: string) => (text += d));
    raw.write('GET /users/1 HTTP/1.1\r\nHost: x\r\n\r\n');
    while (!text.includes('{"id":"1"}')) await once(raw, 'data');
    expect(text.toLowerCase()).toContain('connection: keep-alive');
    text = '';
    const done = s.trigger('test');
    drain.open();
    await log.wait('stopped accepting connections');
    // Node's server.close() would have destroyed this idle keep-alive connection right here.
    raw.write('GET /users/2 HTTP/1.1\r\nHost: x\r\n\r\n');
    await once(raw, 'end');
    expect(text).toMatch(/^HTTP\/1\.1 200 OK/);
    expect(text.toLowerCase()).toContain('connection: close');
    raw.destroy();
    expect(await done).toBe(0);
  });

  it('a connection accepted but still without a request is not closed under the client: its request is served', async () => {
    const { server, port } = await startServer();
    const drain = gate();
    const { s, log } = shutdownFor({
      servers: [server],
      drainUntil: () => drain.promise,
      idleGraceMs: 60_000,
    });
    const seenByServer = once(server, 'connection');
    const raw = connect({ port, host: '127.0.0.1' });
    await Promise.all([once(raw, 'connect'), seenByServer]);
    const done = s.trigger('test');
    drain.open();
    await log.wait('stopped accepting connections');
    let text = '';
    raw.setEncoding('utf8');
    raw.on('data', (d: string) => (text += d));
    raw.write('GET /users/1 HTTP/1.1\r\nHost: x\r\n\r\n');
    await once(raw, 'end'); // the server ends the connection after answering
    expect(text).toMatch(/^HTTP\/1\.1 200 OK/);
    expect(text.toLowerCase()).toContain('connection: close');
    expect(text).toContain('{"id":"1"}');
    raw.destroy();
    expect(await done).toBe(0);
  });

  it('the listener stays open until a client told to close during the drain has reconnected', async () => {
    const { server, port } = await startServer();
    const drain = gate();
    // A 1 ms quiet window and no practical maximum: only the awaited reconnect keeps it open.
    const { s, log } = shutdownFor({
      servers: [server],
      drainUntil: () => drain.promise,
      settleQuietMs: 1,
      settleMaxMs: 60_000,
    });
    const agent = new Agent({ keepAlive: true });
    cleanups.push(() => agent.destroy());
    await get(port, '/users/1', agent);
    const done = s.trigger('test');
    const told = await get(port, '/users/1', agent); // forced Connection: close: expect a reconnect
    expect(told.connection).toBe('close');
    drain.open();
    // The reconnect: accepted (not refused), because the settle step waits for it.
    const again = await get(port, '/users/1', agent);
    expect(again.status).toBe(200);
    expect(await done).toBe(0);
    const i = log.msgs.findIndex((m) => m.includes('stopped accepting'));
    expect(log.fields[i]).toMatchObject({ quiet: true, reconnectsAwaited: 1 });
  });

  it('connections opened before the handle existed are closed too', async () => {
    const { server, port } = await startServer();
    const agent = new Agent({ keepAlive: true });
    cleanups.push(() => agent.destroy());
    await get(port, '/users/1', agent); // an idle keep-alive socket the handle never saw
    const [sock] = sockets(agent);
    const closed = once(sock as Socket, 'close');
    const { s } = shutdownFor({ servers: [server], drainDelayMs: 0, idleGraceMs: 0 });
    expect(await s.trigger('test')).toBe(0);
    await closed;
  });

  it('the drain timeout cuts a request that never ends, names it, and the exit code is 1', async () => {
    const { server, port, heldArrived } = await startServer();
    const { s, log } = shutdownFor({ servers: [server], drainDelayMs: 0, drainTimeoutMs: 50 });
    const arrived = heldArrived();
    const inflight = get(port, '/hold', false).catch((e: NodeJS.ErrnoException) => e.code);
    await arrived;
    expect(await s.trigger('test')).toBe(1);
    expect(await inflight).toBe('ECONNRESET');
    expect(log.msgs).toContainEqual(
      expect.stringMatching(
        /^drain timeout of 50 ms: cut 1 request\(s\) in flight: GET \/hold \(\d+\.\d s\)$/,
      ),
    );
  });

  it('when the time for the drain runs out, requests in flight are cut and named: exit 1, not 124', async () => {
    const { server, port, heldArrived } = await startServer();
    const { s, log } = shutdownFor({
      servers: [server],
      drainDelayMs: 0,
      drainTimeoutMs: 60_000,
      flushTimeoutMs: 100,
      deadlineMs: 400,
    });
    const arrived = heldArrived();
    const inflight = get(port, '/hold', false).catch((e: NodeJS.ErrnoException) => e.code);
    await arrived;
    expect(await s.trigger('test')).toBe(1);
    expect(await inflight).toBe('ECONNRESET');
    expect(log.msgs).toContainEqual(
      expect.stringMatching(
        /^the time for the drain and hooks ran out \(deadlineMs - flushTimeoutMs = 300 ms\): cut 1 request\(s\) in flight: GET \/hold \(\d+\.\d s\)$/,
      ),
    );
  });
});

describe('draining a Fastify app', () => {
  it('serves 200 (not Fastify 503) during the drain, then app.close() runs the onClose hooks', async () => {
    const app = Fastify({ logger: false });
    const onClose = vi.fn();
    app.addHook('onClose', async () => onClose());
    app.get('/users/:id', async (req) => ({ id: (req.params as { id: string }).id }));
    await app.listen({ port: 0, host: '127.0.0.1' });
    cleanups.push(() => app.close());
    const port = (app.server.address() as AddressInfo).port;
    const drain = gate();
    const { s } = shutdownFor({ servers: [app], drainUntil: () => drain.promise });
    const agent = new Agent({ keepAlive: true });
    cleanups.push(() => agent.destroy());
    await get(port, '/users/1', agent);

    const done = s.trigger('test');
    const during = await get(port, '/users/2', agent);
    expect(during).toMatchObject({ status: 200, connection: 'close', body: '{"id":"2"}' });
    expect(onClose).not.toHaveBeenCalled();
    drain.open();
    expect(await done).toBe(0);
    expect(onClose).toHaveBeenCalledTimes(1);
  });

  it('rejects a target that is neither a server nor an app with a server', () => {
    expect(() => createShutdown({ signals: [], servers: [{ server: {}, close() {} } as never] })).toThrow(
      /servers\[0\]/,
    );
  });
});

describe('addServer', () => {
  it('adds a server to drain and can remove it again before the shutdown', async () => {
    const a = await startServer();
    const b = await startServer();
    const { s } = shutdownFor({ drainDelayMs: 0 });
    s.addServer(a.server);
    const off = s.addServer(b.server as Server);
    off();
    expect(await s.trigger('test')).toBe(0);
    expect(a.server.listening).toBe(false);
    expect(b.server.listening).toBe(true);
  });
});
