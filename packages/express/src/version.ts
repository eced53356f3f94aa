import { createRequire } from 'node:module';
import { VigilOptionError } from '@vigil/core';

/**
 * The version of the `express` this package resolves: its peer dependency, the copy the app gets
 * (pnpm links the peer next to it, npm installs one at the top). Undefined when it cannot be read
 * (a bundled app).
 */
export function resolvedExpressVersion(): string | undefined {
  try {
    const pkg = createRequire(import.meta.url)('express/package.json') as { version?: unknown };
    return typeof pkg.version === 'string' ? pkg.version : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Fails fast on an Express this package does not support (below 4.17, or a major after 5).
 * Package managers only warn about a peer mismatch, and an unknown router would lose the route
 * templates.
 */
export function assertSupportedExpress(version: string | undefined = resolvedExpressVersion()): void {
  if (version === undefined) return;
  const [major, minor] = version.split('.').map((n) => Number.parseInt(n, 10));
  if (major === 5 || (major === 4 && (minor ?? 0) >= 17)) return;
  throw new VigilOptionError('express', 'Express 4.17 or later, or Express 5', `Express ${version}`);
}
