// Headless Chromium for the viewer's tests and screenshots: the system's Chromium driven by
// playwright-core (which never downloads a browser of its own).
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';

const NAMES = ['chromium', 'chromium-browser', 'google-chrome'];

/** Path of the Chromium to use: `CHROMIUM_PATH`, else the first of chromium / chromium-browser / google-chrome on PATH. */
export function findChromium() {
  if (process.env.CHROMIUM_PATH) return process.env.CHROMIUM_PATH;
  for (const name of NAMES) {
    for (const dir of (process.env.PATH ?? '').split(delimiter)) {
      if (dir === '') continue;
      try {
        accessSync(join(dir, name), constants.X_OK);
        return join(dir, name);
      } catch {}
    }
  }
  return undefined;
}

// No network beyond loopback, no profile sync, no GPU: the same flags everywhere the viewer is shot.
export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/** Launches headless Chromium; throws with the install hint when there is none. */
export async function launchChromium() {
  const executablePath = findChromium();
  if (!executablePath)
    throw new Error(
      'Chromium is not installed: `apt-get install -y --no-install-recommends chromium` (or set CHROMIUM_PATH)',
    );
  const { chromium } = await import('playwright-core');
  return chromium.launch({ executablePath, args: CHROMIUM_ARGS });
}
