#!/usr/bin/env node
// Renders the README's generated blocks (options tables from the frozen defaults and their doc
// comments, the metric table from the catalog) in the same format as scripts/gen.mjs, between
// `<!-- generated:NAME -->` markers. `node scripts/readme-tables.mjs` writes README.md (needs
// `pnpm build`); `--check` fails when it is stale. test/readme.test.ts checks it on every run.
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const pkg = join(dirname(fileURLToPath(import.meta.url)), '..');

const fmt = (v) => {
  if (v === false || v === true) return `\`${v}\``;
  if (typeof v === 'string') return v === '' ? '`""`' : `\`"${v}"\``;
  if (Array.isArray(v)) return `\`[${v.join(', ')}]\``;
  if (v && typeof v === 'object') return Object.keys(v).length === 0 ? '`{}`' : `\`${JSON.stringify(v)}\``;
  return `\`${String(v)}\``;
};

/** `/** doc *\/ key:` comments of one `export const NAME = Object.freeze({ ... });` in src/defaults.ts. */
export function docComments(src, constName) {
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

export function optionsTable(defaults, docs) {
  const rows = Object.entries(defaults).map(
    ([k, v]) => `| \`${k}\` | ${fmt(v)} | ${(docs[k] ?? '').replace(/\|/g, '\\|')} |`,
  );
  return ['| option | default | meaning |', '|---|---|---|', ...rows].join('\n');
}

export function metricTable(defs) {
  const rows = defs.map((d) => {
    const buckets = d.buckets ? ` Buckets: ${d.buckets.join(', ')}.` : '';
    return `| \`${d.name}\` | ${d.type} | ${d.labels.map((l) => `\`${l}\``).join(', ') || '–'} | ${d.unit} | ${d.help}${buckets} |`;
  });
  return ['| name | type | labels | unit | help |', '|---|---|---|---|---|', ...rows].join('\n');
}

const BLOCKS = [
  ['breaker-options', 'BREAKER_DEFAULTS'],
  ['retry-options', 'RETRY_DEFAULTS'],
  ['bulkhead-options', 'BULKHEAD_DEFAULTS'],
  ['policy-options', 'POLICY_DEFAULTS'],
  ['http-client-options', 'HTTP_CLIENT_DEFAULTS'],
  ['breaker-check-options', 'BREAKER_CHECK_DEFAULTS'],
  ['load-shedder-options', 'LOAD_SHEDDER_DEFAULTS'],
];

/** Every generated block, from the package's defaults module and the catalog module. */
export function blocks(defaultsModule, catalogModule, defaultsSource) {
  const out = {};
  for (const [block, constName] of BLOCKS) {
    out[block] = optionsTable(defaultsModule[constName], docComments(defaultsSource, constName));
  }
  out['metric-table'] = metricTable(catalogModule.RESILIENCE_METRICS);
  return out;
}

export function render(readme, parts) {
  let after = readme;
  for (const [name, content] of Object.entries(parts)) {
    const open = `<!-- generated:${name} -->`;
    const close = `<!-- /generated:${name} -->`;
    const a = after.indexOf(open);
    const b = after.indexOf(close);
    if (a < 0 || b < a) throw new Error(`README.md: markers for "${name}" are missing`);
    after = `${after.slice(0, a + open.length)}\n${content}\n${after.slice(b)}`;
  }
  return after;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const mod = await import(join(pkg, 'dist/index.js'));
  const catalog = await import('@vigil/catalog');
  const src = readFileSync(join(pkg, 'src/defaults.ts'), 'utf8');
  const path = join(pkg, 'README.md');
  const before = readFileSync(path, 'utf8');
  const after = render(before, blocks(mod, catalog, src));
  if (after === before) console.log('README.md is up to date');
  else if (process.argv.includes('--check')) {
    console.error('README.md is stale: run `node scripts/readme-tables.mjs`');
    process.exit(1);
  } else {
    writeFileSync(path, after);
    console.log('wrote README.md');
  }
}
