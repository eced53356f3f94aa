import { Server as NetServer } from 'node:net';
import {
  type ProcessResource,
  type ProcessResourceReport,
  processResourceGroups,
  VigilOptionError,
} from '@vigil/core';
import type { ShutdownHook, ShutdownState } from '../types.js';
import { type ServerDrain, trackServer } from './drain.js';
import { errorFields } from './logger.js';
import { type ResolvedOptions, SHUTDOWN_EXIT_CODES } from './options.js';

interface Hook {
  readonly name: string;
  readonly fn: ShutdownHook;
  readonly timeoutMs: number;
}

interface Target {
  readonly server: NetServer;
  readonly close: ((reason: string) => unknown) | undefined;
  readonly label: string;
  readonly drain: ServerDrain;
  /** A NestJS app: checked again when shutdown begins (its shutdown hooks may be enabled since). */
  readonly nest?: object;
}

// The global clock (not node:perf_hooks'), so that fake timers in tests move it too.
const now = () => globalThis.performance.now();

/** How much longer than a resource's own budget the flush waits before abandoning it. */
const RESOURCE_GRACE_MS = 100;
/** Kept for each later group of resources (the loggers after tracing) when one group runs. */
const LATER_GROUP_MS = 250;

/**
 * The shutdown sequence of one handle, and what it works on (servers, hooks, state listeners):
 *
 * 1. every `health` handle's readiness fails at once;
 * 2. keep serving for `drainDelayMs` (or until `drainUntil`), every response `Connection: close`;
 * 3. settle, stop accepting, let in-flight requests finish, then `close()` apps such as Fastify;
 * 4. run hooks in reverse order of registration, each with its timeout;
 * 5. flush what Vigil packages registered (tracing, loggers: see process-resources.ts);
 * 6. exit 0, or 1 when something failed; at `deadlineMs` exit 124 naming what was pending.
 *
 * Timeouts are budgeted against the deadline: `flushTimeoutMs` is kept free at its end, so steps 2
 * to 4 are cut when only that much is left (`work`), and every step inside is bounded by what is
 * left, strictly inside the step that calls it.
 */
export class ShutdownSequence {
  private readonly targets = new Set<Target>();
  private readonly hooks: Hook[] = [];
  private readonly listeners = new Set<(s: ShutdownState) => void>();
  private current: ShutdownState = 'running';
  private sequence: Promise<number> | undefined;
  private settle: ((code: number) => void) | undefined;
  private exited: number | undefined;
  private failed = false;
  private startedAt = 0;
  private deadlineTimer: NodeJS.Timeout | undefined;
  /** Aborts when the time for the drain and the hooks has run out (the flush's time is left). */
  private readonly work = new AbortController();
  private workTimer: NodeJS.Timeout | undefined;
  /** What the sequence is waiting for, for the deadline and second-signal log lines. */
  private pendingDescription: () => string = () => 'nothing';

  constructor(private readonly o: ResolvedOptions) {
    o.servers.forEach((t, i) => {
      this.targets.add(this.resolveTarget(`servers[${i}]`, t));
    });
  }

  get state(): ShutdownState {
    return this.current;
  }

  get started(): boolean {
    return this.sequence !== undefined;
  }

  /** What is still pending, in words. */
  pending(): string {
    return this.pendingDescription();
  }

  /** Drain another server or app; returns the function that removes it while still running. */
  addServer(where: string, target: unknown): () => void {
    const t = this.resolveTarget(where, target);
    this.targets.add(t);
    if (this.sequence) t.drain.begin();
    return () => {
      if (this.current === 'running') {
        this.targets.delete(t);
        t.drain.dispose();
      }
    };
  }

  addHook(name: string, fn: ShutdownHook, timeoutMs: number | undefined): () => void {
    const entry: Hook = { name, fn, timeoutMs: timeoutMs ?? this.o.hookTimeoutMs };
    this.hooks.push(entry);
    return () => {
      const i = this.hooks.indexOf(entry);
      if (
        i >= 0 &&
        (this.current === 'running' || this.current === 'draining' || this.current === 'stopping')
      )
        this.hooks.splice(i, 1);
    };
  }

  onStateChange(listener: (s: ShutdownState) => void): () => void {
    this.listeners.add(listener);
    return () => {
      this.listeners.delete(listener);
    };
  }

  /** The exit code will be 1 (an uncaught error). */
  markFailed(): void {
    this.failed = true;
  }

  /** Starts the sequence once; every call returns the same promise of the exit code. */
  start(reason: string): Promise<number> {
    if (this.sequence) return this.sequence;
    this.sequence = new Promise<number>((resolve) => {
      this.settle = resolve;
    });
    this.run(reason).then(
      async () => {
        if (this.exited !== undefined) return;
        this.setState('exiting');
        const code = this.failed ? SHUTDOWN_EXIT_CODES.failed : SHUTDOWN_EXIT_CODES.ok;
        const groups = this.o.flushTimeoutMs > 0 ? processResourceGroups() : [];
        const names = groups.flat().map((r) => r.name);
        this.o.log.info(
          { code, ms: Math.round(now() - this.startedAt), ...(names.length ? { flushing: names } : {}) },
          names.length
            ? `shutdown complete; flushing ${names.join(', ')}, then exiting with ${code}`
            : `shutdown complete; exiting with ${code}`,
        );
        await this.flush(groups);
        this.exit(code);
      },
      (err) => {
        this.o.log.error({ err: errorFields(err) }, 'shutdown sequence failed');
        this.exit(SHUTDOWN_EXIT_CODES.failed);
      },
    );
    return this.sequence;
  }

  /** Calls `exit` once, whatever else is still running. */
  exit(code: number): void {
    if (this.exited !== undefined) return;
    this.exited = code;
    clearTimeout(this.deadlineTimer);
    clearTimeout(this.workTimer);
    try {
      this.o.exit(code);
    } finally {
      this.settle?.(code);
    }
  }

  /** The handle was closed without a shutdown: stop tracking the servers. */
  dispose(): void {
    if (!this.sequence) for (const t of this.targets) t.drain.dispose();
  }

  private resolveTarget(where: string, t: unknown): Target {
    const idle = this.o.idleGraceMs;
    if (t instanceof NetServer) {
      return { server: t, close: undefined, label: where, drain: trackServer(t, idle, now) };
    }
    const app = t as { server?: unknown; close?: unknown } | null;
    if (
      typeof app === 'object' &&
      app !== null &&
      app.server instanceof NetServer &&
      typeof app.close === 'function'
    ) {
      const server = app.server;
      const close = app.close as () => unknown;
      return {
        server,
        close: () => close.call(app),
        label: where,
        drain: trackServer(server, idle, now),
      };
    }
    const nest = t as { getHttpServer?: unknown; close?: unknown } | null;
    if (
      typeof nest === 'object' &&
      nest !== null &&
      typeof nest.getHttpServer === 'function' &&
      typeof nest.close === 'function'
    ) {
      const server: unknown = nest.getHttpServer();
      if (server instanceof NetServer) {
        assertNoNestShutdownHooks(where, nest);
        const close = nest.close as (signal: string) => unknown;
        // Nest's close(signal) runs its onModuleDestroy, beforeApplicationShutdown and
        // onApplicationShutdown hooks (with the signal) once the server has drained.
        return {
          server,
          close: (reason) => close.call(nest, reason),
          nest,
          label: where,
          drain: trackServer(server, idle, now),
        };
      }
    }
    throw new VigilOptionError(
      where,
      'an http server, an app with { server, close() } (such as Fastify) or a NestJS app after listen()',
      t,
    );
  }

  private setState(next: ShutdownState): void {
    this.current = next;
    for (const l of this.listeners) {
      try {
        l(next);
      } catch (err) {
        this.o.log.warn({ err: errorFields(err) }, 'a shutdown state listener threw');
      }
    }
  }

  private async run(reason: string): Promise<void> {
    const { o } = this;
    const log = o.log;
    this.startedAt = now();
    // Ref'd on purpose: the deadline must fire even when nothing else keeps the process alive.
    this.deadlineTimer = setTimeout(() => this.onDeadline(), o.deadlineMs);
    const workMs = o.deadlineMs - o.flushTimeoutMs;
    this.workTimer = setTimeout(() => this.work.abort(), workMs);
    this.workTimer.unref();
    for (const r of o.readiness) {
      try {
        r.beginShutdown();
      } catch (err) {
        log.error({ err: errorFields(err) }, 'beginShutdown() of a health handle threw');
      }
    }
    for (const t of this.targets) {
      t.drain.begin();
      if (t.nest !== undefined && nestListens(t.nest)) {
        log.error(
          { server: t.label },
          `${t.label}: the NestJS app has enableShutdownHooks() on: Nest closes it now, without the drain, and raises the signal again (exit 143); remove enableShutdownHooks()`,
        );
      }
    }
    this.setState('draining');
    const drainUntil = o.drainUntil;
    log.info(
      { reason, drainDelayMs: drainUntil ? undefined : o.drainDelayMs, servers: this.targets.size },
      `${reason}: readiness now fails; serving with Connection: close until the drain ${drainUntil ? 'condition is met' : `delay of ${o.drainDelayMs} ms ends`}`,
    );

    const delayStart = now();
    this.pendingDescription = () =>
      drainUntil
        ? 'the drainUntil condition'
        : `the drain delay (${Math.max(0, Math.round(o.drainDelayMs - (now() - delayStart)))} ms left)`;
    if (drainUntil) {
      try {
        await drainUntil({ signal: this.work.signal });
      } catch (err) {
        log.warn({ err: errorFields(err) }, 'drainUntil rejected; stopping now');
      }
    } else if (o.drainDelayMs > 0) {
      await new Promise((r) => setTimeout(r, o.drainDelayMs));
    }

    this.setState('stopping');
    const stopStart = now();
    this.pendingDescription = () => this.describeDrains();
    await Promise.all(
      [...this.targets].map(async (t) => {
        const settled =
          o.settleMaxMs > 0
            ? await t.drain.settle(o.settleQuietMs, o.settleMaxMs)
            : { ms: 0, quiet: true, awaited: 0 };
        const { requests } = t.drain.pending();
        log.info(
          {
            server: t.label,
            settleMs: settled.ms,
            quiet: settled.quiet,
            reconnectsAwaited: settled.awaited,
            inFlight: requests.length,
          },
          `${t.label}: stopped accepting connections; finishing ${requests.length} request(s) in flight`,
        );
        const { cut, cutRequests, idleClosedFresh, idleClosedUsed } = await t.drain.stop(
          o.drainTimeoutMs,
          this.work.signal,
        );
        log.info(
          { server: t.label, ms: Math.round(now() - stopStart), idleClosedFresh, idleClosedUsed, cut },
          `${t.label}: drained`,
        );
        if (cut > 0) {
          this.failed = true;
          const why = this.work.signal.aborted
            ? `the time for the drain and hooks ran out (deadlineMs - flushTimeoutMs = ${workMs} ms)`
            : `drain timeout of ${o.drainTimeoutMs} ms`;
          const named = cutRequests.map((r) => `${r.method} ${r.path} (${(r.ms / 1000).toFixed(1)} s)`);
          log.error(
            { server: t.label, cut, requests: named },
            `${why}: cut ${cut} request(s) in flight: ${named.join(', ')}`,
          );
        }
        if (t.close) {
          const ok = await this.runStep(`${t.label}.close()`, () => t.close?.(reason), o.hookTimeoutMs);
          if (!ok) this.failed = true;
        }
      }),
    );
    log.info({ ms: Math.round(now() - stopStart) }, 'servers closed');

    this.setState('hooks');
    const order = [...this.hooks].reverse();
    for (let i = 0; i < order.length; i++) {
      const h = order[i] as Hook;
      const rest = order.slice(i + 1).map((x) => x.name);
      this.pendingDescription = () =>
        `hook "${h.name}"${rest.length ? ` (then ${rest.map((n) => `"${n}"`).join(', ')})` : ''}`;
      const ok = await this.runStep(`hook "${h.name}"`, h.fn, h.timeoutMs);
      if (!ok) this.failed = true;
    }
  }

  /**
   * Run one step with a timeout, cut short when the time for the drain and hooks runs out; log and
   * return false when it throws, times out or was cut.
   */
  private async runStep(label: string, fn: ShutdownHook, timeoutMs: number): Promise<boolean> {
    const { log, deadlineMs, flushTimeoutMs } = this.o;
    const out = `the time for the drain and hooks ran out (deadlineMs - flushTimeoutMs = ${deadlineMs - flushTimeoutMs} ms)`;
    if (this.work.signal.aborted) {
      log.error({ step: label }, `${label} not run: ${out}`);
      return false;
    }
    const ac = new AbortController();
    const t0 = now();
    let timer: NodeJS.Timeout | undefined;
    let onWorkEnd: (() => void) | undefined;
    const timeout = new Promise<'timeout' | 'cut'>((resolve) => {
      timer = setTimeout(resolve, timeoutMs, 'timeout');
      onWorkEnd = () => resolve('cut');
      this.work.signal.addEventListener('abort', onWorkEnd, { once: true });
    });
    try {
      const r = await Promise.race([Promise.resolve().then(() => fn({ signal: ac.signal })), timeout]);
      if (r === 'timeout') {
        ac.abort(new Error(`${label} timed out`));
        log.error({ step: label, timeoutMs }, `${label} timed out after ${timeoutMs} ms; abandoned`);
        return false;
      }
      if (r === 'cut') {
        const ms = Math.round(now() - t0);
        ac.abort(new Error(`${label} cut: ${out}`));
        log.error({ step: label, ms }, `${label} cut after ${ms} ms: ${out}; abandoned`);
        return false;
      }
      return true;
    } catch (err) {
      log.error({ step: label, ms: Math.round(now() - t0), err: errorFields(err) }, `${label} failed`);
      return false;
    } finally {
      clearTimeout(timer);
      if (onWorkEnd) this.work.signal.removeEventListener('abort', onWorkEnd);
    }
  }

  /**
   * Flush and close the registered process resources, group after group (see RESOURCE_ORDER),
   * within `flushTimeoutMs` and before the deadline. Each group gets what is left less a little for
   * the later groups; each resource is asked to finish strictly inside what the flush waits for it.
   * Problems are warnings: they never change the exit code.
   */
  private async flush(groups: readonly (readonly ProcessResource[])[]): Promise<void> {
    if (groups.length === 0) return;
    const end = Math.min(
      now() + this.o.flushTimeoutMs,
      this.startedAt + this.o.deadlineMs - RESOURCE_GRACE_MS,
    );
    for (let g = 0; g < groups.length; g++) {
      const group = groups[g] as readonly ProcessResource[];
      const left = end - now();
      const later = groups.length - 1 - g;
      const slot = Math.max(0, left - Math.min(later * LATER_GROUP_MS, left / 2));
      this.pendingDescription = () => `flushing ${group.map((r) => r.name).join(', ')}`;
      await Promise.all(group.map((r) => this.closeResource(r, slot)));
    }
  }

  private async closeResource(r: ProcessResource, slotMs: number): Promise<void> {
    const { log } = this.o;
    const name = String(r.name);
    const timeoutMs = Math.max(0, Math.floor(slotMs - RESOURCE_GRACE_MS));
    const t0 = now();
    let timer: NodeJS.Timeout | undefined;
    const abandon = new Promise<'abandoned'>((resolve) => {
      timer = setTimeout(resolve, Math.max(0, slotMs), 'abandoned');
    });
    try {
      const r0 = await Promise.race([Promise.resolve().then(() => r.close({ timeoutMs })), abandon]);
      const ms = Math.round(now() - t0);
      if (r0 === 'abandoned') {
        log.warn({ resource: name, timeoutMs }, `${name} did not finish within ${timeoutMs} ms; abandoned`);
        return;
      }
      const report = (typeof r0 === 'object' && r0 !== null ? r0 : {}) as ProcessResourceReport;
      const dropped = typeof report.dropped === 'number' ? report.dropped : 0;
      if (dropped > 0) {
        const unit = report.unit ?? 'items';
        log.warn(
          { resource: name, ms, timeoutMs, dropped, countedIn: report.countedIn },
          `${name}: flush gave up after ${ms} ms (budget ${timeoutMs} ms); ${dropped} ${unit} dropped${report.countedIn ? ` (counted in ${report.countedIn})` : ''}`,
        );
      } else log.info({ resource: name, ms }, `${name} flushed`);
    } catch (err) {
      log.warn({ resource: name, err: errorFields(err) }, `${name}: flush failed`);
    } finally {
      clearTimeout(timer);
    }
  }

  private describeDrains(): string {
    const parts: string[] = [];
    for (const t of this.targets) {
      const p = t.drain.pending();
      if (p.connections === 0 && p.requests.length === 0) continue;
      const reqs = p.requests
        .slice(0, 5)
        .map((r) => `${r.method} ${r.path} (${(r.ms / 1000).toFixed(1)} s)`)
        .join(', ');
      parts.push(
        `${t.label}: ${p.connections} connection(s), ${p.requests.length} request(s) in flight${reqs ? `: ${reqs}` : ''}`,
      );
    }
    return parts.length ? parts.join('; ') : 'closing servers';
  }

  private onDeadline(): void {
    const pending = this.pendingDescription();
    const { deadlineMs } = this.o;
    this.o.log.error(
      { deadlineMs, state: this.current, pending },
      `shutdown deadline of ${deadlineMs} ms passed; still pending: ${pending}; exiting with ${SHUTDOWN_EXIT_CODES.deadline}`,
    );
    this.exit(SHUTDOWN_EXIT_CODES.deadline);
  }
}

/**
 * A Nest app whose `enableShutdownHooks()` was called closes itself on the same signal, at once,
 * then raises the signal again (which Vigil takes as a second signal: exit 143): two drains, the
 * first with no delay. Refused (and logged if enabled later); Vigil's shutdown calls
 * `app.close(signal)` after its own drain.
 * Nest 11 keeps the listener in `shutdownCleanupRef`, Nest 12 in the `shutdownCleanupRefs` map.
 */
function nestListens(app: object): boolean {
  const a = app as { shutdownCleanupRef?: unknown; shutdownCleanupRefs?: unknown };
  const refs = a.shutdownCleanupRefs;
  return typeof a.shutdownCleanupRef === 'function' || (refs instanceof Map && refs.size > 0);
}

function assertNoNestShutdownHooks(where: string, app: object): void {
  if (nestListens(app)) {
    throw new VigilOptionError(
      where,
      'a NestJS app without enableShutdownHooks() (Vigil drains, then calls app.close(signal), which runs the lifecycle hooks once)',
      'an app with enableShutdownHooks()',
    );
  }
}
