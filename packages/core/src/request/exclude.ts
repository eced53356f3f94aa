import { VigilOptionError } from '../errors.js';

/**
 * Paths of the endpoints Vigil mounts by default: the scrape endpoint and the health probes. They
 * are never recorded unless an observer asks for them (`includeVigilEndpoints`); endpoints mounted
 * elsewhere are recognised when they answer (see `excludeVigilEndpoint`).
 */
export const VIGIL_ENDPOINTS = Object.freeze({
  metrics: '/metrics',
  liveness: Object.freeze(['/health', '/livez']),
  readiness: Object.freeze(['/ready', '/readyz']),
  startup: Object.freeze(['/startup']),
});

const DEFAULT_PATHS: readonly string[] = [
  VIGIL_ENDPOINTS.metrics,
  ...VIGIL_ENDPOINTS.liveness,
  ...VIGIL_ENDPOINTS.readiness,
  ...VIGIL_ENDPOINTS.startup,
];

/**
 * A path to leave unobserved: an exact path (`/internal/ping`), a prefix (`/static/*`), a regular
 * expression, or a predicate. Paths are the URL's path without its query.
 */
export type ExcludeRule = string | RegExp | ((path: string) => boolean);

/** Exclusion options, the same in every adapter. */
export interface ExcludeOptions {
  /** Paths not recorded (metrics, spans, request log). Added to Vigil's own endpoints. */
  exclude?: readonly ExcludeRule[];
  /** Record Vigil's own endpoints (`/metrics`, the probes) like any other route. Default false. */
  includeVigilEndpoints?: boolean;
}

/** The compiled rules: undefined when nothing is excluded. */
export type PathFilter = ((path: string) => boolean) | undefined;

/**
 * Compiles the exclusion options, failing with a `VigilOptionError` naming `option` on a bad rule.
 * `extra`: more exact paths of Vigil endpoints the adapter mounts (a configured scrape path).
 */
export function compileExclude(
  rules: unknown,
  includeVigilEndpoints: unknown,
  extra: readonly string[] = [],
  option = 'exclude',
): PathFilter {
  if (includeVigilEndpoints !== undefined && typeof includeVigilEndpoints !== 'boolean') {
    throw new VigilOptionError('includeVigilEndpoints', 'a boolean', includeVigilEndpoints);
  }
  if (rules !== undefined && !Array.isArray(rules)) {
    throw new VigilOptionError(option, 'an array of paths, "/prefix/*" strings, RegExps or functions', rules);
  }
  const exact = new Set<string>(includeVigilEndpoints === true ? [] : [...DEFAULT_PATHS, ...extra]);
  const prefixes: string[] = [];
  const tests: Array<(path: string) => boolean> = [];
  for (const [i, r] of ((rules ?? []) as unknown[]).entries()) {
    if (typeof r === 'string') {
      if (r.length === 0 || r.charCodeAt(0) !== 47 /* / */) {
        throw new VigilOptionError(`${option}[${i}]`, 'a path starting with "/"', r);
      }
      if (r.endsWith('*')) prefixes.push(r.slice(0, -1));
      else exact.add(r);
    } else if (r instanceof RegExp) {
      tests.push((p) => {
        r.lastIndex = 0;
        return r.test(p);
      });
    } else if (typeof r === 'function') {
      tests.push(r as (path: string) => boolean);
    } else {
      throw new VigilOptionError(
        `${option}[${i}]`,
        'a path, a "/prefix/*" string, a RegExp or a function',
        r,
      );
    }
  }
  if (prefixes.length === 0 && tests.length === 0) {
    return exact.size === 0 ? undefined : (p) => exact.has(p);
  }
  return (p) => {
    if (exact.has(p)) return true;
    for (const prefix of prefixes) if (p.startsWith(prefix)) return true;
    for (const t of tests) {
      try {
        if (t(p)) return true;
      } catch {
        // A throwing predicate excludes nothing: the request is recorded as usual.
      }
    }
    return false;
  };
}

/** The path of a URL without its query (`/a?b` -> `/a`). */
export function pathOf(url: string | undefined): string {
  if (url === undefined) return '/';
  const q = url.indexOf('?');
  return q < 0 ? url : url.slice(0, q);
}
