// This repository's run of @vigil/mixin (packages/mixin, built): its default output for
// alert-rules/slo.config.json is dashboards/, alert-rules/ (rules and promtool tests),
// docs/runbooks/ and examples/k8s/base/prometheusrule.yaml; plus the config's JSON Schema and
// the tables of docs/dashboards.md. Used by scripts/gen.mjs (`pnpm gen`, `pnpm check:generated`).
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

/** Where this repository keeps the mixin's output (the package's default is a user folder). */
export const REPO_LAYOUT = Object.freeze({
  dashboards: 'dashboards',
  rules: 'alert-rules',
  runbooks: 'docs/runbooks',
  prometheusRule: 'examples/k8s/base/prometheusrule.yaml',
  configFile: 'alert-rules/slo.config.json',
  command: 'pnpm gen',
});
export const CONFIG_FILE = REPO_LAYOUT.configFile;
const DOCS_PAGE = 'docs/dashboards.md';

/** `/** doc *\/ key:` comments of ALERT_DEFAULTS in the catalog's source, keyed by dotted path. */
export function defaultsDocs(root) {
  const src = readFileSync(join(root, 'packages/catalog/src/slo.ts'), 'utf8');
  const body = src.slice(src.indexOf('export const ALERT_DEFAULTS'));
  const docs = new Map();
  const stack = [];
  let pending = '';
  const re = /\/\*\*([\s\S]*?)\*\/|^\s*(\w+): Object\.freeze\(\{|^\s*(\w+):|^\s*\}\),?$/gm;
  for (let m = re.exec(body); m; m = re.exec(body)) {
    if (m[1] !== undefined) {
      pending = m[1]
        .split('\n')
        .map((l) => l.replace(/^\s*\*\s?/, '').trim())
        .filter(Boolean)
        .join(' ');
    } else if (m[2] !== undefined) {
      stack.push(m[2]);
      pending = '';
    } else if (m[3] !== undefined) {
      const key = [...stack, m[3]].join('.');
      if (pending) docs.set(key, pending);
      pending = '';
    } else if (stack.length) {
      stack.pop();
    } else break;
  }
  return docs;
}

function flatten(prefix, v, out) {
  if (v && typeof v === 'object' && !Array.isArray(v)) {
    for (const [k, x] of Object.entries(v)) flatten(prefix ? `${prefix}.${k}` : k, x, out);
  } else out.push([prefix, v]);
}

function docBlocks(docs, catalog, files) {
  const rows = [];
  flatten('', catalog.ALERT_DEFAULTS, rows);
  const show = (v) =>
    typeof v === 'string' ? (v === '' ? '`""`' : `\`"${v}"\``) : `\`${JSON.stringify(v)}\``;
  const config = [
    '| key | default | meaning |',
    '|---|---|---|',
    ...rows.map(([k, v]) => `| \`${k}\` | ${show(v)} | ${(docs.get(k) ?? '').replace(/\|/g, '\\|')} |`),
  ].join('\n');
  const dashboards = [
    '| dashboard | file | uid | panels |',
    '|---|---|---|---|',
    ...files
      .filter((f) => f.path.startsWith(`${REPO_LAYOUT.dashboards}/`) && f.path.endsWith('.json'))
      .map((f) => {
        const d = JSON.parse(f.content);
        const panels = d.panels.filter((p) => p.type !== 'row');
        const file = f.path.slice(REPO_LAYOUT.dashboards.length + 1);
        return `| ${d.title} | [\`dashboards/${file}\`](../dashboards/${file}) | \`${d.uid}\` | ${panels.map((p) => p.title).join(', ')} |`;
      }),
  ].join('\n');
  return { 'alert-config': config, 'dashboard-list': dashboards };
}

/** The thresholds table of packages/mixin/README.md: ALERT_DEFAULTS without the keys it lists itself. */
function mixinThresholds(docs, catalog) {
  const rows = [];
  flatten('', catalog.ALERT_DEFAULTS, rows);
  const show = (v) =>
    typeof v === 'string' ? (v === '' ? '`""`' : `\`"${v}"\``) : `\`${JSON.stringify(v)}\``;
  return [
    '| key | default | meaning |',
    '|---|---|---|',
    ...rows
      .filter(([k]) => !['selector', 'serviceLabels', 'instanceLabel'].includes(k))
      .map(([k, v]) => `| \`${k}\` | ${show(v)} | ${(docs.get(k) ?? '').replace(/\|/g, '\\|')} |`),
  ].join('\n');
}

function replaceBlocks(text, file, blocks) {
  let out = text;
  for (const [name, content] of Object.entries(blocks)) {
    const open = `<!-- generated:${name} -->`;
    const close = `<!-- /generated:${name} -->`;
    const a = out.indexOf(open);
    const b = out.indexOf(close);
    if (a < 0 || b < a) throw new Error(`${file}: markers for "${name}" are missing`);
    out = `${out.slice(0, a + open.length)}\n${content}\n${out.slice(b)}`;
  }
  return out;
}

/**
 * Generates (or with `check` compares) the mixin's output for this repository. Returns the number
 * of stale files. `--slo-config=FILE` generates from another config.
 */
export async function runMixin({ root, catalog, check, argv = process.argv }) {
  const mixin = await import(join(root, 'packages/mixin/dist/index.js'));
  const flag = argv.find((a) => a.startsWith('--slo-config='));
  const configFile = flag ? flag.slice('--slo-config='.length) : CONFIG_FILE;
  let files;
  try {
    files = mixin.generateFromFile(resolve(root, configFile), { layout: { ...REPO_LAYOUT, configFile } });
  } catch (e) {
    // Configuration mistakes get their message, not a stack trace.
    if (e?.code !== 'VIGIL_INVALID_OPTION') throw e;
    console.error(`error: ${e.message}`);
    return 1;
  }
  const docs = defaultsDocs(root);
  const extra = [
    {
      path: 'packages/mixin/schema/vigil-mixin.schema.json',
      content: `${JSON.stringify(mixin.configSchema(docs), null, 2)}\n`,
    },
  ];
  const docPath = join(root, DOCS_PAGE);
  if (existsSync(docPath)) {
    extra.push({
      path: DOCS_PAGE,
      content: replaceBlocks(readFileSync(docPath, 'utf8'), DOCS_PAGE, docBlocks(docs, catalog, files)),
    });
  }
  const readme = 'packages/mixin/README.md';
  extra.push({
    path: readme,
    content: replaceBlocks(readFileSync(join(root, readme), 'utf8'), readme, {
      'mixin-thresholds': mixinThresholds(docs, catalog),
    }),
  });
  const r = mixin.write([...files, ...extra], root, { check, prune: true, layout: REPO_LAYOUT });
  for (const f of r.written) console.log(`wrote ${f}`);
  for (const f of r.removed) console.log(`removed ${f} (no longer generated)`);
  for (const f of r.stale) console.error(`stale: ${f} (run \`pnpm gen\` and commit the result)`);
  console.log(`up to date: ${r.upToDate} dashboard, alert-rule, promtool-test, runbook and schema files`);
  return r.stale.length;
}
