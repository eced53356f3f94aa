/**
 * The breaker's sliding windows: counts of calls, failures (timeouts included), timeouts and slow
 * calls, over the last `windowMs` (in buckets) or over the last N calls. Plain typed arrays and
 * running totals, so recording a call is a few additions and reading the totals costs nothing.
 */
export interface OutcomeWindow {
  calls: number;
  failures: number;
  timeouts: number;
  slow: number;
  /** Record one call at `t` (a `now()` reading). */
  add(t: number, failure: boolean, timeout: boolean, slow: boolean): void;
  /** Drop what slid out of the window by `t` (time windows only). */
  advance(t: number): void;
  reset(): void;
}

const CALLS = 0;
const FAILURES = 1;
const TIMEOUTS = 2;
const SLOW = 3;

/** The last `windowMs`, in `buckets` equal buckets; it slides one bucket at a time. */
export class TimeWindow implements OutcomeWindow {
  calls = 0;
  failures = 0;
  timeouts = 0;
  slow = 0;
  /** Four counters per bucket: calls, failures, timeouts, slow. */
  private readonly cells: Float64Array;
  private readonly bucketMs: number;
  private cur = Number.NEGATIVE_INFINITY;

  constructor(
    windowMs: number,
    private readonly buckets: number,
  ) {
    this.cells = new Float64Array(buckets * 4);
    this.bucketMs = windowMs / buckets;
  }

  add(t: number, failure: boolean, timeout: boolean, slow: boolean): void {
    const c = this.cells;
    const i = this.rotate(t) * 4;
    c[i + CALLS] = (c[i + CALLS] as number) + 1;
    this.calls++;
    if (failure) {
      c[i + FAILURES] = (c[i + FAILURES] as number) + 1;
      this.failures++;
      if (timeout) {
        c[i + TIMEOUTS] = (c[i + TIMEOUTS] as number) + 1;
        this.timeouts++;
      }
    }
    if (slow) {
      c[i + SLOW] = (c[i + SLOW] as number) + 1;
      this.slow++;
    }
  }

  advance(t: number): void {
    this.rotate(t);
  }

  reset(): void {
    this.cells.fill(0);
    this.calls = 0;
    this.failures = 0;
    this.timeouts = 0;
    this.slow = 0;
  }

  private rotate(t: number): number {
    const n = this.buckets;
    const idx = Math.floor(t / this.bucketMs);
    if (idx !== this.cur) {
      if (idx < this.cur || idx - this.cur >= n) {
        this.reset();
      } else {
        const c = this.cells;
        for (let k = this.cur + 1; k <= idx; k++) {
          const i = (((k % n) + n) % n) * 4;
          this.calls -= c[i + CALLS] as number;
          this.failures -= c[i + FAILURES] as number;
          this.timeouts -= c[i + TIMEOUTS] as number;
          this.slow -= c[i + SLOW] as number;
          c.fill(0, i, i + 4);
        }
      }
      this.cur = idx;
    }
    return ((idx % n) + n) % n;
  }
}

const F_FAILURE = 1;
const F_TIMEOUT = 2;
const F_SLOW = 4;

/** The last `size` calls, however long ago they were (a ring of outcome flags). */
export class CountWindow implements OutcomeWindow {
  calls = 0;
  failures = 0;
  timeouts = 0;
  slow = 0;
  private readonly flags: Uint8Array;
  private pos = 0;

  constructor(size: number) {
    this.flags = new Uint8Array(size);
  }

  add(_t: number, failure: boolean, timeout: boolean, slow: boolean): void {
    const f = this.flags;
    const size = f.length;
    if (this.calls === size) {
      const old = f[this.pos] as number;
      if (old & F_FAILURE) this.failures--;
      if (old & F_TIMEOUT) this.timeouts--;
      if (old & F_SLOW) this.slow--;
    } else {
      this.calls++;
    }
    let v = 0;
    if (failure) {
      v |= F_FAILURE;
      this.failures++;
      if (timeout) {
        v |= F_TIMEOUT;
        this.timeouts++;
      }
    }
    if (slow) {
      v |= F_SLOW;
      this.slow++;
    }
    f[this.pos] = v;
    this.pos = this.pos + 1 === size ? 0 : this.pos + 1;
  }

  advance(_t: number): void {}

  reset(): void {
    this.flags.fill(0);
    this.pos = 0;
    this.calls = 0;
    this.failures = 0;
    this.timeouts = 0;
    this.slow = 0;
  }
}
