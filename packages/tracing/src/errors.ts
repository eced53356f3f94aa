import { hasErrorCode } from '@vigil/core';

export { describeValue as describe, INVALID_OPTION, isVigilOptionError, VigilOptionError } from '@vigil/core';

export const TRACING_ALREADY_STARTED = 'VIGIL_TRACING_ALREADY_STARTED';

/** `startTracing()` while tracing already runs in this process (for example preloaded with register). */
export class TracingAlreadyStartedError extends Error {
  readonly code = TRACING_ALREADY_STARTED;
  constructor() {
    super(
      'Tracing is already started in this process (by @vigil/tracing/register or an earlier startTracing()). ' +
        'Use getTracing() for the running instance, or close() it before starting another.',
    );
    this.name = 'TracingAlreadyStartedError';
  }
}

export function isTracingAlreadyStartedError(e: unknown): e is TracingAlreadyStartedError {
  return hasErrorCode(e, TRACING_ALREADY_STARTED);
}
