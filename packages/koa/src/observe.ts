import {
  answerShed,
  createRequestObserver,
  type RequestObserverOptions,
  type RequestRecord,
  recordRequestError,
} from '@vigil/core';
import type { KoaContextLike, KoaMiddleware } from './context.js';

/** What the Koa middleware records into: the observer's sinks and exclusions, or a gate. */
export type KoaObserverParts = Pick<
  RequestObserverOptions,
  'http' | 'log' | 'exclude' | 'includeVigilEndpoints' | 'routeLabel' | 'gate'
> & {
  /** With a gate: requests never shed (still counted in flight). */
  readonly isPriority?: ((ctx: KoaContextLike) => boolean) | undefined;
};

/**
 * The Koa adapter of the request observer: the route is `@koa/router`'s matched path, read at
 * completion; a thrown error goes on the span and the request line, then on to Koa's error
 * handling unchanged.
 */
export function koaObserver(parts: KoaObserverParts): KoaMiddleware {
  const gated = parts.gate !== undefined;
  const observer = createRequestObserver(parts);
  const isPriority = parts.isPriority;
  return (ctx, next) => {
    let downstream: Promise<unknown> | undefined;
    const rec = observer.observe(
      ctx.req,
      ctx.res,
      undefined,
      resolveRoute,
      undefined,
      () => {
        downstream = next();
      },
      isPriority !== undefined && isPriority(ctx) === true,
    );
    if (rec !== undefined) rec.routeState = ctx;
    const a = rec?.admission;
    if (a !== undefined && !a.admitted) {
      ctx.respond = false; // answered here, before Koa's own response handling
      answerShed(ctx.res, a);
      return Promise.resolve();
    }
    if (downstream === undefined) return Promise.resolve();
    // The metrics middleware puts a thrown error on the span and the line (once per request).
    if (rec === undefined || gated) return downstream;
    return downstream.catch((err: unknown) => {
      recordRequestError(ctx.req, err);
      throw err;
    });
  };
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
