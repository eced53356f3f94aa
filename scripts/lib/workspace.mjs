// Shared helpers for the packaging checks (check-packages.mjs, consumer-check.mjs).
//
// Packages are discovered on every run: each packages/*/package.json that is not `private` is
// publishable. Nothing here hard-codes package names, so a package added next to the others is
// checked without editing these scripts.

import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

/** The pnpm binary: the one running us (`pnpm check:…`) when known, else `pnpm` on PATH. */
function pnpmCommand() {
  const execPath = process.env.npm_execpath;
  if (execPath && /pnpm/.test(path.basename(execPath)) && /\.c?js$/.test(execPath)) {
    return { cmd: process.execPath, pre: [execPath] };
  }
  return { cmd: 'pnpm', pre: [] };
}

/**
 * Every publishable package: packages/<dir>/package.json without `"private": true`, sorted by
 * directory. A directory without a package.json (someone is creating it right now) is skipped; a
 * package.json that does not parse is an error, since we cannot tell whether it is publishable.
 */
export function discoverPackages() {
  const base = path.join(ROOT, 'packages');
  const found = [];
  for (const entry of readdirSync(base, { withFileTypes: true })) {
    if (!entry.isDirectory()) continue;
    const dir = path.join(base, entry.name);
    const file = path.join(dir, 'package.json');
    if (!existsSync(file)) continue;
    let manifest;
    try {
      manifest = JSON.parse(readFileSync(file, 'utf8'));
    } catch (err) {
      throw new Error(`packages/${entry.name}/package.json does not parse: ${err.message}`);
    }
    if (manifest.private === true) continue;
    if (typeof manifest.name !== 'string' || typeof manifest.version !== 'string') {
      throw new Error(`packages/${entry.name}/package.json needs a "name" and a "version" to be published`);
    }
    found.push({
      dir,
      rel: `packages/${entry.name}`,
      name: manifest.name,
      version: manifest.version,
      manifest,
    });
  }
  return found.sort((a, b) => a.rel.localeCompare(b.rel));
}

/**
 * Narrows `all` to the packages named on the command line (by name, `@vigil/x`, or directory,
 * `x` / `packages/x`) plus the workspace packages they depend on, since a tarball whose
 * dependencies are not packed alongside cannot be installed. No arguments: all of them.
 */
export function selectPackages(all, args) {
  const wanted = args.filter((a) => !a.startsWith('-'));
  if (wanted.length === 0) return all;
  const byKey = new Map();
  for (const p of all) {
    byKey.set(p.name, p);
    byKey.set(p.rel, p);
    byKey.set(path.basename(p.dir), p);
  }
  const selected = new Set();
  const add = (p) => {
    if (selected.has(p)) return;
    selected.add(p);
    const m = p.manifest;
    for (const dep of Object.keys({ ...m.dependencies, ...m.peerDependencies, ...m.optionalDependencies })) {
      const d = all.find((q) => q.name === dep);
      if (d) add(d);
    }
  };
  for (const w of wanted) {
    const p = byKey.get(w.replace(/\/$/, ''));
    if (!p) throw new Error(`no publishable package "${w}" (have: ${all.map((q) => q.name).join(', ')})`);
    add(p);
  }
  return all.filter((p) => selected.has(p));
}

/** Every relative file path named by main/module/types/typings/exports (conditions flattened). */
function entryFiles(manifest) {
  const out = new Set();
  const add = (v) => {
    if (typeof v === 'string') {
      if (v.startsWith('./') && !v.includes('*')) out.add(v);
    } else if (Array.isArray(v)) v.forEach(add);
    else if (v && typeof v === 'object') Object.values(v).forEach(add);
  };
  for (const field of ['main', 'module', 'types', 'typings']) {
    if (typeof manifest[field] === 'string')
      add(manifest[field].startsWith('./') ? manifest[field] : `./${manifest[field]}`);
  }
  add(manifest.exports);
  return [...out];
}

function newestMtime(dir) {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (!entry.isFile()) continue;
    const t = statSync(path.join(entry.parentPath ?? entry.path, entry.name)).mtimeMs;
    if (t > newest) newest = t;
  }
  return newest;
}

/**
 * Checks that a package's build output is there. Returns `{ errors, warnings }` (strings):
 * a missing entry file is an error ("run pnpm build"), sources newer than the build a warning.
 */
export function checkBuilt(pkg) {
  const errors = [];
  const warnings = [];
  const missing = entryFiles(pkg.manifest).filter((f) => !existsSync(path.join(pkg.dir, f)));
  if (missing.length > 0) {
    errors.push(
      `${pkg.name}: ${missing.join(', ')} missing${pkg.manifest.scripts?.build ? ' (not built? run `pnpm build` first)' : ''}`,
    );
  }
  const src = path.join(pkg.dir, 'src');
  const dist = path.join(pkg.dir, 'dist');
  if (existsSync(src) && existsSync(dist) && newestMtime(src) > newestMtime(dist)) {
    warnings.push(`${pkg.name}: src/ is newer than dist/ (stale build? run \`pnpm build\`)`);
  }
  return { errors, warnings };
}

/**
 * Runs a command without a shell and collects its output. Resolves with
 * `{ code, signal, stdout, stderr, ms, timedOut }`; never rejects for a non-zero exit.
 */
export function run(cmd, args, { cwd = ROOT, env = process.env, timeoutMs = 120_000 } = {}) {
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    child.stdout.setEncoding('utf8').on('data', (d) => {
      stdout += d;
    });
    child.stderr.setEncoding('utf8').on('data', (d) => {
      stderr += d;
    });
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, timeoutMs);
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(new Error(`cannot run ${cmd}: ${err.message}`));
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr, ms: Date.now() - started, timedOut });
    });
  });
}

/** One line saying why a `run()` result failed, with the tail of its output. */
export function describeFailure(what, r, tailLines = 30) {
  const why = r.timedOut ? 'timed out' : r.signal ? `killed by ${r.signal}` : `exited with ${r.code}`;
  const out = `${r.stdout}\n${r.stderr}`.trim().split('\n').slice(-tailLines).join('\n');
  return `${what} ${why}${out ? `:\n${indent(out, '    ')}` : ''}`;
}

/**
 * `pnpm pack` one package into `dest` (pnpm rewrites `workspace:` specifiers to real versions,
 * exactly as `pnpm publish` would). Resolves with `{ tarball, files, size }`.
 */
export async function packPackage(pkg, dest) {
  const { cmd, pre } = pnpmCommand();
  const r = await run(cmd, [...pre, 'pack', '--pack-destination', dest, '--json'], {
    cwd: pkg.dir,
    timeoutMs: 60_000,
  });
  if (r.code !== 0) throw new Error(describeFailure(`pnpm pack (${pkg.name})`, r));
  // pnpm may print lifecycle output before the JSON document: take the last top-level object.
  const start = r.stdout.lastIndexOf('\n{') + 1;
  let info;
  try {
    info = JSON.parse(r.stdout.slice(start));
  } catch {
    throw new Error(`pnpm pack (${pkg.name}) printed no JSON:\n${indent(r.stdout.trim(), '    ')}`);
  }
  const tarball = path.isAbsolute(info.filename)
    ? info.filename
    : path.join(dest, path.basename(info.filename));
  return { tarball, files: info.files?.length ?? 0, size: statSync(tarball).size };
}

/** Maps with at most `limit` calls in flight; results keep input order. */
export async function mapLimit(items, limit, fn) {
  const results = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await fn(items[i], i);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
  return results;
}

export const PARALLELISM = Math.max(2, Math.min(8, availableParallelism()));

export function indent(text, prefix = '  ') {
  return text
    .split('\n')
    .map((l) => prefix + l)
    .join('\n');
}

/** A plain-text table (no colours, so it reads the same in CI logs). */
export function table(headers, rows) {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => String(r[i]).length)));
  const line = (cells) =>
    cells
      .map((c, i) => String(c).padEnd(widths[i]))
      .join('  ')
      .trimEnd();
  return [line(headers), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}

export function formatBytes(n) {
  return n < 1024 ? `${n} B` : `${(n / 1024).toFixed(1)} kB`;
}

export function formatMs(ms) {
  return ms < 1000 ? `${ms} ms` : `${(ms / 1000).toFixed(1)} s`;
}
