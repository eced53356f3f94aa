import { VigilOptionError } from '@vigil/core';
import type { ResilienceLogger } from '../types.js';

/**
 * The default logger: one `console.warn` line (stderr) per breaker state change, so an opening
 * breaker is visible even in a service that configured nothing. stdout is left to the service's
 * own (often JSON) logs. Pass a pino logger to get structured lines, or `false` for silence.
 */
export const consoleLogger: ResilienceLogger = Object.freeze({
  info: (obj: object, msg: string) => console.warn(`[vigil] ${msg} ${safeJson(obj)}`),
  warn: (obj: object, msg: string) => console.warn(`[vigil] ${msg} ${safeJson(obj)}`),
});

const silent: ResilienceLogger = Object.freeze({ info() {}, warn() {} });

function safeJson(obj: object): string {
  try {
    return JSON.stringify(obj);
  } catch {
    return '{}';
  }
}

export function resolveLogger(v: unknown): ResilienceLogger {
  if (v === undefined) return consoleLogger;
  if (v === false) return silent;
  if (
    typeof v !== 'object' ||
    v === null ||
    typeof (v as ResilienceLogger).info !== 'function' ||
    typeof (v as ResilienceLogger).warn !== 'function'
  ) {
    throw new VigilOptionError('logger', 'a logger with info() and warn() (pino works), or false', v);
  }
  const l = v as ResilienceLogger;
  // A logger that throws must never break the call that changed the breaker's state.
  return {
    info(obj, msg) {
      try {
        l.info(obj, msg);
      } catch {}
    },
    warn(obj, msg) {
      try {
        l.warn(obj, msg);
      } catch {}
    },
  };
}

/** Subscribers whose exceptions are swallowed (a listener must not break a call). */
export class Listeners<E> {
  private fns: ((e: E) => void)[] = [];
  get size(): number {
    return this.fns.length;
  }
  add(fn: (e: E) => void): () => void {
    const wrapped = (e: E) => fn(e);
    this.fns = [...this.fns, wrapped];
    return () => {
      this.fns = this.fns.filter((f) => f !== wrapped);
    };
  }
  emit(e: E): void {
    const fns = this.fns;
    for (let i = 0; i < fns.length; i++) {
      try {
        (fns[i] as (e: E) => void)(e);
      } catch {}
    }
  }
  clear(): void {
    this.fns = [];
  }
}
