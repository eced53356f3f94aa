import { bulkheadActive, bulkheadQueued, bulkheadRejections } from '@vigil/catalog';
import {
  checkFunction,
  checkInt,
  checkKnownKeys,
  checkName,
  checkObject,
  checkTimeout,
  VigilOptionError,
} from '@vigil/core';
import type { Instruments, Registry } from '@vigil/metrics';
import { BULKHEAD_DEFAULTS } from './defaults.js';
import { BulkheadRejectedError, ClosedError } from './errors.js';
import { attemptRunner, makeExecutor, overallRunner, type Runner, Timers } from './internal/call.js';
import { monotonicNow } from './internal/clock.js';
import { attach, resolveInstruments } from './internal/instruments.js';
import { Scope } from './internal/scope.js';
import type { Executor, InstrumentationOptions } from './types.js';

/** Options of the bulkhead itself (also the `bulkhead` object of `createPolicy` / `createHttpClient`). */
export interface BulkheadSettings {
  maxConcurrent?: number;
  maxQueue?: number;
}

export interface BulkheadOptions extends BulkheadSettings, Omit<InstrumentationOptions, 'logger'> {
  /** Label value of the bulkhead metrics (`policy`). Required. */
  name: string;
  /** Per-attempt timeout (ms), or `false` (the default for a bare bulkhead). */
  timeoutMs?: number | false;
}

export interface BulkheadView {
  /** Calls running now. */
  readonly active: number;
  /** Calls waiting for a slot now. */
  readonly queued: number;
}

export interface Bulkhead extends Executor, BulkheadView {
  readonly name: string;
  readonly registry: Registry;
  /** Rejects queued calls with `ClosedError`; running ones finish. Idempotent. */
  close(): Promise<void>;
}

export interface ResolvedBulkheadSettings {
  readonly maxConcurrent: number;
  readonly maxQueue: number;
}

export function resolveBulkheadSettings(
  input: Record<string, unknown>,
  prefix: string,
  extraKeys: readonly string[],
): ResolvedBulkheadSettings {
  checkKnownKeys(prefix, input, ['maxConcurrent', 'maxQueue', ...extraKeys]);
  return {
    maxConcurrent:
      checkInt(`${prefix}maxConcurrent`, input.maxConcurrent, 1, 1_000_000) ??
      BULKHEAD_DEFAULTS.maxConcurrent,
    maxQueue: checkInt(`${prefix}maxQueue`, input.maxQueue, 0, 1_000_000) ?? BULKHEAD_DEFAULTS.maxQueue,
  };
}

/** A place in the bulkhead queue. */
export interface BulkheadWaiter {
  /** The slot is yours (already counted as active). */
  grant(): void;
  /** The bulkhead closed. */
  fail(error: unknown): void;
  prev: BulkheadWaiter | undefined;
  next: BulkheadWaiter | undefined;
  queued: boolean;
}

/**
 * The bulkhead: at most `maxConcurrent` calls run, at most `maxQueue` wait (FIFO), the rest are
 * rejected at once. A waiter whose call is aborted (caller or overall deadline) leaves the queue
 * immediately, so aborted calls never hold places that live ones are waiting for.
 */
export class BulkheadCore implements BulkheadView {
  active = 0;
  queued = 0;
  rejections = 0;
  private head: BulkheadWaiter | undefined;
  private tail: BulkheadWaiter | undefined;
  private detach: () => void;
  private shut = false;

  constructor(
    readonly name: string,
    private readonly s: ResolvedBulkheadSettings,
    ins: Instruments,
  ) {
    const labels = { policy: name };
    this.detach = attach(ins, 'name', [
      [bulkheadRejections, name, () => [{ labels, value: this.rejections }]],
      [bulkheadActive, name, () => [{ labels, value: this.active }]],
      [bulkheadQueued, name, () => [{ labels, value: this.queued }]],
    ]);
  }

  /** Take a slot if one is free. */
  tryAcquire(): boolean {
    if (this.active < this.s.maxConcurrent) {
      this.active++;
      return true;
    }
    return false;
  }

  /** Queue a waiter if there is room (after `tryAcquire` failed); false means rejected (counted). */
  enqueue(w: BulkheadWaiter): boolean {
    if (this.queued >= this.s.maxQueue || this.shut) {
      this.rejections++;
      return false;
    }
    w.prev = this.tail;
    w.next = undefined;
    if (this.tail === undefined) this.head = w;
    else this.tail.next = w;
    this.tail = w;
    w.queued = true;
    this.queued++;
    return true;
  }

  rejection(): BulkheadRejectedError {
    return new BulkheadRejectedError(this.name, this.s.maxConcurrent, this.s.maxQueue);
  }

  /** Give a slot back; the first waiter, if any, gets it. */
  release(): void {
    this.active--;
    const w = this.head;
    if (w !== undefined) {
      this.unlink(w);
      this.active++;
      w.grant();
    }
  }

  unlink(w: BulkheadWaiter): void {
    if (!w.queued) return;
    w.queued = false;
    if (w.prev === undefined) this.head = w.next;
    else w.prev.next = w.next;
    if (w.next === undefined) this.tail = w.prev;
    else w.next.prev = w.prev;
    w.prev = undefined;
    w.next = undefined;
    this.queued--;
  }

  /** The bulkhead as a chain layer (standalone `createBulkhead`). */
  layer(next: Runner): Runner {
    const onOk = (v: unknown) => {
      this.release();
      return v;
    };
    const onErr = (e: unknown) => {
      this.release();
      throw e;
    };
    return (call) => {
      if (this.tryAcquire()) return next(call).then(onOk, onErr);
      return new Promise((resolve, reject) => {
        const scope = Scope.child(call.scope);
        if (scope.aborted) {
          reject(scope.reason);
          return;
        }
        const w: BulkheadWaiter = {
          grant: () => {
            scope.dispose();
            call.t0 = Number.NaN;
            resolve(next(call).then(onOk, onErr));
          },
          fail: (e) => {
            scope.dispose();
            reject(e);
          },
          prev: undefined,
          next: undefined,
          queued: false,
        };
        if (!this.enqueue(w)) {
          scope.dispose();
          reject(this.rejection());
          return;
        }
        scope.onAbort = (reason) => {
          this.unlink(w);
          reject(reason);
        };
      });
    };
  }

  close(): void {
    if (this.shut) return;
    this.shut = true;
    for (let w = this.head; w !== undefined; w = this.head) {
      this.unlink(w);
      w.fail(new ClosedError(`Bulkhead "${this.name}"`));
    }
    this.detach();
  }
}

const BULKHEAD_KEYS = ['name', 'timeoutMs', 'registry', 'metrics', 'now'];

/**
 * A bulkhead: a concurrency limit with a bounded FIFO queue, so one slow dependency cannot take
 * every socket, connection or worker of the service.
 *
 * ```ts
 * const reports = createBulkhead({ name: 'reports', maxConcurrent: 4, maxQueue: 20, metrics });
 * await reports.execute(() => renderReport(id));
 * ```
 */
export function createBulkhead(options: BulkheadOptions): Bulkhead {
  if (options === undefined) throw new VigilOptionError('name', 'a bulkhead name', undefined);
  const input = checkObject('options', options);
  const settings = resolveBulkheadSettings(input, '', BULKHEAD_KEYS);
  const name = checkName('name', input.name);
  const t = checkTimeout('timeoutMs', input.timeoutMs);
  const now = checkFunction<() => number>('now', input.now) ?? monotonicNow;
  const { instruments, release } = resolveInstruments(input as InstrumentationOptions);
  const core = new BulkheadCore(name, settings, instruments);
  let closed: Promise<void> | undefined;
  const { execute, wrap } = makeExecutor(
    overallRunner(
      core.layer(attemptRunner(new Timers('attempt', now), now)),
      new Timers('overall', now),
      now,
    ),
    {
      what: `Bulkhead "${name}"`,
      timeoutMs: t === undefined || t === false ? 0 : t,
      overallMs: 0,
      isClosed: () => closed !== undefined,
    },
  );
  return {
    name,
    registry: instruments.registry,
    execute,
    wrap,
    get active() {
      return core.active;
    },
    get queued() {
      return core.queued;
    },
    close() {
      closed ??= (async () => {
        core.close();
        await release();
      })();
      return closed;
    },
  };
}
