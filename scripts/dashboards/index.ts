// Entry point of the dashboard and alert generators, called by scripts/gen.mjs (`pnpm gen`,
// `pnpm check:generated`) through scripts/dashboards/run.mjs, which compiles these sources first.

import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { type Catalog, loadConfig } from '../alerts/config.js';
import {
  CONFIG_FILE,
  generateAlertFiles,
  RULE_TESTS_DIR,
  RULES_DIR,
  RUNBOOKS_DIR,
} from '../alerts/generate.js';
import { DASHBOARDS, type GenContext } from '../alerts/model.js';
import { buildDashboards } from './dashboards.js';
import { DASHBOARDS_DIR, generateDashboardFiles } from './generate.js';

export { CONFIG_FILE };

/** Directories whose files of the given extension are all generated (extra ones are stale). */
export const OWNED: readonly { dir: string; ext: string }[] = [
  { dir: DASHBOARDS_DIR, ext: '.json' },
  { dir: RULES_DIR, ext: '.yaml' },
  { dir: RULE_TESTS_DIR, ext: '.yaml' },
  { dir: RUNBOOKS_DIR, ext: '.md' },
];

/** The hand-written page that gets generated tables between markers. */
export const DOCS_PAGE = 'docs/dashboards.md';

export function loadContext(root: string, catalog: Catalog, configFile = CONFIG_FILE): GenContext {
  const abs = configFile.startsWith('/') ? configFile : join(root, configFile);
  return { catalog, config: loadConfig(abs, catalog, configFile) };
}

/** Every generated file (path relative to the repository root -> content). */
export function generateFiles(ctx: GenContext): Map<string, string> {
  return new Map([...generateAlertFiles(ctx), ...generateDashboardFiles(ctx)]);
}

/** `/** doc *\/ key:` comments of ALERT_DEFAULTS in the catalog's source, keyed by dotted path. */
function defaultsDocs(root: string): Map<string, string> {
  const src = readFileSync(join(root, 'packages/catalog/src/slo.ts'), 'utf8');
  const body = src.slice(src.indexOf('export const ALERT_DEFAULTS'));
  const docs = new Map<string, string>();
  const stack: string[] = [];
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

function flatten(prefix: string, v: unknown, out: [string, unknown][]): void {
  if (v && typeof v === 'object' && !Array.isArray(v)) {
    for (const [k, x] of Object.entries(v)) flatten(prefix ? `${prefix}.${k}` : k, x, out);
  } else out.push([prefix, v]);
}

function docBlocks(root: string, ctx: GenContext): Record<string, string> {
  const docs = defaultsDocs(root);
  const rows: [string, unknown][] = [];
  flatten('', ctx.catalog.ALERT_DEFAULTS, rows);
  const show = (v: unknown) =>
    typeof v === 'string' ? (v === '' ? '`""`' : `\`"${v}"\``) : `\`${JSON.stringify(v)}\``;
  const config = [
    '| key | default | meaning |',
    '|---|---|---|',
    ...rows.map(([k, v]) => `| \`${k}\` | ${show(v)} | ${(docs.get(k) ?? '').replace(/\|/g, '\\|')} |`),
  ].join('\n');
  const dashboards = [
    '| dashboard | file | uid | panels |',
    '|---|---|---|---|',
    ...[...buildDashboards(ctx)].map(([file, d]) => {
      const panels = d.panels.filter((p) => p.type !== 'row');
      const info = Object.values(DASHBOARDS).find((x) => x.file === file)!;
      return `| ${info.title} | [\`dashboards/${file}\`](../dashboards/${file}) | \`${d.uid}\` | ${panels.map((p) => p.title).join(', ')} |`;
    }),
  ].join('\n');
  return { 'alert-config': config, 'dashboard-list': dashboards };
}

function replaceBlocks(text: string, file: string, blocks: Record<string, string>): string {
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

export interface SyncResult {
  written: string[];
  stale: string[];
  removed: string[];
  upToDate: number;
}

/**
 * Writes the generated files (and removes generated files that are no longer produced), or with
 * `check` only reports what differs.
 */
export function sync(root: string, ctx: GenContext, check: boolean): SyncResult {
  const files = generateFiles(ctx);
  const docPath = join(root, DOCS_PAGE);
  if (existsSync(docPath)) {
    files.set(DOCS_PAGE, replaceBlocks(readFileSync(docPath, 'utf8'), DOCS_PAGE, docBlocks(root, ctx)));
  }
  const result: SyncResult = { written: [], stale: [], removed: [], upToDate: 0 };
  for (const [rel, content] of files) {
    const abs = join(root, rel);
    const before = existsSync(abs) ? readFileSync(abs, 'utf8') : undefined;
    if (before === content) {
      result.upToDate++;
      continue;
    }
    if (check) result.stale.push(rel);
    else {
      mkdirSync(dirname(abs), { recursive: true });
      writeFileSync(abs, content);
      result.written.push(rel);
    }
  }
  for (const { dir, ext } of OWNED) {
    const abs = join(root, dir);
    if (!existsSync(abs)) continue;
    for (const name of readdirSync(abs)) {
      const rel = `${dir}/${name}`;
      if (!name.endsWith(ext) || files.has(rel)) continue;
      if (check) result.stale.push(rel);
      else {
        rmSync(join(root, rel));
        result.removed.push(rel);
      }
    }
  }
  return result;
}
