/**
 * Cancellation scopes: the chain caller signal -> overall deadline -> attempt deadline.
 *
 * Why not an AbortController per call? Creating one and touching its `signal` costs several times a
 * whole breaker call, so a scope creates its AbortController only when somebody reads `signal`. Until then cancellation travels through plain fields and callbacks:
 * `abort()` marks the scope, aborts its controller if one exists, aborts its children and calls
 * `onAbort`, the hook the layer that created the scope uses to reject its promise at once (even
 * when the function ignores the signal).
 */
/** An entry of a DeadlineQueue (intrusive links, so queueing allocates nothing). */
export interface DeadlineNode {
  deadline: number;
  qPrev: DeadlineNode | undefined;
  qNext: DeadlineNode | undefined;
  queue: DeadlineQueue | undefined;
  /** The deadline passed; `reason` is the TimeoutError. */
  expire(reason: unknown): void;
}

export class Scope implements DeadlineNode {
  /** The attempt number, when this scope is an attempt's (the scope is its `AttemptContext`). */
  attempt = 1;
  aborted = false;
  reason: unknown = undefined;
  /** Called once when the scope is aborted (by its own deadline, a parent, or the caller). */
  onAbort: ((reason: unknown) => void) | undefined = undefined;
  private ctrl: AbortController | undefined = undefined;
  private children: Scope[] | undefined = undefined;
  private parent: Scope | undefined = undefined;
  private external: AbortSignal | undefined = undefined;
  private externalListener: (() => void) | undefined = undefined;

  // Intrusive links for DeadlineQueue (one list per timeout duration).
  deadline = 0;
  qPrev: DeadlineNode | undefined = undefined;
  qNext: DeadlineNode | undefined = undefined;
  queue: DeadlineQueue | undefined = undefined;

  /** A scope that aborts with its parent (when given). */
  static child(parent: Scope | undefined): Scope {
    const s = new Scope();
    if (parent !== undefined) {
      if (parent.aborted) {
        s.aborted = true;
        s.reason = parent.reason;
      } else {
        s.parent = parent;
        if (parent.children === undefined) parent.children = [s];
        else parent.children.push(s);
      }
    }
    return s;
  }

  /** The root scope of a call made with the caller's `signal`. */
  static fromSignal(signal: AbortSignal): Scope {
    const s = new Scope();
    s.external = signal;
    if (signal.aborted) {
      s.aborted = true;
      s.reason = signal.reason;
    } else {
      const listener = () => s.abort(signal.reason);
      s.externalListener = listener;
      signal.addEventListener('abort', listener, { once: true });
    }
    return s;
  }

  /** The scope's AbortSignal, created on first use (the caller's own signal for a root scope). */
  get signal(): AbortSignal {
    if (this.external !== undefined) return this.external;
    let c = this.ctrl;
    if (c === undefined) {
      c = new AbortController();
      this.ctrl = c;
      if (this.aborted) c.abort(this.reason);
    }
    return c.signal;
  }

  expire(reason: unknown): void {
    this.abort(reason);
  }

  abort(reason: unknown): void {
    if (this.aborted) return;
    this.aborted = true;
    this.reason = reason;
    this.queue?.remove(this);
    this.ctrl?.abort(reason);
    const kids = this.children;
    if (kids !== undefined) {
      this.children = undefined;
      for (let i = 0; i < kids.length; i++) (kids[i] as Scope).abortFromParent(reason);
    }
    const hook = this.onAbort;
    if (hook !== undefined) {
      this.onAbort = undefined;
      hook(reason);
    }
  }

  private abortFromParent(reason: unknown): void {
    this.parent = undefined;
    this.abort(reason);
  }

  /** Done with this scope: leave the deadline queue and the parent, drop listeners. Idempotent. */
  dispose(): void {
    this.onAbort = undefined;
    if (this.queue !== undefined) this.queue.remove(this);
    const p = this.parent;
    if (p !== undefined) {
      this.parent = undefined;
      const kids = p.children;
      if (kids !== undefined) {
        const i = kids.indexOf(this);
        if (i >= 0) {
          const last = kids.pop() as Scope;
          if (i < kids.length) kids[i] = last;
        }
      }
    }
    if (this.externalListener !== undefined) {
      this.external?.removeEventListener('abort', this.externalListener);
      this.externalListener = undefined;
    }
  }
}

let never: AbortSignal | undefined;

/** A signal that never aborts, for calls without any deadline or caller signal. */
export function neverAborted(): AbortSignal {
  never ??= new AbortController().signal;
  return never;
}

/**
 * Deadlines for one timeout duration, without a timer per call.
 *
 * All entries share the same duration, so their deadlines are in insertion order: a doubly linked
 * list with the earliest at the head and one timer armed for it replaces a `setTimeout` and
 * `clearTimeout` per call. Removing a finished call is O(1) and
 * leaves the timer alone; when it fires it expires what is due and re-arms for the new head.
 *
 * The timer is unref'd: a deadline never keeps the process alive by itself (whatever the call
 * waits on does). When it fires it trusts its own due time as well as the clock, so a timer that
 * fires a little early (Node rounds to ms) or under fake timers still expires what it was armed for.
 */
export class DeadlineQueue {
  private head: DeadlineNode | undefined = undefined;
  private tail: DeadlineNode | undefined = undefined;
  private timer: ReturnType<typeof setTimeout> | undefined = undefined;
  private armedFor = 0;

  constructor(
    readonly durationMs: number,
    private readonly now: () => number,
    private readonly onExpire: (node: DeadlineNode, durationMs: number) => void,
  ) {}

  /** Queue `s` with a deadline `durationMs` after `start` (a `now()` reading taken just before). */
  add(s: DeadlineNode, start: number): void {
    const deadline = start + this.durationMs;
    s.deadline = deadline;
    s.queue = this;
    s.qNext = undefined;
    s.qPrev = this.tail;
    if (this.tail === undefined) this.head = s;
    else this.tail.qNext = s;
    this.tail = s;
    if (this.timer === undefined) this.arm(deadline);
  }

  remove(s: DeadlineNode): void {
    if (s.queue !== this) return;
    const p = s.qPrev;
    const n = s.qNext;
    if (p === undefined) this.head = n;
    else p.qNext = n;
    if (n === undefined) this.tail = p;
    else n.qPrev = p;
    s.qPrev = undefined;
    s.qNext = undefined;
    s.queue = undefined;
  }

  private arm(deadline: number): void {
    this.armedFor = deadline;
    const delay = Math.max(1, Math.ceil(deadline - this.now()));
    const t = setTimeout(this.fire, delay);
    t.unref();
    this.timer = t;
  }

  private readonly fire = (): void => {
    this.timer = undefined;
    const due = Math.max(this.now(), this.armedFor);
    let s = this.head;
    while (s !== undefined && s.deadline <= due) {
      this.remove(s);
      this.onExpire(s, this.durationMs);
      s = this.head;
    }
    if (s !== undefined && this.timer === undefined) this.arm(s.deadline);
  };
}
