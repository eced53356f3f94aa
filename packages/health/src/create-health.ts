import { performance } from 'node:perf_hooks';
import {
  checkBoolean,
  checkFunction,
  checkKnownKeys,
  checkMs,
  checkObject,
  checkPort,
  checkRegistry,
  checkString,
  isRegistry,
  VigilOptionError,
} from '@vigil/core';
import { acquireInstruments, type Instruments, type Registry } from '@vigil/metrics';
import { createProbeHandler, startProbeServer } from './internal/http.js';
import { attachHealthMetrics } from './internal/metrics.js';
import { type CheckSpec, createRunner, type Runner, type RunResult } from './internal/runner.js';
import type {
  CheckEntry,
  CheckFunction,
  Health,
  HealthBody,
  HealthCheck,
  HealthHandlerOptions,
  HealthInfo,
  HealthOptions,
  HealthPaths,
  HealthReport,
  HealthServer,
  HealthState,
  HealthStatus,
  Probe,
  ProbeOptions,
} from './types.js';

/**
 * Defaults for `createHealth`; the README's options table lists exactly these (a test checks it).
 */
export const HEALTH_DEFAULTS = Object.freeze({
  /**
   * Timeout of each check run. Checks run in parallel, so a readiness answer takes at most about
   * this long: 500 ms stays well inside the kubelet's default probe `timeoutSeconds` of 1.
   */
  checkTimeoutMs: 500,
  /** Whether a failing check makes readiness fail (503) rather than warn (200). */
  critical: true,
  /** 0: concurrent probes share the run in flight, and every new probe runs the check again. */
  cacheMs: 0,
  /** The startup probe fails until `markStarted()` (the Express and Fastify adapters start for you). */
  autoStart: false,
  /** Error messages and measurements stay out of responses unless enabled. */
  details: false,
  /** Probe paths: Kubernetes-style names and their `z` aliases. */
  paths: Object.freeze({
    liveness: Object.freeze(['/health', '/livez']),
    readiness: Object.freeze(['/ready', '/readyz']),
    startup: Object.freeze(['/startup']),
  }) as Readonly<HealthPaths>,
  /** Port of `startServer()` (a management port, separate from the service's). */
  serverPort: 9000,
  /** Interface of `startServer()`: all, since the kubelet probes the pod IP. */
  serverHost: '0.0.0.0',
});

const KNOWN = [
  'checks',
  'checkTimeoutMs',
  'critical',
  'cacheMs',
  'autoStart',
  'details',
  'paths',
  'info',
  'registry',
  'metrics',
  'now',
] as const;
const CHECK_KEYS = [
  // Ignored: the key in `checks` names the check. Accepted so objects that carry their own name
  // (@vigil/resilience's createBreakerCheck) can be passed as they are.
  'name',
  'check',
  'timeoutMs',
  'critical',
  'cacheMs',
  'intervalMs',
  'liveness',
  'dependency',
  'componentType',
  'close',
] as const;
/** Check names become the `check` label: short, printable, bounded. */
const CHECK_NAME = /^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$/;
const PATH = /^\/[^\s?#]*$/;

interface Resolved {
  specs: CheckSpec[];
  details: boolean;
  autoStart: boolean;
  paths: HealthPaths;
  info: HealthInfo;
  /** Where the health metrics go, and how to let go of them on close. */
  instruments: Instruments;
  release: () => Promise<void>;
  now: () => number;
}

/**
 * Create a health registry with named checks and the three probes.
 *
 * ```ts
 * const health = createHealth({ checks: { db: postgresCheck(pool) }, metrics });
 * app.use(health.handler); // /health /livez /ready /readyz /startup
 * health.markStarted();
 * ```
 *
 * Invalid options throw a `VigilOptionError` naming the option.
 */
export function createHealth(options?: HealthOptions): Health {
  const o = resolve(options);
  const readinessRunners: Runner[] = [];
  const livenessRunners: Runner[] = [];
  let started = o.autoStart;
  let shuttingDown = false;
  let closed = false;
  const listeners = new Set<(s: HealthState) => void>();
  const servers = new Set<HealthServer>();

  const state = (): HealthState =>
    closed ? 'closed' : shuttingDown ? 'shutting_down' : started ? 'started' : 'starting';

  const metrics = attachHealthMetrics(o.instruments, () => ({
    liveness: aggregate(livenessRunners, (r) => r.last()).status,
    readiness:
      closed || shuttingDown || !started ? 'fail' : aggregate(readinessRunners, (r) => r.last()).status,
    startup: started ? 'pass' : 'fail',
  }));

  const onResult = (spec: CheckSpec, r: RunResult) =>
    metrics.record(spec.name, r.status, r.durationMs / 1000);
  for (const spec of o.specs) {
    const runner = createRunner(spec, o.now, onResult);
    readinessRunners.push(runner);
    if (spec.liveness) livenessRunners.push(runner);
  }

  function setState(change: () => void): void {
    const before = state();
    change();
    const after = state();
    if (after === before) return;
    for (const l of listeners) {
      try {
        l(after);
      } catch {
        // A listener's fault must not break the state change for the others.
      }
    }
  }

  async function runAll(runners: readonly Runner[]): Promise<Map<Runner, RunResult>> {
    const results = await Promise.all(runners.map((r) => r.get()));
    return new Map(runners.map((r, i) => [r, results[i] as RunResult]));
  }

  function report(status: HealthStatus, body: Omit<HealthBody, 'status'>): HealthReport {
    return { status, statusCode: status === 'fail' ? 503 : 200, body: { status, ...o.info, ...body } };
  }

  function withChecks(runners: readonly Runner[], results: Map<Runner, RunResult>, details: boolean) {
    const { status } = aggregate(runners, (r) => results.get(r));
    const checks: Record<string, CheckEntry[]> = {};
    for (const r of runners) {
      const res = results.get(r);
      if (res) checks[r.spec.name] = [entry(r.spec, res, details)];
    }
    return report(status, runners.length > 0 ? { checks } : {});
  }

  async function liveness(po?: ProbeOptions): Promise<HealthReport> {
    const details = po?.details ?? o.details;
    // Answering at all shows the process is alive and its event loop turns; only checks of the
    // process itself (marked `liveness`) can fail it, never a dependency.
    if (closed || livenessRunners.length === 0) return report('pass', {});
    return withChecks(livenessRunners, await runAll(livenessRunners), details);
  }

  async function readiness(po?: ProbeOptions): Promise<HealthReport> {
    const details = po?.details ?? o.details;
    const refusal = readinessRefusal();
    if (refusal) return report('fail', { output: refusal });
    const results = await runAll(readinessRunners);
    // Shutdown may have begun while the checks ran: it wins, at once.
    const late = readinessRefusal();
    if (late) return report('fail', { output: late });
    return withChecks(readinessRunners, results, details);
  }

  function readinessRefusal(): string | undefined {
    if (closed) return 'closed';
    if (shuttingDown) return 'shutting down';
    if (!started) return 'not started';
    return undefined;
  }

  async function startup(): Promise<HealthReport> {
    return started ? report('pass', {}) : report('fail', { output: 'not started' });
  }

  const evaluate = (probe: Probe, po: ProbeOptions): Promise<HealthReport> =>
    probe === 'liveness' ? liveness(po) : probe === 'readiness' ? readiness(po) : startup();

  function createHandler(ho?: HealthHandlerOptions) {
    const h = checkObject('createHandler(options)', ho);
    checkKnownKeys('createHandler(options).', h, ['details', 'paths']);
    const details = checkBoolean('details', h.details) ?? o.details;
    const paths = h.paths === undefined ? o.paths : resolvePaths(h.paths, o.paths);
    return createProbeHandler(pathTable(paths), evaluate, { details });
  }

  let closing: Promise<void> | undefined;
  return {
    get registry() {
      return o.instruments.registry;
    },
    get state() {
      return state();
    },
    markStarted() {
      if (!closed) setState(() => (started = true));
    },
    beginShutdown() {
      if (!closed) setState(() => (shuttingDown = true));
    },
    liveness,
    readiness,
    startup: () => startup(),
    handler: createProbeHandler(pathTable(o.paths), evaluate, { details: o.details }),
    createHandler,
    async startServer(so) {
      const s = checkObject('startServer(options)', so);
      checkKnownKeys('startServer(options).', s, ['port', 'host', 'details', 'paths']);
      const port = checkPort('port', s.port) ?? HEALTH_DEFAULTS.serverPort;
      const host = checkString('host', s.host) ?? HEALTH_DEFAULTS.serverHost;
      const handler = createHandler({
        ...(s.details !== undefined ? { details: s.details as boolean } : {}),
        ...(s.paths !== undefined ? { paths: s.paths as Partial<HealthPaths> } : {}),
      });
      if (closed) throw new Error('health handle is closed');
      const server = await startProbeServer(handler, port, host);
      servers.add(server);
      return server;
    },
    onStateChange(listener) {
      checkFunction('onStateChange(listener)', listener);
      listeners.add(listener);
      return () => {
        listeners.delete(listener);
      };
    },
    close() {
      closing ??= (async () => {
        setState(() => (closed = true));
        listeners.clear();
        for (const r of readinessRunners) r.close();
        await Promise.all([...servers].map((s) => s.close()));
        await Promise.allSettled(o.specs.map((s) => s.close?.()));
        metrics.detach(o.specs.map((s) => s.name));
        await o.release();
      })();
      return closing;
    },
  };
}

/** pass, warn or fail from the results available (a missing result counts as not yet known). */
function aggregate(
  runners: readonly Runner[],
  get: (r: Runner) => RunResult | undefined,
): { status: HealthStatus } {
  let status: HealthStatus = 'pass';
  for (const r of runners) {
    const res = get(r);
    if (!res) {
      if (r.spec.critical) return { status: 'fail' };
      status = 'warn';
      continue;
    }
    if (res.status === 'fail' && r.spec.critical) return { status: 'fail' };
    if (res.status !== 'pass') status = 'warn';
  }
  return { status };
}

function entry(spec: CheckSpec, r: RunResult, details: boolean): CheckEntry {
  const e: CheckEntry = {
    status: r.status,
    time: r.time,
    durationMs: Math.round(r.durationMs * 1000) / 1000,
    critical: spec.critical,
  };
  if (spec.componentType !== undefined) e.componentType = spec.componentType;
  if (details) {
    const out = r.message ?? r.reason;
    if (out !== undefined) e.output = out;
    if (r.observedValue !== undefined) e.observedValue = r.observedValue;
    if (r.observedUnit !== undefined) e.observedUnit = r.observedUnit;
  } else if (r.reason !== undefined) {
    e.output = r.reason;
  }
  return e;
}

function pathTable(paths: HealthPaths): Map<string, Probe> {
  const t = new Map<string, Probe>();
  for (const probe of ['liveness', 'readiness', 'startup'] as const) {
    for (const p of paths[probe]) t.set(p, probe);
  }
  return t;
}

function resolvePaths(v: unknown, base: HealthPaths): HealthPaths {
  const p = checkObject('paths', v);
  checkKnownKeys('paths.', p, ['liveness', 'readiness', 'startup']);
  const out = { ...base };
  const seen = new Map<string, string>();
  for (const probe of ['liveness', 'readiness', 'startup'] as const) {
    const list = p[probe];
    if (list !== undefined) {
      if (!Array.isArray(list) || list.some((x) => typeof x !== 'string' || !PATH.test(x))) {
        throw new VigilOptionError(`paths.${probe}`, 'an array of paths starting with "/"', list);
      }
      out[probe] = Object.freeze([...list]);
    }
    for (const path of out[probe]) {
      const other = seen.get(path);
      if (other !== undefined && other !== probe) {
        throw new VigilOptionError(`paths.${probe}`, `paths not already used by ${other}`, path);
      }
      seen.set(path, probe);
    }
  }
  return out;
}

function resolve(options: HealthOptions | undefined): Resolved {
  const input = checkObject('options', options);
  checkKnownKeys('', input, KNOWN);
  const checkTimeoutMs = checkMs('checkTimeoutMs', input.checkTimeoutMs, 1) ?? HEALTH_DEFAULTS.checkTimeoutMs;
  const critical = checkBoolean('critical', input.critical) ?? HEALTH_DEFAULTS.critical;
  const cacheMs = checkMs('cacheMs', input.cacheMs, 0) ?? HEALTH_DEFAULTS.cacheMs;

  const registryIn = checkRegistry<Registry>('registry', input.registry);
  const metricsIn = input.metrics as { registry?: unknown; instrument?: unknown } | null | undefined;
  if (metricsIn !== undefined && !isRegistry(metricsIn?.registry)) {
    throw new VigilOptionError('metrics', 'a handle from createMetrics() (with a registry)', metricsIn);
  }
  const fromMetrics = metricsIn?.registry as Registry | undefined;
  if (registryIn !== undefined && fromMetrics !== undefined && registryIn !== fromMetrics) {
    throw new VigilOptionError(
      'registry',
      'the same registry as metrics.registry (or only one of them)',
      'another registry',
    );
  }

  const infoIn = checkObject('info', input.info);
  checkKnownKeys('info.', infoIn, ['serviceId', 'version', 'releaseId', 'description']);
  const info: HealthInfo = {};
  for (const k of ['serviceId', 'version', 'releaseId', 'description'] as const) {
    const v = checkString(`info.${k}`, infoIn[k]);
    if (v !== undefined) info[k] = v;
  }

  const checksIn = checkObject('checks', input.checks);
  const specs: CheckSpec[] = [];
  for (const [name, def] of Object.entries(checksIn)) {
    if (!CHECK_NAME.test(name)) {
      throw new VigilOptionError(`checks.${name}`, 'a check name of letters, digits, _ . : - (max 64)', name);
    }
    specs.push(resolveCheck(name, def, { checkTimeoutMs, critical, cacheMs }));
  }

  return {
    specs,
    details: checkBoolean('details', input.details) ?? HEALTH_DEFAULTS.details,
    autoStart: checkBoolean('autoStart', input.autoStart) ?? HEALTH_DEFAULTS.autoStart,
    paths:
      input.paths === undefined ? HEALTH_DEFAULTS.paths : resolvePaths(input.paths, HEALTH_DEFAULTS.paths),
    info: Object.freeze(info),
    ...instrumentsOf(metricsIn, registryIn),
    now: checkFunction<() => number>('now', input.now) ?? (() => performance.now()),
  };
}

/** A metrics handle records through its own instruments; a bare registry through shared ones. */
function instrumentsOf(
  metrics: { registry?: unknown; instrument?: unknown } | null | undefined,
  registry: Registry | undefined,
): { instruments: Instruments; release: () => Promise<void> } {
  if (metrics != null && typeof metrics.instrument === 'function') {
    return { instruments: metrics as Instruments, release: async () => {} };
  }
  return acquireInstruments(registry ?? (metrics?.registry as Registry | undefined));
}

function resolveCheck(
  name: string,
  def: unknown,
  d: { checkTimeoutMs: number; critical: boolean; cacheMs: number },
): CheckSpec {
  const at = `checks.${name}`;
  if (typeof def === 'function') {
    return {
      name,
      fn: def as CheckFunction,
      timeoutMs: d.checkTimeoutMs,
      critical: d.critical,
      cacheMs: d.cacheMs,
      intervalMs: 0,
      liveness: false,
      dependency: false,
      componentType: undefined,
      close: undefined,
    };
  }
  const c = checkObject(at, def) as HealthCheck & Record<string, unknown>;
  checkKnownKeys(`${at}.`, c, CHECK_KEYS);
  const fn = checkFunction<CheckFunction>(`${at}.check`, c.check);
  if (!fn) throw new VigilOptionError(`${at}.check`, 'a function', c.check);
  const cacheMs = checkMs(`${at}.cacheMs`, c.cacheMs, 0);
  const intervalMs = checkMs(`${at}.intervalMs`, c.intervalMs, 1) ?? 0;
  if (intervalMs > 0 && cacheMs !== undefined && cacheMs > 0) {
    throw new VigilOptionError(
      `${at}.cacheMs`,
      'no cacheMs together with intervalMs (a background check already serves its last result)',
      cacheMs,
    );
  }
  const liveness = checkBoolean(`${at}.liveness`, c.liveness) ?? false;
  const dependency = checkBoolean(`${at}.dependency`, c.dependency) ?? false;
  if (liveness && dependency) {
    throw new VigilOptionError(
      `${at}.liveness`,
      'false for a dependency check (liveness failing on a dependency outage restarts every pod at once)',
      true,
    );
  }
  return {
    name,
    fn,
    timeoutMs: checkMs(`${at}.timeoutMs`, c.timeoutMs, 1) ?? d.checkTimeoutMs,
    critical: checkBoolean(`${at}.critical`, c.critical) ?? d.critical,
    cacheMs: intervalMs > 0 ? 0 : (cacheMs ?? d.cacheMs),
    intervalMs,
    liveness,
    dependency,
    componentType: checkString(`${at}.componentType`, c.componentType),
    close: checkFunction<() => void | Promise<void>>(`${at}.close`, c.close),
  };
}
