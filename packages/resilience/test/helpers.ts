import { EventEmitter, once } from 'node:events';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { type AddressInfo, createServer as createTcpServer, type Socket } from 'node:net';
import type { Registry } from 'prom-client';

/** What the downstream does with a request. */
export type Behaviour =
  | { kind: 'ok'; body?: unknown }
  | { kind: 'status'; status: number; headers?: Record<string, string>; body?: string }
  | { kind: 'hang' }
  /** Headers and part of the body, then nothing. */
  | { kind: 'stall' };

export interface Downstream {
  readonly url: string;
  readonly port: number;
  /** Requests received so far. */
  readonly requests: IncomingMessage[];
  /** Emits `request` (req) for every request, after the behaviour was chosen. */
  readonly events: EventEmitter;
  /** Behaviour for every request from now on (after any scripted ones). */
  set(b: Behaviour): void;
  /** Behaviours for the next requests, in order; then the default applies. */
  script(...bs: Behaviour[]): void;
  /** Resolves with the next request's socket `close` (the client released the connection). */
  nextRequest(): Promise<IncomingMessage>;
  close(): Promise<void>;
}

/**
 * A real HTTP server on 127.0.0.1:0 that can be told to answer, fail, hang or recover. `ok`
 * answers JSON with the path and the `traceparent` it received.
 */
export async function startDownstream(): Promise<Downstream> {
  let current: Behaviour = { kind: 'ok' };
  const scripted: Behaviour[] = [];
  const requests: IncomingMessage[] = [];
  const events = new EventEmitter();
  const sockets = new Set<Socket>();
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    requests.push(req);
    const b = scripted.shift() ?? current;
    // Drain the request body so keep-alive works.
    req.resume();
    events.emit('request', req);
    if (b.kind === 'hang') return;
    if (b.kind === 'stall') {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write('{"partial":');
      return;
    }
    if (b.kind === 'ok') {
      const body = JSON.stringify(
        b.body ?? { path: req.url, method: req.method, traceparent: req.headers.traceparent ?? null },
      );
      res.writeHead(200, { 'content-type': 'application/json' }).end(body);
      return;
    }
    res
      .writeHead(b.status, { 'content-type': 'text/plain', ...(b.headers ?? {}) })
      .end(b.body ?? `status ${b.status}`);
  });
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    requests,
    events,
    set(b) {
      current = b;
    },
    script(...bs) {
      scripted.push(...bs);
    },
    async nextRequest() {
      const [req] = (await once(events, 'request')) as [IncomingMessage];
      return req;
    },
    async close() {
      server.closeAllConnections();
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** A sample's value from the registry, read the way a scrape would (`get()`). */
export async function sample(
  registry: Registry,
  name: string,
  labels: Record<string, string>,
  metricName = name,
): Promise<number | undefined> {
  const m = registry.getSingleMetric(name);
  if (m === undefined) return undefined;
  const data = (await m.get()) as {
    values: { labels: Record<string, unknown>; value: number; metricName?: string }[];
  };
  const hit = data.values.find(
    (v) =>
      (v.metricName ?? name) === metricName &&
      Object.entries(labels).every(([k, x]) => String(v.labels[k]) === x),
  );
  return hit?.value;
}

/** Every `event` count of one breaker. */
export async function breakerEvents(registry: Registry, breaker: string): Promise<Record<string, number>> {
  const m = registry.getSingleMetric('vigil_circuit_breaker_events_total');
  const data = (await m?.get()) as
    | { values: { labels: Record<string, string>; value: number }[] }
    | undefined;
  const out: Record<string, number> = {};
  for (const v of data?.values ?? [])
    if (v.labels.breaker === breaker) out[v.labels.event as string] = v.value;
  return out;
}

/** A logger that records lines. */
export function recordingLogger() {
  const lines: { level: 'info' | 'warn'; obj: Record<string, unknown>; msg: string }[] = [];
  return {
    lines,
    info: (obj: object, msg: string) =>
      lines.push({ level: 'info', obj: obj as Record<string, unknown>, msg }),
    warn: (obj: object, msg: string) =>
      lines.push({ level: 'warn', obj: obj as Record<string, unknown>, msg }),
  };
}

/** What the TCP target does with each request: never answer, or answer 200 (after a delay). */
export type TcpTargetMode = { kind: 'hang' } | { kind: 'answer'; delayMs?: number };

export interface TcpTarget {
  readonly url: string;
  /** HTTP requests received (complete request heads). */
  readonly requests: number;
  set(mode: TcpTargetMode): void;
  close(): Promise<void>;
}

/**
 * A raw TCP server speaking just enough HTTP/1.1: it accepts connections and reads requests, and
 * in `hang` mode never answers (a hung dependency), in `answer` mode answers 200 with a small JSON
 * body, after `delayMs` if given (a slow one). Keep-alive works.
 */
export async function startTcpTarget(initial: TcpTargetMode): Promise<TcpTarget> {
  let mode = initial;
  let requests = 0;
  const sockets = new Set<Socket>();
  const timers = new Set<ReturnType<typeof setTimeout>>();
  const server = createTcpServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    let buffered = '';
    socket.on('data', (chunk) => {
      buffered += chunk.toString('latin1');
      for (let end = buffered.indexOf('\r\n\r\n'); end >= 0; end = buffered.indexOf('\r\n\r\n')) {
        buffered = buffered.slice(end + 4);
        requests++;
        const m = mode;
        if (m.kind === 'hang') continue; // read, never answered
        const body = '{"ok":true}';
        const answer = () => {
          if (!socket.destroyed) {
            socket.write(
              `HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body}`,
            );
          }
        };
        if (!m.delayMs) answer();
        else {
          const t = setTimeout(() => {
            timers.delete(t);
            answer();
          }, m.delayMs);
          timers.add(t);
        }
      }
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    get requests() {
      return requests;
    },
    set(m) {
      mode = m;
    },
    async close() {
      for (const t of timers) clearTimeout(t);
      for (const s of sockets) s.destroy();
      server.close();
      await once(server, 'close');
    },
  };
}
