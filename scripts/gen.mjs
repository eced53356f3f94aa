#!/usr/bin/env node
// Generates the files derived from the metric catalog and the options' defaults, so docs cannot
// drift from code. `pnpm gen` writes them; `pnpm check:generated` (CI) fails when any is stale.
//
// The metric reference and the options table in packages/*/README.md, between
// `<!-- generated:NAME -->` and `<!-- /generated:NAME -->` markers; then, from the same catalog,
// Grafana dashboards, Prometheus alert rules, their promtool tests, runbooks and the Kubernetes
// PrometheusRule: @vigil/mixin's output for alert-rules/slo.config.json (scripts/mixin.mjs).
//
// Needs built packages (`pnpm build`).
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runMixin } from './mixin.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const check = process.argv.includes('--check');

const catalog = await import(join(root, 'packages/catalog/dist/index.js'));
const metrics = await import(join(root, 'packages/metrics/dist/index.js'));
const tracing = await import(join(root, 'packages/tracing/dist/index.js'));
const logger = await import(join(root, 'packages/logger/dist/index.js'));
const resilience = await import(join(root, 'packages/resilience/dist/index.js'));
const health = await import(join(root, 'packages/health/dist/index.js'));
const shutdown = await import(join(root, 'packages/shutdown/dist/index.js'));
const expressAdapter = await import(join(root, 'packages/express/dist/index.js'));
const koaAdapter = await import(join(root, 'packages/koa/dist/index.js'));
const fastifyAdapter = await import(join(root, 'packages/fastify/dist/index.js'));

const fmt = (v) => {
  if (typeof v === 'string') return v === '' ? '`""`' : `\`"${v}"\``;
  if (Array.isArray(v)) return `\`[${v.join(', ')}]\``;
  if (v && typeof v === 'object') return Object.keys(v).length === 0 ? '`{}`' : `\`${JSON.stringify(v)}\``;
  return `\`${String(v)}\``;
};

/** Extracts `/** doc *\/ key:` comments from a source file, for the options table's meaning column. */
function docComments(file, constName) {
  const src = readFileSync(join(root, file), 'utf8');
  const start = src.indexOf(`export const ${constName}`);
  const body = src.slice(start, src.indexOf('});', start));
  const out = {};
  const re = /\/\*\*([\s\S]*?)\*\/\s*(\w+):/g;
  for (let m = re.exec(body); m; m = re.exec(body)) {
    out[m[2]] = m[1]
      .split('\n')
      .map((l) => l.replace(/^\s*\*\s?/, '').trim())
      .filter(Boolean)
      .join(' ');
  }
  return out;
}

/**
 * `/** doc *\/ key?: Type;` members of one `export interface NAME { ... }`: every option of a
 * factory, with its type as written and its doc comment (one paragraph).
 */
function interfaceMembers(file, name) {
  const src = readFileSync(join(root, file), 'utf8');
  const start = src.indexOf(`export interface ${name} `);
  if (start < 0) throw new Error(`${file}: no interface ${name}`);
  let depth = 0;
  let end = src.indexOf('{', start);
  for (let i = end; i < src.length; i++) {
    if (src[i] === '{') depth++;
    else if (src[i] === '}' && --depth === 0) {
      end = i;
      break;
    }
  }
  const body = src.slice(src.indexOf('{', start) + 1, end);
  const out = [];
  const re = /(?:\/\*\*([\s\S]*?)\*\/\s*)?(\w+)\?:\s*([\s\S]*?);\n/g;
  for (let m = re.exec(body); m; m = re.exec(body)) {
    const doc = (m[1] ?? '')
      .split('\n')
      .map((l) => l.replace(/^\s*\*\s?/, '').trim())
      .filter(Boolean)
      .join(' ');
    out.push({ key: m[2], type: m[3].replace(/\s+/g, ' ').trim(), doc });
  }
  return out;
}

/** Every option of an interface, its type, its default (from the defaults constant) and meaning. */
function fullOptionsTable(members, defaults, docs, unset = {}) {
  const cell = (t) => t.replace(/\|/g, '\\|');
  const rows = members.map(({ key, type, doc }) => {
    const d = key in defaults ? fmt(defaults[key]) : (unset[key] ?? '–');
    return `| \`${key}\` | \`${cell(type)}\` | ${d} | ${cell(doc || (docs[key] ?? ''))} |`;
  });
  return ['| option | type | default | meaning |', '|---|---|---|---|', ...rows].join('\n');
}

function optionsTable(defaults, docs) {
  const rows = Object.entries(defaults).map(
    ([k, v]) => `| \`${k}\` | ${fmt(v)} | ${(docs[k] ?? '').replace(/\|/g, '\\|')} |`,
  );
  return ['| option | default | meaning |', '|---|---|---|', ...rows].join('\n');
}

function metricTable(defs) {
  const rows = defs.map((d) => {
    const buckets = d.buckets ? ` Buckets: ${d.buckets.join(', ')}.` : '';
    const label = (l) => {
      const values = d.labelValues?.[l];
      return values ? `\`${l}\` (${values.map((v) => `\`${v}\``).join(', ')})` : `\`${l}\``;
    };
    return `| \`${d.name}\` | ${d.type} | ${d.labels.map(label).join(', ') || '–'} | ${d.unit} | ${d.help}${buckets} |`;
  });
  return ['| name | type | labels | unit | help |', '|---|---|---|---|---|', ...rows].join('\n');
}

const labelValues = [
  '| label value | where | meaning |',
  '|---|---|---|',
  `| \`${catalog.LABEL_VALUES.unmatchedRoute}\` | \`route\` | the request matched no route (404s, scanners) |`,
  `| \`${catalog.LABEL_VALUES.overflowRoute}\` | \`route\` / \`table\` | the metric reached \`maxSeries\`; counted in \`vigil_metrics_series_overflow_total\` |`,
  `| \`${catalog.LABEL_VALUES.otherMethod}\` | \`method\` | a method outside GET, HEAD, POST, PUT, DELETE, CONNECT, OPTIONS, TRACE, PATCH |`,
  `| \`${catalog.LABEL_VALUES.abortedStatus}\` | \`status_code\` | the client aborted before the response completed |`,
  '| `2xx` … `5xx` | `status_code` | status class, only on overflow sets (still matches `status_code=~"5.."`) |',
  `| \`${catalog.LABEL_VALUES.unknownSql}\` | \`operation\` / \`table\` | the SQL text could not be classified |`,
  `| \`${catalog.LABEL_VALUES.success}\` | \`outcome\` | the query completed |`,
  `| \`${catalog.LABEL_VALUES.error}\` | \`outcome\` | the query failed: it rejected, threw, or its callback got an error |`,
  `| \`${catalog.TEMPORARY_DESTINATION}\` | \`destination\` | a server-named queue (\`amq.gen-…\`) or the channel's default queue |`,
  `| \`${catalog.LABEL_VALUES.overflowRoute}\` | \`destination\` | past \`maxDestinations\` distinct exchanges and queues |`,
].join('\n');

const blocks = {
  'packages/metrics/README.md': {
    'metrics-options': optionsTable(
      metrics.METRICS_DEFAULTS,
      docComments('packages/metrics/src/create-metrics.ts', 'METRICS_DEFAULTS'),
    ),
    'span-bridge-options': optionsTable(
      metrics.SPAN_BRIDGE_DEFAULTS,
      docComments('packages/metrics/src/span-bridge.ts', 'SPAN_BRIDGE_DEFAULTS'),
    ),
    'amqplib-options': optionsTable(
      metrics.AMQPLIB_DEFAULTS,
      docComments('packages/metrics/src/amqplib.ts', 'AMQPLIB_DEFAULTS'),
    ),
    'metric-table': metricTable(catalog.CATALOG.filter((d) => d.source === 'vigil')),
    'label-values': labelValues,
    'runtime-table': metricTable(catalog.CATALOG.filter((d) => d.source === 'prom-client')),
  },
  'packages/catalog/README.md': {
    'metric-table': metricTable(catalog.CATALOG),
  },
  'packages/tracing/README.md': {
    'tracing-options': optionsTable(
      tracing.TRACING_DEFAULTS,
      docComments('packages/tracing/src/defaults.ts', 'TRACING_DEFAULTS'),
    ),
    'tracing-metrics': metricTable(catalog.TRACING_METRICS),
  },
  'packages/resilience/README.md': Object.fromEntries([
    ...[
      ['breaker-options', 'BREAKER_DEFAULTS'],
      ['retry-options', 'RETRY_DEFAULTS'],
      ['bulkhead-options', 'BULKHEAD_DEFAULTS'],
      ['policy-options', 'POLICY_DEFAULTS'],
      ['http-client-options', 'HTTP_CLIENT_DEFAULTS'],
      ['outbound-options', 'OUTBOUND_DEFAULTS'],
      ['breaker-check-options', 'BREAKER_CHECK_DEFAULTS'],
      ['load-shedder-options', 'LOAD_SHEDDER_DEFAULTS'],
    ].map(([block, name]) => [
      block,
      optionsTable(resilience[name], docComments('packages/resilience/src/defaults.ts', name)),
    ]),
    ['metric-table', metricTable(catalog.RESILIENCE_METRICS)],
  ]),
  'packages/health/README.md': {
    'health-options': fullOptionsTable(
      interfaceMembers('packages/health/src/types.ts', 'HealthOptions'),
      health.HEALTH_DEFAULTS,
      docComments('packages/health/src/create-health.ts', 'HEALTH_DEFAULTS'),
      {
        checks: '`{}`',
        registry: 'a private registry',
        metrics: '–',
        info: '`{}`',
        now: '`performance.now`',
      },
    ),
  },
  'packages/shutdown/README.md': {
    'shutdown-options': fullOptionsTable(
      interfaceMembers('packages/shutdown/src/types.ts', 'ShutdownOptions'),
      shutdown.SHUTDOWN_DEFAULTS,
      {},
      { servers: '`[]`', exit: '`process.exit`', logger: 'JSON lines on stderr' },
    ),
  },
  'packages/express/README.md': {
    'express-metrics-options': fullOptionsTable(
      [
        ...interfaceMembers('packages/metrics/src/adapter.ts', 'AdapterMetricsOptions'),
        ...interfaceMembers('packages/express/src/metrics.ts', 'ExpressMetricsOptions'),
      ],
      expressAdapter.EXPRESS_METRICS_DEFAULTS,
      {},
      { metrics: 'a new handle', logger: 'none', requestLog: '`{}`' },
    ),
  },
  'packages/koa/README.md': {
    'koa-metrics-options': fullOptionsTable(
      interfaceMembers('packages/metrics/src/adapter.ts', 'AdapterMetricsOptions'),
      koaAdapter.KOA_METRICS_DEFAULTS,
      {},
      { metrics: 'a new handle', logger: 'none', requestLog: '`{}`' },
    ),
  },
  'packages/fastify/README.md': {
    'fastify-metrics-options': fullOptionsTable(
      interfaceMembers('packages/fastify/src/metrics.ts', 'FastifyMetricsOptions'),
      fastifyAdapter.FASTIFY_METRICS_DEFAULTS,
      {},
      { metrics: 'a new handle' },
    ),
  },
  'packages/logger/README.md': {
    'logger-options': optionsTable(
      logger.LOGGER_DEFAULTS,
      docComments('packages/logger/src/create-logger.ts', 'LOGGER_DEFAULTS'),
    ),
    'request-log-options': optionsTable(
      logger.REQUEST_LOG_DEFAULTS,
      docComments('packages/logger/src/internal/request-log.ts', 'REQUEST_LOG_DEFAULTS'),
    ),
  },
};

let stale = 0;
for (const [file, parts] of Object.entries(blocks)) {
  const path = join(root, file);
  const before = readFileSync(path, 'utf8');
  let after = before;
  for (const [name, content] of Object.entries(parts)) {
    const open = `<!-- generated:${name} -->`;
    const close = `<!-- /generated:${name} -->`;
    const a = after.indexOf(open);
    const b = after.indexOf(close);
    if (a < 0 || b < a) throw new Error(`${file}: markers for "${name}" are missing`);
    after = `${after.slice(0, a + open.length)}\n${content}\n${after.slice(b)}`;
  }
  if (after !== before) {
    if (check) {
      stale++;
      console.error(`stale: ${file} (run \`pnpm gen\` and commit the result)`);
    } else {
      writeFileSync(path, after);
      console.log(`wrote ${file}`);
    }
  } else console.log(`up to date: ${file}`);
}
stale += await runMixin({ root, catalog, check });
if (stale) process.exit(1);
