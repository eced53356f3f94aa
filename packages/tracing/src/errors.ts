/** Error codes are stable strings; guards compare `code`, so they work across duplicated installs. */
export const INVALID_OPTION = 'VIGIL_INVALID_OPTION';
export const TRACING_ALREADY_STARTED = 'VIGIL_TRACING_ALREADY_STARTED';

export class VigilOptionError extends Error {
  readonly code = INVALID_OPTION;
  readonly option: string;
  constructor(option: string, expected: string, got: unknown) {
    super(`Invalid option "${option}": expected ${expected}, got ${describe(got)}`);
    this.name = 'VigilOptionError';
    this.option = option;
  }
}

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

export function isVigilOptionError(e: unknown): e is VigilOptionError {
  return typeof e === 'object' && e !== null && (e as { code?: unknown }).code === INVALID_OPTION;
}

export function isTracingAlreadyStartedError(e: unknown): e is TracingAlreadyStartedError {
  return typeof e === 'object' && e !== null && (e as { code?: unknown }).code === TRACING_ALREADY_STARTED;
}

export function describe(v: unknown): string {
  if (typeof v === 'string') return JSON.stringify(v.length > 60 ? `${v.slice(0, 60)}…` : v);
  if (typeof v === 'number' || typeof v === 'boolean' || v == null) return String(v);
  if (Array.isArray(v)) return `an array of length ${v.length}`;
  if (typeof v === 'function') return 'a function';
  return `an ${typeof v}`;
}
