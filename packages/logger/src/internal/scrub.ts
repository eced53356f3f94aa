/**
 * Credentials inside string values: the user information of a URL (`postgres://user:pass@host`),
 * `Bearer …` / `Basic …` credentials, and the values of query (or form, or matrix) parameters named
 * like secrets (`?token=…`, `&api_key=…`, `;password=…`). Whatever the key the string sits under.
 */

export const CENSOR = '[REDACTED]';

/**
 * Query parameter names redacted on top of the logger's secret keys: names used for credentials in
 * URLs that would be too broad as object keys (`key`, `sig`).
 */
export const QUERY_SECRET_NAMES: readonly string[] = Object.freeze([
  'key',
  'sig',
  'signature',
  'auth',
  'x-amz-signature',
  'x-amz-credential',
  'x-amz-security-token',
  'x-goog-signature',
  'x-goog-credential',
]);

/** `scheme://`: the scheme's characters (RFC 3986) before it. */
const SCHEME_CHAR = /[A-Za-z0-9+.-]/;
/** Prefilter for `bearer` / `basic` in any case. */
const AUTH_HINT = /[Bb][EeAa][AaSs][RrIi]/;
const AUTH = /\b(bearer|basic)(\s+)([A-Za-z0-9\-._~+/]+=*)/gi;
/**
 * Both are also English words: a credential has a digit, one of `-._~+/=` or an upper-case letter
 * after its first character, or is long ("Basic dXNlcjpwYXNz", "Bearer eyJhbGci…", not "basic
 * plan" or "bearer of news").
 */
const LOOKS_ENCODED = /[0-9\-._~+/=]|.[A-Z]/;

function isNameChar(c: number): boolean {
  // A-Z a-z 0-9 _ . -
  return (
    (c >= 97 && c <= 122) || (c >= 65 && c <= 90) || (c >= 48 && c <= 57) || c === 95 || c === 46 || c === 45
  );
}
/** Where a parameter's value ends: `& # ; " ' < > ,` or white space, and `/ ?` in a path segment. */
function endsValue(c: number, segment: boolean): boolean {
  return (
    c === 38 ||
    c === 35 ||
    c === 59 ||
    c === 34 ||
    c === 39 ||
    c === 60 ||
    c === 62 ||
    c === 44 ||
    c <= 32 ||
    (segment && (c === 47 || c === 63))
  );
}

/** `scheme://user:pass@host` → `scheme://[REDACTED]@host`, for every URL in `s`. */
function userinfo(s: string): string {
  let out = '';
  let last = 0;
  let i = s.indexOf('://');
  while (i >= 0) {
    const start = i + 3;
    if (i > 0 && SCHEME_CHAR.test(s[i - 1] as string)) {
      // The authority runs to the first `/ ? #` or white space; its last `@` ends the user information.
      let end = start;
      while (end < s.length) {
        const c = s.charCodeAt(end);
        if (c === 47 || c === 63 || c === 35 || c <= 32) break;
        end++;
      }
      const at = s.lastIndexOf('@', end - 1);
      if (at >= start) {
        out += `${s.slice(last, start)}${CENSOR}`;
        last = at;
      }
      i = s.indexOf('://', end);
    } else i = s.indexOf('://', start);
  }
  return last === 0 ? s : out + s.slice(last);
}

export type Scrub = (s: string) => string;

/** A scrubber for strings, redacting parameters named like `secretNames` (case-insensitive). */
export function createScrubber(secretNames: Iterable<string>): Scrub {
  const names = new Set<string>();
  for (const n of secretNames) if (n !== '') names.add(n.toLowerCase());
  for (const n of QUERY_SECRET_NAMES) names.add(n);

  /** `name=value` where name is secret: the value censored, up to its separator. */
  function params(s: string): string {
    let out = '';
    let last = 0;
    let eq = s.indexOf('=');
    while (eq >= 0) {
      let from = eq;
      while (from > 0 && isNameChar(s.charCodeAt(from - 1))) from--;
      let end = eq + 1;
      if (from < eq && names.has(s.slice(from, eq).toLowerCase())) {
        const before = from > 0 ? s.charCodeAt(from - 1) : 0;
        const segment = before === 47 || before === 59; // `/name=` or `;name=`
        while (end < s.length && !endsValue(s.charCodeAt(end), segment)) end++;
        out += `${s.slice(last, eq + 1)}${CENSOR}`;
        last = end;
      }
      eq = s.indexOf('=', end);
    }
    return last === 0 ? s : out + s.slice(last);
  }

  return (s) => {
    // The shortest pattern, `k=v` with a secret name, is 5 characters.
    if (s.length < 5) return s;
    let r = s;
    if (r.indexOf('@') >= 0 && r.indexOf('://') >= 0) r = userinfo(r);
    if (r.indexOf('=') >= 0) r = params(r);
    if (AUTH_HINT.test(r)) {
      r = r.replace(AUTH, (m, scheme: string, space: string, cred: string) =>
        LOOKS_ENCODED.test(cred) || cred.length >= 20 ? `${scheme}${space}${CENSOR}` : m,
      );
    }
    return r;
  };
}

/** The default scrubber's secret names are the logger's; this one is for paths outside a logger. */
let pathScrub: Scrub | undefined;

/**
 * The request line's `path` with credentials censored: user information (an absolute-form request
 * target, `GET http://user:pass@host/…`) and `name=value` segments named like secrets
 * (`/reset;token=…`). Costs two `indexOf` calls when there is neither `@` nor `=`.
 */
export function scrubPath(path: string, scrub?: Scrub): string {
  if (path.indexOf('@') < 0 && path.indexOf('=') < 0) return path;
  if (scrub !== undefined) return scrub(path);
  pathScrub ??= createScrubber(DEFAULT_SECRET_NAMES);
  return pathScrub(path);
}

/** The logger's default secret keys (LOGGER_DEFAULTS.redactKeys refers to this list). */
export const DEFAULT_SECRET_NAMES: readonly string[] = Object.freeze([
  'authorization',
  'proxy-authorization',
  'cookie',
  'set-cookie',
  'x-api-key',
  'x-auth-token',
  'password',
  'passwd',
  'secret',
  'client_secret',
  'token',
  'access_token',
  'refresh_token',
  'id_token',
  'api_key',
  'apikey',
  'accesstoken',
  'refreshtoken',
]);
