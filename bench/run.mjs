#!/usr/bin/env node
// Runs every benchmark suite in bench/suites/ (each a self-contained .mjs script that writes its
// table to bench/results/<suite>.md), in name order, one at a time so they never compete for CPU.
// `pnpm bench` runs all; `pnpm bench -- http` runs the suites whose name contains "http".
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const filter = process.argv.slice(2).filter((a) => a !== '--');
const suites = readdirSync(join(here, 'suites'))
  .filter((f) => f.endsWith('.mjs') && !f.startsWith('_'))
  .filter((f) => filter.length === 0 || filter.some((x) => f.includes(x)))
  .sort();
let failed = 0;
for (const suite of suites) {
  console.log(`\n=== bench: ${suite} ===`);
  const r = spawnSync(process.execPath, [join(here, 'suites', suite)], { stdio: 'inherit' });
  if (r.status !== 0) {
    failed++;
    console.error(`suite ${suite} failed with ${r.status ?? r.signal}`);
  }
}
process.exit(failed ? 1 : 0);
