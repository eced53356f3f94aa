import { LABEL_VALUES, type RequestRecord, recordOf } from '@vigil/core';
import type { Request } from 'express';

/**
 * Route templates for Express, including mount paths.
 *
 * Express exposes the matched route (`req.route.path`, relative to its router) and the *concrete*
 * mount prefix (`req.baseUrl`, `/users/42/posts` for a router mounted at `/users/:uid/posts`), and
 * it restores `req.baseUrl` when an error leaves a router. So Vigil:
 *  1. captures `req.baseUrl` at the moment Express assigns `req.route` (an accessor on the app's
 *     request prototype, installed once per app on its first request: per app, not global), into
 *     the request's record;
 *  2. maps that concrete prefix back to the mount templates by walking the app's router stack
 *     (`layer.rawPath`), cached per prefix in a bounded map.
 * The result is never a raw URL unless the router stack cannot be read, and then the series cap
 * still bounds it.
 */

/**
 * The Express versions whose router internals (`layer.match`, `layer.rawPath`, `app.router`) this
 * module reads; test/router-internals.test.ts pins them.
 */
export const EXPRESS_SUPPORTED = '>=5.0.0 <6.0.0';

interface Captured {
  route: { path?: unknown };
  base: string;
}
/** Where a request Vigil does not observe (an excluded path) keeps what Express assigned. */
const UNOBSERVED = Symbol('vigil.express.route');
type Routed = { baseUrl?: string; [UNOBSERVED]?: Captured };

const prepared = new WeakSet<object>();

/** Installs the route-capture accessor on this request's prototype (once per prototype). */
export function prepareRequest(req: Request): void {
  const proto = Object.getPrototypeOf(req) as object | null;
  if (proto === null || prepared.has(proto)) return;
  prepared.add(proto);
  if (Object.getOwnPropertyDescriptor(proto, 'route')) return;
  Object.defineProperty(proto, 'route', {
    configurable: true,
    enumerable: true,
    get(this: Routed) {
      const rec = recordOf(this);
      return rec !== undefined ? rec.routeState : this[UNOBSERVED]?.route;
    },
    set(this: Routed, value: { path?: unknown }) {
      const base = this.baseUrl ?? '';
      const rec = recordOf(this);
      if (rec !== undefined) {
        rec.routeState = value;
        rec.routeBase = base;
      } else this[UNOBSERVED] = { route: value, base };
    },
  });
}

interface LayerLike {
  route?: unknown;
  handle?: { stack?: unknown };
  slash?: boolean;
  rawPath?: unknown;
  path?: string;
  /** router >= 2.3 returns a match object; older 2.x returns a boolean and sets `layer.path`. */
  match?: (path: string) => boolean | { path?: string; pattern?: unknown } | undefined;
}

const MAX_CACHED_PREFIXES = 500;
const mountCache = new WeakMap<object, Map<string, string>>();

function pathString(p: unknown): string {
  if (typeof p === 'string') return p;
  if (Array.isArray(p)) return p.map(pathString).join('|');
  if (p instanceof RegExp) return String(p);
  return '';
}

function resolveMount(stack: readonly LayerLike[], path: string, depth: number): string | undefined {
  if (depth > 16) return undefined;
  for (const layer of stack) {
    if (layer.route || typeof layer.match !== 'function') continue;
    const sub = layer.handle?.stack;
    if (!Array.isArray(sub)) continue;
    const m = layer.match(path);
    if (!m) continue;
    const matched = (typeof m === 'object' ? m.path : layer.path) ?? '';
    if (!path.startsWith(matched)) continue;
    const raw = typeof m === 'object' && m.pattern !== undefined ? m.pattern : layer.rawPath;
    const tpl = layer.slash ? '' : raw !== undefined ? pathString(raw) : matched;
    const rest = path.slice(matched.length);
    if (rest === '' || rest === '/') return tpl;
    const inner = resolveMount(sub as LayerLike[], rest, depth + 1);
    if (inner !== undefined) return tpl + inner;
  }
  return undefined;
}

function mountTemplate(req: Request, base: string): string {
  const app = req.app as unknown as { router?: { stack?: LayerLike[] }; _router?: { stack?: LayerLike[] } };
  if (!app) return base;
  let cache = mountCache.get(app);
  if (cache === undefined) {
    cache = new Map();
    mountCache.set(app, cache);
  }
  const hit = cache.get(base);
  if (hit !== undefined) return hit;
  let tpl = base;
  try {
    const stack = (app.router ?? app._router)?.stack;
    tpl = (Array.isArray(stack) && resolveMount(stack, base, 0)) || base;
  } catch {
    // A router that cannot be read (Express 4's `app.router` getter throws) must never take the
    // request down: the concrete prefix stays, bounded by the series cap.
  }
  if (cache.size < MAX_CACHED_PREFIXES) cache.set(base, tpl);
  return tpl;
}

function template(req: Request, route: { path?: unknown } | undefined, base: string): string {
  if (!route) return LABEL_VALUES.unmatchedRoute;
  const path = pathString(route.path);
  if (base === '') return path === '' ? '/' : path;
  const mount = mountTemplate(req, base);
  return path === '/' || path === '' ? mount : mount + path;
}

/** The observer's route resolver: the template of the route Express matched, or undefined. */
export function resolveRoute(rec: RequestRecord): string | undefined {
  const route = rec.routeState as { path?: unknown } | undefined;
  return route ? template(rec.req as Request, route, rec.routeBase) : undefined;
}

/** The route template of a request (after routing), or `__unmatched__`. */
export function routeTemplate(req: Request): string {
  const rec = recordOf(req);
  if (rec !== undefined) return resolveRoute(rec) ?? LABEL_VALUES.unmatchedRoute;
  const c = (req as unknown as Routed)[UNOBSERVED];
  return template(
    req,
    c?.route ?? (req as unknown as { route?: { path?: unknown } }).route,
    c?.base ?? req.baseUrl ?? '',
  );
}

/**
 * `req.path` (the URL's path, relative to the mount point) without Express' getter, which parses
 * the URL through `parseurl` and costs inline-cache misses per request on Express 5. URLs Express'
 * parser treats specially (not starting with `/`, or with a `#`) still go through `req.path`.
 */
export function requestPath(req: Request, url: string | undefined = req.url): string {
  if (typeof url !== 'string' || url.charCodeAt(0) !== 47 || url.includes('#')) return req.path;
  const q = url.indexOf('?');
  return q < 0 ? url : url.slice(0, q);
}
