import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, waitFor } from '../helpers/services.js';
import type { Running } from '../helpers/spawn.js';
import { assertBuilt, type Isolation, isolate, type Stack, startStack } from './stack.js';

// SIGTERM under keep-alive load loses no accepted request. The method of bench/suites/shutdown.mjs:
// raw HTTP/1.1 keep-alive connections, each sending its next request as soon as the previous
// response is complete (reconnecting after `Connection: close`). A request is *accepted* once its
// bytes were written on an established connection; accepted then failed = no complete response
// (reset, EPIPE, EOF, timeout) or a 5xx. A refused connection was never accepted and is counted apart.
// The services shed load: twenty clients sending back to back saturate them, and their load
// shedder answers part of it 503 with Retry-After before any handler. Such an answer is complete
// and the client is told when to come back: it is counted apart (`shed`), not as a failure.

const CLIENTS = 20;
const REQUEST_TIMEOUT_MS = 15_000;

let iso: Isolation;
let stack: Stack;
const ids = { user: 0, product: 0, order: 0 };

beforeAll(async () => {
  assertBuilt();
  iso = await isolate('shutdown');
  stack = await startStack({ ...iso.env, SHUTDOWN_DRAIN_DELAY_MS: '1000' });
  const u = await call(stack.users.port, 'POST', '/users', {
    name: 'Linus',
    email: `linus-${Date.now()}@example.com`,
  });
  const p = await call(stack.catalog.port, 'POST', '/products', {
    sku: `SD-${Date.now()}`,
    name: 'Mug',
    price_cents: 900,
    stock: 50,
  });
  const o = await call(stack.orders.port, 'POST', '/orders', {
    user_id: u.json.id,
    product_id: p.json.id,
    quantity: 1,
  });
  expect([u.status, p.status, o.status]).toEqual([201, 201, 201]);
  Object.assign(ids, { user: u.json.id, product: p.json.id, order: o.json.id });
});

afterAll(async () => {
  try {
    await stack?.stop();
  } finally {
    await iso?.drop();
  }
});

interface Result {
  status?: number;
  close?: boolean;
  /** A 503 from the load shedder (it carries Retry-After). */
  shed?: boolean;
  error?: string;
}

/** One response with Content-Length (or chunked) from the front of buf, or null if incomplete. */
function parseResponse(buf: Buffer): { status: number; close: boolean; shed: boolean; rest: Buffer } | null {
  const end = buf.indexOf('\r\n\r\n');
  if (end < 0) return null;
  const head = buf.subarray(0, end).toString('latin1');
  const status = Number(head.slice(9, 12));
  const close = /\r\nconnection:\s*close/i.test(head);
  const shed = status === 503 && /\r\nretry-after:/i.test(head);
  const cl = /\r\ncontent-length:\s*(\d+)/i.exec(head);
  if (cl) {
    const total = end + 4 + Number(cl[1]);
    return buf.length < total ? null : { status, close, shed, rest: buf.subarray(total) };
  }
  if (/\r\ntransfer-encoding:\s*chunked/i.test(head)) {
    const last = buf.indexOf('\r\n0\r\n\r\n', end);
    return last < 0 ? null : { status, close, shed, rest: buf.subarray(last + 7) };
  }
  return { status, close, shed, rest: buf.subarray(end + 4) };
}

class Conn {
  private buf: Buffer = Buffer.alloc(0);
  private pending?: (r: Result) => void;
  private errorCode?: string;
  constructor(readonly socket: net.Socket) {
    socket.on('error', (e: NodeJS.ErrnoException) => {
      this.errorCode = e.code ?? 'ERROR';
      this.settle({ error: this.errorCode });
    });
    socket.on('close', () => this.settle({ error: this.errorCode ?? 'EOF' }));
    socket.on('data', (d: Buffer) => {
      this.buf = this.buf.length ? Buffer.concat([this.buf, d]) : d;
      const r = parseResponse(this.buf);
      if (!r) return;
      this.buf = r.rest;
      this.settle({ status: r.status, close: r.close, shed: r.shed });
    });
  }
  private settle(r: Result) {
    const p = this.pending;
    this.pending = undefined;
    p?.(r);
  }
  send(request: Buffer): Promise<Result> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.settle({ error: 'TIMEOUT' });
        this.socket.destroy();
      }, REQUEST_TIMEOUT_MS);
      this.pending = (r) => {
        clearTimeout(timer);
        resolve(r);
      };
      if (this.socket.destroyed) this.settle({ error: this.errorCode ?? 'EOF' });
      else this.socket.write(request);
    });
  }
}

function connect(port: number): Promise<Conn | { notAccepted: string }> {
  return new Promise((resolve) => {
    const socket = net.connect({ port, host: '127.0.0.1', noDelay: true });
    socket.once('connect', () => resolve(new Conn(socket)));
    socket.once('error', (e: NodeJS.ErrnoException) => resolve({ notAccepted: e.code ?? 'ERROR' }));
  });
}

interface Load {
  ok: number;
  statuses: Map<number, number>;
  failed: string[]; // accepted then failed
  shed: number; // answered 503 + Retry-After by the load shedder
  notAccepted: Map<string, number>;
  afterSigterm: number; // complete responses received after SIGTERM
}

/** CLIENTS keep-alive clients on `path` until `stopped` resolves; SIGTERM once `warm` responses are in. */
async function sigtermUnderLoad(
  svc: Running,
  path: string,
  warm = 200,
): Promise<{ load: Load; code: number | null }> {
  const request = Buffer.from(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`);
  const load: Load = {
    ok: 0,
    statuses: new Map(),
    failed: [],
    shed: 0,
    notAccepted: new Map(),
    afterSigterm: 0,
  };
  let done = false;
  let signalled = false;
  const exited = new Promise<number | null>((resolve) => svc.child.once('exit', (code) => resolve(code)));
  void exited.then(() => {
    done = true;
  });

  const client = async () => {
    let conn: Conn | undefined;
    while (!done) {
      if (!conn) {
        const c = await connect(svc.port);
        if (!(c instanceof Conn)) {
          load.notAccepted.set(c.notAccepted, (load.notAccepted.get(c.notAccepted) ?? 0) + 1);
          await new Promise((r) => setTimeout(r, 20)); // refused: the listener is gone; pace retries
          continue;
        }
        conn = c;
      }
      const r = await conn.send(request);
      if (r.status !== undefined) {
        load.statuses.set(r.status, (load.statuses.get(r.status) ?? 0) + 1);
        if (r.shed) load.shed++;
        else if (r.status >= 500) load.failed.push(`status ${r.status}`);
        else load.ok++;
        if (signalled) load.afterSigterm++;
      } else {
        load.failed.push(r.error ?? 'unknown');
      }
      if (r.close || r.error) {
        conn.socket.destroy();
        conn = undefined;
      }
    }
    conn?.socket.destroy();
  };

  const clients = Array.from({ length: CLIENTS }, client);
  await waitFor(`${warm} responses under load`, () => load.ok >= warm || done, 30_000, 20);
  expect(done, 'the service exited before SIGTERM').toBe(false);
  signalled = true;
  svc.child.kill('SIGTERM');
  const code = await exited;
  await Promise.all(clients);
  return { load, code };
}

describe.each([
  ['orders-service', () => stack.orders, () => `/orders/${ids.order}`],
  ['users-service', () => stack.users, () => `/users/${ids.user}`],
  ['catalog-service', () => stack.catalog, () => `/products/${ids.product}`],
] as const)('%s under keep-alive load', (name, svc, path) => {
  it('SIGTERM: every accepted request gets a complete, non-5xx response; exit 0', async () => {
    const { load, code } = await sigtermUnderLoad(svc(), path());
    const summary = JSON.stringify({
      ok: load.ok,
      statuses: [...load.statuses],
      failed: load.failed,
      shed: load.shed,
      notAccepted: [...load.notAccepted],
      afterSigterm: load.afterSigterm,
    });
    expect(load.failed, summary).toEqual([]);
    // 200s, and the load shedder's 503s (with Retry-After) if the clients saturated the service.
    expect(
      [...load.statuses.keys()].filter((s) => s !== 200 && s !== 503),
      summary,
    ).toEqual([]);
    expect(load.statuses.get(503) ?? 0, summary).toBe(load.shed);
    // Load really overlapped the shutdown (the drain delay keeps serving), and ended refused.
    expect(load.afterSigterm, summary).toBeGreaterThan(0);
    expect(code, `${name} exit code; output:\n${svc().output().slice(-3000)}`).toBe(0);
  });
});
