import { subscribe } from 'node:diagnostics_channel';
import type { Response } from 'express';

/**
 * When an Express request completes, without a listener on its response.
 *
 * `res.on('close', fn)` costs four V8 inline-cache misses per request on Express 5 (the lookup of
 * `on`, then `_events` and `_eventsCount` inside it: Express swaps the response's prototype on
 * every request, so its shape is new each time), about 8,000 instructions, plus a closure. Instead
 * the request waits in a slot on its socket (which serves one request at a time on HTTP/1.1), and
 * is completed by:
 *  - Node's `http.server.response.finish` diagnostics channel (published when a response has
 *    finished; Node ≥ 16.18), read once for all of Vigil's middlewares on that request, and
 *  - a `close` listener on the socket (one per connection, not per request) for a request whose
 *    response never finished: the client went away or the socket was destroyed (status undefined).
 * A request that finds the slot held by a request still in flight (HTTP/1.1 pipelining), or has no
 * socket, gets `res.on('close')` as before.
 *
 * The channel subscription is made on the first request that uses it and lasts for the process
 * (one function; Node then allocates a four-field message per response of every HTTP server in the
 * process, and the function returns at once for sockets without a waiting request).
 */

/** Called once per request: `status` is the response's status code, undefined when aborted. */
export type CompletionHandler<S> = (state: S, status: number | undefined) => void;

const PENDING = Symbol('vigil.express.pending');

interface Pending {
  /** The request waiting on this socket, null when none. */
  req: object | null;
  /** Handlers and their states, interleaved: [h0, s0, h1, s1, ...]; `n` pairs in use. */
  readonly items: unknown[];
  n: number;
}
type Slotted = { [PENDING]?: Pending; once?(event: 'close', fn: () => void): unknown };

function complete(p: Pending, status: number | undefined): void {
  const n = p.n;
  p.n = 0;
  p.req = null;
  const items = p.items;
  for (let i = 0; i < n; i++) {
    const handler = items[2 * i] as CompletionHandler<unknown>;
    const state = items[2 * i + 1];
    items[2 * i] = undefined;
    items[2 * i + 1] = undefined;
    try {
      handler(state, status);
    } catch (err) {
      // One handler's failure must not keep the others from completing: rethrown outside.
      queueMicrotask(() => {
        throw err;
      });
    }
  }
}

interface FinishMessage {
  request: object;
  response: { statusCode: number };
  socket: Slotted | null | undefined;
}

function onFinish(message: unknown): void {
  const m = message as FinishMessage;
  const p = m.socket?.[PENDING];
  if (p === undefined || p.n === 0 || p.req !== m.request) return;
  complete(p, m.response.statusCode);
}

function onSocketClose(this: Slotted): void {
  const p = this[PENDING];
  if (p !== undefined && p.n > 0) complete(p, undefined);
}

let subscribed = false;

/**
 * Calls `handler(state, status)` once when `req`'s response finishes (its status code) or the
 * request is aborted (undefined). `socket` is `req.socket`, read by the caller.
 */
export function onCompletion<S>(
  req: object,
  res: Response,
  socket: object | null | undefined,
  handler: CompletionHandler<S>,
  state: S,
): void {
  const sock = socket as Slotted | null | undefined;
  if (sock != null && typeof sock.once === 'function') {
    let p = sock[PENDING];
    if (p === undefined) {
      if (!subscribed) {
        subscribe('http.server.response.finish', onFinish);
        subscribed = true;
      }
      p = { req, items: [], n: 0 };
      sock[PENDING] = p;
      sock.once('close', onSocketClose);
    } else if (p.req !== req) {
      if (p.n > 0) {
        fallback(res, handler, state);
        return;
      }
      p.req = req;
    }
    p.items[2 * p.n] = handler;
    p.items[2 * p.n + 1] = state;
    p.n++;
    return;
  }
  fallback(res, handler, state);
}

function fallback<S>(res: Response, handler: CompletionHandler<S>, state: S): void {
  res.on('close', () => handler(state, res.writableFinished ? res.statusCode : undefined));
}
