#!/usr/bin/env node
// `pnpm dashboards:view [--prometheus=URL] [--port=N] [--host=H] [--dashboards=DIR] [--refresh=10s]
// [--from=now-1h] [--to=now]`: the generated dashboards, live from any Prometheus (yours, or the
// demo's), at a local URL; no Grafana needed. Ctrl-C stops it.
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startViewer } from './server.mjs';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const KNOWN = ['prometheus', 'port', 'host', 'dashboards', 'refresh', 'from', 'to', 'help'];

const args = {};
for (const a of process.argv.slice(2)) {
  const m = /^--([a-z]+)(?:=(.*))?$/.exec(a);
  if (!m || !KNOWN.includes(m[1])) {
    console.error(
      `dashboards:view: unknown argument "${a}" (known: ${KNOWN.map((k) => `--${k}`).join(', ')})`,
    );
    process.exit(2);
  }
  args[m[1]] = m[2] ?? 'true';
}
if (args.help) {
  console.log(
    'usage: pnpm dashboards:view [--prometheus=http://127.0.0.1:9090] [--port=3000] [--host=127.0.0.1] [--dashboards=dashboards] [--refresh=10s] [--from=now-1h] [--to=now]',
  );
  process.exit(0);
}

let viewer;
try {
  viewer = await startViewer({
    prometheus: args.prometheus ?? 'http://127.0.0.1:9090',
    dashboards: resolve(args.dashboards ?? join(ROOT, 'dashboards')),
    host: args.host ?? '127.0.0.1',
    port: args.port === undefined ? 3000 : Number(args.port),
    ...(args.refresh ? { refresh: args.refresh } : {}),
    ...(args.from || args.to ? { time: { from: args.from ?? 'now-1h', to: args.to ?? 'now' } } : {}),
  });
} catch (e) {
  console.error(
    `dashboards:view: ${e.code === 'EADDRINUSE' ? `port ${args.port ?? 3000} is taken (use --port)` : e.message}`,
  );
  process.exit(e.code === 'VIGIL_INVALID_OPTION' ? 2 : 1);
}
console.log(`dashboards: ${viewer.url}/ (from ${args.prometheus ?? 'http://127.0.0.1:9090'}; Ctrl-C stops)`);
for (const d of viewer.list()) console.log(`  ${d.title.padEnd(28)} ${viewer.dashboardUrl(d.uid)}`);
for (const sig of ['SIGINT', 'SIGTERM']) process.once(sig, () => viewer.close().then(() => process.exit(0)));
