import { LABEL_VALUES, type RequestRecord, recordOf } from '@vigil/core';
import type { Request } from 'express';

/**
 * Route templates for Express 4 and 5, including mount paths.
 *
 * Express exposes the matched route (`req.route.path`, relative to its router) and the *concrete*
 * mount prefix (`req.baseUrl`, `/users/42/posts` for a router mounted at `/users/:uid/posts`), and
 * it restores `req.baseUrl` when an error leaves a router. So Vigil:
 *  1. captures `req.baseUrl` at the moment Express assigns `req.route` (an accessor on the app's
 *     request prototype, installed once per app on its first request: per app, not global), into
 *     the request's record, and the sub-app the route matched in, when it is one;
 *  2. maps that concrete prefix back to the mount templates by walking the router stacks from the
 *     top app down (routers, and mounted sub-apps through their `parent` links), cached per prefix
 *     in a bounded map. Express 5 layers keep their template (`layer.rawPath`); Express 4 layers
 *     keep only a regexp, so the template is the matched prefix with each captured parameter
 *     replaced by its `:name` (see `express4Mount`).
 * The result is never a raw URL unless the router stack cannot be read, and then the series cap
 * still bounds it.
 */

/**
 * The Express versions whose router internals this module reads (Express 5: `layer.match`,
 * `layer.rawPath`, `app.router`; Express 4: `layer.regexp`, `layer.keys`, `app._router`; both:
 * `app.parent`, `app.mountpath`); test/router-internals.test.ts pins them.
 */
export const EXPRESS_SUPPORTED = '>=4.17.0 <6.0.0';

interface AppLike {
  router?: { stack?: unknown };
  _router?: { stack?: unknown };
  parent?: AppLike;
  mountpath?: unknown;
}

interface Captured {
  route: { path?: unknown };
  base: string;
  app: AppLike | undefined;
}
/** Where a request Vigil does not observe (an excluded path) keeps what Express assigned. */
const UNOBSERVED = Symbol('vigil.express.route');
/** The mounted sub-app a route matched in (set only then: top-level apps are `req.app`). */
const SUB_APP = Symbol('vigil.express.subApp');
type Routed = { baseUrl?: string; app?: AppLike; [UNOBSERVED]?: Captured; [SUB_APP]?: AppLike };

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
      // A mounted sub-app gives the request its own prototype (inheriting this one) while it runs.
      const app = Object.getPrototypeOf(this) === proto ? undefined : this.app;
      const rec = recordOf(this);
      if (rec !== undefined) {
        rec.routeState = value;
        rec.routeBase = base;
        // Only then: the top app's routes (nearly all) add nothing to the request.
        if (app !== undefined) this[SUB_APP] = app;
      } else this[UNOBSERVED] = { route: value, base, app };
    },
  });
}

interface LayerLike {
  route?: unknown;
  handle?: { stack?: unknown; name?: unknown };
  /** Express 5 (router 2.x). */
  slash?: boolean;
  rawPath?: unknown;
  path?: string;
  /** router >= 2.3 returns a match object; older 2.x returns a boolean and sets `layer.path`. */
  match?: (path: string) => boolean | { path?: string; pattern?: unknown } | undefined;
  /** Express 4. */
  regexp?: RegExp & { fast_slash?: boolean; fast_star?: boolean };
  keys?: readonly { name?: unknown }[];
}

interface Mount {
  /** The part of the concrete path the layer matched. */
  matched: string;
  /** Its template. */
  tpl: string;
}

const MAX_CACHED_PREFIXES = 500;
const mountCache = new WeakMap<object, Map<string, string>>();

function pathString(p: unknown): string {
  if (typeof p === 'string') return p;
  if (Array.isArray(p)) return p.map(pathString).join('|');
  if (p instanceof RegExp) return String(p);
  return '';
}

/**
 * path-to-regexp 0.1 ends the regexp of every string mount path with this (0.1.7 wraps an array's
 * in one more group); any other regexp is the app's own.
 */
const STRING_MOUNT = /\(\?=\\\/\|\$\)\)?$/;
const indexed = new WeakMap<RegExp, RegExp>();

/**
 * An Express 4 mount layer's match and template: the matched prefix with each captured group
 * replaced by `:name` (`*` for unnamed ones), lower-cased when the layer matches case-insensitively
 * (the default), so `/Tenants/a` and `/tenants/b` give one label. A mount given as a RegExp is
 * labelled by the RegExp itself.
 */
function express4Mount(
  layer: LayerLike,
  re: RegExp & { fast_slash?: boolean; fast_star?: boolean },
  path: string,
): Mount | undefined {
  if (re.fast_slash) return { matched: '', tpl: '' };
  if (re.fast_star) return { matched: path, tpl: '*' };
  let d = indexed.get(re);
  if (d === undefined) {
    // Own copy: `d` for group offsets, and no `g`/`y` state shared with Express' matching.
    d = new RegExp(re.source, `${re.flags.replace(/[dgy]/g, '')}d`);
    indexed.set(re, d);
  }
  const m = d.exec(path);
  if (m === null || m.index !== 0) return undefined;
  const matched = m[0];
  if (!STRING_MOUNT.test(re.source)) return { matched, tpl: String(re) };
  const lower = re.ignoreCase;
  const keys = layer.keys ?? [];
  let tpl = '';
  let pos = 0;
  for (let i = 1; i < m.length; i++) {
    const span = m.indices?.[i];
    if (span === undefined || span[0] < pos) continue; // not taken, or inside one replaced already
    const literal = matched.slice(pos, span[0]);
    const name = keys[i - 1]?.name;
    tpl += (lower ? literal.toLowerCase() : literal) + (typeof name === 'string' ? `:${name}` : '*');
    pos = span[1];
  }
  const tail = matched.slice(pos);
  tpl += lower ? tail.toLowerCase() : tail;
  if (tpl.length > 1 && tpl.endsWith('/')) tpl = tpl.slice(0, -1);
  return { matched, tpl };
}

/** The match and template of a mount layer (a router or a sub-app) for `path`, if it matches. */
function mountOf(layer: LayerLike, path: string): Mount | undefined {
  const re = layer.regexp;
  if (layer.rawPath === undefined && re instanceof RegExp) return express4Mount(layer, re, path);
  if (typeof layer.match !== 'function') return undefined;
  const m = layer.match(path);
  if (!m) return undefined;
  const matched = (typeof m === 'object' ? m.path : layer.path) ?? '';
  const raw = typeof m === 'object' && m.pattern !== undefined ? m.pattern : layer.rawPath;
  return { matched, tpl: layer.slash ? '' : raw !== undefined ? pathString(raw) : matched };
}

function stackOf(app: AppLike | undefined): LayerLike[] | undefined {
  // Express 4's `app.router` is a getter that throws; its router is `app._router`.
  const stack = (app?._router ?? app?.router)?.stack;
  return Array.isArray(stack) ? (stack as LayerLike[]) : undefined;
}

/**
 * The template of the concrete mount prefix `path` in a router stack. `apps` is the chain of
 * apps from the top one to the sub-app the route matched in; `next` the index of the next one.
 */
function resolveMount(
  stack: readonly LayerLike[],
  path: string,
  apps: readonly AppLike[],
  next: number,
  depth: number,
): string | undefined {
  if (depth > 16) return undefined;
  for (const layer of stack) {
    if (layer.route) continue;
    let sub: unknown = layer.handle?.stack;
    let app: AppLike | undefined;
    if (!Array.isArray(sub)) {
      app = layer.handle?.name === 'mounted_app' ? apps[next] : undefined;
      sub = stackOf(app);
      if (sub === undefined) continue;
    }
    const m = mountOf(layer, path);
    if (m === undefined || !path.startsWith(m.matched)) continue;
    // A sub-app keeps the path it was mounted at as written (Express 4's layer does not).
    const tpl =
      app !== undefined && m.tpl !== '' && typeof app.mountpath === 'string' ? app.mountpath : m.tpl;
    const rest = path.slice(m.matched.length);
    if (rest === '' || rest === '/') return tpl;
    const inner = resolveMount(
      sub as LayerLike[],
      rest,
      apps,
      app !== undefined ? next + 1 : next,
      depth + 1,
    );
    if (inner !== undefined) return tpl + inner;
  }
  return undefined;
}

function mountTemplate(app: AppLike | undefined, base: string): string {
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
    const apps: AppLike[] = [];
    for (let a: AppLike | undefined = app; a !== undefined && apps.length < 16; a = a.parent) apps.unshift(a);
    const stack = stackOf(apps[0]);
    tpl = (stack !== undefined && resolveMount(stack, base, apps, 1, 0)) || base;
  } catch {
    // A router that cannot be read must never take the request down: the concrete prefix stays,
    // bounded by the series cap.
  }
  if (cache.size < MAX_CACHED_PREFIXES) cache.set(base, tpl);
  return tpl;
}

function template(
  req: Request,
  route: { path?: unknown } | undefined,
  base: string,
  /** The sub-app the route matched in, when not noted on the request. */
  app: AppLike | undefined,
): string {
  if (!route) return LABEL_VALUES.unmatchedRoute;
  const path = pathString(route.path);
  if (base === '') return path === '' ? '/' : path;
  const mount = mountTemplate(app ?? (req as Routed)[SUB_APP] ?? (req.app as unknown as AppLike), base);
  return path === '/' || path === '' ? mount : mount + path;
}

/** The observer's route resolver: the template of the route Express matched, or undefined. */
export function resolveRoute(rec: RequestRecord): string | undefined {
  const route = rec.routeState as { path?: unknown } | undefined;
  if (!route) return undefined;
  return template(rec.req as Request, route, rec.routeBase, undefined);
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
    c?.app,
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
