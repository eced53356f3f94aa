// Compiles the TypeScript generators of scripts/dashboards and scripts/alerts with `tsc` (type
// errors, including against Grafana's schema types, fail generation), then runs them.
// Used by scripts/gen.mjs.
import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

/** Compiles the generators into `.tmp/scripts-gen` and returns that directory. */
export function compileGenerators(root) {
  const tsc = createRequire(join(root, 'package.json')).resolve('typescript/bin/tsc');
  try {
    execFileSync(process.execPath, [tsc, '-p', join(root, 'scripts/dashboards/tsconfig.json')], {
      cwd: root,
      stdio: ['ignore', 'pipe', 'pipe'],
      encoding: 'utf8',
    });
  } catch (e) {
    throw new Error(
      `scripts/dashboards and scripts/alerts do not compile:\n${e.stdout ?? ''}${e.stderr ?? ''}`,
    );
  }
  return join(root, '.tmp/scripts-gen');
}

/** Imports a compiled module of scripts/ (e.g. `dashboards/index.js`). */
export async function importCompiled(root, rel) {
  return import(pathToFileURL(join(compileGenerators(root), rel)).href);
}

/**
 * Generates dashboards, alert rules, their promtool tests and runbooks; in `check` mode only
 * reports stale files. Returns the number of stale files. `--slo-config=FILE` picks another config.
 */
export async function runDashboardsAndAlerts({ root, catalog, check, argv = process.argv }) {
  const { sync, loadContext, CONFIG_FILE } = await importCompiled(root, 'dashboards/index.js');
  const flag = argv.find((a) => a.startsWith('--slo-config='));
  let r;
  try {
    const ctx = loadContext(root, catalog, flag ? flag.slice('--slo-config='.length) : CONFIG_FILE);
    r = sync(root, ctx, check);
  } catch (e) {
    // Configuration mistakes get their message, not a stack trace.
    if (e?.code !== 'VIGIL_INVALID_OPTION') throw e;
    console.error(`error: ${e.message}`);
    return 1;
  }
  for (const f of r.written) console.log(`wrote ${f}`);
  for (const f of r.removed) console.log(`removed ${f} (no longer generated)`);
  for (const f of r.stale) console.error(`stale: ${f} (run \`pnpm gen\` and commit the result)`);
  console.log(`up to date: ${r.upToDate} dashboard, alert-rule, promtool-test and runbook files`);
  return r.stale.length;
}
