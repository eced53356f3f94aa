import { VigilOptionError } from './errors.js';

/**
 * Option checks shared by every Vigil factory. Each names the option in its error, returns the
 * value unchanged, and lets `undefined` through (the factory then takes its default).
 */

export function checkObject(name: string, v: unknown): Record<string, unknown> {
  if (v === undefined) return {};
  if (typeof v !== 'object' || v === null || Array.isArray(v)) {
    throw new VigilOptionError(name, 'an options object', v);
  }
  return v as Record<string, unknown>;
}

/**
 * Unknown keys fail. `name` is the path of the object: `''` for the top level, `checks.db` (or
 * `checks.db.`) for a nested one.
 */
export function checkKnownKeys(name: string, v: Record<string, unknown>, known: readonly string[]): void {
  const at = name === '' || name.endsWith('.') ? name : `${name}.`;
  for (const k of Object.keys(v)) {
    if (!known.includes(k)) {
      throw new VigilOptionError(`${at}${k}`, `one of ${known.join(', ')}`, 'an unknown option');
    }
  }
}

export function checkBoolean(name: string, v: unknown): boolean | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== 'boolean') throw new VigilOptionError(name, 'a boolean', v);
  return v;
}

/** An integer from `min` to `max`. */
export function checkInt(
  name: string,
  v: unknown,
  min: number,
  max = Number.MAX_SAFE_INTEGER,
): number | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
    throw new VigilOptionError(
      name,
      max === Number.MAX_SAFE_INTEGER ? `an integer >= ${min}` : `an integer from ${min} to ${max}`,
      v,
    );
  }
  return v;
}

export function checkPositiveInt(name: string, v: unknown, min = 1): number | undefined {
  return checkInt(name, v, min);
}

/** Largest delay Node's timers accept (about 24.8 days); longer ones fire after 1 ms. */
export const MAX_TIMER_MS = 2_147_483_647;

/** A whole number of milliseconds from `min` to what a Node timer accepts. */
export function checkMs(name: string, v: unknown, min: number): number | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min) {
    throw new VigilOptionError(name, `a whole number of milliseconds >= ${min}`, v);
  }
  if (v > MAX_TIMER_MS) {
    throw new VigilOptionError(name, `at most ${MAX_TIMER_MS} ms (what a Node.js timer accepts)`, v);
  }
  return v;
}

/** A duration in ms (integer from 1 to what a Node timer accepts), or `false` for "none". */
export function checkTimeout(name: string, v: unknown): number | false | undefined {
  if (v === undefined || v === false) return v;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1 || v > MAX_TIMER_MS) {
    throw new VigilOptionError(name, `an integer number of ms from 1 to ${MAX_TIMER_MS}, or false`, v);
  }
  return v;
}

export function checkNumber(name: string, v: unknown, min: number, max: number): number | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== 'number' || !Number.isFinite(v) || v < min || v > max) {
    throw new VigilOptionError(name, `a number from ${min} to ${max}`, v);
  }
  return v;
}

export function checkPort(name: string, v: unknown): number | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > 65535) {
    throw new VigilOptionError(name, 'a port number from 0 to 65535', v);
  }
  return v;
}

export function checkString(
  name: string,
  v: unknown,
  pattern?: RegExp,
  expected?: string,
): string | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== 'string' || (pattern && !pattern.test(v))) {
    throw new VigilOptionError(name, expected ?? 'a string', v);
  }
  return v;
}

export function checkFunction<T>(name: string, v: unknown): T | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== 'function') throw new VigilOptionError(name, 'a function', v);
  return v as T;
}

export function checkOneOf<T extends string>(name: string, v: unknown, values: readonly T[]): T | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== 'string' || !values.includes(v as T)) {
    throw new VigilOptionError(name, values.map((x) => `"${x}"`).join(' or '), v);
  }
  return v as T;
}

export function checkStringArray(
  name: string,
  v: unknown,
  expected = 'an array of strings',
): readonly string[] | undefined {
  if (v === undefined) return undefined;
  if (!Array.isArray(v) || v.some((p) => typeof p !== 'string'))
    throw new VigilOptionError(name, expected, v);
  return v as readonly string[];
}

export function checkBuckets(name: string, v: unknown): readonly number[] | undefined {
  if (v === undefined) return undefined;
  if (!Array.isArray(v) || v.length === 0) {
    throw new VigilOptionError(name, 'a non-empty array of ascending positive numbers', v);
  }
  for (let i = 0; i < v.length; i++) {
    const b = v[i];
    if (typeof b !== 'number' || !Number.isFinite(b) || b <= 0 || (i > 0 && b <= v[i - 1])) {
      throw new VigilOptionError(name, 'a non-empty array of ascending positive finite numbers', v);
    }
  }
  return Object.freeze([...v]);
}

export const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
export const METRIC_PREFIX = /^([a-zA-Z_:][a-zA-Z0-9_:]*)?$/;

export function checkLabels(name: string, v: unknown): Readonly<Record<string, string>> | undefined {
  if (v === undefined) return undefined;
  const o = checkObject(name, v);
  const out: Record<string, string> = {};
  for (const [k, val] of Object.entries(o)) {
    if (!LABEL_NAME.test(k) || k.startsWith('__')) {
      throw new VigilOptionError(`${name}.${k}`, 'a valid Prometheus label name', k);
    }
    if (typeof val !== 'string') throw new VigilOptionError(`${name}.${k}`, 'a string label value', val);
    out[k] = val;
  }
  return Object.freeze(out);
}

/**
 * Names that become label values (`breaker`, `policy`, `target`, `check`): they come from code, so
 * they are short and plain. Anything else is a mistake worth failing on at construction.
 */
export const NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.:/-]{0,99}$/;

export function checkName(name: string, v: unknown): string {
  if (typeof v !== 'string' || !NAME_PATTERN.test(v)) {
    throw new VigilOptionError(
      name,
      'a name of 1 to 100 characters from A-Z a-z 0-9 _ . : / - (starting with a letter or digit)',
      v,
    );
  }
  return v;
}

/** `true` means "on with defaults"; an object means "on with these options"; `false` means off. */
export function checkToggle(name: string, v: unknown): Record<string, unknown> | false | undefined {
  if (v === undefined) return undefined;
  if (v === false) return false;
  if (v === true) return {};
  return checkObject(name, v);
}

/** The part of prom-client's `Registry` Vigil uses. */
export interface RegistryLike {
  registerMetric(metric: never): void;
  getSingleMetric(name: string): unknown;
  removeSingleMetric(name: string): void;
  getMetricsAsArray(): unknown[];
}

/** Whether `v` looks like a prom-client Registry (duck-typed: copies of prom-client differ by class). */
export function isRegistry(v: unknown): v is RegistryLike {
  return (
    typeof v === 'object' &&
    v !== null &&
    typeof (v as RegistryLike).registerMetric === 'function' &&
    typeof (v as RegistryLike).getSingleMetric === 'function' &&
    typeof (v as RegistryLike).removeSingleMetric === 'function' &&
    typeof (v as RegistryLike).getMetricsAsArray === 'function'
  );
}

export function checkRegistry<R extends RegistryLike = RegistryLike>(
  name: string,
  v: unknown,
): R | undefined {
  if (v === undefined) return undefined;
  if (!isRegistry(v)) throw new VigilOptionError(name, 'a prom-client Registry', v);
  return v as R;
}
