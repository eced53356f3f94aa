import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { connect, type Socket } from 'node:net';
import v8 from 'node:v8';
import vm from 'node:vm';
import { afterEach, describe, expect, it } from 'vitest';
import {
  createRequestObserver,
  type HttpRecorder,
  type RequestLogWriter,
  type RequestRecord,
} from '../src/index.js';

interface Done {
  name: string;
  path: string;
  status: number | undefined;
}

const open: Server[] = [];
afterEach(async () => {
  for (const s of open.splice(0)) {
    s.closeAllConnections();
    await new Promise((r) => s.close(r));
  }
});

/**
 * A server with two observers per request (metrics and the request line, as two Vigil middlewares
 * would mount them): the second joins the first's record, and one completion serves both.
 * `/hang` answers only when `release()` is called; `/status/n` answers n.
 */
async function start() {
  const done: Done[] = [];
  const waiters: Array<() => void> = [];
  let release: () => void = () => {};
  let hangEntered: () => void = () => {};
  const entered = new Promise<void>((r) => {
    hangEntered = r;
  });
  const onDone = (name: string, path: string, status: number | undefined) => {
    done.push({ name, path, status });
    for (const w of waiters.splice(0)) w();
  };
  const urls = new WeakMap<object, string>();
  const http: HttpRecorder = {
    enter() {},
    leave() {},
    record(_method, route, status) {
      onDone('first', route, status);
    },
  };
  const log: RequestLogWriter = {
    idHeader: 'x-request-id',
    requestId: () => 'id',
    child: () => undefined,
    write(rec: RequestRecord, _route, status) {
      onDone('second', urls.get(rec.req) ?? '', status);
    },
  };
  const first = createRequestObserver({ http });
  const second = createRequestObserver({ log });
  const server = createServer((req, res) => {
    urls.set(req, req.url ?? '');
    first.observe(req, res, req.url, undefined, undefined, undefined);
    second.observe(req, res, undefined, undefined, undefined, () => {
      const url = req.url ?? '';
      if (url === '/hang') {
        release = () => res.end('late');
        hangEntered();
      } else {
        res.statusCode = Number(url.split('/')[2]);
        res.end('x');
      }
    });
  });
  /** Server side of each connection: resolves when its 'close' has been emitted (all listeners run). */
  const closed: Promise<unknown>[] = [];
  server.on('connection', (s) => closed.push(once(s, 'close')));
  open.push(server);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as AddressInfo).port;
  /** Resolves once `n` completions have been recorded. */
  const completions = (n: number) =>
    new Promise<void>((resolve) => {
      const check = () => (done.length >= n ? resolve() : waiters.push(check));
      check();
    });
  return { port, done, completions, entered, closed, release: () => release() };
}

async function rawSocket(port: number): Promise<{ sock: Socket; responses: (n: number) => Promise<string> }> {
  const sock = connect(port, '127.0.0.1');
  await once(sock, 'connect');
  let text = '';
  const waiting: Array<() => void> = [];
  sock.setEncoding('utf8');
  sock.on('data', (d: string) => {
    text += d;
    for (const w of waiting.splice(0)) w();
  });
  const responses = (n: number) =>
    new Promise<string>((resolve) => {
      const check = () => (text.split('HTTP/1.1 ').length - 1 >= n ? resolve(text) : waiting.push(check));
      check();
    });
  return { sock, responses };
}

const get = (path: string) => `GET ${path} HTTP/1.1\r\nHost: x\r\n\r\n`;

describe('request observer completion', () => {
  it('completes every request of a kept-alive connection once for both observers, in order, with its status', async () => {
    const h = await start();
    const { sock, responses } = await rawSocket(h.port);
    for (const [i, n] of [200, 404, 503, 201].entries()) {
      sock.write(get(`/status/${n}`));
      await responses(i + 1);
    }
    await h.completions(8);
    sock.destroy();
    expect(h.done).toEqual([
      { name: 'first', path: '/status/200', status: 200 },
      { name: 'second', path: '/status/200', status: 200 },
      { name: 'first', path: '/status/404', status: 404 },
      { name: 'second', path: '/status/404', status: 404 },
      { name: 'first', path: '/status/503', status: 503 },
      { name: 'second', path: '/status/503', status: 503 },
      { name: 'first', path: '/status/201', status: 201 },
      { name: 'second', path: '/status/201', status: 201 },
    ]);
  });

  it('completes a request the client abandoned with status undefined, once', async () => {
    const h = await start();
    const { sock } = await rawSocket(h.port);
    sock.write(get('/hang'));
    await h.entered;
    expect(h.done).toEqual([]);
    sock.destroy();
    await h.completions(2);
    expect(h.done).toEqual([
      { name: 'first', path: '/hang', status: undefined },
      { name: 'second', path: '/hang', status: undefined },
    ]);
    // Answering the abandoned request later completes nothing twice.
    h.release();
    const { sock: s2, responses } = await rawSocket(h.port);
    s2.write(get('/status/200'));
    await responses(1);
    await h.completions(4);
    s2.destroy();
    expect(h.done.slice(2)).toEqual([
      { name: 'first', path: '/status/200', status: 200 },
      { name: 'second', path: '/status/200', status: 200 },
    ]);
  });

  it('completes pipelined requests (the second waits behind the first) each once with its own status', async () => {
    const h = await start();
    const { sock, responses } = await rawSocket(h.port);
    sock.write(get('/hang') + get('/status/404') + get('/status/200'));
    await h.entered;
    h.release();
    await responses(3);
    await h.completions(6);
    sock.destroy();
    const byPath = (p: string) => h.done.filter((d) => d.path === p).map((d) => [d.name, d.status]);
    expect(byPath('/hang')).toEqual([
      ['first', 200],
      ['second', 200],
    ]);
    expect(byPath('/status/404')).toEqual([
      ['first', 404],
      ['second', 404],
    ]);
    expect(byPath('/status/200')).toEqual([
      ['first', 200],
      ['second', 200],
    ]);
  });

  it('a socket closing after its last response completes nothing more', async () => {
    const h = await start();
    const { sock, responses } = await rawSocket(h.port);
    sock.write(get('/status/200'));
    await responses(1);
    await h.completions(2);
    sock.destroy();
    await h.closed[0];
    expect(h.done.map((d) => d.status)).toEqual([200, 200]);
  });

  it('keeps completing after full garbage collections (the channel subscription is held)', async () => {
    const h = await start();
    const { sock, responses } = await rawSocket(h.port);
    sock.write(get('/status/200'));
    await responses(1);
    v8.setFlagsFromString('--expose-gc');
    const gc = vm.runInNewContext('gc') as () => void;
    gc();
    gc();
    sock.write(get('/status/202'));
    await responses(2);
    await h.completions(4);
    sock.destroy();
    expect(h.done.map((d) => d.status)).toEqual([200, 200, 202, 202]);
  });
});
