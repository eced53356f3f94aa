import type { CheckFunction, HealthStatus } from '../types.js';

/** A check after validation, with every option resolved. */
export interface CheckSpec {
  readonly name: string;
  readonly fn: CheckFunction;
  readonly timeoutMs: number;
  readonly critical: boolean;
  readonly cacheMs: number;
  readonly intervalMs: number;
  readonly liveness: boolean;
  readonly dependency: boolean;
  readonly componentType: string | undefined;
  readonly close: (() => void | Promise<void>) | undefined;
}

/** The result of one run. `reason` is the stable text shown without details. */
export interface RunResult {
  readonly status: HealthStatus;
  readonly reason: 'timeout' | 'error' | 'fail' | 'warn' | undefined;
  /** Error message or the check's own output: shown only with details. */
  readonly message: string | undefined;
  readonly observedValue: number | undefined;
  readonly observedUnit: string | undefined;
  readonly durationMs: number;
  /** Wall-clock end of the run, ISO 8601. */
  readonly time: string;
  /** `now()` at the end of the run, for the cache. */
  readonly endedAt: number;
}

type Settled = { ok: true; value: unknown } | { ok: false; error: unknown };

const STATUSES: ReadonlySet<unknown> = new Set(['pass', 'warn', 'fail']);
const MAX_MESSAGE = 200;

export interface Runner {
  readonly spec: CheckSpec;
  /** The current result: cached, shared with a run in flight, or from a new run. */
  get(): Promise<RunResult>;
  /** The last completed result, if any (scrapes read this; they never run checks). */
  last(): RunResult | undefined;
  close(): void;
}

/**
 * Runs one check with its timeout, never more than one run at a time (concurrent callers share
 * the run in flight), with an optional cache or background interval.
 *
 * A call that outlives its timeout is not started again while it is still pending: later runs
 * wait on the same call (each with a fresh timeout). A stuck dependency therefore sees at most one
 * outstanding health query per check, never one per probe.
 */
export function createRunner(
  spec: CheckSpec,
  now: () => number,
  onResult: (spec: CheckSpec, r: RunResult) => void,
): Runner {
  let last: RunResult | undefined;
  let running: Promise<RunResult> | undefined;
  let pendingCall: Promise<Settled> | undefined;
  let currentAbort: AbortController | undefined;
  let timer: NodeJS.Timeout | undefined;
  let closed = false;

  function start(): Promise<RunResult> {
    const p = runOnce().then((r) => {
      last = r;
      running = undefined;
      onResult(spec, r);
      if (spec.intervalMs > 0 && !closed) schedule();
      return r;
    });
    running = p;
    return p;
  }

  function schedule(): void {
    timer = setTimeout(() => {
      timer = undefined;
      if (!closed && !running) void start();
    }, spec.intervalMs);
    timer.unref();
  }

  async function runOnce(): Promise<RunResult> {
    const t0 = now();
    const ac = new AbortController();
    currentAbort = ac;
    let call = pendingCall;
    if (!call) {
      const c = invoke(spec.fn, ac.signal);
      call = c;
      pendingCall = c;
      void c.then(() => {
        if (pendingCall === c) pendingCall = undefined;
      });
    }
    let to: NodeJS.Timeout | undefined;
    const timeout = new Promise<'timeout'>((resolve) => {
      to = setTimeout(resolve, spec.timeoutMs, 'timeout');
      to.unref();
    });
    const outcome = await Promise.race([call, timeout]);
    clearTimeout(to);
    if (currentAbort === ac) currentAbort = undefined;
    const durationMs = now() - t0;
    const time = new Date().toISOString();
    const endedAt = now();
    if (outcome === 'timeout') {
      ac.abort(new Error(`health check "${spec.name}" timed out after ${spec.timeoutMs} ms`));
      return result('fail', 'timeout', `timed out after ${spec.timeoutMs} ms`, durationMs, time, endedAt);
    }
    if (!outcome.ok) {
      const e = outcome.error as { message?: unknown } | undefined;
      const msg = typeof e?.message === 'string' ? e.message : String(outcome.error);
      return result('fail', 'error', msg, durationMs, time, endedAt);
    }
    const v = outcome.value;
    if (v === false) return result('fail', 'fail', undefined, durationMs, time, endedAt);
    if (
      typeof v === 'object' &&
      v !== null &&
      'status' in v &&
      STATUSES.has((v as { status: unknown }).status)
    ) {
      const o = v as {
        status: HealthStatus;
        output?: unknown;
        observedValue?: unknown;
        observedUnit?: unknown;
      };
      return {
        status: o.status,
        reason: o.status === 'pass' ? undefined : o.status,
        message: typeof o.output === 'string' ? o.output.slice(0, MAX_MESSAGE) : undefined,
        observedValue: typeof o.observedValue === 'number' ? o.observedValue : undefined,
        observedUnit: typeof o.observedUnit === 'string' ? o.observedUnit : undefined,
        durationMs,
        time,
        endedAt,
      };
    }
    return result('pass', undefined, undefined, durationMs, time, endedAt);
  }

  // Background checks start at once so the first probe usually finds a result.
  if (spec.intervalMs > 0) void start();

  return {
    spec,
    get() {
      if (spec.intervalMs > 0) {
        if (last) return Promise.resolve(last);
        return running ?? start();
      }
      if (last && spec.cacheMs > 0 && now() - last.endedAt < spec.cacheMs) return Promise.resolve(last);
      return running ?? start();
    },
    last: () => last,
    close() {
      closed = true;
      if (timer) clearTimeout(timer);
      timer = undefined;
      currentAbort?.abort(new Error('health handle closed'));
    },
  };
}

function result(
  status: HealthStatus,
  reason: RunResult['reason'],
  message: string | undefined,
  durationMs: number,
  time: string,
  endedAt: number,
): RunResult {
  return {
    status,
    reason,
    message: message?.slice(0, MAX_MESSAGE),
    observedValue: undefined,
    observedUnit: undefined,
    durationMs,
    time,
    endedAt,
  };
}

async function invoke(fn: CheckFunction, signal: AbortSignal): Promise<Settled> {
  try {
    return { ok: true, value: await fn({ signal }) };
  } catch (error) {
    return { ok: false, error };
  }
}
