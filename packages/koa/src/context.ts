import type { IncomingMessage, ServerResponse } from 'node:http';

/**
 * The part of Koa's context Vigil reads, typed structurally so neither `koa` nor `@types/koa` is
 * needed to type-check an app (Koa 2 and 3 both fit).
 */
export interface KoaContextLike {
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  /** Set by `@koa/router` to the matched layer's path, router prefixes included. */
  readonly _matchedRoute?: unknown;
  /** Koa answers from `ctx.body` unless this is false. */
  respond?: boolean;
}

/** A Koa middleware (`app.use(...)`). */
export type KoaMiddleware = (ctx: KoaContextLike, next: () => Promise<unknown>) => Promise<unknown>;
