/**
 * Errors thrown by @vigil/resilience. Each has a stable `code`; the `isXError` guards compare the
 * code, not the class, so they keep working when two copies of the package are installed.
 */
export { INVALID_OPTION, isVigilOptionError, VigilOptionError } from '@vigil/core';

export const ERROR_CODES = Object.freeze({
  /** The circuit breaker is open (or half-open with its trial call in flight). */
  breakerOpen: 'VIGIL_BREAKER_OPEN',
  /** A per-attempt or overall timeout expired; the call's signal was aborted with this error. */
  timeout: 'VIGIL_TIMEOUT',
  /** The bulkhead had no free slot and its queue was full. */
  bulkheadFull: 'VIGIL_BULKHEAD_FULL',
  /** The handle was closed; no new calls are accepted. */
  closed: 'VIGIL_CLOSED',
  /** An HTTP response had a status the client treats as an error. */
  httpStatus: 'VIGIL_HTTP_STATUS',
  /** Invalid option (from @vigil/metrics' `VigilOptionError`). */
  invalidOption: 'VIGIL_INVALID_OPTION',
} as const);

function hasCode(e: unknown, code: string): boolean {
  return typeof e === 'object' && e !== null && (e as { code?: unknown }).code === code;
}

/** Rejected without calling the function because the breaker is open. */
export class BreakerOpenError extends Error {
  readonly code = ERROR_CODES.breakerOpen;
  /** Name of the breaker. */
  readonly breaker: string;
  /** `open`, or `half_open` while the single trial call is in flight. */
  readonly state: 'open' | 'half_open';
  constructor(breaker: string, state: 'open' | 'half_open', options?: { cause?: unknown }) {
    super(
      `Circuit breaker "${breaker}" is ${state === 'open' ? 'open' : 'half-open (trial call in flight)'}`,
    );
    if (options && options.cause !== undefined) (this as { cause?: unknown }).cause = options.cause;
    this.name = 'BreakerOpenError';
    this.breaker = breaker;
    this.state = state;
  }
}

export function isBreakerOpenError(e: unknown): e is BreakerOpenError {
  return hasCode(e, ERROR_CODES.breakerOpen);
}

/**
 * A timeout expired. The call's `AbortSignal` is aborted with this error as its `reason`, so
 * `fetch` and other signal-aware APIs reject with it too.
 */
export class TimeoutError extends Error {
  readonly code = ERROR_CODES.timeout;
  /** `attempt`: one attempt took too long (retryable). `overall`: the whole call's deadline passed. */
  readonly scope: 'attempt' | 'overall';
  readonly timeoutMs: number;
  constructor(scope: 'attempt' | 'overall', timeoutMs: number) {
    super(
      scope === 'attempt'
        ? `Attempt timed out after ${timeoutMs} ms`
        : `Call timed out after ${timeoutMs} ms overall`,
    );
    this.name = 'TimeoutError';
    this.scope = scope;
    this.timeoutMs = timeoutMs;
  }
}

export function isTimeoutError(e: unknown): e is TimeoutError {
  return hasCode(e, ERROR_CODES.timeout);
}

/** The bulkhead was full: every slot busy and the queue at its limit. */
export class BulkheadRejectedError extends Error {
  readonly code = ERROR_CODES.bulkheadFull;
  readonly policy: string;
  readonly maxConcurrent: number;
  readonly maxQueue: number;
  constructor(policy: string, maxConcurrent: number, maxQueue: number) {
    super(`Bulkhead "${policy}" is full (${maxConcurrent} running, ${maxQueue} queued)`);
    this.name = 'BulkheadRejectedError';
    this.policy = policy;
    this.maxConcurrent = maxConcurrent;
    this.maxQueue = maxQueue;
  }
}

export function isBulkheadRejectedError(e: unknown): e is BulkheadRejectedError {
  return hasCode(e, ERROR_CODES.bulkheadFull);
}

/** A call on a handle after `close()`, or a queued/sleeping call cut short by `close()`. */
export class ClosedError extends Error {
  readonly code = ERROR_CODES.closed;
  constructor(what: string) {
    super(`${what} is closed`);
    this.name = 'ClosedError';
  }
}

export function isClosedError(e: unknown): e is ClosedError {
  return hasCode(e, ERROR_CODES.closed);
}

/**
 * An HTTP response with an error status. `fetch()` returns such responses as they are after the
 * last attempt; `json()` and `text()` throw this error for any status outside 200..299.
 */
export class HttpStatusError extends Error {
  readonly code = ERROR_CODES.httpStatus;
  readonly status: number;
  readonly method: string;
  /** The client's target name (not the URL, which may carry secrets). */
  readonly target: string;
  /** Delay the server asked for in `Retry-After`, in ms, when present and valid. */
  readonly retryAfterMs: number | undefined;
  /** The start of the response body (at most `maxErrorBodyBytes`), when it was read. */
  readonly body: string | undefined;
  /**
   * The response (body unread) when `fetch()` used this error to drive retries. Not enumerable,
   * so loggers that serialise errors do not walk into it.
   */
  declare readonly response: Response | undefined;
  constructor(
    status: number,
    method: string,
    target: string,
    extra: { retryAfterMs?: number | undefined; body?: string | undefined; response?: Response | undefined },
  ) {
    super(`${method} ${target} responded ${status}`);
    this.name = 'HttpStatusError';
    this.status = status;
    this.method = method;
    this.target = target;
    this.retryAfterMs = extra.retryAfterMs;
    this.body = extra.body;
    Object.defineProperty(this, 'response', { value: extra.response, enumerable: false });
  }
}

export function isHttpStatusError(e: unknown): e is HttpStatusError {
  return hasCode(e, ERROR_CODES.httpStatus);
}
