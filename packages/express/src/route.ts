import { LABEL_VALUES } from '@vigil/catalog';
import type { Request } from 'express';

/**
 * Route templates for Express 5, including mount paths.
 *
 * Express exposes the matched route (`req.route.path`, relative to its router) and the *concrete*
 * mount prefix (`req.baseUrl`, `/users/42/posts` for a router mounted at `/users/:uid/posts`), and
 * it restores `req.baseUrl` when an error leaves a router. So Vigil:
 *  1. captures `req.baseUrl` at the moment Express assigns `req.route` (an accessor on the app's
 *     request prototype, installed once per app on its first request: per app, not global);
 *  2. maps that concrete prefix back to the mount templates by walking the app's router stack
 *     (`layer.rawPath`), cached per prefix in a bounded map.
 * The result is never a raw URL unless the router stack cannot be read, and then the series cap
 * still bounds it.
 */

/**
 * The route Express assigned and `req.baseUrl` at that moment, per request. Not properties on
 * `req`: Express 5 swaps the request's prototype per request, after which adding properties is
 * slow. Not a WeakMap entry for every request either: its `set` gives each request an identity hash
 * and every scavenge ephemeron work (measured +2–5 % CPU per request on a bare Express route). The
 * capture sits in a slot on the request's socket, which serves one request at a time on HTTP/1.1;
 * the slot is reused (the object itself: no allocation) once the response of the request holding it
 * has closed. A request that finds the slot held by one still in flight (pipelining, HTTP/2) keeps
 * its capture in the WeakMap. So `req.route` reads as Express set it for the whole life of the
 * request, its `close` listeners included; read after the same connection's next request has been
 * routed it is `undefined`.
 */
interface Capture {
  /** The request holding the socket's slot (null in the WeakMap: a value must not point at its key). */
  req: object | null;
  route: { path?: unknown };
  base: string;
  /**
   * Set when the holder's request has completed (by `routeTemplate(req, socket, true)` in Vigil's
   * completion handlers), so the next request takes the slot without reading the holder's `res.closed`:
   * two property reads on objects whose shape changed since, each a V8 inline-cache miss (~2,000
   * instructions) on Express 5.
   */
  closed: boolean;
}
const SLOT = Symbol('vigil.express.route');
type Slotted = { [SLOT]?: Capture };
type Routed = { socket?: Slotted | null; baseUrl?: string; res?: { closed?: boolean } };
const captured = new WeakMap<object, Capture>();

function captureOf(req: Routed, sock: Slotted | null | undefined): Capture | undefined {
  const c = sock?.[SLOT];
  return c !== undefined && c.req === req ? c : captured.get(req);
}

function capture(req: Routed, route: { path?: unknown }): void {
  const base = req.baseUrl ?? '';
  const sock = req.socket;
  const c = sock?.[SLOT];
  if (c !== undefined) {
    if (c.req === req || c.closed || (c.req as Routed).res?.closed !== false) {
      c.req = req;
      c.route = route;
      c.base = base;
      c.closed = false;
      return;
    }
  } else if (sock != null) {
    sock[SLOT] = { req, route, base, closed: false };
    return;
  }
  const w = captured.get(req);
  if (w === undefined) captured.set(req, { req: null, route, base, closed: false });
  else {
    w.route = route;
    w.base = base;
  }
}

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
      return captureOf(this, this.socket)?.route;
    },
    set(this: Routed, value: { path?: unknown }) {
      capture(this, value);
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
  const stack = (app.router ?? app._router)?.stack;
  const tpl = (Array.isArray(stack) && resolveMount(stack, base, 0)) || base;
  if (cache.size < MAX_CACHED_PREFIXES) cache.set(base, tpl);
  return tpl;
}

/**
 * The route template for a finished request, or `__unmatched__`.
 *
 * Vigil's completion handlers (see completion.ts) pass the request's socket (read once when the
 * request came in: every property read on an Express 5 request is an inline-cache miss) and
 * `closed: true`, which frees the socket's capture slot for the connection's next request. The
 * template stays readable for the rest of this request's handlers and `close` listeners.
 */
export function routeTemplate(req: Request, socket?: object | null, closed?: boolean): string {
  const c = captureOf(
    req as unknown as Routed,
    (socket === undefined ? req.socket : socket) as Slotted | null | undefined,
  );
  if (closed === true && c !== undefined && c.req === req) c.closed = true;
  const route = c?.route ?? (req as unknown as { route?: { path?: unknown } }).route;
  if (!route) return LABEL_VALUES.unmatchedRoute;
  const path = pathString(route.path);
  const base = c !== undefined ? c.base : (req.baseUrl ?? '');
  if (base === '') return path === '' ? '/' : path;
  const mount = mountTemplate(req, base);
  return path === '/' || path === '' ? mount : mount + path;
}

/**
 * `req.path` (the URL's path, relative to the mount point) without Express' getter, which parses
 * the URL through `parseurl` and costs three inline-cache misses per request on Express 5: the URL
 * up to its query. URLs Express' parser treats specially (not starting with `/`, or with a `#`)
 * still go through `req.path`.
 */
export function requestPath(req: Request): string {
  const url = req.url;
  if (typeof url !== 'string' || url.charCodeAt(0) !== 47 || url.includes('#')) return req.path;
  const q = url.indexOf('?');
  return q < 0 ? url : url.slice(0, q);
}
