/**
 * Redaction, applied to every log object (and to child bindings) before pino serialises it.
 *
 * It walks what pino will print: plain objects and arrays; class instances, `Error`s and `Map`s
 * (their own enumerable properties, which is what JSON serialisation prints); the result of a
 * `toJSON()`; and the `err` field as pino's error serialiser renders it (`type`, `message` and
 * `stack` with the causes', `aggregateErrors`, own enumerable properties). It replaces the value of
 * every secret key by `[REDACTED]`, censors credentials inside strings (scrub.ts), and fails
 * closed: past a limit (depth, entries per object, objects per line) a value is replaced by
 * `[Truncated]` instead of being printed unexamined. The caller's objects are never modified:
 * objects on the path to a change are copied, anything else is passed through as it is.
 *
 * Not pino's own `redact`: it matches only the paths given, and needs dozens of them to cover the
 * usual secret names at a few depths (its cost: bench/README.md, `logger`).
 */

import pino from 'pino';
import type { RedactSpec } from './redact-paths.js';
import { CENSOR, type Scrub } from './scrub.js';

export { CENSOR };
export const TRUNCATED = '[Truncated]';
export const CIRCULAR = '[Circular]';

/** Levels of nesting walked below the line's own fields; deeper values are censored. */
export const MAX_DEPTH = 10;
/** Entries of one object or array examined; the values of the rest are censored (numbers stay). */
export const MAX_KEYS = 200;
/** Objects and arrays walked per line: bounds the cost of any line; the rest is censored. */
export const MAX_NODES = 2_000;

const stdErr = pino.stdSerializers.err as (e: unknown) => unknown;

export interface Redactor {
  /** pino's `formatters.log` (and `formatters.bindings`). */
  readonly line: (obj: Record<string, unknown>) => Record<string, unknown>;
  /** pino's `err` serializer: error lines are already done by `line`, others are done here. */
  readonly err: (value: unknown) => unknown;
}

/** A path being matched: the segments and how many have matched so far. */
interface Cursor {
  readonly segs: readonly string[];
  readonly at: number;
}

export function createRedactor(spec: RedactSpec, scrub: Scrub): Redactor {
  const secret = new Set(spec.keys);
  const roots: Cursor[] | undefined =
    spec.paths.length > 0 ? spec.paths.map((segs) => ({ segs, at: 0 })) : undefined;
  /** Error renderings produced (or passed as clean) by `line`, which the err serializer leaves alone. */
  const rendered = new WeakSet<object>();

  // One walk at a time (the walk is synchronous): its ancestors and node budget live here.
  const stack: unknown[] = [];
  let budget = 0;

  /** The cursors after key `k`; `hit` when one of them ends there. */
  let hit = false;
  function advance(cursors: readonly Cursor[] | undefined, k: string): Cursor[] | undefined {
    hit = false;
    if (cursors === undefined) return undefined;
    let next: Cursor[] | undefined;
    for (const c of cursors) {
      const s = c.segs[c.at];
      if (s === '*' || s === k) {
        if (c.at + 1 === c.segs.length) hit = true;
        else {
          next ??= [];
          next.push({ segs: c.segs, at: c.at + 1 });
        }
      }
    }
    return next;
  }

  function value(v: unknown, depth: number, cursors: Cursor[] | undefined): unknown {
    if (typeof v === 'string') return scrub(v);
    if (v === null || typeof v !== 'object') return v;
    return container(v, depth, cursors);
  }

  /** Past the entry limit: no walk, so only values that cannot carry a secret are kept. */
  function unexamined(v: unknown): unknown {
    return v === null || typeof v === 'number' || typeof v === 'boolean' || typeof v === 'undefined'
      ? v
      : TRUNCATED;
  }

  function container(v: object, depth: number, cursors: Cursor[] | undefined): unknown {
    if (depth > MAX_DEPTH || ++budget > MAX_NODES) return TRUNCATED;
    if (stack.includes(v)) return CIRCULAR;
    if (Array.isArray(v)) return walkArray(v, depth, cursors);
    const proto = Object.getPrototypeOf(v);
    const plain = proto === Object.prototype || proto === null;
    if (!plain && (v instanceof Date || ArrayBuffer.isView(v))) return v;
    const toJSON = (v as { toJSON?: unknown }).toJSON;
    if (typeof toJSON === 'function') {
      // JSON serialisation prints what toJSON returns (a URL's href, a model's fields).
      let j: unknown;
      try {
        j = toJSON.call(v, '');
      } catch {
        return TRUNCATED;
      }
      if (j === v) return walkObject(v, depth, cursors, plain);
      const r = value(j, depth, cursors);
      return r === j ? v : r;
    }
    return walkObject(v, depth, cursors, plain);
  }

  function walkArray(a: unknown[], depth: number, cursors: Cursor[] | undefined): unknown {
    stack.push(a);
    let out: unknown[] | undefined;
    const n = a.length;
    for (let i = 0; i < n; i++) {
      const v = a[i];
      let r: unknown;
      let next: Cursor[] | undefined;
      if (cursors !== undefined) next = advance(cursors, String(i));
      if (cursors !== undefined && hit) r = v === undefined ? v : CENSOR;
      else if (i >= MAX_KEYS) r = unexamined(v);
      else r = value(v, depth + 1, next);
      if (r !== v) {
        out ??= a.slice();
        out[i] = r;
      }
    }
    stack.pop();
    return out ?? a;
  }

  function walkObject(o: object, depth: number, cursors: Cursor[] | undefined, plain: boolean): unknown {
    stack.push(o);
    const src = o as Record<string, unknown>;
    let out: Record<string, unknown> | undefined;
    if (plain) {
      let seen = 0;
      for (const k in src) {
        const v = src[k];
        const r = entry(k, v, ++seen > MAX_KEYS, depth, cursors);
        if (r !== v) {
          out ??= { ...src };
          out[k] = r;
        }
      }
    } else {
      // Own enumerable keys: what JSON serialisation prints of a class instance, an Error or a Map.
      // Once something changes, the copy is a plain object of exactly those keys.
      const keys = Object.keys(o);
      for (let i = 0; i < keys.length; i++) {
        const k = keys[i] as string;
        const v = src[k];
        const r = entry(k, v, i >= MAX_KEYS, depth, cursors);
        if (r !== v && out === undefined) {
          out = {};
          for (let j = 0; j < i; j++) out[keys[j] as string] = src[keys[j] as string];
        }
        if (out !== undefined) out[k] = r;
      }
    }
    stack.pop();
    return out ?? o;
  }

  /** One property: censored when its key is secret or a path ends there, else walked. */
  function entry(
    k: string,
    v: unknown,
    past: boolean,
    depth: number,
    cursors: Cursor[] | undefined,
  ): unknown {
    let next: Cursor[] | undefined;
    if (cursors !== undefined) {
      next = advance(cursors, k);
      if (hit) return v === undefined ? v : CENSOR;
    }
    if (secret.has(k.toLowerCase())) return v === undefined ? v : CENSOR;
    if (past) return unexamined(v);
    return value(v, depth + 1, next);
  }

  /** What pino prints for `err`, redacted; falls back to the basics if rendering throws. */
  function renderErr(e: unknown, cursors: Cursor[] | undefined): unknown {
    let r: unknown = e;
    if (e !== null && typeof e === 'object' && typeof (e as { message?: unknown }).message === 'string') {
      try {
        r = stdErr(e);
      } catch {
        // A frozen error, a throwing getter: what can be read safely.
        const x = e as { name?: unknown; message?: unknown; stack?: unknown };
        r = { type: String(x.name), message: String(x.message), stack: String(x.stack) };
      }
    }
    const out = value(r, 1, cursors);
    if (out !== null && typeof out === 'object') rendered.add(out);
    return out;
  }

  function walkLine(obj: Record<string, unknown>, errKeyAware: boolean): Record<string, unknown> {
    budget = 0;
    if (stack.length !== 0) stack.length = 0; // a walk a toJSON() or getter threw out of
    let out: Record<string, unknown> | undefined;
    for (const k in obj) {
      const v = obj[k];
      let r: unknown;
      if (errKeyAware && k === 'err' && v !== null && typeof v === 'object' && !secret.has('err')) {
        const next = roots !== undefined ? advance(roots, k) : undefined;
        r = roots !== undefined && hit ? CENSOR : renderErr(v, next);
      } else r = entry(k, v, false, 0, roots);
      if (r !== v) {
        out ??= { ...obj };
        out[k] = r;
      }
    }
    return out ?? obj;
  }

  return {
    line: (obj) => walkLine(obj, true),
    err: (v) => {
      if (v !== null && typeof v === 'object' && rendered.has(v)) return v;
      budget = 0;
      if (stack.length !== 0) stack.length = 0;
      return renderErr(v, undefined);
    },
  };
}
