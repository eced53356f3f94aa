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
 * Fails fast on an Express major this package does not support. Package managers only warn about
 * a peer mismatch, and Express 4 would otherwise crash the process on the first routed request.
 */
export function assertSupportedExpress(version: string | undefined = resolvedExpressVersion()): void {
  if (version === undefined) return;
  const major = Number.parseInt(version, 10);
  if (major === 5) return;
  throw new VigilOptionError(
    'express',
    major === 4
      ? 'Express 5: Express 4 is not supported yet (a later version of @vigil/express adds it); upgrade to Express 5 or stay without @vigil/express for now'
      : 'Express 5',
    `Express ${version}`,
  );
}
