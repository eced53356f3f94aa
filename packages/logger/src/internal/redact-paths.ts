/**
 * The `redact` option's entries: key names (matched at any depth, case-insensitive), or pino-style
 * paths from the line's root (`req.headers["x-api-key"]`, `a.b.c`, `a[0]`, `*.password`,
 * `items[*].secret`), matched case-sensitively as pino does. `*` stands for one key or index.
 */

export interface RedactSpec {
  /** Lower-cased key names. */
  readonly keys: readonly string[];
  /** Paths as segments; `*` matches any one key or index. */
  readonly paths: readonly (readonly string[])[];
}

/** Where a path cannot be parsed; the caller turns it into a VigilOptionError. */
export class PathSyntaxError extends Error {}

const DOT_SEGMENT = /^[^\s.[\]"'`]+$/;

/** A path as segments, or a PathSyntaxError saying what is wrong with it. */
export function parsePath(path: string): string[] {
  const segs: string[] = [];
  let i = 0;
  const n = path.length;
  if (n === 0) throw new PathSyntaxError('an empty path');
  while (i < n) {
    if (path[i] === '[') {
      const close = path.indexOf(']', i);
      if (close < 0) throw new PathSyntaxError(`an unclosed "[" at ${i}`);
      const inner = path.slice(i + 1, close).trim();
      const q = inner[0];
      if (q === '"' || q === "'" || q === '`') {
        if (inner.length < 2 || inner[inner.length - 1] !== q) {
          throw new PathSyntaxError(`an unterminated quote at ${i}`);
        }
        const body = inner.slice(1, -1);
        if (body.includes(q)) throw new PathSyntaxError(`a quote inside brackets at ${i}`);
        segs.push(body);
      } else if (inner === '*' || /^\d+$/.test(inner)) {
        segs.push(inner);
      } else {
        throw new PathSyntaxError(`"[${inner}]": use a quoted key, an index or *`);
      }
      i = close + 1;
      if (i < n && path[i] !== '.' && path[i] !== '[') {
        throw new PathSyntaxError(`"${path[i]}" after "]" at ${i}`);
      }
      if (path[i] === '.') {
        i++;
        if (i >= n) throw new PathSyntaxError('a trailing "."');
      }
      continue;
    }
    let end = i;
    while (end < n && path[end] !== '.' && path[end] !== '[') end++;
    const seg = path.slice(i, end);
    if (seg === '') throw new PathSyntaxError(`an empty segment at ${i}`);
    if (seg !== '*' && !DOT_SEGMENT.test(seg)) {
      throw new PathSyntaxError(`"${seg}": use brackets for keys with spaces, dots or quotes`);
    }
    segs.push(seg);
    i = end;
    if (path[i] === '.') {
      i++;
      if (i >= n) throw new PathSyntaxError('a trailing "."');
    }
  }
  return segs;
}

/**
 * Splits the option's entries into key names and paths. A plain name (no `.`, `[` or `*`) is a key
 * redacted at any depth, as the default keys are; anything else is a path.
 */
export function resolveRedact(entries: readonly string[]): RedactSpec {
  const keys: string[] = [];
  const paths: string[][] = [];
  for (const e of entries) {
    if (/^[^.[\]*]+$/.test(e) && e.trim() === e && e !== '') keys.push(e.toLowerCase());
    else paths.push(parsePath(e));
  }
  return { keys, paths };
}
