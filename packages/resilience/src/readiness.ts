import { checkKnownKeys, checkName, checkObject, checkOneOf, VigilOptionError } from '@vigil/core';
import { BREAKER_CHECK_DEFAULTS } from './defaults.js';
import type { LoadShedder } from './load-shedder.js';
import type { BreakerStateSource, BreakerStats, ReadinessCheck, ReadinessCheckResult } from './types.js';

export interface BreakerCheckOptions {
  /** Check name. Default `breaker:<breaker name>`. */
  name?: string;
  /** Status while open. Default `warn`: one bad dependency should not pull every pod out of rotation. */
  whenOpen?: 'warn' | 'fail';
  /** Status while half-open. Default `warn`. */
  whenHalfOpen?: 'pass' | 'warn' | 'fail';
}

type Source = BreakerStateSource & { stats?: () => BreakerStats };

function sourceOf(v: unknown): Source {
  if (typeof v === 'object' && v !== null) {
    const direct = v as Partial<Source>;
    if (typeof direct.state === 'string' && typeof direct.name === 'string') return direct as Source;
    const nested = (v as { breaker?: Partial<Source> }).breaker;
    if (nested && typeof nested.state === 'string' && typeof nested.name === 'string')
      return nested as Source;
  }
  throw new VigilOptionError('breaker', 'a circuit breaker, or a policy / HTTP client that has one', v);
}

/**
 * A readiness check from a breaker's state: `pass` while closed, `whenHalfOpen` / `whenOpen`
 * otherwise. A plain object (`{ name, critical: false, check }`), so it can be registered with
 * @vigil/health or any framework that runs async checks.
 *
 * ```ts
 * const check = createBreakerCheck(usersClient); // a breaker, policy or HTTP client
 * await check.check(); // { status: 'warn', observedValue: 'open', output: '...', since: '...' }
 * ```
 */
export function createBreakerCheck(breaker: unknown, options?: BreakerCheckOptions): ReadinessCheck {
  const source = sourceOf(breaker);
  const input = checkObject('options', options);
  checkKnownKeys('', input, ['name', 'whenOpen', 'whenHalfOpen']);
  const name = input.name === undefined ? `breaker:${source.name}` : checkName('name', input.name);
  const whenOpen =
    checkOneOf('whenOpen', input.whenOpen, ['warn', 'fail']) ?? BREAKER_CHECK_DEFAULTS.whenOpen;
  const whenHalfOpen =
    checkOneOf('whenHalfOpen', input.whenHalfOpen, ['pass', 'warn', 'fail']) ??
    BREAKER_CHECK_DEFAULTS.whenHalfOpen;
  return Object.freeze({
    name,
    critical: false as const,
    async check(): Promise<ReadinessCheckResult> {
      const state = source.state;
      let since: string | undefined;
      try {
        const at = source.stats?.().since;
        if (typeof at === 'number') since = new Date(at).toISOString();
      } catch {}
      if (state === 'closed') return { status: 'pass', observedValue: state, ...(since ? { since } : {}) };
      const status = state === 'open' ? whenOpen : whenHalfOpen;
      const output =
        state === 'open'
          ? `circuit breaker "${source.name}" is open: calls to it are rejected`
          : `circuit breaker "${source.name}" is half-open: probing the dependency`;
      return { status, observedValue: state, output, ...(since ? { since } : {}) };
    },
  });
}

export interface LoadShedderCheckOptions {
  /** Check name. Default `load-shedding`. */
  name?: string;
  /** Status while the shedder sheds (one request shed in the last 5 s). Default `warn`. */
  whenShedding?: 'warn' | 'fail';
}

/** What a load-shedder readiness check reports: the current limit as its measurement. */
export interface LoadShedderCheckResult {
  readonly status: 'pass' | 'warn' | 'fail';
  readonly output?: string;
  /** The concurrency limit (`Infinity` without the adaptive limit is reported as -1). */
  readonly observedValue: number;
  readonly observedUnit: 'requests';
}

/**
 * A readiness check that reports `warn` (or `fail`) while the load shedder is shedding. `warn` by
 * default: a pod that sheds is busy, not broken, and taking it out of rotation would push its load
 * onto the others (which may then shed too). A plain `{ name, critical: false, check }` object.
 *
 * ```ts
 * const health = createHealth({ checks: { shedding: createLoadShedderCheck(shedder) } });
 * ```
 */
export function createLoadShedderCheck(
  shedder: Pick<LoadShedder, 'shedding' | 'limit' | 'inFlight' | 'lastReason'>,
  options?: LoadShedderCheckOptions,
): { readonly name: string; readonly critical: false; check(): Promise<LoadShedderCheckResult> } {
  if (
    typeof shedder !== 'object' ||
    shedder === null ||
    typeof (shedder as { shedding?: unknown }).shedding !== 'boolean'
  ) {
    throw new VigilOptionError('shedder', 'a load shedder (createLoadShedder())', shedder);
  }
  const input = checkObject('options', options);
  checkKnownKeys('', input, ['name', 'whenShedding']);
  const name = input.name === undefined ? 'load-shedding' : checkName('name', input.name);
  const whenShedding = checkOneOf('whenShedding', input.whenShedding, ['warn', 'fail']) ?? 'warn';
  return Object.freeze({
    name,
    critical: false as const,
    async check(): Promise<LoadShedderCheckResult> {
      const limit = shedder.limit;
      const observedValue = Number.isFinite(limit) ? Math.round(limit * 10) / 10 : -1;
      if (!shedder.shedding) return { status: 'pass', observedValue, observedUnit: 'requests' };
      return {
        status: whenShedding,
        output: `shedding load (${shedder.lastReason ?? 'concurrency'}): ${shedder.inFlight} in flight, limit ${observedValue}`,
        observedValue,
        observedUnit: 'requests',
      };
    },
  });
}
