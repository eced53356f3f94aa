#!/usr/bin/env node
// `pnpm demo:screenshots`: runs the demo (run.mjs, as `pnpm demo` does), waits until the orders
// breaker has opened during a chaos spell and closed again, and takes the README's pictures of the
// live Service overview and Resilience dashboards with headless Chromium:
// docs/images/demo-service-overview.png and docs/images/demo-resilience.png.
// Needs `pnpm build`, prometheus and chromium. The demo's DEMO_* variables apply (ports, rate).
import { spawn } from 'node:child_process';
import { statSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { launchChromium } from '../viewer/browser.mjs';

const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = join(HERE, '..', '..');
const SHOTS = {
  overview: { title: /Service overview/, file: 'docs/images/demo-service-overview.png', maxHeight: 1290 },
  resilience: { title: /Resilience/, file: 'docs/images/demo-resilience.png', maxHeight: 1000 },
};
const WIDTH = 1440;

const demo = spawn(process.execPath, [join(HERE, 'run.mjs')], {
  cwd: ROOT,
  env: {
    ...process.env,
    // One chaos spell early, long enough for the breaker to open, half-open and open again.
    DEMO_CHAOS_NORMAL_S: process.env.DEMO_CHAOS_NORMAL_S ?? '30',
    DEMO_CHAOS_FLAKY_S: process.env.DEMO_CHAOS_FLAKY_S ?? '25',
    DEMO_DURATION_S: '600', // never left running
  },
  stdio: ['ignore', 'pipe', 'inherit'],
});
let out = '';
demo.stdout.on('data', (b) => {
  out += b;
  process.stdout.write(b);
});
const exited = new Promise((resolve) => demo.once('exit', (code) => resolve(code)));

async function until(what, fn, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (demo.exitCode !== null) throw new Error(`the demo exited while waiting for ${what}`);
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

/** Height of the dashboard down to the last row of panels that fits in `max` px. */
const clipHeight = (page, max) =>
  page.evaluate((limit) => {
    let bottom = document.querySelector('header').getBoundingClientRect().bottom;
    for (const s of document.querySelectorAll('.section-body')) {
      const b = s.getBoundingClientRect().bottom + window.scrollY;
      if (b > limit) break;
      bottom = b;
    }
    return Math.ceil(bottom + 6);
  }, max);

let browser;
try {
  await until('the demo banner', () => out.includes('Vigil demo is up'), 180_000);
  const started = Date.now();
  const link = (title) => {
    const line = out.split('\n').find((l) => title.test(l) && /\/d\//.test(l));
    if (!line) throw new Error(`no ${title} link in the demo output (is prometheus installed?)`);
    return /(http:\/\/\S+\/d\/\S+)/.exec(line)[1];
  };
  // The whole demo so far, from its first rates (a few scrapes in) to now, refreshed every 5 s.
  const range = `?from=${started + 15_000}&to=now&refresh=5s`;
  browser = await launchChromium();
  const page = await browser.newPage({ viewport: { width: WIDTH, height: 1000 } });
  page.on('pageerror', (e) => console.error(`screenshots: page error: ${e.message}`));

  await page.goto(`${link(SHOTS.resilience.title)}?from=now-5m&to=now&refresh=5s`);
  console.log('screenshots: waiting for the breaker to open and close again (a chaos spell)…');
  await until(
    'a breaker that opened and closed again',
    () =>
      page.evaluate(() =>
        [...document.querySelectorAll('.panel[data-type="state-timeline"] .tl-track')].some((t) => {
          const segs = [...t.querySelectorAll('.tl-seg')].map((s) => s.dataset.value);
          return segs.includes('open') && segs[segs.length - 1] === 'closed';
        }),
      ),
    240_000,
  );
  for (const shot of [SHOTS.resilience, SHOTS.overview]) {
    await page.goto(`${link(shot.title)}${range}`);
    await page.waitForFunction(() => Number(document.body.dataset.refreshes ?? 0) >= 1, undefined, {
      timeout: 60_000,
    });
    const height = await clipHeight(page, shot.maxHeight);
    await page.setViewportSize({ width: WIDTH, height });
    await page.waitForFunction(() => Number(document.body.dataset.refreshes ?? 0) >= 2, undefined, {
      timeout: 60_000,
    });
    await page.screenshot({ path: join(ROOT, shot.file), clip: { x: 0, y: 0, width: WIDTH, height } });
    console.log(
      `screenshots: wrote ${shot.file} (${WIDTH}x${height}, ${Math.round(statSync(join(ROOT, shot.file)).size / 1024)} KiB)`,
    );
  }
} catch (e) {
  console.error(`screenshots: ${e.message}`);
  process.exitCode = 1;
} finally {
  await browser?.close();
  demo.kill('SIGINT');
  const code = await exited;
  if (code !== 0) {
    console.error(`screenshots: the demo exited with ${code}`);
    process.exitCode = 1;
  }
  console.log(`screenshots: done (${relative(process.cwd(), ROOT) || '.'})`);
}
