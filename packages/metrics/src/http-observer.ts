import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import {
  checkObject,
  createRequestObserver,
  type RouteResolver,
  userRoute,
  VigilOptionError,
} from '@vigil/core';
import { type AdapterMetricsOptions, adapterHandle, adaptMetrics } from './adapter.js';
import type { Metrics } from './create-metrics.js';

export interface HttpObserverOptions extends AdapterMetricsOptions {
  /**
   * The route template of a request (`/users/:id`), called once when it completes; `undefined`
   * (or no function) labels it `__unmatched__`. Its values count against `maxSeries` like any
   * route; a function that throws labels the request `__unmatched__` and never fails it.
   */
  route?: (req: IncomingMessage) => string | undefined;
}

/** The node:http adapter's handle: the metrics handle, observing the server's requests. */
export interface HttpObserver extends Metrics {
  /**
   * Stops observing (the server's handlers are called directly again) and closes the metrics
   * handle if this adapter created it. Idempotent.
   */
  close(): Promise<void>;
}

type Listener = (this: Server, req: IncomingMessage, res: ServerResponse) => void;

/**
 * RED metrics (and, with `logger`, the request line; with @vigil/tracing started, a server span)
 * for a plain `node:http` or `node:https` server, or anything built on one that Vigil has no
 * adapter for: `createHttpObserver(server, { route: (req) => ... })`. Create it once the server's
 * request handler is attached (`http.createServer(handler)`): the handler then runs inside the
 * request's span. Handlers attached later are still observed, outside the span.
 */
export function createHttpObserver(server: Server, options?: HttpObserverOptions): HttpObserver {
  const s = server as Partial<Server> | null;
  if (
    s === null ||
    typeof s !== 'object' ||
    typeof s.listeners !== 'function' ||
    typeof s.prependListener !== 'function'
  ) {
    throw new VigilOptionError('server', 'a node:http or node:https Server', server);
  }
  const route = checkObject('options', options).route as HttpObserverOptions['route'];
  if (route !== undefined && typeof route !== 'function') {
    throw new VigilOptionError('route', 'a function (req) => route template or undefined', route);
  }
  const adapted = adaptMetrics<Pick<HttpObserverOptions, 'route'>>(options, ['route']);
  const { metrics, owned, log, exclude, includeVigilEndpoints, routeLabel } = adapted;
  const observer = createRequestObserver({
    http: metrics.http,
    log,
    exclude,
    includeVigilEndpoints,
    routeLabel,
  });

  const resolveRoute: RouteResolver | undefined =
    route === undefined ? undefined : (rec) => userRoute(route, rec.req);

  const handlers = server.listeners('request') as Listener[];
  for (const h of handlers) server.removeListener('request', h);
  const only = handlers.length === 1 ? handlers[0] : undefined;
  const listener = function (this: Server, req: IncomingMessage, res: ServerResponse): void {
    observer.observe(req, res, undefined, resolveRoute, undefined, () => {
      if (only !== undefined) only.call(server, req, res);
      else for (const h of handlers) h.call(server, req, res);
    });
  };
  server.prependListener('request', listener);

  let closed: Promise<void> | undefined;
  const close = (): Promise<void> => {
    if (closed === undefined) {
      server.removeListener('request', listener);
      for (let i = handlers.length - 1; i >= 0; i--)
        server.prependListener('request', handlers[i] as Listener);
      closed = owned ? metrics.close() : Promise.resolve();
    }
    return closed;
  };
  return adapterHandle<HttpObserver>(adapted, {}, close);
}
