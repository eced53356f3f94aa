import { randomUUID } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import type { ResolvedConfig } from './config.js';

export const VIGIL_TRACING_VERSION = '0.1.0';
const SDK_VERSION = '2.12.0';

/** name and version of the application: the package.json nearest to the main script (or the cwd). */
export function appPackage(): { name?: string; version?: string } {
  const start = process.argv[1] ? dirname(resolve(process.argv[1])) : process.cwd();
  let dir = start;
  for (let i = 0; i < 12; i++) {
    const file = join(dir, 'package.json');
    if (existsSync(file)) {
      try {
        const pkg = JSON.parse(readFileSync(file, 'utf8')) as { name?: unknown; version?: unknown };
        // A package.json that only sets "type" (dist/ folders) does not name the app: keep looking.
        if (typeof pkg.name === 'string' && pkg.name !== '') {
          return { name: pkg.name, version: typeof pkg.version === 'string' ? pkg.version : undefined };
        }
      } catch {
        return {};
      }
    }
    const up = dirname(dir);
    if (up === dir) break;
    dir = up;
  }
  return {};
}

/**
 * Resource attributes, most specific first: options, `OTEL_SERVICE_NAME`, `OTEL_RESOURCE_ATTRIBUTES`,
 * then what Vigil can tell (package.json, `NODE_ENV`, the process). Cheap: no detector runs.
 */
export function resourceAttributes(c: ResolvedConfig, env: Readonly<Record<string, string | undefined>>) {
  const fromEnv = c.envResourceAttributes;
  const pkg = appPackage();
  const serviceName =
    c.serviceName ??
    (env.OTEL_SERVICE_NAME?.trim() || undefined) ??
    fromEnv['service.name'] ??
    pkg.name ??
    `unknown_service:${process.argv0.split('/').pop() ?? 'node'}`;
  const attrs: Record<string, string | number | boolean> = {
    'telemetry.sdk.name': 'opentelemetry',
    'telemetry.sdk.language': 'nodejs',
    'telemetry.sdk.version': SDK_VERSION,
    'telemetry.distro.name': '@vigil/tracing',
    'telemetry.distro.version': VIGIL_TRACING_VERSION,
    'process.pid': process.pid,
    'process.runtime.name': 'nodejs',
    'process.runtime.version': process.versions.node,
    'host.name': hostname(),
    ...fromEnv,
  };
  const version = c.serviceVersion ?? fromEnv['service.version'] ?? pkg.version;
  if (version !== undefined) attrs['service.version'] = version;
  const environment =
    c.environment ??
    fromEnv['deployment.environment.name'] ??
    fromEnv['deployment.environment'] ??
    (env.NODE_ENV?.trim() || undefined);
  if (environment !== undefined) attrs['deployment.environment.name'] = environment;
  attrs['service.instance.id'] = fromEnv['service.instance.id'] ?? randomUUID();
  Object.assign(attrs, c.resourceAttributes);
  attrs['service.name'] = c.resourceAttributes['service.name'] ?? serviceName;
  return attrs;
}
