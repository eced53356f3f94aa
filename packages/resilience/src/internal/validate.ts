import { VigilOptionError } from '@vigil/metrics';
import type { Registry } from 'prom-client';

/** Small validators that name the option in their message. They return the value unchanged. */

export function checkObject(name: string, v: unknown): Record<string, unknown> {
  if (v === undefined) return {};
  if (typeof v !== 'object' || v === null || Array.isArray(v)) {
    throw new VigilOptionError(name, 'an options object', v);
  }
  return v as Record<string, unknown>;
}

export function checkKnownKeys(prefix: string, v: Record<string, unknown>, known: readonly string[]): void {
  for (const k of Object.keys(v)) {
    if (!known.includes(k)) {
      throw new VigilOptionError(`${prefix}${k}`, `one of ${known.join(', ')}`, 'an unknown option');
    }
  }
}

export function checkBoolean(name: string, v: unknown): boolean | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== 'boolean') throw new VigilOptionError(name, 'a boolean', v);
  return v;
}

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

export function checkNumber(name: string, v: unknown, min: number, max: number): number | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== 'number' || !Number.isFinite(v) || v < min || v > max) {
    throw new VigilOptionError(name, `a number from ${min} to ${max}`, v);
  }
  return v;
}

/** Largest delay Node's timers accept (about 24.8 days); longer ones fire after 1 ms. */
export const MAX_TIMER_MS = 2_147_483_647;

/** A duration in ms (integer, >= 1), or `false` for "none". */
export function checkTimeout(name: string, v: unknown): number | false | undefined {
  if (v === undefined || v === false) return v;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1 || v > MAX_TIMER_MS) {
    throw new VigilOptionError(name, `an integer number of ms from 1 to ${MAX_TIMER_MS}, or false`, v);
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

/**
 * Names become label values (`breaker`, `policy`, `target`): they come from code, so they are
 * short and plain. Anything else is a mistake worth failing on at construction.
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

export function isRegistry(v: unknown): v is Registry {
  return (
    typeof v === 'object' &&
    v !== null &&
    typeof (v as Registry).registerMetric === 'function' &&
    typeof (v as Registry).getSingleMetric === 'function' &&
    typeof (v as Registry).removeSingleMetric === 'function'
  );
}
