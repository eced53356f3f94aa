#!/usr/bin/env node
// vigil-mixin generate --config vigil-mixin.json --out ./observability [--check] [--no-prune]
import { resolve, sep } from 'node:path';
import { parseArgs } from 'node:util';
import { isVigilOptionError } from '@vigil/core';
import { DEFAULT_LAYOUT, generateFromFile, write } from './generate.js';

const USAGE = `Usage: vigil-mixin generate --config <vigil-mixin.json> --out <dir> [--check] [--no-prune]

Generates Grafana dashboards, Prometheus rules with promtool tests, runbooks and a PrometheusRule
from the config into <dir> (${Object.entries(DEFAULT_LAYOUT)
  .filter(([k]) => k !== 'configFile' && k !== 'command')
  .map(([, v]) => `${v}/`)
  .join(', ')}).
  --check      write nothing; exit 1 when a file in <dir> differs (for CI)
  --no-prune   keep files in the generated folders that this version no longer generates`;

function main(argv: string[]): number {
  let parsed: ReturnType<typeof parse>;
  function parse(a: string[]) {
    return parseArgs({
      args: a,
      allowPositionals: true,
      options: {
        config: { type: 'string', short: 'c' },
        out: { type: 'string', short: 'o' },
        check: { type: 'boolean', default: false },
        'no-prune': { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
    });
  }
  try {
    parsed = parse(argv);
  } catch (e) {
    console.error(`error: ${(e as Error).message}\n\n${USAGE}`);
    return 2;
  }
  const { values, positionals } = parsed;
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  if (positionals[0] !== 'generate' || positionals.length > 1 || !values.config || !values.out) {
    console.error(USAGE);
    return 2;
  }
  // The output is the user's to commit: never an installed package's folder (lost on reinstall).
  if (resolve(values.out).split(sep).includes('node_modules')) {
    console.error(`error: --out ${values.out} is inside node_modules; generate into a folder you commit`);
    return 2;
  }
  let files: ReturnType<typeof generateFromFile>;
  try {
    files = generateFromFile(values.config, { layout: { configFile: values.config } });
  } catch (e) {
    // Config mistakes get their message (naming the field), not a stack trace.
    if (!isVigilOptionError(e)) throw e;
    console.error(`error: ${(e as Error).message}`);
    return 1;
  }
  const r = write(files, values.out, { check: values.check, prune: !values['no-prune'] });
  for (const f of r.written) console.log(`wrote ${f}`);
  for (const f of r.removed) console.log(`removed ${f} (no longer generated)`);
  for (const f of r.stale) console.error(`stale: ${f}`);
  console.log(`${r.upToDate} files up to date in ${values.out}`);
  return r.stale.length ? 1 : 0;
}

process.exitCode = main(process.argv.slice(2));
