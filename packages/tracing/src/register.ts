/**
 * Side-effect entry: starts tracing from the environment (`OTEL_*` variables) when loaded, and
 * flushes spans when the process ends. Preload it so tracing is ready before your code runs:
 *
 *   node --import @vigil/tracing/register app.js    (ESM)
 *   node -r @vigil/tracing/register app.js          (CommonJS)
 *
 * It never throws: a configuration problem is reported on stderr and the service starts anyway.
 */
import { isTracingAlreadyStartedError } from './errors.js';
import { startTracing } from './start.js';

try {
  startTracing({ flushOnExit: true });
} catch (err) {
  // Loaded twice (-r and --import): the first one runs.
  if (!isTracingAlreadyStartedError(err)) {
    process.stderr.write(
      `${JSON.stringify({ level: 'warn', time: Date.now(), name: '@vigil/tracing', msg: `Tracing not started: ${(err as Error)?.message ?? err}` })}\n`,
    );
  }
}
