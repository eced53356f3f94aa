import {
  createRequestObserver,
  getTracingHook,
  type RequestObserverOptions,
  type RequestRecord,
  setRequestError,
} from '@vigil/core';
import type { KoaContextLike, KoaMiddleware } from './context.js';

/** What the Koa middleware records into: the observer's sinks and exclusions. */
export type KoaObserverParts = Pick<
  RequestObserverOptions,
  'http' | 'log' | 'exclude' | 'includeVigilEndpoints' | 'routeLabel'
>;

/**
 * The Koa adapter of the request observer: the route is `@koa/router`'s matched path, read at
 * completion; a thrown error goes on the span and the request line, then on to Koa's error
 * handling unchanged.
 */
export function koaObserver(parts: KoaObserverParts): KoaMiddleware {
  const observer = createRequestObserver(parts);
  return (ctx, next) => {
    let downstream: Promise<unknown> | undefined;
    const rec = observer.observe(ctx.req, ctx.res, undefined, resolveRoute, undefined, () => {
      downstream = next();
    });
    if (downstream === undefined) return Promise.resolve();
    if (rec === undefined) return downstream;
    rec.routeState = ctx;
    return downstream.catch((err: unknown) => {
      fail(rec, err);
      throw err;
    });
  };
}

function fail(rec: RequestRecord, err: unknown): void {
  setRequestError(rec, err);
  if (rec.trace !== undefined) getTracingHook()?.recordError(rec.trace, err);
}

/**
 * At completion (also of an aborted request): the template `@koa/router` matched; a RegExp route
 * gets its source, a stable label.
 */
function resolveRoute(rec: RequestRecord): string | undefined {
  const m = (rec.routeState as KoaContextLike | undefined)?._matchedRoute;
  if (typeof m === 'string') return m;
  if (m instanceof RegExp) return String(m);
  return undefined;
}
