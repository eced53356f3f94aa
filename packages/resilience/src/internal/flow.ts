import type { BreakerCore } from '../breaker.js';
import type { BulkheadCore, BulkheadWaiter } from '../bulkhead.js';
import { REJECTED_BY_BREAKER, type RetryCore } from '../retry.js';
import { type Call, clock, type Runner, type Timers } from './call.js';
import { type DeadlineNode, type DeadlineQueue, Scope } from './scope.js';

/**
 * The outer layers of `createPolicy` and `createHttpClient` in one state machine per call:
 *
 *   overall timeout -> bulkhead -> retry -> (inner: breaker -> attempt)
 *
 * Chained as separate layers they would cost a promise and a microtask hop each; here one
 * promise is returned to the caller and each attempt's promise is observed once. The semantics
 * are the layered ones (see `buildPipeline`):
 *
 * - The caller's promise settles the moment the overall scope aborts (deadline or caller signal),
 *   whatever is running; the running attempt is told through its signal.
 * - A bulkhead slot is held from the first attempt until the last attempt really ended (not
 *   just until the caller was answered), so `active` is the true concurrency.
 * - Retries wait in a backoff that the overall scope cuts short.
 */
export class Flow implements BulkheadWaiter, DeadlineNode {
  // BulkheadWaiter
  prev: BulkheadWaiter | undefined = undefined;
  next: BulkheadWaiter | undefined = undefined;
  queued = false;
  // DeadlineNode: the flow itself waits in the overall-deadline queue (no scope needed for that)
  deadline = 0;
  qPrev: DeadlineNode | undefined = undefined;
  qNext: DeadlineNode | undefined = undefined;
  queue: DeadlineQueue | undefined = undefined;

  private done = false;
  private holding = false;
  private scope: Scope | undefined = undefined;
  private lastError: unknown = undefined;

  constructor(
    private readonly call: Call,
    private readonly d: FlowDeps,
    private readonly resolve: (v: unknown) => void,
    private readonly reject: (e: unknown) => void,
  ) {}

  start(): void {
    const call = this.call;
    const d = this.d;
    // A scope (the parent of attempts, backoffs and queue waits) is needed at once when the
    // caller passed a signal, or when there is no breaker (an attempt without a timeout then
    // has no scope of its own). Under a breaker without a caller signal it is created only if a
    // backoff needs one: the common call then allocates no scope, the overall deadline is this
    // flow's own queue entry, and the breaker's attempt scope (`call.running`) is what it aborts.
    if (call.scope !== undefined || d.breaker === undefined) {
      if (!this.ensureScope()) return;
    }
    const t = call.overallMs;
    if (t !== 0) {
      d.timers.queue(t).add(this, clock(call, d.now));
      call.deadline = this.deadline;
    }
    const b = d.bulkhead;
    if (b !== undefined) {
      if (!b.tryAcquire()) {
        if (!b.enqueue(this)) this.finish(false, b.rejection());
        return;
      }
      this.holding = true;
    }
    this.begin();
  }

  /** DeadlineNode: the overall deadline passed. */
  expire(reason: unknown): void {
    if (this.scope !== undefined) {
      this.scope.abort(reason); // reaches attempts, backoffs and queue waits, then finishes
      return;
    }
    this.call.running?.abort(reason);
    if (this.queued) this.d.bulkhead?.unlink(this);
    this.finish(false, reason);
  }

  /** Create the call's scope (child of the caller's); false when it is already aborted. */
  private ensureScope(): boolean {
    if (this.scope !== undefined) return true;
    const call = this.call;
    const scope = Scope.child(call.scope);
    if (scope.aborted) {
      this.finish(false, scope.reason);
      return false;
    }
    call.scope = scope;
    this.scope = scope;
    scope.onAbort = (reason) => {
      if (this.queued) this.d.bulkhead?.unlink(this);
      this.finish(false, reason);
    };
    return true;
  }

  /** BulkheadWaiter: a slot was handed over (already counted as active). */
  grant(): void {
    this.holding = true;
    if (this.done) {
      this.release();
      return;
    }
    this.call.t0 = Number.NaN;
    this.begin();
  }

  /** BulkheadWaiter: the bulkhead closed while we waited. */
  fail(error: unknown): void {
    this.finish(false, error);
  }

  private begin(): void {
    this.d.retry?.recordCall(this.call);
    this.attempt();
  }

  private attempt(): void {
    this.d.inner(this.call).then(this.onOk, this.onErr);
  }

  private readonly onOk = (v: unknown): void => {
    this.release();
    this.finish(true, v);
  };

  private readonly onErr = (e: unknown): void => {
    const r = this.d.retry;
    const delay = r === undefined || this.done ? -1 : r.decide(this.call, e, this.lastError, this.d.breaker);
    if (delay < 0) {
      this.release();
      // The failed attempt opened the breaker: the next one would be rejected, so say so now
      // instead of after a backoff.
      this.finish(false, delay === REJECTED_BY_BREAKER ? (this.d.breaker as BreakerCore).reject(e) : e);
      return;
    }
    this.lastError = e;
    // The backoff must be cut short by the deadline: it waits in the call's scope.
    if (!this.ensureScope()) {
      this.release();
      return;
    }
    r?.sleep(delay, this.call.scope, e).then(
      () => {
        this.call.attempt++;
        this.call.t0 = Number.NaN;
        this.attempt();
      },
      (reason) => {
        this.release();
        this.finish(false, reason);
      },
    );
  };

  private release(): void {
    if (!this.holding) return;
    this.holding = false;
    this.d.bulkhead?.release();
  }

  private finish(ok: boolean, v: unknown): void {
    if (this.done) return;
    this.done = true;
    this.queue?.remove(this);
    this.scope?.dispose();
    if (ok) this.resolve(v);
    else this.reject(v);
  }
}

export interface FlowDeps {
  readonly inner: Runner;
  /** The breaker whose layer `inner` is, if any. */
  readonly breaker: BreakerCore | undefined;
  readonly retry: RetryCore | undefined;
  readonly bulkhead: BulkheadCore | undefined;
  /** Overall-deadline queues. */
  readonly timers: Timers;
  readonly now: () => number;
}

/** The runner of a composed policy: one `Flow` per call. */
export function flowRunner(d: FlowDeps): Runner {
  return (call) => new Promise((resolve, reject) => new Flow(call, d, resolve, reject).start());
}
