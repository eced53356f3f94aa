import { VigilOptionError } from '../errors.js';

/** Small validators that name the option in their message. All return the value unchanged. */

export function checkObject(name: string, v: unknown): Record<string, unknown> {
  if (v === undefined) return {};
  if (typeof v !== 'object' || v === null || Array.isArray(v)) {
    throw new VigilOptionError(name, 'an options object', v);
  }
  return v as Record<string, unknown>;
}

export function checkKnownKeys(name: string, v: Record<string, unknown>, known: readonly string[]): void {
  for (const k of Object.keys(v)) {
    if (!known.includes(k)) {
      throw new VigilOptionError(
        `${name ? `${name}.` : ''}${k}`,
        `one of ${known.join(', ')}`,
        'an unknown option',
      );
    }
  }
}

export function checkBoolean(name: string, v: unknown): boolean | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== 'boolean') throw new VigilOptionError(name, 'a boolean', v);
  return v;
}

export function checkPositiveInt(name: string, v: unknown, min = 1): number | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min) {
    throw new VigilOptionError(name, `an integer >= ${min}`, v);
  }
  return v;
}

/** A whole number of milliseconds >= min. */
export function checkMs(name: string, v: unknown, min: number): number | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min) {
    throw new VigilOptionError(name, `a whole number of milliseconds >= ${min}`, v);
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
