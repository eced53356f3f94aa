import { closeSync, constants, fstatSync, mkdirSync, openSync, statSync, writeSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { LOG_DROP_REASONS, type LogDropReason } from '@vigil/catalog';
import { loggerStats, RESOURCE_ORDER, registerProcessResource } from '@vigil/core';

/**
 * Where createLogger() writes. Every destination is bounded: lines waiting for a slow or stalled
 * reader (a log shipper that stopped reading stdout, a full pipe) are kept up to `bufferBytes`, lines
 * beyond are dropped and counted (`vigil_log_lines_dropped_total{reason}`, a warning on stderr
 * once), and flushing at close() or exit gives up after `flushTimeoutMs`: a stalled reader can
 * neither grow the heap nor hold the process at exit. Nothing here blocks on a pipe: descriptors
 * are written in non-blocking mode and a full pipe is retried on a timer.
 */

export interface DestinationLimits {
  readonly bufferBytes: number;
  readonly flushTimeoutMs: number;
}

export interface Destination {
  write(line: string): void;
  /** pino's `logger.flush(cb)`: writes what is buffered (within flushTimeoutMs). */
  flush(cb?: (err?: Error) => void): void;
  flushSync(): void;
  /** A file path: closes and opens it again (after logrotate moved it). Others: nothing. */
  reopen(): void;
  /** Flushes within flushTimeoutMs (or `timeoutMs`, if shorter), then releases timer, exit listener and file. Idempotent. */
  close(timeoutMs?: number): Promise<void>;
}

/**
 * How a file path is written: lines collect in memory and are written with one `write` system
 * call once `bytes` have collected, at the latest `flushIntervalMs` after a line, and synchronously
 * at process exit (including `process.exit()` and an uncaught exception). A write system call costs
 * about what a whole request costs on bare Fastify; writing in blocks makes it a small share.
 */
export const FILE_BUFFER = Object.freeze({ bytes: 16_384, flushIntervalMs: 100 });

/** How often a file path is checked for having been moved or removed (logrotate), in flush intervals. */
const ROTATION_CHECK_EVERY = 10;
/** Largest single write of buffered lines. */
const CHUNK = 65_536;
/** A full pipe is retried after 5 ms, doubling up to 100 ms while it stays full. */
const RETRY_MIN_MS = 5;
const RETRY_MAX_MS = 100;

const sleeper = new Int32Array(new SharedArrayBuffer(4));
function sleepSync(ms: number): void {
  Atomics.wait(sleeper, 0, 0, ms);
}

/** A line on stderr that can never block: fd 2 is non-blocking once Node made process.stderr. */
function stderrLine(text: string): void {
  try {
    void process.stderr;
    writeSync(2, `${text}\n`);
  } catch {
    // stderr itself is stalled or closed: nothing more to do.
  }
}

function countDrop(reason: LogDropReason, lines: number): void {
  if (lines > 0) {
    const d = loggerStats().dropped;
    d[reason] = (d[reason] ?? 0) + lines;
  }
}

const PERMANENT = new Set(['EPIPE', 'EBADF', 'ECONNRESET', 'EINVAL', 'ENOTCONN']);

type Target = { readonly fd: number } | { readonly path: string };

/**
 * A descriptor or file path. `eager`: each line is written when it is logged (stdout, a descriptor,
 * `sync: true`), unless earlier lines are still waiting for the reader. Otherwise lines are written
 * in blocks (FILE_BUFFER).
 */
export function fdDestination(target: Target, eager: boolean, limits: DestinationLimits): Destination {
  const path = 'path' in target ? resolve(target.path) : undefined;
  const num = (target as { fd?: number }).fd;
  const label = path ?? (num === 1 ? 'stdout' : `file descriptor ${num}`);
  let fd = -1;
  let ino = 0;
  let dev = 0;
  if ('fd' in target) {
    fd = target.fd;
    // Node puts a pipe or terminal behind stdout/stderr in non-blocking mode when it creates
    // process.stdout/stderr; without that a write to a full pipe would block the event loop.
    if (fd === 1) void process.stdout;
    else if (fd === 2) void process.stderr;
  } else openPath(true);

  let pending: (string | Buffer)[] = [];
  let pendingSize = 0;
  let closed = false;
  let closing: Promise<void> | undefined;
  let broken = false;
  let retry: NodeJS.Timeout | undefined;
  let retryMs = RETRY_MIN_MS;
  let ticks = 0;
  const warned = new Set<string>();

  function openPath(initial: boolean): void {
    const p = path as string;
    try {
      mkdirSync(dirname(p), { recursive: true });
      // O_NONBLOCK: a FIFO or /dev/stdout behind the path must not block a write either.
      fd = openSync(
        p,
        constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT | constants.O_NONBLOCK,
        0o666,
      );
      const st = fstatSync(fd);
      ino = st.ino;
      dev = st.dev;
    } catch (err) {
      if (initial) throw err;
      fd = -1;
      warn('open', `opening ${p} failed: ${(err as Error).message}; lines are buffered and retried`);
    }
  }

  function warn(kind: string, text: string): void {
    if (warned.has(kind)) return;
    warned.add(kind);
    process.emitWarning(`@vigil/logger: ${label}: ${text}`);
  }

  function drop(reason: LogDropReason, lines: number): void {
    countDrop(reason, lines);
    if (reason === LOG_DROP_REASONS.bufferFull) {
      warn(
        reason,
        `the reader is not keeping up; lines beyond ${limits.bufferBytes} buffered bytes are dropped (counted in vigil_log_lines_dropped_total)`,
      );
    }
  }

  /** A write failed for a reason other than a full pipe: count, and stop for good if it cannot recover. */
  function failed(err: NodeJS.ErrnoException, lines: number): void {
    countDrop(LOG_DROP_REASONS.writeFailed, lines);
    if (PERMANENT.has(err.code ?? '') && path === undefined) {
      broken = true;
      countDrop(LOG_DROP_REASONS.writeFailed, pending.length);
      pending = [];
      pendingSize = 0;
    }
    warn(
      'failed',
      `writing failed (${err.code ?? err.message})${broken ? '; no more lines are written to it' : ''}; lost lines are counted in vigil_log_lines_dropped_total`,
    );
  }

  /** One write of `s`; false when the pipe is full (EAGAIN) and the rest must wait. */
  function writeNow(s: string | Buffer, lines: number): boolean {
    let n: number;
    try {
      n = typeof s === 'string' ? writeSync(fd, s) : writeSync(fd, s, 0, s.length);
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      if (e.code === 'EAGAIN' || e.code === 'EWOULDBLOCK') {
        enqueueFront(s);
        return false;
      }
      failed(e, lines);
      return true;
    }
    // Node encodes a string straight into the write; a short write (a pipe near full) goes on later
    // from the bytes that are left.
    if (typeof s === 'string' ? n === s.length || n === Buffer.byteLength(s) : n === s.length) return true;
    enqueueFront((typeof s === 'string' ? Buffer.from(s) : s).subarray(n));
    return false;
  }

  function enqueueFront(s: string | Buffer): void {
    pending.unshift(s);
    pendingSize += s.length;
  }

  /** Writes buffered lines until done or the reader stops taking them; true when all are out. */
  function drain(): boolean {
    if (fd < 0) {
      if (path === undefined || closed) return pending.length === 0;
      openPath(false);
      if (fd < 0) return false;
    }
    while (pending.length > 0 && !broken) {
      let chunk: string | Buffer;
      let lines = 1;
      const first = pending[0] as string | Buffer;
      if (typeof first !== 'string' || pending.length === 1 || first.length >= CHUNK) {
        chunk = first;
        pending.shift();
      } else {
        let size = 0;
        let i = 0;
        while (i < pending.length && typeof pending[i] === 'string' && size < CHUNK) {
          size += (pending[i] as string).length;
          i++;
        }
        chunk = (pending.splice(0, i) as string[]).join('');
        lines = i;
      }
      pendingSize -= chunk.length;
      if (!writeNow(chunk, lines)) return false;
    }
    return true;
  }

  function scheduleRetry(): void {
    if (retry !== undefined || closed) return;
    retry = setTimeout(onRetry, retryMs);
    retry.unref();
  }
  function onRetry(): void {
    retry = undefined;
    if (drain()) retryMs = RETRY_MIN_MS;
    else {
      retryMs = Math.min(retryMs * 2, RETRY_MAX_MS);
      scheduleRetry();
    }
  }

  /** Writes what is buffered, waiting for a stalled reader up to `ms`; true when all is out. */
  function drainFor(ms: number): boolean {
    const deadline = performance.now() + ms;
    let wait = 1;
    while (!drain()) {
      const left = deadline - performance.now();
      if (left <= 0) return false;
      sleepSync(Math.min(wait, left));
      wait = Math.min(wait * 2, 20);
    }
    return true;
  }

  /** Gives up on what is still buffered (a stalled reader at close or exit). */
  function abandon(): void {
    if (pending.length === 0) return;
    const n = pending.length;
    countDrop(LOG_DROP_REASONS.shutdown, n);
    pending = [];
    pendingSize = 0;
    stderrLine(
      `@vigil/logger: ${label}: the reader did not take ${n} buffered line(s) within ${limits.flushTimeoutMs} ms; dropped (counted in vigil_log_lines_dropped_total)`,
    );
  }

  function rotated(): boolean {
    try {
      const st = statSync(path as string, { throwIfNoEntry: false });
      return st === undefined || st.ino !== ino || st.dev !== dev;
    } catch {
      return false;
    }
  }

  function reopenNow(): void {
    if (path === undefined || closed) return;
    drain();
    if (fd >= 0) {
      try {
        closeSync(fd);
      } catch {}
    }
    fd = -1;
    openPath(false);
    if (pending.length > 0) drain();
  }

  const timer = eager
    ? undefined
    : setInterval(() => {
        if (path !== undefined && ++ticks % ROTATION_CHECK_EVERY === 0 && fd >= 0 && rotated()) reopenNow();
        drain();
      }, FILE_BUFFER.flushIntervalMs);
  timer?.unref();

  const atExit = (): void => {
    if (!drainFor(limits.flushTimeoutMs)) abandon();
  };
  process.once('exit', atExit);

  // @vigil/shutdown flushes it after the servers closed, within the time left for loggers.
  const unregister = registerProcessResource({
    name: `logger ${label}`,
    order: RESOURCE_ORDER.logs,
    close: ({ timeoutMs }) => dest.close(timeoutMs),
  });

  function release(): void {
    clearInterval(timer);
    clearTimeout(retry);
    retry = undefined;
    process.removeListener('exit', atExit);
    unregister();
    if (path !== undefined && fd >= 0) {
      try {
        closeSync(fd);
      } catch {}
      fd = -1;
    }
  }

  const dest: Destination = {
    write(line: string): void {
      if (broken) {
        countDrop(LOG_DROP_REASONS.writeFailed, 1);
        return;
      }
      if (closed) {
        // After close(): stdout and descriptors still take a line if the reader does right away.
        if (path !== undefined || pending.length > 0 || !writeNowOrDrop(line))
          countDrop(LOG_DROP_REASONS.shutdown, 1);
        return;
      }
      if (eager && pending.length === 0 && fd >= 0) {
        let n: number;
        try {
          n = writeSync(fd, line);
        } catch (err) {
          const e = err as NodeJS.ErrnoException;
          if (e.code !== 'EAGAIN' && e.code !== 'EWOULDBLOCK') {
            failed(e, 1);
            return;
          }
          n = 0;
        }
        if (n === line.length || n === Buffer.byteLength(line)) return;
        const rest = n === 0 ? line : Buffer.from(line).subarray(n);
        pending.push(rest);
        pendingSize += rest.length;
        scheduleRetry();
        return;
      }
      if (pendingSize + line.length > limits.bufferBytes) {
        drop(LOG_DROP_REASONS.bufferFull, 1);
        return;
      }
      pending.push(line);
      pendingSize += line.length;
      if (eager) scheduleRetry();
      else if (pendingSize >= FILE_BUFFER.bytes && !drain()) scheduleRetry();
    },
    flush(cb?: (err?: Error) => void): void {
      drainFor(limits.flushTimeoutMs);
      cb?.();
    },
    flushSync(): void {
      drainFor(limits.flushTimeoutMs);
    },
    reopen(): void {
      reopenNow();
    },
    close(timeoutMs = limits.flushTimeoutMs): Promise<void> {
      closing ??= (async () => {
        clearTimeout(retry);
        retry = undefined;
        const deadline = performance.now() + Math.min(timeoutMs, limits.flushTimeoutMs);
        let wait = 1;
        while (!drain()) {
          const left = deadline - performance.now();
          if (left <= 0) break;
          await new Promise((r) => setTimeout(r, Math.min(wait, left)));
          wait = Math.min(wait * 2, 50);
        }
        closed = true;
        abandon();
        release();
      })();
      return closing;
    },
  };

  /** One non-blocking attempt, for a line logged after close(). */
  function writeNowOrDrop(line: string): boolean {
    try {
      const n = writeSync(fd, line);
      return n === line.length || n === Buffer.byteLength(line);
    } catch {
      return false;
    }
  }

  return dest;
}

/** What a user's stream exposes when it is a Node.js Writable. */
interface WritableLike {
  write(line: string): unknown;
  writableLength?: number;
  destroyed?: boolean;
  writableEnded?: boolean;
  flush?(cb?: (err?: Error) => void): void;
  reopen?(): void;
  once?(event: string, fn: () => void): unknown;
  removeListener?(event: string, fn: () => void): unknown;
}

/**
 * A user's stream. A Node.js Writable is bounded by its own buffer (`writableLength`): lines are
 * dropped and counted while it holds more than `bufferBytes`. Anything else with a `write()` is
 * passed every line as it is (it has no buffer we can see).
 */
export function streamDestination(
  stream: WritableLike,
  limits: DestinationLimits,
): Destination & { readonly bounded: boolean } {
  const bounded = typeof stream.writableLength === 'number';
  let closed = false;
  let closing: Promise<void> | undefined;
  let warned = false;
  // Only a Writable has anything to flush at shutdown; a plain write() sink needs no registration.
  const unregister = bounded
    ? registerProcessResource({
        name: 'logger stream',
        order: RESOURCE_ORDER.logs,
        close: ({ timeoutMs }) => dest.close(timeoutMs),
      })
    : () => {};

  const dest = {
    bounded,
    write(line: string): void {
      if (closed) {
        countDrop(LOG_DROP_REASONS.shutdown, 1);
        return;
      }
      if (bounded) {
        if (stream.destroyed || stream.writableEnded) {
          countDrop(LOG_DROP_REASONS.writeFailed, 1);
          return;
        }
        if ((stream.writableLength as number) > limits.bufferBytes) {
          countDrop(LOG_DROP_REASONS.bufferFull, 1);
          if (!warned) {
            warned = true;
            process.emitWarning(
              `@vigil/logger: the destination stream is not keeping up; lines beyond ${limits.bufferBytes} buffered bytes are dropped (counted in vigil_log_lines_dropped_total)`,
            );
          }
          return;
        }
      }
      stream.write(line);
    },
    flush(cb?: (err?: Error) => void): void {
      if (typeof stream.flush === 'function') stream.flush(cb);
      else cb?.();
    },
    flushSync(): void {
      (stream as { flushSync?: () => void }).flushSync?.();
    },
    reopen(): void {
      stream.reopen?.();
    },
    close(timeoutMs = limits.flushTimeoutMs): Promise<void> {
      // The stream is the caller's: it is not ended, only given flushTimeoutMs to drain.
      closing ??= (async () => {
        closed = true;
        unregister();
        if (!bounded || (stream.writableLength as number) === 0 || typeof stream.once !== 'function') return;
        let timer: NodeJS.Timeout | undefined;
        let onDrain: (() => void) | undefined;
        await new Promise<void>((r) => {
          onDrain = r;
          stream.once?.('drain', r);
          timer = setTimeout(r, Math.min(timeoutMs, limits.flushTimeoutMs));
        });
        clearTimeout(timer);
        if (onDrain) stream.removeListener?.('drain', onDrain);
      })();
      return closing;
    },
  };
  return dest;
}
