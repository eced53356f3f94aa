import { type ChildProcess, execFileSync, spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import {
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { basename, dirname, join, posix, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { SHUTDOWN_DEFAULTS } from '../../packages/shutdown/dist/index.js';
import { haveTool } from '../helpers/env.js';
import { EXAMPLE_SERVICES, readDockerfile } from './dockerfile.js';

// examples/docker-compose.yml and examples/monitoring/*, checked offline: the compose file parses
// and validates, everything it mounts or builds exists, ports and paths agree with the services,
// Prometheus, Alertmanager and Grafana configs are valid and agree with alert-rules/ and
// dashboards/, and Alertmanager's routing and inhibition work on a real Alertmanager.

const root = join(import.meta.dirname, '..', '..');
const examples = join(root, 'examples');
const monitoring = join(examples, 'monitoring');
const composeFile = join(examples, 'docker-compose.yml');
const readYaml = (path: string) => parse(readFileSync(path, 'utf8'), { merge: true });

interface ComposeService {
  image?: string;
  build?: { context: string; dockerfile: string };
  command?: string[];
  environment?: Record<string, string>;
  ports?: string[];
  volumes?: string[];
  depends_on?: Record<string, { condition: string }>;
  healthcheck?: { test: string[] };
  stop_grace_period?: string;
}
const compose = readYaml(composeFile) as { services: Record<string, ComposeService>; [k: string]: unknown };
const services = compose.services;
const svc = (name: string) => {
  const s = services[name];
  if (!s) throw new Error(`no service ${name} in docker-compose.yml`);
  return s;
};

/** Bind mounts of a service as [host path, container path]. */
const binds = (s: ComposeService) =>
  (s.volumes ?? [])
    .map((v) => v.split(':'))
    .filter(([src]) => src?.startsWith('.') || src?.startsWith('/'))
    .map(([src, dst]) => [resolve(examples, src as string), dst as string] as const);
const mountOf = (s: ComposeService, hostPath: string) => binds(s).find(([src]) => src === hostPath)?.[1];
const seconds = (d: string) => {
  const m = /^(\d+)(ms|s|m)$/.exec(d);
  if (!m) throw new Error(`unsupported duration ${d}`);
  return Number(m[1]) * { ms: 0.001, s: 1, m: 60 }[m[2] as 'ms' | 's' | 'm'];
};

const ruleFiles = readdirSync(join(root, 'alert-rules')).filter((f) => f.endsWith('.yaml'));
interface AlertRule {
  alert?: string;
  expr: string;
  labels?: Record<string, string>;
}
const alertRules: AlertRule[] = ruleFiles.flatMap((f) =>
  (readYaml(join(root, 'alert-rules', f)) as { groups: { rules: AlertRule[] }[] }).groups
    .flatMap((g) => g.rules)
    .filter((r) => r.alert),
);

describe('examples/docker-compose.yml', () => {
  it('has no obsolete top-level version and validates with docker-compose', () => {
    expect(compose).not.toHaveProperty('version');
    if (!haveTool('docker-compose', ['version'])) return;
    const out = execFileSync('docker-compose', ['-f', composeFile, 'config'], { encoding: 'utf8' });
    const resolved = parse(out) as { services: Record<string, ComposeService> };
    expect(Object.keys(resolved.services).sort()).toEqual(Object.keys(services).sort());
    // The merged anchors reach every service.
    for (const name of Object.keys(EXAMPLE_SERVICES)) {
      expect(resolved.services[name]?.stop_grace_period).toBe(svc(name).stop_grace_period);
    }
  });

  it('pins every image to an exact version', () => {
    for (const [name, s] of Object.entries(services)) {
      if (s.build) continue;
      const tag = /:([^:@/]+)(@sha256:[0-9a-f]{64})?$/.exec(s.image ?? '')?.[1];
      expect(tag, `${name}: ${s.image}`).toMatch(/^v?\d+\.\d+(\.\d+)?(-[\w.]+)?$/);
    }
  });

  it('mounts and builds only files that exist', () => {
    for (const [name, s] of Object.entries(services)) {
      for (const [src] of binds(s)) expect(existsSync(src), `${name} mounts ${src}`).toBe(true);
      if (s.build) {
        const context = resolve(examples, s.build.context);
        expect(context).toBe(root);
        expect(existsSync(join(context, s.build.dockerfile)), `${name} dockerfile`).toBe(true);
      }
    }
  });

  it('publishes ports on the loopback interface only', () => {
    for (const [name, s] of Object.entries(services)) {
      for (const p of s.ports ?? []) expect(p, name).toMatch(/^127\.0\.0\.1:\d+:\d+$/);
    }
  });

  it('waits for health only where a healthcheck exists, and only for services that exist', () => {
    for (const [name, s] of Object.entries(services)) {
      for (const [dep, { condition }] of Object.entries(s.depends_on ?? {})) {
        const target = svc(dep);
        expect(['service_started', 'service_healthy']).toContain(condition);
        if (condition !== 'service_healthy') continue;
        const imageHealthcheck =
          target.build &&
          readDockerfile(join(root, target.build.dockerfile))
            .stages.at(-1)
            ?.instructions.some((i) => i.cmd === 'HEALTHCHECK');
        expect(Boolean(target.healthcheck || imageHealthcheck), `${name} waits for ${dep}`).toBe(true);
      }
    }
  });

  describe.each(Object.entries(EXAMPLE_SERVICES))('%s', (name, port) => {
    const s = svc(name);
    const env = s.environment ?? {};

    it('is built from its Dockerfile and listens on its default port', () => {
      expect(s.build?.dockerfile).toBe(`examples/${name}/Dockerfile`);
      expect(env.PORT).toBe(String(port));
      expect(s.ports).toEqual([`127.0.0.1:${port}:${port}`]);
      // The default in the service's own code agrees with the contract.
      const server = readFileSync(join(examples, name, 'src', 'server.ts'), 'utf8');
      expect(server).toMatch(new RegExp(`PORT \\?\\? '?${port}'?\\)`));
    });

    it('reaches PostgreSQL, the collector and (catalog) Redis on services of this file', () => {
      const db = new URL(env.DATABASE_URL as string);
      expect(db.hostname).toBe('postgres');
      expect(s.depends_on?.postgres?.condition).toBe('service_healthy');
      const init = readFileSync(join(monitoring, 'postgres', 'init.sql'), 'utf8');
      const postgres = svc('postgres').environment ?? {};
      expect(db.username).toBe(postgres.POSTGRES_USER);
      expect(db.password).toBe(postgres.POSTGRES_PASSWORD);
      expect(init).toMatch(new RegExp(`CREATE DATABASE ${db.pathname.slice(1)};`));
      expect(mountOf(svc('postgres'), join(monitoring, 'postgres', 'init.sql'))).toMatch(
        /^\/docker-entrypoint-initdb\.d\//,
      );

      const otlp = new URL(env.OTEL_EXPORTER_OTLP_ENDPOINT as string);
      expect(otlp.hostname).toBe('otel-collector');
      const collector = readYaml(join(monitoring, 'otel-collector.yaml'));
      expect(collector.receivers.otlp.protocols.http.endpoint).toBe(`0.0.0.0:${otlp.port}`);
      expect(env.OTEL_SERVICE_NAME).toBe(name);

      if (name === 'catalog-service') {
        const redis = new URL(env.REDIS_URL as string);
        expect(redis.hostname).toBe('redis');
        expect(s.depends_on?.redis?.condition).toBe('service_healthy');
      }
    });

    it('gets longer than the shutdown deadline to stop, and drains within it', () => {
      expect(seconds(s.stop_grace_period as string)).toBeGreaterThan(SHUTDOWN_DEFAULTS.deadlineMs / 1000);
      expect(Number(env.SHUTDOWN_DRAIN_DELAY_MS)).toBe(SHUTDOWN_DEFAULTS.drainDelayMs);
      expect(Number(env.SHUTDOWN_DRAIN_DELAY_MS)).toBeLessThan(SHUTDOWN_DEFAULTS.deadlineMs);
    });
  });

  it('points orders-service at the other two services on their ports', () => {
    const env = svc('orders-service').environment ?? {};
    expect(env.USERS_URL).toBe(`http://users-service:${EXAMPLE_SERVICES['users-service']}`);
    expect(env.CATALOG_URL).toBe(`http://catalog-service:${EXAMPLE_SERVICES['catalog-service']}`);
    const deps = svc('orders-service').depends_on ?? {};
    expect(deps['users-service']?.condition).toBe('service_healthy');
    expect(deps['catalog-service']?.condition).toBe('service_healthy');
  });
});

describe('examples/monitoring/prometheus.yml', () => {
  const config = readYaml(join(monitoring, 'prometheus.yml'));
  const prometheus = svc('prometheus');

  it('scrapes each service under its own job at its compose address', () => {
    for (const [name, port] of Object.entries(EXAMPLE_SERVICES)) {
      const job = config.scrape_configs.find((j: { job_name: string }) => j.job_name === name);
      expect(job?.static_configs?.[0]?.targets).toEqual([`${name}:${port}`]);
      expect(job.metrics_path ?? '/metrics').toBe('/metrics');
    }
    const [am] = config.alerting.alertmanagers[0].static_configs[0].targets as string[];
    expect(am).toBe('alertmanager:9093');
    expect(svc('alertmanager').ports).toContain('127.0.0.1:9093:9093');
  });

  it('finds the alert rules in the container where compose mounts them', () => {
    const configPath = mountOf(prometheus, join(monitoring, 'prometheus.yml'));
    const rulesPath = mountOf(prometheus, join(root, 'alert-rules'));
    expect(prometheus.command).toContain(`--config.file=${configPath}`);
    for (const pattern of config.rule_files as string[]) {
      // Relative to the config file: promtool resolves it the same way (next test).
      expect(pattern.startsWith('/')).toBe(false);
      const inContainer = posix.join(posix.dirname(configPath as string), pattern);
      expect(posix.dirname(inContainer)).toBe(rulesPath);
      expect(basename(pattern)).toBe('*.yaml');
    }
  });

  // rule_files is relative to the config file, and compose mounts alert-rules/ as `rules` beside
  // it. A copy of the config next to a `rules` link to alert-rules/ reproduces that layout, so
  // promtool checks the config together with every rule file the container would load.
  it('passes promtool check config with all the rule files loaded', () => {
    if (!haveTool('promtool', ['--version'])) return;
    const dir = mkdtempSync(join(tmpdir(), 'vigil-compose-prom-'));
    try {
      writeFileSync(join(dir, 'prometheus.yml'), readFileSync(join(monitoring, 'prometheus.yml')));
      symlinkSync(join(root, 'alert-rules'), join(dir, 'rules'));
      const res = spawnSync('promtool', ['check', 'config', join(dir, 'prometheus.yml')], {
        encoding: 'utf8',
      });
      const output = res.stdout + res.stderr;
      expect(res.status, output).toBe(0);
      expect(output).toContain(`SUCCESS: ${ruleFiles.length} rule files found`);
      expect(output).not.toMatch(/FAILED/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('examples/monitoring/alertmanager.yml', () => {
  const amFile = join(monitoring, 'alertmanager.yml');

  it('passes amtool check-config and is what compose mounts', () => {
    expect(mountOf(svc('alertmanager'), amFile)).toBe('/etc/alertmanager/alertmanager.yml');
    expect(svc('alertmanager').command).toContain('--config.file=/etc/alertmanager/alertmanager.yml');
    if (!haveTool('amtool', ['--version'])) return;
    const res = spawnSync('amtool', ['check-config', amFile], { encoding: 'utf8' });
    expect(res.status, res.stdout + res.stderr).toBe(0);
  });

  it('routes every alert rule by its severity: critical pages, warning opens a ticket', () => {
    const severities = new Set(alertRules.map((r) => r.labels?.severity));
    expect([...severities].sort()).toEqual(['critical', 'warning']);
    if (!haveTool('amtool', ['--version'])) return;
    const expected = { critical: 'page', warning: 'ticket' } as Record<string, string>;
    for (const rule of alertRules) {
      const labels = Object.entries({ alertname: rule.alert, ...rule.labels }).map(([k, v]) => `${k}=${v}`);
      const out = execFileSync('amtool', ['config', 'routes', 'test', `--config.file=${amFile}`, ...labels], {
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'ignore'],
      }).trim();
      expect(out, `${rule.alert} ${labels.join(' ')}`).toBe(expected[rule.labels?.severity as string]);
    }
  });

  describe('on a real Alertmanager', () => {
    let am: ChildProcess | undefined;
    let base = '';
    let dir = '';

    beforeAll(async () => {
      if (!haveTool('prometheus-alertmanager', ['--version'])) return;
      const port = await freePort();
      dir = mkdtempSync(join(tmpdir(), 'vigil-compose-am-'));
      am = spawn(
        'prometheus-alertmanager',
        [
          `--config.file=${amFile}`,
          `--storage.path=${dir}`,
          `--web.listen-address=127.0.0.1:${port}`,
          '--cluster.listen-address=', // no gossip port
        ],
        { stdio: 'ignore' },
      );
      base = `http://127.0.0.1:${port}`;
      await until(async () => (await fetch(`${base}/-/ready`).catch(() => undefined))?.ok === true);
    });
    afterAll(async () => {
      if (am && am.exitCode === null) {
        const exited = once(am, 'exit');
        am.kill('SIGTERM');
        await exited;
      }
      if (dir) rmSync(dir, { recursive: true, force: true });
    });

    // The labels an SLO burn-rate alert fires with: its own labels, plus job and service (the
    // recording rules aggregate `by (job, service)`) and slo (from the recording rule it selects).
    const burnAlerts = (alertname: string, service: string): { labels: Record<string, string> }[] =>
      alertRules
        .filter((r) => r.alert === alertname)
        .map((r) => ({
          labels: {
            alertname,
            ...r.labels,
            job: service,
            service,
            slo: /slo="(\w+)"/.exec(r.expr)?.[1] as string,
          },
        }));

    it('inhibits the ticket tier of a burn-rate alert while its page tier fires, for the same SLO only', async () => {
      if (!am) return;
      const alertname = 'AvailabilityBudgetBurn';
      // orders-service burns fast and slow (both tiers fire); users-service only slowly.
      const posted = [
        ...burnAlerts(alertname, 'orders-service'),
        ...burnAlerts(alertname, 'users-service').filter((a) => a.labels.burn_rate_tier === 'ticket'),
      ];
      expect(posted.length).toBe(3);
      expect(posted.every((a) => a.labels.slo === 'availability')).toBe(true);
      const res = await fetch(`${base}/api/v2/alerts`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(posted),
      });
      expect(res.status).toBe(200);

      type Alert = {
        labels: Record<string, string>;
        status: { state: string; inhibitedBy: string[] };
        receivers: { name: string }[];
      };
      const find = (alerts: Alert[], service: string, tier: string) =>
        alerts.find((a) => a.labels.service === service && a.labels.burn_rate_tier === tier);
      let alerts: Alert[] = [];
      await until(async () => {
        alerts = (await (await fetch(`${base}/api/v2/alerts`)).json()) as Alert[];
        return find(alerts, 'orders-service', 'ticket')?.status.state === 'suppressed';
      });
      expect(find(alerts, 'orders-service', 'ticket')?.status.inhibitedBy.length).toBe(1);
      expect(find(alerts, 'orders-service', 'page')?.status.state).toBe('active');
      expect(find(alerts, 'users-service', 'ticket')?.status.state).toBe('active');
      expect(find(alerts, 'orders-service', 'page')?.receivers.map((r) => r.name)).toEqual(['page']);
      expect(find(alerts, 'users-service', 'ticket')?.receivers.map((r) => r.name)).toEqual(['ticket']);
    });
  });
});

describe('examples/monitoring/grafana', () => {
  const provisioning = join(monitoring, 'grafana', 'provisioning');
  const grafana = svc('grafana');
  const { datasources } = readYaml(join(provisioning, 'datasources', 'datasources.yaml')) as {
    datasources: { uid: string; type: string; url: string; isDefault?: boolean; jsonData?: any }[];
  };
  const dashboardFiles = readdirSync(join(root, 'dashboards')).filter((f) => f.endsWith('.json'));

  it('provisions one default Prometheus data source with a fixed uid, at the compose address', () => {
    expect(mountOf(grafana, provisioning)).toBe('/etc/grafana/provisioning');
    const defaults = datasources.filter((d) => d.isDefault);
    expect(defaults.length).toBe(1);
    expect(defaults[0]?.type).toBe('prometheus');
    expect(defaults[0]?.uid).toMatch(/^[\w-]+$/);
    expect(defaults[0]?.url).toBe('http://prometheus:9090');
    expect(svc('prometheus').ports).toContain('127.0.0.1:9090:9090');
    const uids = datasources.map((d) => d.uid);
    expect(new Set(uids).size).toBe(uids.length);
    for (const dest of defaults[0]?.jsonData?.exemplarTraceIdDestinations ?? []) {
      expect(uids).toContain(dest.datasourceUid);
      expect(dest.name).toBe('trace_id'); // the exemplar label @vigil/metrics writes
    }
  });

  it.each(dashboardFiles)('dashboards/%s resolves its data source when provisioned', (file) => {
    const dashboard = JSON.parse(readFileSync(join(root, 'dashboards', file), 'utf8'));
    const variables = (dashboard.templating?.list ?? []) as { name: string; type: string; query: string }[];
    const dsVariables = variables.filter((v) => v.type === 'datasource');
    // Each datasource variable picks among the provisioned data sources of its type (the default one
    // first): the import-only ${DS_*} input is never what a query uses.
    for (const v of dsVariables)
      expect(datasources.some((d) => d.type === v.query && d.isDefault)).toBe(true);
    const refs = new Set<string>();
    JSON.stringify(dashboard, (key, value) => {
      if (key === 'datasource' && value && typeof value === 'object') refs.add(JSON.stringify(value));
      return value;
    });
    expect(refs.size).toBeGreaterThan(0);
    for (const ref of refs) {
      const { uid, type } = JSON.parse(ref) as { uid?: string; type?: string };
      if (type === 'grafana' || type === 'datasource') continue; // built-in annotations / mixed
      const variable = /^\$\{?(\w+)\}?$/.exec(uid ?? '')?.[1];
      if (variable)
        expect(
          dsVariables.map((v) => v.name),
          `${file}: ${ref}`,
        ).toContain(variable);
      else
        expect(
          datasources.map((d) => d.uid),
          `${file}: ${ref}`,
        ).toContain(uid);
    }
  });

  it('loads the dashboards from where compose mounts them', () => {
    const providers = readYaml(join(provisioning, 'dashboards', 'vigil.yaml')).providers as {
      type: string;
      options: { path: string };
    }[];
    const mounted = mountOf(grafana, join(root, 'dashboards'));
    expect(providers.map((p) => p.options.path)).toContain(mounted);
    const home = grafana.environment?.GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH as string;
    expect(dirname(home)).toBe(mounted);
    expect(dashboardFiles).toContain(basename(home));
  });
});

describe('examples/monitoring/otel-collector.yaml', () => {
  const config = readYaml(join(monitoring, 'otel-collector.yaml'));
  const collector = svc('otel-collector');

  it('is the config the collector runs with', () => {
    const mounted = mountOf(collector, join(monitoring, 'otel-collector.yaml'));
    expect(collector.command).toEqual([`--config=${mounted}`]);
    expect(collector.ports).toContain('127.0.0.1:4318:4318');
  });

  it('wires every pipeline to defined components, traces from OTLP/HTTP to Jaeger over OTLP', () => {
    const { pipelines, extensions = [] } = config.service;
    for (const ext of extensions) expect(config.extensions).toHaveProperty(ext);
    for (const pipeline of Object.values(pipelines) as Record<string, string[]>[]) {
      for (const kind of ['receivers', 'processors', 'exporters']) {
        for (const id of pipeline[kind] ?? []) expect(config[kind], `${kind} ${id}`).toHaveProperty(id);
      }
    }
    expect(pipelines.traces.receivers).toContain('otlp');
    const [exporterId, exporter] =
      Object.entries(config.exporters).find(([id]) => id.startsWith('otlp')) ?? [];
    expect(pipelines.traces.exporters).toContain(exporterId);
    const { endpoint, tls } = exporter as { endpoint: string; tls: { insecure: boolean } };
    expect(endpoint).toBe('jaeger:4317');
    expect(tls.insecure).toBe(true);
    expect(svc('jaeger').environment?.COLLECTOR_OTLP_ENABLED).toBe('true');
    expect(collector.depends_on).toHaveProperty('jaeger');
  });
});

async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  server.close();
  await once(server, 'close');
  return port;
}

async function until(check: () => Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('condition not met before the deadline');
    await new Promise((r) => setTimeout(r, 100));
  }
}
