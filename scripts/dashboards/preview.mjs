#!/usr/bin/env node
// `pnpm dashboards:preview [--seconds=60] [--out=DIR] [--no-screenshot]`: static HTML previews of
// every dashboard from a real Prometheus, and docs/images/service-overview.png (see preview.ts).
// Needs built examples (`pnpm build`), Debian's prometheus and chromium.
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { importCompiled } from './run.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const { main } = await importCompiled(root, 'dashboards/preview.js');
try {
  await main(root, process.argv.slice(2));
} catch (e) {
  console.error(`dashboards:preview: ${e.message}`);
  process.exitCode = 1;
}
