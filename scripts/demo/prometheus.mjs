// The Prometheus side of the demo: find the binary, and build its config from the one shipped for
// docker-compose (examples/monitoring/prometheus.yml), pointed at the local processes.
import { accessSync, constants, existsSync, readFileSync } from 'node:fs';
import { basename, delimiter, join } from 'node:path';
import { parse, stringify } from 'yaml';

export const COMPOSE_CONFIG = 'examples/monitoring/prometheus.yml';

/** Absolute path of `cmd` on PATH, or undefined. */
export function findOnPath(cmd) {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (dir === '') continue;
    const file = join(dir, cmd);
    try {
      accessSync(file, constants.X_OK);
      return file;
    } catch {}
  }
  return undefined;
}

/**
 * The Prometheus config for the demo. `ports` maps compose host names (users-service, ...) to the
 * local ports. Returns `{ text, source }`; source is the compose file, or 'generated' when it does
 * not exist.
 */
export function buildConfig({ root, ports, prometheusPort }) {
  const rules = join(root, 'alert-rules', '*.yaml');
  const file = join(root, COMPOSE_CONFIG);
  if (!existsSync(file)) return { text: stringify(generated(ports, rules)), source: 'generated' };

  const config = parse(readFileSync(file, 'utf8')) ?? {};
  // Graphs that move within seconds of starting the demo (the compose file scrapes every 15 s).
  config.global = { ...config.global, scrape_interval: '5s', evaluation_interval: '5s' };
  // No Alertmanager in the demo: Prometheus still evaluates the rules (see /alerts).
  delete config.alerting;
  config.rule_files = (config.rule_files ?? [rules])
    .map((f) => basename(String(f)))
    .filter((f) => /\.ya?ml$/.test(f))
    .map((f) => join(root, 'alert-rules', f));
  config.scrape_configs = (config.scrape_configs ?? [])
    .map((job) => {
      const statics = (job.static_configs ?? [])
        .map((sc) => ({ ...sc, targets: (sc.targets ?? []).map((t) => local(t, ports, prometheusPort)) }))
        .map((sc) => ({ ...sc, targets: sc.targets.filter(Boolean) }))
        .filter((sc) => sc.targets.length > 0);
      // Service discovery other than static targets has nothing to find on a laptop.
      const { static_configs: _s, file_sd_configs: _f, dns_sd_configs: _d, ...rest } = job;
      return { ...rest, static_configs: statics };
    })
    .filter((job) => job.static_configs.length > 0);
  return { text: stringify(config), source: COMPOSE_CONFIG };
}

/** `users-service:3001` -> `127.0.0.1:<users port>`; Prometheus itself -> its local port; else dropped. */
function local(target, ports, prometheusPort) {
  const host = String(target).split(':')[0];
  if (ports[host] !== undefined) return `127.0.0.1:${ports[host]}`;
  if (/prometheus/.test(host) || (host === 'localhost' && String(target).endsWith(':9090')))
    return `127.0.0.1:${prometheusPort}`;
  return undefined;
}

function generated(ports, rules) {
  return {
    global: { scrape_interval: '5s', evaluation_interval: '5s' },
    rule_files: [rules],
    scrape_configs: Object.entries(ports).map(([name, port]) => ({
      job_name: name,
      static_configs: [{ targets: [`127.0.0.1:${port}`] }],
    })),
  };
}
