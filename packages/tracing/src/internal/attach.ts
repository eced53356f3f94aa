import {
  type Context,
  type Span,
  type SpanOptions,
  type Tracer,
  type TracerOptions,
  type TracerProvider,
  trace,
} from '@opentelemetry/api';

/** Where `@opentelemetry/api` 1.x keeps its registrations (`GLOBAL_OPENTELEMETRY_API_KEY`). */
const API_KEY = Symbol.for('opentelemetry.js.api.1');

/**
 * True when something (NodeSDK, a NodeTracerProvider, Vigil) already registered this part of the
 * API: `trace` (a tracer provider), `context` (a context manager) or `propagation`.
 */
export function apiRegistered(type: 'trace' | 'context' | 'propagation'): boolean {
  const api = (globalThis as { [API_KEY]?: Record<string, unknown> })[API_KEY];
  return api?.[type] !== undefined;
}

/** A provider that can flush (every SDK provider can; the API's interface does not say so). */
export function flushProvider(p: TracerProvider | undefined): Promise<void> {
  const delegate = (p as { getDelegate?: () => TracerProvider } | undefined)?.getDelegate?.() ?? p;
  const flush = (delegate as { forceFlush?: () => Promise<unknown> } | undefined)?.forceFlush;
  return typeof flush === 'function' ? flush.call(delegate).then(() => {}) : Promise.resolve();
}

/**
 * The tracer provider Vigil registers: its tracers forward to the provider in effect, Vigil's own
 * until an SDK started after Vigil takes over. Instrumentations that took a tracer from the global
 * provider in between then follow the switch instead of keeping a second pipeline alive.
 */
export class SwitchProvider implements TracerProvider {
  generation = 0;
  private readonly tracers = new Map<string, SwitchTracer>();
  constructor(public target: TracerProvider) {}

  getTracer(name: string, version?: string, options?: TracerOptions): Tracer {
    const key = `${name}\0${version ?? ''}\0${options?.schemaUrl ?? ''}`;
    let t = this.tracers.get(key);
    if (t === undefined) {
      t = new SwitchTracer(this, name, version, options);
      this.tracers.set(key, t);
    }
    return t;
  }

  switchTo(p: TracerProvider): void {
    this.target = p;
    this.generation++;
  }
}

class SwitchTracer implements Tracer {
  private tracer: Tracer | undefined;
  private generation = -1;
  constructor(
    private readonly provider: SwitchProvider,
    private readonly name: string,
    private readonly version: string | undefined,
    private readonly options: TracerOptions | undefined,
  ) {}

  private current(): Tracer {
    if (this.generation !== this.provider.generation || this.tracer === undefined) {
      this.tracer = this.provider.target.getTracer(this.name, this.version, this.options);
      this.generation = this.provider.generation;
    }
    return this.tracer;
  }

  startSpan(name: string, options?: SpanOptions, ctx?: Context): Span {
    return this.current().startSpan(name, options, ctx);
  }

  startActiveSpan(...args: unknown[]): never {
    const t = this.current();
    return (t.startActiveSpan as (...a: unknown[]) => never).apply(t, args);
  }
}

type Registrar = { setGlobalTracerProvider(p: TracerProvider): boolean };

/**
 * Catches the registration of a tracer provider by an SDK started after Vigil (NodeSDK's
 * `start()` calls `trace.setGlobalTracerProvider`, which would fail against Vigil's): `take`
 * adopts it and the call reports success. Only this copy of `@opentelemetry/api` is wrapped (the
 * one Vigil and the SDK share, as a peer dependency). Returns the unwrap.
 */
export function interceptRegistration(take: (p: TracerProvider) => boolean): () => void {
  const api = trace as unknown as Registrar;
  const own = Object.getOwnPropertyDescriptor(api, 'setGlobalTracerProvider');
  const original = api.setGlobalTracerProvider;
  const wrapped = function (this: unknown, p: TracerProvider): boolean {
    return take(p) || original.call(api, p);
  };
  api.setGlobalTracerProvider = wrapped;
  return () => {
    if (api.setGlobalTracerProvider !== wrapped) return;
    if (own !== undefined) Object.defineProperty(api, 'setGlobalTracerProvider', own);
    else delete (api as Partial<Registrar>).setGlobalTracerProvider;
  };
}
