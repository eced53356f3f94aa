#!/usr/bin/env node
// `pnpm check:packages`: lint what we would publish, for every publishable package
// (packages/*/package.json without "private": true, discovered on each run).
//
// Each package is packed once with `pnpm pack` (into os.tmpdir()): that tarball is exactly what
// `pnpm publish` uploads (workspace: specifiers rewritten, `files` applied), and both tools check it.
// We pack ourselves rather than `attw --pack <dir>`, which runs `npm pack` and writes the .tgz into
// the package directory (racy while others work in the tree, and it is npm's idea of the package).
//
//   - publint 0.3 (root devDependency) on the tarball, strict: warnings fail like errors;
//     suggestions are printed but do not fail. A "file does not exist" finding for a file that is
//     in the package directory is annotated as "not published" (check `files`).
//   - Every file the packed README links with `./` (its CHANGELOG.md) is in the tarball.
//   - Are the Types Wrong (root devDependency @arethetypeswrong/cli 0.18) on the same tarball.
//     Profile `node16`: the packages support Node's resolution for both `require` and `import`
//     (node16-cjs, node16-esm) and bundlers. The profile skips only the legacy `node10`
//     resolution (TypeScript's `moduleResolution: node`, which ignores `exports`, so it says
//     nothing about our exports maps); problems there are still printed as notes but do not fail.
//     No rule is ignored. For speed we run the CLI's own analysis engine (@arethetypeswrong/core,
//     the exact version the CLI pins) in-process, so TypeScript loads once instead of once per
//     package; if it cannot be loaded we fall back to the `attw` CLI, one process per package.
//
// Needs the packages built (`pnpm build`); a missing entry file fails with that hint.
// `node scripts/check-packages.mjs express fastify` checks only those (and what they depend on).
// Exit 0 when every package is clean, 1 on any finding, 2 when the check itself could not run.

import { existsSync, readFileSync, realpathSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { publint } from 'publint';
import { formatMessage, getPkgPathValue } from 'publint/utils';
import {
  checkBuilt,
  describeFailure,
  discoverPackages,
  formatBytes,
  formatMs,
  indent,
  mapLimit,
  PARALLELISM,
  packPackage,
  ROOT,
  run,
  selectPackages,
  table,
} from './lib/workspace.mjs';

const ATTW_PROFILE = 'node16';
const ATTW_IGNORED_RESOLUTIONS = ['node10']; // exactly what attw's node16 profile ignores (see above)

const require = createRequire(import.meta.url);
const attwPkgJsonPath = require.resolve('@arethetypeswrong/cli/package.json');
const attwPkgJson = require(attwPkgJsonPath);
const ATTW_BIN = path.join(path.dirname(attwPkgJsonPath), attwPkgJson.bin.attw);
// publint exports no ./package.json: read the installed copy's manifest directly.
const PUBLINT_VERSION = JSON.parse(
  readFileSync(path.join(ROOT, 'node_modules/publint/package.json'), 'utf8'),
).version;

/** @arethetypeswrong/core as installed for the CLI, or null (then the CLI is spawned instead). */
async function loadAttwCore() {
  try {
    const fromCli = createRequire(realpathSync(ATTW_BIN));
    const corePkg = fromCli('@arethetypeswrong/core/package.json');
    if (corePkg.version !== attwPkgJson.dependencies['@arethetypeswrong/core']) return null;
    return await import(pathToFileURL(fromCli.resolve('@arethetypeswrong/core')).href);
  } catch {
    return null;
  }
}

async function runPublint(pkg, tarball) {
  const data = await readFile(tarball);
  const { messages, pkg: manifest } = await publint({
    pack: { tarball: data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength) },
    level: 'suggestion',
    strict: true,
  });
  const describe = (m) => {
    let text = `${m.code}: ${formatMessage(m, manifest, { color: false }) ?? m.path.join('.')}`;
    if (m.code === 'FILE_DOES_NOT_EXIST') {
      const value = getPkgPathValue(manifest, m.path);
      if (typeof value === 'string' && existsSync(path.join(pkg.dir, value))) {
        text += ' (the file is in the package directory but not in the tarball: check "files")';
      }
    }
    return text;
  };
  return {
    errors: messages.filter((m) => m.type !== 'suggestion').map(describe),
    suggestions: messages.filter((m) => m.type === 'suggestion').map(describe),
  };
}

const docsUrl = (kind) =>
  `https://github.com/arethetypeswrong/arethetypeswrong.github.io/blob/main/docs/problems/${kind}.md`;

function summarizeAttw(analysis) {
  if (!analysis.types) {
    return { errors: ['the package ships no TypeScript types (nothing for attw to check)'], notes: [] };
  }
  // Problems name an entrypoint + resolution, a types/implementation file pair, or one file.
  const short = (f) => f.replace(/^\/node_modules\/(?:@[^/]+\/)?[^/]+\//, '');
  const describe = (p) => {
    let where = '';
    if (p.entrypoint !== undefined) where = `"${p.entrypoint}" with ${p.resolutionKind}`;
    else if (p.typesFileName) where = `${short(p.typesFileName)} vs ${short(p.implementationFileName)}`;
    else if (p.fileName) where = short(p.fileName);
    return `${p.kind}${where ? ` (${where})` : ''}: ${docsUrl(p.kind)}`;
  };
  const ignored = (p) => 'resolutionKind' in p && ATTW_IGNORED_RESOLUTIONS.includes(p.resolutionKind);
  return {
    errors: analysis.problems.filter((p) => !ignored(p)).map(describe),
    notes: analysis.problems.filter(ignored).map(describe),
  };
}

async function runAttw(core, tarball) {
  if (core) {
    const pkg = core.createPackageFromTarballData(new Uint8Array(await readFile(tarball)));
    return summarizeAttw(await core.checkPackage(pkg));
  }
  const r = await run(process.execPath, [ATTW_BIN, tarball, '--format', 'json', '--profile', ATTW_PROFILE], {
    cwd: path.dirname(tarball), // so no ./.attw.json from the caller's cwd can change the rules
    timeoutMs: 120_000,
  });
  let result;
  try {
    result = JSON.parse(r.stdout);
  } catch {
    throw new Error(describeFailure('attw', r));
  }
  const summary = summarizeAttw(result.analysis);
  // attw's own verdict must agree with ours; if it does not, fail with its output.
  if (r.code !== 0 && summary.errors.length === 0) summary.errors.push(describeFailure('attw', r));
  return summary;
}

/**
 * Files the packed README links with `./` (its changelog, say) must be in the tarball: on npm a
 * link to a file that was not published leads nowhere.
 */
async function checkReadmeLinks(tarball) {
  const list = await run('tar', ['-tzf', tarball], { timeoutMs: 30_000 });
  if (list.code !== 0) return [describeFailure('tar -tzf', list)];
  const files = new Set(list.stdout.split('\n').map((f) => f.replace(/^package\//, '')));
  const readme = await run('tar', ['-xzOf', tarball, 'package/README.md'], { timeoutMs: 30_000 });
  if (readme.code !== 0) return ['README.md is not in the tarball'];
  const errors = [];
  for (const m of readme.stdout.matchAll(/\]\(\.\/([^)#\s]+)[^)]*\)/g)) {
    if (!files.has(m[1]))
      errors.push(`README.md links ./${m[1]}, which is not in the tarball (check "files")`);
  }
  return errors;
}

async function checkPackage(pkg, tmp, core) {
  const started = Date.now();
  const res = { pkg, publint: null, attw: null, pack: null, errors: [], warnings: [], notes: [] };
  const built = checkBuilt(pkg);
  res.warnings.push(...built.warnings);
  res.errors.push(...built.errors);
  if (built.errors.length === 0) {
    try {
      res.pack = await packPackage(pkg, tmp);
    } catch (err) {
      res.errors.push(err.message);
    }
  }
  if (res.pack) {
    const [pl, at, links] = await Promise.allSettled([
      runPublint(pkg, res.pack.tarball),
      runAttw(core, res.pack.tarball),
      checkReadmeLinks(res.pack.tarball),
    ]);
    if (links.status === 'fulfilled') res.errors.push(...links.value);
    else res.errors.push(`README links could not be checked: ${links.reason?.message ?? links.reason}`);
    if (pl.status === 'fulfilled') {
      res.publint = pl.value;
      res.errors.push(...pl.value.errors.map((e) => `publint ${e}`));
      res.notes.push(...pl.value.suggestions.map((s) => `publint suggestion ${s}`));
    } else {
      res.errors.push(`publint could not run: ${pl.reason?.message ?? pl.reason}`);
    }
    if (at.status === 'fulfilled') {
      res.attw = at.value;
      res.errors.push(...at.value.errors.map((e) => `attw ${e}`));
      res.notes.push(...at.value.notes.map((n) => `attw, unsupported resolution only: ${n}`));
    } else {
      res.errors.push(`attw could not run: ${at.reason?.message ?? at.reason}`);
    }
  }
  res.ms = Date.now() - started;
  return res;
}

async function main() {
  const started = Date.now();
  const packages = selectPackages(discoverPackages(), process.argv.slice(2));
  if (packages.length === 0) {
    console.error('check:packages: no publishable package under packages/');
    return 2;
  }
  const core = await loadAttwCore();
  console.log(
    `check:packages: ${packages.length} publishable packages (${packages.map((p) => p.name).join(', ')})\n` +
      `  publint ${PUBLINT_VERSION} --strict; attw ${attwPkgJson.version} --profile ${ATTW_PROFILE}` +
      ` (${core ? 'in-process' : 'CLI'}); up to ${PARALLELISM} packages at a time`,
  );
  const tmp = await mkdtemp(path.join(tmpdir(), 'vigil-check-packages-'));
  let results;
  try {
    results = await mapLimit(packages, PARALLELISM, (pkg) => checkPackage(pkg, tmp, core));
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }

  const cell = (r, tool) => {
    const v = r[tool];
    if (!v) return 'not run';
    return v.errors.length === 0 ? 'ok' : `${v.errors.length} error${v.errors.length === 1 ? '' : 's'}`;
  };
  console.log();
  console.log(
    table(
      ['package', 'version', 'publint', 'attw', 'tarball', 'time', 'result'],
      results.map((r) => [
        r.pkg.name,
        r.pkg.version,
        cell(r, 'publint'),
        cell(r, 'attw'),
        r.pack ? `${r.pack.files} files, ${formatBytes(r.pack.size)}` : '-',
        formatMs(r.ms),
        r.errors.length === 0 ? 'PASS' : 'FAIL',
      ]),
    ),
  );

  for (const r of results) {
    if (r.errors.length + r.warnings.length + r.notes.length === 0) continue;
    console.log(`\n${r.pkg.name} (${r.pkg.rel})`);
    for (const e of r.errors) console.log(indent(`error: ${e}`, '  '));
    for (const w of r.warnings) console.log(indent(`warning: ${w}`, '  '));
    for (const n of r.notes) console.log(indent(`note: ${n}`, '  '));
  }

  const failed = results.filter((r) => r.errors.length > 0);
  console.log(`\nchecked ${results.length} packages in ${formatMs(Date.now() - started)}`);
  console.log(`check-packages: ${results.length - failed.length} passed, ${failed.length} failed`);
  return failed.length > 0 ? 1 : 0;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (err) => {
    console.error(`check:packages: ${err?.stack ?? err}`);
    process.exitCode = 2;
  },
);
