#!/usr/bin/env node
// The public API of every published package, as API Extractor reports (`packages/*/api/*.api.md`,
// one per entry point), checked into git so a pull request shows what it changes in the API.
// `pnpm api` writes them; `pnpm check:api` (CI) fails when one is stale. Needs built packages.
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Extractor, ExtractorConfig } from '@microsoft/api-extractor';
import { discoverPackages } from './lib/workspace.mjs';

const check = process.argv.includes('--check');
const only = process.argv.slice(2).filter((a) => !a.startsWith('--'));
let stale = 0;

for (const pkg of discoverPackages()) {
  if (only.length > 0 && !only.some((o) => pkg.name.endsWith(`/${o}`))) continue;
  const manifest = JSON.parse(readFileSync(join(pkg.dir, 'package.json'), 'utf8'));
  const reportFolder = join(pkg.dir, 'api');
  mkdirSync(reportFolder, { recursive: true });
  // Code entry points only: plain-file exports (package.json, a JSON schema) have no API.
  const entries = Object.entries(manifest.exports).filter(([, value]) => typeof value === 'object');
  const expected = new Set();
  for (const [key, value] of entries) {
    const types = value.import?.types;
    const entry = key === '.' ? 'index' : key.slice(2);
    const reportFileName = `${entry}.api.md`;
    expected.add(reportFileName);
    const config = ExtractorConfig.prepare({
      configObject: {
        projectFolder: pkg.dir,
        mainEntryPointFilePath: join(pkg.dir, types),
        compiler: {
          overrideTsconfig: { compilerOptions: { lib: ['ES2023'], types: ['node'], skipLibCheck: true } },
        },
        apiReport: {
          enabled: true,
          reportFileName,
          reportFolder,
          reportTempFolder: join(tmpdir(), 'vigil-api', pkg.name),
        },
        docModel: { enabled: false },
        dtsRollup: { enabled: false },
        tsdocMetadata: { enabled: false },
        messages: {
          compilerMessageReporting: { default: { logLevel: 'warning' } },
          extractorMessageReporting: {
            default: { logLevel: 'none' },
            'ae-missing-release-tag': { logLevel: 'none' },
          },
          tsdocMessageReporting: { default: { logLevel: 'none' } },
        },
      },
      configObjectFullPath: join(pkg.dir, 'api-extractor.json'),
      packageJsonFullPath: join(pkg.dir, 'package.json'),
    });
    const result = Extractor.invoke(config, {
      localBuild: !check,
      showVerboseMessages: false,
      messageCallback: (m) => {
        if (m.logLevel === 'warning' || m.logLevel === 'error') {
          m.handled = true;
          console.error(`${pkg.name} (${key}): ${m.text}`);
        } else m.handled = true;
      },
    });
    if (result.apiReportChanged) {
      stale++;
      console.log(`${check ? 'stale' : 'wrote'}: ${join(reportFolder, reportFileName)}`);
    } else console.log(`up to date: ${join(reportFolder, reportFileName)}`);
  }
  for (const f of readdirSync(reportFolder)) {
    if (!expected.has(f)) {
      stale++;
      if (check) console.log(`stale (no such entry point): ${join(reportFolder, f)}`);
      else rmSync(join(reportFolder, f));
    }
  }
  if (!existsSync(reportFolder)) mkdirSync(reportFolder);
}

if (check && stale > 0) {
  console.error(`check:api: ${stale} API report(s) stale; run \`pnpm api\` and commit the result`);
  process.exit(1);
}
