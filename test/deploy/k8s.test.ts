import { spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import * as catalog from '../../packages/catalog/dist/index.js';
import { HEALTH_DEFAULTS } from '../../packages/health/dist/index.js';
import type { Catalog } from '../../packages/mixin/src/alerts/config.js';
import { SHUTDOWN_DEFAULTS } from '../../packages/shutdown/dist/index.js';
import { waitFor } from '../../scripts/dashboards/harness.js';
import { haveTool } from '../helpers/env.js';
import { generateFiles, loadContext, REPO_LAYOUT } from '../helpers/mixin.js';
import {
  allKeys,
  byKind,
  containerPorts,
  defaultPort,
  isCustomResource,
  named,
  type Obj,
  ordersAttemptTimeoutMs,
  overlayDir,
  pods,
  referencedFiles,
  render,
  root,
  selects,
  serviceForHost,
  validateCore,
  yamlFiles,
} from './k8s-manifests.js';
import { type FakePod, startWithFakePods } from './k8s-prometheus.js';

// examples/k8s rendered with kustomize for every overlay, every core object validated against
// Kubernetes' schemas, the CRDs (Prometheus Operator, Istio) checked structurally, and the numbers
// that must agree with Vigil's code (probe paths and ports, drain, deadline, check timeout, retry
// layering) checked against the packages' own defaults.

const kubectl = haveTool('kubectl', ['version', '--client']);
const promtool = haveTool('promtool', ['--version']);
const prometheus = haveTool('prometheus', ['--version']);

const OVERLAYS = ['base', 'dev', 'prod', 'istio'] as const;
type Overlay = (typeof OVERLAYS)[number];
const SERVICES = ['users-service', 'catalog-service', 'orders-service'] as const;
const NAMESPACE = 'vigil';
/** Time between Vigil's deadline exit and SIGKILL, for the exit itself and span flushing. */
const MARGIN_MS = 2_000;
const INGRESS_PRINCIPAL = 'cluster.local/ns/ingress-nginx/sa/ingress-nginx';
/** Who may call whom inside the namespace (everything else is denied). */
const CALLERS: Record<string, string[]> = {
  'users-service': ['orders-service'],
  'catalog-service': ['orders-service'],
  'orders-service': [],
};
/** Mesh retry conditions where the request never reached the application. */
const PRE_REQUEST_FAILURES = new Set(['connect-failure', 'refused-stream', 'reset-before-request']);

function preStopSeconds(container: Obj): number {
  const h = container.lifecycle?.preStop;
  if (!h) return 0;
  if (h.sleep) return Number(h.sleep.seconds);
  const cmd: string[] = h.exec?.command ?? [];
  if (cmd[0] === 'sleep' && cmd.length === 2) return Number(cmd[1]);
  throw new Error(`unrecognised preStop hook: ${JSON.stringify(h)}`);
}

/** A container's environment from its ConfigMaps (envFrom) and literal env values. */
function env(objs: Obj[], container: Obj): Record<string, string> {
  const out: Record<string, string> = {};
  for (const f of container.envFrom ?? []) {
    if (f.configMapRef) Object.assign(out, named(objs, 'ConfigMap', f.configMapRef.name).data);
  }
  for (const e of container.env ?? []) if (typeof e.value === 'string') out[e.name] = e.value;
  return out;
}

const camel = (s: string) => s.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase());
function camelKeys(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(camelKeys);
  if (v && typeof v === 'object') {
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [camel(k), camelKeys(x)]));
  }
  return v;
}

const promK8sFile = join(root, 'examples/monitoring/prometheus-k8s.yml');
const promK8s = () => parseYaml(readFileSync(promK8sFile, 'utf8')) as Obj;
const podsJob = () => (promK8s().scrape_configs as Obj[]).find((j) => j.job_name === 'kubernetes-pods')!;
/** The operator's relabeling of the application's service label, as in prometheus-k8s.yml. */
const withAction = (rules: Obj[]) => rules.map((r) => ({ action: 'replace', ...r }));

describe('examples/k8s files', () => {
  it('every file a kustomization references exists, and every other YAML file is a template', () => {
    const referenced = new Set<string>();
    for (const o of OVERLAYS) for (const f of referencedFiles(overlayDir(o))) referenced.add(f);
    const unreferenced = yamlFiles().filter((f) => !referenced.has(f));
    expect(unreferenced.every((f) => f.endsWith('.example.yaml'))).toBe(true);
    expect(unreferenced.length).toBeGreaterThan(0);
  });

  it('prometheusrule.yaml is the generated wrapper of alert-rules/*.yaml', () => {
    const generated = generateFiles(loadContext(root, catalog as unknown as Catalog));
    expect(readFileSync(join(root, REPO_LAYOUT.prometheusRule), 'utf8')).toBe(
      generated.get(REPO_LAYOUT.prometheusRule),
    );
  });
});

describe.skipIf(!kubectl)('examples/k8s rendered with kubectl kustomize (needs kubectl)', () => {
  const rendered = new Map<Overlay, Obj[]>();
  beforeAll(() => {
    for (const o of OVERLAYS) rendered.set(o, render(overlayDir(o)));
  });
  const get = (o: Overlay) => rendered.get(o) as Obj[];

  describe.each(OVERLAYS)('%s', (overlay) => {
    it('every core object is valid for its Kubernetes schema; only known CRDs remain', async () => {
      const objs = get(overlay);
      expect(objs.length).toBeGreaterThan(20);
      for (const o of objs) {
        if (isCustomResource(o)) continue;
        await validateCore(o);
      }
      for (const o of objs) {
        expect(o.metadata?.name, `${o.kind} without a name`).toBeTruthy();
        if (o.kind !== 'Namespace') expect(o.metadata.namespace).toBe(NAMESPACE);
      }
    });

    it('applies no Secret, no circuitBreaker field, and pinned images', () => {
      const objs = get(overlay);
      expect(byKind(objs, 'Secret')).toEqual([]);
      expect(allKeys(objs).has('circuitBreaker')).toBe(false);
      for (const p of pods(objs)) {
        const image = p.spec.containers[0].image as string;
        expect(image).toMatch(new RegExp(`^ghcr\\.io/example/vigil-${p.name}:[\\w.-]+$`));
        expect(image).not.toMatch(/:latest$/);
      }
    });

    it('probes use Vigil paths on the http port, which is the PORT default of each service', () => {
      const objs = get(overlay);
      expect(
        pods(objs)
          .map((p) => p.name)
          .sort(),
      ).toEqual([...SERVICES].sort());
      for (const p of pods(objs)) {
        const c = p.spec.containers[0];
        const port = defaultPort(p.name);
        expect(containerPorts(p.spec).get('http'), p.name).toBe(port);
        expect(env(objs, c).PORT).toBe(String(port));
        const probes = { startupProbe: '/startup', livenessProbe: '/livez', readinessProbe: '/readyz' };
        for (const [probe, path] of Object.entries(probes)) {
          expect(c[probe]?.httpGet, `${p.name} ${probe}`).toEqual({ path, port: 'http' });
          // Vigil's checks time out after checkTimeoutMs: the probe must wait longer than that.
          expect(c[probe].timeoutSeconds * 1000).toBeGreaterThan(HEALTH_DEFAULTS.checkTimeoutMs);
        }
        const ann = objs.find((d) => d.kind === 'Deployment' && d.metadata.name === p.name)!.spec.template
          .metadata.annotations;
        expect(ann['prometheus.io/scrape']).toBe('true');
        expect(ann['prometheus.io/port']).toBe(String(port));
        expect(ann['prometheus.io/path']).toBe('/metrics');
      }
    });

    it('preStop, drain delay, deadline and terminationGracePeriodSeconds fit together', () => {
      const objs = get(overlay);
      for (const p of pods(objs)) {
        const c = p.spec.containers[0];
        const preStopMs = preStopSeconds(c) * 1000;
        const e = env(objs, c);
        const drainMs = Number(e.SHUTDOWN_DRAIN_DELAY_MS ?? SHUTDOWN_DEFAULTS.drainDelayMs);
        const graceMs = p.spec.terminationGracePeriodSeconds * 1000;
        // createShutdown refuses a deadline not above the drain delay.
        expect(drainMs).toBeLessThan(SHUTDOWN_DEFAULTS.deadlineMs);
        // Endpoints get at least Vigil's default window to stop sending before the listener closes.
        expect(preStopMs + drainMs).toBeGreaterThanOrEqual(SHUTDOWN_DEFAULTS.drainDelayMs);
        // SIGKILL never comes before Vigil's own deadline (which logs what was still pending).
        expect(graceMs).toBeGreaterThanOrEqual(preStopMs + SHUTDOWN_DEFAULTS.deadlineMs + MARGIN_MS);
        // A drain that takes all its time still leaves a hook its full timeout before the time kept
        // for the flush (tracing, loggers) at the end of the deadline.
        const d = SHUTDOWN_DEFAULTS;
        expect(drainMs + d.settleMaxMs + d.drainTimeoutMs + d.hookTimeoutMs).toBeLessThanOrEqual(
          d.deadlineMs - d.flushTimeoutMs,
        );
        // docs/deploy.md adds up the same numbers.
        const s = (ms: number) => String(ms / 1000);
        const hooks = d.deadlineMs - d.flushTimeoutMs - (drainMs + d.settleMaxMs + d.drainTimeoutMs);
        expect(readFileSync(join(root, 'docs', 'deploy.md'), 'utf8')).toContain(
          `${s(drainMs)} (drain) + ${s(d.settleMaxMs)} (settle) + ${s(d.drainTimeoutMs)} (in-flight) + ${s(hooks)} (hooks) + ${s(d.flushTimeoutMs)} (flush) = ${s(d.deadlineMs)} s`,
        );
      }
    });

    it('pods run non-root, read-only, without privileges, with requests and limits', () => {
      for (const p of pods(get(overlay))) {
        const psc = p.spec.securityContext;
        expect(psc).toMatchObject({
          runAsNonRoot: true,
          runAsUser: 1000,
          seccompProfile: { type: 'RuntimeDefault' },
        });
        const c = p.spec.containers[0];
        expect(c.securityContext).toMatchObject({
          allowPrivilegeEscalation: false,
          readOnlyRootFilesystem: true,
        });
        expect(c.securityContext.capabilities.drop).toContain('ALL');
        const tmp = c.volumeMounts.find((m: Obj) => m.mountPath === '/tmp');
        expect(p.spec.volumes.find((v: Obj) => v.name === tmp?.name)?.emptyDir).toBeDefined();
        for (const k of ['requests', 'limits'])
          expect(Object.keys(c.resources[k]).sort()).toEqual(['cpu', 'memory']);
      }
    });

    it('Services, autoscalers and disruption budgets point at what exists', () => {
      const objs = get(overlay);
      const all = pods(objs);
      for (const s of byKind(objs, 'Service')) {
        const matched = all.filter((p) => selects({ matchLabels: s.spec.selector }, p.labels));
        expect(matched.map((p) => p.name)).toEqual([s.metadata.name]);
        const ports = containerPorts(matched[0]!.spec);
        for (const sp of s.spec.ports)
          expect(ports.has(sp.targetPort), `${s.metadata.name} ${sp.name}`).toBe(true);
        const byName = Object.fromEntries(s.spec.ports.map((sp: Obj) => [sp.name, sp.targetPort]));
        // The "metrics" name finds the port the service serves /metrics on (the http port).
        expect(byName).toMatchObject({ http: 'http', metrics: 'http' });
      }
      const hpas = byKind(objs, 'HorizontalPodAutoscaler');
      for (const h of hpas) {
        const d = named(objs, 'Deployment', h.spec.scaleTargetRef.name);
        expect(h.spec.scaleTargetRef.kind).toBe('Deployment');
        // A replicas field would reset the autoscaler's count on every apply.
        expect(d.spec.replicas).toBeUndefined();
        expect(h.spec.minReplicas).toBeLessThanOrEqual(h.spec.maxReplicas);
      }
      for (const b of byKind(objs, 'PodDisruptionBudget')) {
        const matched = all.filter((p) => selects(b.spec.selector, p.labels));
        expect(matched.map((p) => p.name)).toEqual([b.metadata.name]);
        const hpa = hpas.find((h) => h.spec.scaleTargetRef.name === b.metadata.name);
        const minPods = hpa ? hpa.spec.minReplicas : named(objs, 'Deployment', b.metadata.name).spec.replicas;
        // A budget that allows no eviction at the minimum size blocks node drains forever.
        if (b.spec.minAvailable !== undefined) expect(b.spec.minAvailable).toBeLessThan(minPods);
        else expect(b.spec.maxUnavailable).toBeGreaterThanOrEqual(1);
      }
    });

    it('NetworkPolicies: default deny, DNS, and only the real paths between services', () => {
      const objs = get(overlay);
      const all = pods(objs);
      const policies = byKind(objs, 'NetworkPolicy');
      const deny = policies.find(
        (n) => Object.keys(n.spec.podSelector).length === 0 && !n.spec.ingress && !n.spec.egress,
      );
      expect(deny?.spec.policyTypes).toEqual(['Ingress', 'Egress']);
      const dns = policies
        .flatMap((n) => n.spec.egress ?? [])
        .filter((r: Obj) => r.ports?.some((p: Obj) => p.port === 53));
      expect(dns.flatMap((r: Obj) => r.ports.map((p: Obj) => p.protocol)).sort()).toEqual(['TCP', 'UDP']);

      for (const n of policies) {
        const selected = all.filter((p) => selects(n.spec.podSelector, p.labels));
        expect(selected.length, `${n.metadata.name} selects no pod`).toBeGreaterThan(0);
        for (const [dir, key] of [
          ['ingress', 'from'],
          ['egress', 'to'],
        ] as const) {
          for (const rule of n.spec[dir] ?? []) {
            for (const peer of rule[key] ?? []) {
              if (peer.namespaceSelector) {
                // Other namespaces by name, never "any namespace".
                expect(peer.namespaceSelector.matchLabels?.['kubernetes.io/metadata.name']).toBeTruthy();
                continue;
              }
              const peers = all.filter((p) => selects(peer.podSelector, p.labels));
              expect(peers.length, `${n.metadata.name}: a ${dir} peer matches no pod`).toBeGreaterThan(0);
            }
            // Named ports resolve on the pods that receive the traffic.
            const receivers =
              dir === 'ingress'
                ? selected
                : all.filter((p) =>
                    (rule.to ?? []).some(
                      (peer: Obj) => !peer.namespaceSelector && selects(peer.podSelector, p.labels),
                    ),
                  );
            for (const port of rule.ports ?? []) {
              if (typeof port.port !== 'string') continue;
              for (const r of receivers)
                expect(containerPorts(r.spec).has(port.port), `${n.metadata.name} ${port.port}`).toBe(true);
            }
          }
        }
      }

      // Within the namespace: src may reach dst when an egress rule of src and an ingress rule of
      // dst both allow it.
      // A rule without peers allows every peer.
      const allows = (dir: 'ingress' | 'egress', self: (typeof all)[number], other: (typeof all)[number]) =>
        policies
          .filter((n) => selects(n.spec.podSelector, self.labels))
          .some((n) =>
            (n.spec[dir] ?? []).some((r: Obj) => {
              const peers: Obj[] = r[dir === 'ingress' ? 'from' : 'to'] ?? [];
              return (
                peers.length === 0 ||
                peers.some((peer) => !peer.namespaceSelector && selects(peer.podSelector, other.labels))
              );
            }),
          );
      for (const src of all) {
        for (const dst of all) {
          if (src === dst) continue;
          const reach = allows('egress', src, dst) && allows('ingress', dst, src);
          expect(reach, `${src.name} -> ${dst.name}`).toBe((CALLERS[dst.name] ?? []).includes(src.name));
        }
      }
      // And out of it: every service to PostgreSQL and the collector, catalog to Redis.
      const egressPorts = (p: (typeof all)[number]) =>
        policies
          .filter((n) => selects(n.spec.podSelector, p.labels))
          .flatMap((n) => n.spec.egress ?? [])
          .flatMap((r: Obj) => (r.ports ?? []).map((x: Obj) => x.port));
      for (const p of all) expect(egressPorts(p)).toEqual(expect.arrayContaining([5432, 4318, 53]));
      expect(egressPorts(all.find((p) => p.name === 'catalog-service')!)).toContain(6379);
      expect(egressPorts(all.find((p) => p.name === 'users-service')!)).not.toContain(6379);
    });

    it('the PrometheusRule holds exactly the groups of alert-rules/*.yaml', () => {
      const rule = named(get(overlay), 'PrometheusRule', 'vigil-rules');
      const files = readdirSync(join(root, 'alert-rules'))
        .filter((f) => f.endsWith('.yaml'))
        .sort();
      const groups = files.flatMap(
        (f) => parseYaml(readFileSync(join(root, 'alert-rules', f), 'utf8')).groups,
      );
      expect(groups.length).toBeGreaterThan(5);
      expect(rule.spec.groups).toEqual(groups);
    });

    it('ServiceMonitors and PodMonitors select the services and label them like prometheus-k8s.yml', () => {
      const objs = get(overlay);
      const monitors = [...byKind(objs, 'ServiceMonitor'), ...byKind(objs, 'PodMonitor')];
      // The mesh overlay scrapes Istio's merged metrics per pod; the others each Service.
      expect(monitors.map((m) => m.kind).sort()).toEqual(
        overlay === 'istio' ? ['PodMonitor'] : ['ServiceMonitor', 'ServiceMonitor', 'ServiceMonitor'],
      );
      const expected = withAction(camelKeys(podsJob().metric_relabel_configs) as Obj[]);
      for (const m of byKind(objs, 'ServiceMonitor')) {
        const svc = byKind(objs, 'Service').filter((s) => selects(m.spec.selector, s.metadata.labels));
        expect(svc.map((s) => s.metadata.name)).toEqual([m.metadata.name]);
        expect(svc[0]!.metadata.labels[m.spec.jobLabel]).toBe(m.metadata.name);
        for (const ep of m.spec.endpoints) {
          expect(svc[0]!.spec.ports.map((p: Obj) => p.name)).toContain(ep.port);
          expect(ep.path).toBe('/metrics');
          expect(ep.metricRelabelings).toEqual(expected);
        }
      }
      for (const m of byKind(objs, 'PodMonitor')) {
        expect(pods(objs).filter((p) => selects(m.spec.selector, p.labels))).toHaveLength(SERVICES.length);
        for (const ep of m.spec.podMetricsEndpoints) expect(ep.metricRelabelings).toEqual(expected);
      }
    });
  });

  it('dev: one replica each, debug logs, no autoscaler', () => {
    const objs = get('dev');
    expect(byKind(objs, 'HorizontalPodAutoscaler')).toEqual([]);
    for (const d of byKind(objs, 'Deployment')) expect(d.spec.replicas).toBe(1);
    for (const c of byKind(objs, 'ConfigMap')) expect(c.data.LOG_LEVEL).toBe('debug');
  });

  it.each(['prod', 'istio'] as const)('%s: TLS Ingress with rate limits routes only the APIs', (overlay) => {
    const objs = get(overlay);
    const ingresses = byKind(objs, 'Ingress');
    expect(ingresses.length).toBe(SERVICES.length);
    const routed: string[] = [];
    for (const ing of ingresses) {
      expect(ing.spec.ingressClassName).toBe('nginx');
      const tlsHosts = ing.spec.tls.flatMap((t: Obj) => {
        expect(t.secretName).toBeTruthy();
        return t.hosts;
      });
      const a = ing.metadata.annotations;
      expect(Number(a['nginx.ingress.kubernetes.io/limit-rps'])).toBeGreaterThan(0);
      // The reference article's "rate-limit" annotation does not exist in ingress-nginx.
      expect(Object.keys(a).filter((k) => /\/rate-limit/.test(k))).toEqual([]);
      for (const rule of ing.spec.rules) {
        expect(tlsHosts).toContain(rule.host);
        for (const path of rule.http.paths) {
          expect(['Prefix', 'Exact']).toContain(path.pathType);
          // Regular expressions need ImplementationSpecific; Prefix paths are literal path elements.
          expect(path.path).toMatch(/^\/[A-Za-z0-9/_-]*$/);
          const svc = named(objs, 'Service', path.backend.service.name);
          expect(svc.spec.ports.map((p: Obj) => p.name)).toContain(path.backend.service.port.name);
          routed.push(path.path);
        }
      }
    }
    expect(routed.sort()).toEqual(['/orders', '/products', '/users']);
    for (const h of byKind(objs, 'HorizontalPodAutoscaler'))
      expect(h.spec.minReplicas).toBeGreaterThanOrEqual(3);
    for (const b of byKind(objs, 'PodDisruptionBudget'))
      expect(b.spec.minAvailable).toBeGreaterThanOrEqual(2);
  });

  describe('istio', () => {
    const objs = () => get('istio');

    it('enables injection, STRICT mTLS namespace-wide, routes ingress-nginx through its sidecar', () => {
      expect(named(objs(), 'Namespace', NAMESPACE).metadata.labels['istio-injection']).toBe('enabled');
      const pa = byKind(objs(), 'PeerAuthentication');
      expect(pa).toHaveLength(1);
      expect(pa[0]!.spec.selector).toBeUndefined();
      expect(pa[0]!.spec.mtls.mode).toBe('STRICT');
      for (const ing of byKind(objs(), 'Ingress')) {
        const a = ing.metadata.annotations;
        const backend = ing.spec.rules[0].http.paths[0].backend.service.name;
        expect(a['nginx.ingress.kubernetes.io/service-upstream']).toBe('true');
        expect(a['nginx.ingress.kubernetes.io/upstream-vhost']).toBe(
          `${backend}.${NAMESPACE}.svc.cluster.local`,
        );
      }
    });

    it('DestinationRules and VirtualServices refer to Services and ports that exist', () => {
      const drs = byKind(objs(), 'DestinationRule');
      const vss = byKind(objs(), 'VirtualService');
      expect(drs.map((d) => d.spec.host).sort()).toEqual([...SERVICES].sort());
      for (const dr of drs) {
        expect(serviceForHost(objs(), dr.spec.host, NAMESPACE), dr.spec.host).toBeDefined();
        expect(dr.spec.trafficPolicy.connectionPool.tcp.maxConnections).toBeGreaterThan(0);
        expect(dr.spec.trafficPolicy.outlierDetection.baseEjectionTime).toBeTruthy();
        expect(dr.spec.trafficPolicy.outlierDetection.maxEjectionPercent).toBeLessThanOrEqual(50);
      }
      for (const vs of vss) {
        for (const host of vs.spec.hosts) expect(serviceForHost(objs(), host, NAMESPACE), host).toBeDefined();
        for (const route of vs.spec.http) {
          expect(route.timeout).toMatch(/^\d+s$/);
          expect(route.retries).toBeDefined();
          for (const { destination } of route.route) {
            const svc = serviceForHost(objs(), destination.host, NAMESPACE);
            expect(svc?.spec.ports.map((p: Obj) => p.port)).toContain(destination.port.number);
          }
        }
      }
    });

    it('retries happen in one layer: never in the mesh on routes orders calls through Vigil', () => {
      const orders = named(objs(), 'Deployment', 'orders-service').spec.template.spec.containers[0];
      const e = env(objs(), orders);
      const calledByVigil = [e.USERS_URL, e.CATALOG_URL].map((u) => new URL(u as string).hostname);
      expect(calledByVigil.sort()).toEqual(['catalog-service', 'users-service']);
      for (const vs of byKind(objs(), 'VirtualService')) {
        for (const route of vs.spec.http) {
          const host = route.route[0].destination.host as string;
          const seconds = Number.parseInt(route.timeout, 10);
          if (calledByVigil.includes(host)) {
            expect(route.retries.attempts, host).toBe(0);
            // Vigil's per-attempt timeout fires first, so its breaker counts a timeout.
            expect(seconds * 1000).toBeGreaterThan(ordersAttemptTimeoutMs());
          } else if (route.retries.attempts > 0) {
            // Only failures where the request never reached the app: nothing downstream repeats.
            for (const cond of String(route.retries.retryOn).split(','))
              expect(PRE_REQUEST_FAILURES).toContain(cond);
          }
        }
      }
    });

    it('AuthorizationPolicies allow each service only its real callers', () => {
      const accounts = new Set(pods(objs()).map((p) => p.spec.serviceAccountName));
      const policies = byKind(objs(), 'AuthorizationPolicy');
      expect(policies).toHaveLength(SERVICES.length);
      for (const ap of policies) {
        const target = pods(objs()).filter((p) => selects(ap.spec.selector, p.labels));
        expect(target).toHaveLength(1);
        expect(ap.spec.action).toBe('ALLOW');
        const principals: string[] = ap.spec.rules.flatMap((r: Obj) =>
          r.from.flatMap((f: Obj) => f.source.principals),
        );
        const local = principals
          .map((p) => /^cluster\.local\/ns\/([^/]+)\/sa\/([^/]+)$/.exec(p))
          .filter((m) => m?.[1] === NAMESPACE)
          .map((m) => m![2] as string);
        for (const sa of local) expect(accounts).toContain(sa);
        expect(local.sort()).toEqual(CALLERS[target[0]!.name]);
        expect(principals).toContain(INGRESS_PRINCIPAL);
      }
    });
  });
});

describe.skipIf(!promtool)('examples/monitoring/prometheus-k8s.yml (needs promtool)', () => {
  it('is a valid config whose rule files are the repository alert rules', () => {
    const dir = mkdtempSync(join(tmpdir(), 'vigil-k8s-promtool-'));
    try {
      const text = readFileSync(promK8sFile, 'utf8');
      expect(promK8s().rule_files).toEqual(['/etc/prometheus/rules/*.yaml']);
      const local = text.replace('/etc/prometheus/rules/*.yaml', join(root, 'alert-rules/*.yaml'));
      const file = join(dir, 'prometheus.yml');
      writeFileSync(file, local);
      let r = spawnSync('promtool', ['check', 'config', file], { encoding: 'utf8' });
      if (r.status !== 0 && /field kubernetes_sd_configs not found/.test(r.stderr + r.stdout)) {
        // Debian's and Ubuntu's promtool are built without Kubernetes discovery: check the rest
        // with static discovery, and the discovery block itself here.
        expect(podsJob().kubernetes_sd_configs).toEqual([{ role: 'pod' }]);
        writeFileSync(
          file,
          local.replace(/kubernetes_sd_configs:\n\s+- role: pod\n/, 'static_configs: []\n'),
        );
        r = spawnSync('promtool', ['check', 'config', file], { encoding: 'utf8' });
      }
      expect(r.status, r.stdout + r.stderr).toBe(0);
      // Every rule file of alert-rules/, whatever their number.
      const ruleFiles = readdirSync(join(root, 'alert-rules')).filter((f) => f.endsWith('.yaml')).length;
      expect(r.stdout).toMatch(new RegExp(`SUCCESS: ${ruleFiles} rule files found`));
      expect(promK8s().alerting.alertmanagers[0].static_configs[0].targets).toHaveLength(1);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe.skipIf(!prometheus)('prometheus-k8s.yml relabeling in a real Prometheus (needs prometheus)', () => {
  let prom: Awaited<ReturnType<typeof startWithFakePods>> | undefined;
  const servers: Server[] = [];
  const ports: number[] = [];

  /** A stand-in /metrics endpoint whose series carry (or lack) the application's service label. */
  async function metricsServer(body: string): Promise<number> {
    const s = createServer((req, res) => {
      res.setHeader('content-type', 'text/plain; version=0.0.4');
      res.end(req.url === '/metrics' ? body : '');
    });
    s.listen(0, '127.0.0.1');
    await once(s, 'listening');
    servers.push(s);
    return (s.address() as AddressInfo).port;
  }

  const pod = (name: string, app: string, extra: Record<string, string>, address: string): FakePod => ({
    address,
    meta: {
      __meta_kubernetes_namespace: NAMESPACE,
      __meta_kubernetes_pod_name: name,
      __meta_kubernetes_pod_ip: '127.0.0.1',
      __meta_kubernetes_pod_phase: 'Running',
      __meta_kubernetes_pod_label_app_kubernetes_io_name: app,
      __meta_kubernetes_pod_container_port_name: 'http',
      ...extra,
    },
  });

  beforeAll(async () => {
    const users = await metricsServer('http_requests_total{service="users-service",route="/users/:id"} 3\n');
    // An app that names itself differently from its pod label, exposing a port named "metrics".
    const other = await metricsServer('http_requests_total{service="catalog-service",route="/x"} 1\n');
    ports.push(users, other);
    const annotated = {
      __meta_kubernetes_pod_annotation_prometheus_io_scrape: 'true',
      __meta_kubernetes_pod_annotation_prometheus_io_port: String(users),
      __meta_kubernetes_pod_annotation_prometheus_io_path: '/metrics',
    };
    prom = await startWithFakePods(podsJob(), [
      // The pod role gives one target per container port; the annotation picks the port.
      pod('users-service-7d9f-abcde', 'users-service', annotated, '10.1.2.3:3001'),
      pod(
        'legacy-5c4b-fghij',
        'legacy',
        { __meta_kubernetes_pod_container_port_name: 'metrics' },
        `127.0.0.1:${other}`,
      ),
      pod('unannotated-1', 'unannotated', {}, '127.0.0.1:1'),
      pod(
        'finished-job-1',
        'users-service',
        { ...annotated, __meta_kubernetes_pod_phase: 'Succeeded' },
        '127.0.0.1:2',
      ),
    ]);
  });

  afterAll(async () => {
    await prom?.stop();
    for (const s of servers) s.close();
  });

  it('keeps annotated pods and "metrics" ports, labels them job/service/namespace/pod', async () => {
    const p = prom!;
    type Targets = { activeTargets: { labels: Record<string, string>; scrapeUrl: string }[] };
    const targets = await waitFor('two active targets', async () => {
      const t = await p.api<Targets>('/api/v1/targets', { state: 'active' });
      return t.activeTargets.length === 2 ? t.activeTargets : undefined;
    });
    const labels = targets.map((t) => t.labels).sort((a, b) => String(a.job).localeCompare(String(b.job)));
    expect(labels).toEqual([
      {
        job: 'legacy',
        service: 'legacy',
        namespace: NAMESPACE,
        pod: 'legacy-5c4b-fghij',
        instance: `127.0.0.1:${ports[1]}`,
      },
      {
        job: 'users-service',
        service: 'users-service',
        namespace: NAMESPACE,
        pod: 'users-service-7d9f-abcde',
        instance: `127.0.0.1:${ports[0]}`,
      },
    ]);
    expect(targets.map((t) => t.scrapeUrl).sort()).toEqual(
      [`http://127.0.0.1:${ports[1]}/metrics`, `http://127.0.0.1:${ports[0]}/metrics`].sort(),
    );
  });

  it('keeps the service label the application gives itself, without exported_service', async () => {
    const p = prom!;
    type Sample = { metric: Record<string, string> };
    const series = await waitFor('both targets scraped', async () => {
      const r = await p.api<{ result: Sample[] }>('/api/v1/query', { query: 'http_requests_total' });
      return r.result.length === 2 ? r.result.map((s) => s.metric) : undefined;
    });
    const byJob = Object.fromEntries(series.map((m) => [m.job, m]));
    expect(byJob['users-service']).toMatchObject({
      service: 'users-service',
      pod: 'users-service-7d9f-abcde',
    });
    expect(byJob.legacy).toMatchObject({ service: 'catalog-service', namespace: NAMESPACE });
    for (const m of series) expect(m.exported_service).toBeUndefined();
    // The dashboards' variables: label_values(..., job) then service then instance.
    const services = await p.api<string[]>('/api/v1/label/service/values', {
      'match[]': 'http_requests_total',
    });
    expect(services.sort()).toEqual(['catalog-service', 'users-service']);
  });
});
