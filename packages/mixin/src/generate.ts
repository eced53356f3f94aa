// generate(config) -> the files, and write(files, dir) -> on disk (or, with `check`, what differs).
// The config is validated first (VigilOptionError naming the field); nothing is written on error.

import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import * as vigilCatalog from '@vigil/catalog';
import { type Catalog, ConfigError, loadConfigFile, resolveConfig } from './alerts/config.js';
import { generateAlertFiles, ruleTestsDir } from './alerts/generate.js';
import type { GenContext, Layout } from './alerts/model.js';
import { generateDashboardFiles } from './dashboards/generate.js';
import { renderPrometheusRule } from './k8s.js';

/** Where files go inside the output directory unless `layout` says otherwise. */
export const DEFAULT_LAYOUT: Layout = Object.freeze({
  dashboards: 'dashboards',
  rules: 'rules',
  runbooks: 'runbooks',
  prometheusRule: 'kubernetes/prometheusrule.yaml',
  configFile: 'vigil-mixin.json',
  command: 'npx @vigil/mixin generate',
});

/** Options of `generate()`. */
export interface GenerateOptions {
  /** Output paths and the names generated files cite (see `DEFAULT_LAYOUT`). */
  readonly layout?: Partial<Layout>;
}

/** One generated file: `path` is relative to the output directory, with `/` separators. */
export interface GeneratedFile {
  /** Relative to the output directory, e.g. `rules/vigil-slo.yaml`. */
  readonly path: string;
  /** The file's text (UTF-8). */
  readonly content: string;
}

const LAYOUT_KEYS = Object.keys(DEFAULT_LAYOUT) as (keyof Layout)[];

function checkLayout(input: Partial<Layout> | undefined): Layout {
  const out: Record<string, string> = { ...DEFAULT_LAYOUT };
  for (const [k, v] of Object.entries(input ?? {})) {
    if (!LAYOUT_KEYS.includes(k as keyof Layout))
      throw new ConfigError(
        `layout.${k}`,
        `Invalid option "layout.${k}": expected one of ${LAYOUT_KEYS.join(', ')}`,
      );
    const path = k !== 'configFile' && k !== 'command';
    if (
      typeof v !== 'string' ||
      v === '' ||
      (path && (v.startsWith('/') || v.split('/').includes('..') || v.includes('\\')))
    ) {
      throw new ConfigError(
        `layout.${k}`,
        `Invalid option "layout.${k}": expected ${path ? 'a relative path inside the output directory' : 'a non-empty string'}, got ${JSON.stringify(v)}`,
      );
    }
    out[k] = v.replace(/\/+$/, '');
  }
  return Object.freeze(out) as unknown as Layout;
}

/** @internal The validated context the generators read (tests vary the catalog). */
export function createContext(
  config: unknown,
  options: GenerateOptions = {},
  catalog?: Catalog,
  where?: string,
): GenContext {
  const layout = checkLayout(options.layout);
  const cat = catalog ?? (vigilCatalog as unknown as Catalog);
  const resolved = resolveConfig(config, cat, where);
  return { catalog: prefixCatalog(cat, resolved.prefix), config: resolved, layout };
}

/**
 * The catalog as a handle created with `createMetrics({ prefix })` exposes it: every metric name
 * (prom-client's runtime metrics included) starts with the prefix.
 */
function prefixCatalog(catalog: Catalog, prefix: string): Catalog {
  if (!prefix) return catalog;
  const seen = new Map<object, unknown>();
  const isDef = (v: unknown): v is { name: string; type: string; help: string } =>
    typeof v === 'object' &&
    v !== null &&
    typeof (v as { name?: unknown }).name === 'string' &&
    typeof (v as { help?: unknown }).help === 'string' &&
    typeof (v as { type?: unknown }).type === 'string';
  const map = (v: unknown): unknown => {
    if (typeof v !== 'object' || v === null) return v;
    if (seen.has(v)) return seen.get(v);
    if (isDef(v)) {
      const out = Object.freeze({ ...v, name: prefix + v.name });
      seen.set(v, out);
      return out;
    }
    if (Array.isArray(v) && v.length > 0 && v.every(isDef)) {
      const out = Object.freeze(v.map(map));
      seen.set(v, out);
      return out;
    }
    return v;
  };
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(catalog)) out[k] = map(v);
  return out as Catalog;
}

/** Every generated file of a context, as path -> content (rules, tests and runbooks, then dashboards). */
export function generateFromContext(ctx: GenContext): Map<string, string> {
  const files = new Map([...generateAlertFiles(ctx), ...generateDashboardFiles(ctx)]);
  files.set(ctx.layout.prometheusRule, renderPrometheusRule(ctx, files));
  return files;
}

/**
 * Generates Grafana dashboards, Prometheus rule files with their promtool tests, one runbook per
 * alert and a PrometheusRule manifest from a mixin config (the parsed `vigil-mixin.json`).
 * Throws a `VigilOptionError` naming the field when the config is invalid.
 */
export function generate(config: unknown, options: GenerateOptions = {}): GeneratedFile[] {
  return [...generateFromContext(createContext(config, options))].map(([path, content]) => ({
    path,
    content,
  }));
}

/** Reads, parses and generates from a config file (JSON). */
export function generateFromFile(file: string, options: GenerateOptions = {}): GeneratedFile[] {
  const ctx = createContext(
    loadConfigFile(file, options.layout?.configFile ?? file),
    options,
    undefined,
    options.layout?.configFile ?? file,
  );
  return [...generateFromContext(ctx)].map(([path, content]) => ({ path, content }));
}

/** Options of `write()`. */
export interface WriteOptions {
  /** Only compare: report files that differ or are missing, write nothing. */
  readonly check?: boolean;
  /**
   * Remove files in the generated folders that this generation no longer produces (an alert or
   * dashboard removed on upgrade). Only names with the generated extensions are touched.
   */
  readonly prune?: boolean;
  /** The layout the files were generated with (which folders `prune` may clean). */
  readonly layout?: Partial<Layout>;
}

/** What `write()` did (or, with `check`, would do); paths relative to the output directory. */
export interface WriteResult {
  /** Files created or changed. */
  readonly written: string[];
  /** With `check`: files that differ, are missing or (with `prune`) are no longer generated. */
  readonly stale: string[];
  /** Files removed by `prune`. */
  readonly removed: string[];
  /** Files already identical. */
  readonly upToDate: number;
}

/** Folders whose files of one extension are all generated. */
function owned(layout: Layout): { dir: string; ext: string }[] {
  return [
    { dir: layout.dashboards, ext: '.json' },
    { dir: layout.rules, ext: '.yaml' },
    { dir: `${layout.rules}/tests`, ext: '.yaml' },
    { dir: layout.runbooks, ext: '.md' },
  ];
}

/** Writes generated files under `dir` (created when missing); with `check`, only reports differences. */
export function write(files: readonly GeneratedFile[], dir: string, options: WriteOptions = {}): WriteResult {
  const layout = checkLayout(options.layout);
  const root = resolve(dir);
  const result = { written: [] as string[], stale: [] as string[], removed: [] as string[], upToDate: 0 };
  const paths = new Set<string>();
  for (const { path, content } of files) {
    const abs = resolve(root, path);
    // Generated paths never leave the output directory.
    if (!abs.startsWith(`${root}/`)) throw new Error(`refusing to write ${path} outside ${root}`);
    paths.add(path);
    const before = existsSync(abs) ? readFileSync(abs, 'utf8') : undefined;
    if (before === content) {
      result.upToDate++;
      continue;
    }
    if (options.check) result.stale.push(path);
    else {
      mkdirSync(dirname(abs), { recursive: true });
      writeFileSync(abs, content);
      result.written.push(path);
    }
  }
  if (options.prune) {
    for (const { dir: sub, ext } of owned(layout)) {
      const abs = join(root, sub);
      if (!existsSync(abs)) continue;
      for (const name of readdirSync(abs)) {
        const rel = `${sub}/${name}`;
        if (!name.endsWith(ext) || paths.has(rel)) continue;
        if (options.check) result.stale.push(rel);
        else {
          rmSync(join(root, rel));
          result.removed.push(rel);
        }
      }
    }
  }
  return result;
}

export { ruleTestsDir };
