import type { IncomingMessage, ServerResponse } from 'node:http';
import { Server as NetServer, type Socket } from 'node:net';
import { Server as TlsServer } from 'node:tls';

interface SocketState {
  /** Requests on this socket whose response has not finished. */
  active: number;
  /** Requests seen on this socket. */
  served: number;
  /** The last response was `Connection: close` because we forced it: its client will reconnect. */
  forcedClose: boolean;
  /** When `active` last dropped to 0 (or when the socket was accepted). */
  idleSince: number;
  timer: NodeJS.Timeout | undefined;
}

interface InFlight {
  readonly method: string;
  readonly path: string;
  readonly start: number;
  /** `res.shouldKeepAlive` as Node set it (false when the client asked to close), before we forced it. */
  readonly keepAlive: boolean;
}

export interface DrainPending {
  readonly connections: number;
  readonly requests: readonly { method: string; path: string; ms: number }[];
}

export interface DrainResult {
  /** Requests in flight when the drain timeout cut their sockets. */
  readonly cut: number;
  /** The first few of them, for the log line. */
  readonly cutRequests: DrainPending['requests'];
  /** Idle connections closed after `idleGraceMs`: never used (no request) / kept alive after a response. */
  readonly idleClosedFresh: number;
  readonly idleClosedUsed: number;
}

export interface ServerDrain {
  /** From now on every response carries `Connection: close` (and those in flight, if still possible). */
  begin(): void;
  /**
   * Let responses keep their connections again and resolve at the first moment no connection has
   * been accepted for `quietMs` (or after `maxMs`): the moment to close the listener.
   */
  settle(quietMs: number, maxMs: number): Promise<{ ms: number; quiet: boolean; awaited: number }>;
  /**
   * Stop accepting connections without touching open ones, let requests finish, close each
   * connection once it is idle and can no longer race a request, and resolve when the server has
   * closed. After `timeoutMs`, or when `cutNow` aborts, the remaining sockets are destroyed; `cut`
   * counts requests in flight then.
   */
  stop(timeoutMs: number, cutNow?: AbortSignal): Promise<DrainResult>;
  pending(): DrainPending;
  /** Remove every listener and timer (the handle was closed without a shutdown). */
  dispose(): void;
}

const MAX_PATH = 80;

/**
 * Track the connections and requests of one server from now on.
 *
 * Why not `server.close()`: since Node 19 it also calls `closeIdleConnections()`, which destroys
 * every keep-alive connection between two requests at once, including one whose client has just
 * written its next request (still in the kernel buffer): that request fails with ECONNRESET. Here
 * the listener is closed on its own and each connection is closed only when the server told the
 * client `Connection: close` (Node then ends it after the response), or when it has been idle for
 * `idleGraceMs`.
 */
export function trackServer(server: NetServer, idleGraceMs: number, now: () => number): ServerDrain {
  const sockets = new Map<Socket, SocketState>();
  const inflight = new Map<ServerResponse, InFlight>();
  let mode: 'serving' | 'draining' | 'settling' | 'stopping' = 'serving';
  let lastAcceptAt = Number.NEGATIVE_INFINITY;
  let idleClosedFresh = 0;
  let idleClosedUsed = 0;
  // Clients we told `Connection: close` (that did not ask for it) come back on a new connection.
  // Each such close is an expected reconnect until an accept matches it or it expires; the settle
  // step waits for them, so a slow client's reconnect does not land in the accept queue at close.
  const reconnects: number[] = [];
  let reconnectWindowMs = 1000;
  function expectReconnect(t: number): void {
    reconnects.push(t);
    if (reconnects.length > 10_000) reconnects.splice(0, reconnects.length - 10_000);
  }
  function pendingReconnects(t: number): number {
    let i = 0;
    while (i < reconnects.length && t - (reconnects[i] as number) > reconnectWindowMs) i++;
    if (i > 0) reconnects.splice(0, i);
    return reconnects.length;
  }
  let disposed = false;
  const connectionEvent = server instanceof TlsServer ? 'secureConnection' : 'connection';

  function track(socket: Socket): SocketState {
    let st = sockets.get(socket);
    if (st) return st;
    st = { active: 0, served: 0, forcedClose: false, idleSince: now(), timer: undefined };
    sockets.set(socket, st);
    const s = st;
    socket.once('close', () => {
      if (s.timer) clearTimeout(s.timer);
      sockets.delete(socket);
      if (s.forcedClose && mode !== 'stopping') expectReconnect(now());
    });
    return st;
  }

  // Only `shouldKeepAlive`, never the header: with it false Node writes `Connection: close` and
  // ends the socket after the response. (Removing a `connection` header would make Node send none
  // at all and still close the socket, the very race this module avoids.) Effective until the
  // headers are written; a response whose headers are out keeps what it announced.
  function markClose(res: ServerResponse): void {
    if (!res.headersSent) res.shouldKeepAlive = false;
  }

  function unmarkClose(res: ServerResponse, r: InFlight): void {
    if (!res.headersSent) res.shouldKeepAlive = r.keepAlive;
  }

  /** True when Node's HTTP layer still owns the socket and no response is being written on it. */
  function httpIdle(socket: Socket, st: SocketState): boolean {
    if (st.active > 0) return false;
    const s = socket as Socket & { parser?: unknown; _httpMessage?: { finished?: boolean } | null };
    // An upgraded socket (WebSocket) has left the HTTP layer: leave it to the drain timeout.
    if ('parser' in s && s.parser === null) return false;
    if (s._httpMessage && !s._httpMessage.finished) return false;
    return true;
  }

  function closeIdle(socket: Socket, st: SocketState): void {
    if (st.served === 0) idleClosedFresh++;
    else idleClosedUsed++;
    socket.destroy();
  }

  function scheduleIdle(socket: Socket, st: SocketState): void {
    if (st.timer) clearTimeout(st.timer);
    st.timer = undefined;
    if (!httpIdle(socket, st)) return;
    const wait = st.idleSince + idleGraceMs - now();
    if (wait <= 0) {
      closeIdle(socket, st);
      return;
    }
    st.timer = setTimeout(() => {
      st.timer = undefined;
      if (httpIdle(socket, st)) closeIdle(socket, st);
    }, wait);
    st.timer.unref();
  }

  function onConnection(socket: Socket): void {
    lastAcceptAt = now();
    reconnects.shift();
    const st = track(socket);
    if (mode === 'stopping') scheduleIdle(socket, st);
  }

  function onRequest(req: IncomingMessage, res: ServerResponse): void {
    const socket = req.socket;
    const st = track(socket);
    st.active++;
    st.served++;
    if (st.timer) {
      clearTimeout(st.timer);
      st.timer = undefined;
    }
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const path = (q < 0 ? url : url.slice(0, q)).slice(0, MAX_PATH);
    const r: InFlight = { method: req.method ?? 'GET', path, start: now(), keepAlive: res.shouldKeepAlive };
    inflight.set(res, r);
    if (mode === 'draining' || mode === 'stopping') markClose(res);
    res.once('close', () => {
      // Forced: the client wanted to keep the connection and the response said close.
      st.forcedClose = r.keepAlive && !res.shouldKeepAlive;
      inflight.delete(res);
      st.active = Math.max(0, st.active - 1);
      if (st.active === 0) {
        st.idleSince = now();
        if (mode === 'stopping' && !socket.destroyed) scheduleIdle(socket, st);
      }
    });
  }

  server.on(connectionEvent, onConnection);
  // Before the application's own listener, so `Connection: close` is set before any handler runs.
  server.prependListener('request', onRequest);

  function dispose(): void {
    if (disposed) return;
    disposed = true;
    server.off(connectionEvent, onConnection);
    server.off('request', onRequest);
    for (const st of sockets.values()) if (st.timer) clearTimeout(st.timer);
  }

  function pending(): DrainPending {
    const t = now();
    return {
      connections: Math.max(sockets.size, (server as { _connections?: number })._connections ?? 0),
      requests: [...inflight.values()].map((r) => ({
        method: r.method,
        path: r.path,
        ms: Math.round(t - r.start),
      })),
    };
  }

  return {
    begin() {
      if (mode !== 'serving') return;
      mode = 'draining';
      for (const res of inflight.keys()) markClose(res);
    },
    settle(quietMs, maxMs) {
      if (mode === 'stopping') return Promise.resolve({ ms: 0, quiet: true, awaited: 0 });
      reconnectWindowMs = Math.max(maxMs, 1);
      mode = 'settling';
      // Clients told `Connection: close` reconnect at once, so under load new connections keep
      // arriving, and the kernel resets any still in the accept queue when the listener closes
      // (ECONNRESET on a request the client already sent). Keep-alive again for a moment: clients
      // stay on their connections, accepts stop, and the listener closes in the gap.
      for (const [res, r] of inflight) unmarkClose(res, r);
      const t0 = now();
      const awaited = pendingReconnects(t0);
      return new Promise((resolve) => {
        // Decide only in the check phase (setImmediate), right after a poll phase: connections the
        // kernel had queued are accepted there, so `lastAcceptAt` is current. Deciding in a timer
        // callback would miss them whenever the loop was stalled (CPU contention, a long task),
        // and close the listener on a full accept queue.
        const decide = () => {
          const t = now();
          const pending = pendingReconnects(t);
          const quiet = pending === 0 && t - lastAcceptAt >= quietMs;
          if (quiet || t - t0 >= maxMs) {
            resolve({ ms: Math.round(t - t0), quiet, awaited });
            return;
          }
          const wait =
            pending > 0 ? 5 : Math.max(1, Math.min(quietMs - (t - lastAcceptAt), maxMs - (t - t0)));
          setTimeout(() => setImmediate(decide), wait);
        };
        setImmediate(decide);
      });
    },
    stop(timeoutMs, cutNow) {
      mode = 'stopping';
      for (const res of inflight.keys()) markClose(res);
      return new Promise((resolve) => {
        let sweep: NodeJS.Timeout | undefined;
        let force: NodeJS.Timeout | undefined;
        let forced = false;
        const finish = (cut: number, cutRequests: DrainPending['requests']) => {
          if (sweep) clearInterval(sweep);
          if (force) clearTimeout(force);
          cutNow?.removeEventListener('abort', cutAll);
          server.off('close', onClosed);
          dispose();
          resolve({ cut, cutRequests, idleClosedFresh, idleClosedUsed });
        };
        const onClosed = () => finish(0, []);
        const cutAll = () => {
          if (forced) return;
          forced = true;
          const { requests } = pending();
          for (const socket of sockets.keys()) socket.destroy();
          (server as { closeAllConnections?: () => void }).closeAllConnections?.();
          // 'close' follows once the destroyed sockets are released.
          server.off('close', onClosed);
          server.once('close', () => finish(requests.length, requests.slice(0, 5)));
        };
        server.once('close', onClosed);
        // Stop accepting: close the listening handle only (see above for why not server.close()).
        NetServer.prototype.close.call(server);
        for (const [socket, st] of sockets) scheduleIdle(socket, st);
        // Connections accepted before tracking began are unknown to us: once every tracked one
        // is gone, let Node close whichever of them are idle.
        const period = Math.max(idleGraceMs, 50);
        sweep = setInterval(() => {
          if (sockets.size === 0) (server as { closeIdleConnections?: () => void }).closeIdleConnections?.();
        }, period);
        sweep.unref();
        force = setTimeout(cutAll, timeoutMs);
        force.unref();
        if (cutNow?.aborted) cutAll();
        else cutNow?.addEventListener('abort', cutAll, { once: true });
      });
    },
    pending,
    dispose,
  };
}
