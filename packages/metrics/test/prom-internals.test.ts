import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { declaredRange, inRange, installedVersion, rangeWithin } from '../../../test/helpers/versions.js';
import { PROM_CLIENT_SUPPORTED, Registry, registryDefaultLabels } from '../src/internal/prom.js';

// @vigil/metrics, @vigil/health and @vigil/resilience load prom-client's lib/ files, not its index
// (which also loads the Pushgateway, Summary and cluster aggregator: about 9 ms of start-up). Run on
// the built packages, as users get them, in CommonJS and ESM.

const packagesDir = join(import.meta.dirname, '..', '..');

/** prom-client files loaded after importing `pkg` (from its own directory), relative to the package. */
function loadedPromFiles(pkg: string, mode: 'esm' | 'cjs'): string[] {
  // CommonJS files loaded so far, whichever module system loaded them, are in require.cache.
  const list =
    "console.log(JSON.stringify(Object.keys(require.cache).filter((k) => k.includes('/prom-client/'))" +
    ".map((k) => k.split('/prom-client/')[1])));";
  const name = JSON.stringify(`@vigil/${pkg}`);
  const script =
    mode === 'esm'
      ? `await import(${name}); const require = (await import('node:module')).createRequire(import.meta.url); ${list}`
      : `require(${name}); ${list}`;
  const args = mode === 'esm' ? ['--input-type=module', '-e', script] : ['-e', script];
  const out = execFileSync(process.execPath, args, { cwd: join(packagesDir, pkg), encoding: 'utf8' });
  return JSON.parse(out.trim()) as string[];
}

describe('prom-client internals (src/internal/prom.ts)', () => {
  it(`runs against a supported prom-client (${PROM_CLIENT_SUPPORTED}), and package.json accepts no other`, () => {
    expect(inRange(installedVersion('prom-client', import.meta.filename), PROM_CLIENT_SUPPORTED)).toBe(true);
    const spec = declaredRange(join(import.meta.dirname, '..', 'package.json'), 'prom-client');
    expect(rangeWithin(spec, PROM_CLIENT_SUPPORTED)).toBe(true);
  });

  it("reads a registry's default labels", () => {
    const r = new Registry();
    expect(registryDefaultLabels(r)).toEqual({});
    r.setDefaultLabels({ service: 'a' });
    expect(registryDefaultLabels(r)).toEqual({ service: 'a' });
  });
});

describe('prom-client is loaded without its index', () => {
  for (const pkg of ['metrics', 'health', 'resilience']) {
    for (const mode of ['esm', 'cjs'] as const) {
      it(`@vigil/${pkg} (${mode})`, () => {
        const files = loadedPromFiles(pkg, mode);
        expect(files).toContain('lib/registry.js');
        expect(files).not.toContain('index.js');
        expect(files).not.toContain('lib/pushgateway.js');
        expect(files).not.toContain('lib/summary.js');
        expect(files).not.toContain('lib/cluster.js');
      });
    }
  }

  it("exports prom-client's own Registry class (the one its index exports)", () => {
    const script = `const { Registry } = require('@vigil/metrics'); const prom = require('prom-client');
const r = new prom.Registry();
console.log(JSON.stringify([Registry === prom.Registry, r instanceof Registry]));`;
    const out = execFileSync(process.execPath, ['-e', script], {
      cwd: join(packagesDir, 'metrics'),
      encoding: 'utf8',
    });
    expect(JSON.parse(out.trim())).toEqual([true, true]);
  });
});
