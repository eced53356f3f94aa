import type { ShutdownLogger } from '../types.js';

// The shape of every Vigil line (@vigil/logger's, tracing's): a string level and `time` in epoch
// milliseconds (pino's default), so a service's log has one time format.
function line(level: string, fields: Record<string, unknown>, msg: string): void {
  let text: string;
  try {
    text = JSON.stringify({ level, time: Date.now(), name: '@vigil/shutdown', msg, ...fields });
  } catch {
    text = JSON.stringify({ level, time: Date.now(), name: '@vigil/shutdown', msg });
  }
  // stderr to a pipe or file is synchronous on Linux, so the line is out before process.exit.
  process.stderr.write(`${text}\n`);
}

/** JSON lines on stderr, the shape pino writes, for services without a logger of their own. */
export const stderrLogger: ShutdownLogger = {
  info: (f, m) => line('info', f, m),
  warn: (f, m) => line('warn', f, m),
  error: (f, m) => line('error', f, m),
};

export const silentLogger: ShutdownLogger = { info() {}, warn() {}, error() {} };

/** Wrap a user logger so a throwing logger never breaks the shutdown sequence. */
export function safeLogger(l: ShutdownLogger): ShutdownLogger {
  const wrap =
    (fn: ShutdownLogger['info']): ShutdownLogger['info'] =>
    (f, m) => {
      try {
        fn(f, m);
      } catch {
        // Logging must never stop a shutdown.
      }
    };
  return { info: wrap(l.info.bind(l)), warn: wrap(l.warn.bind(l)), error: wrap(l.error.bind(l)) };
}

/** An error as log fields (the stack only when asked: uncaught errors). */
export function errorFields(err: unknown, stack = false): Record<string, unknown> {
  if (err instanceof Error) {
    return stack
      ? { type: err.name, message: err.message, stack: err.stack }
      : { type: err.name, message: err.message };
  }
  return { message: String(err) };
}
