import { VigilOptionError } from '@vigil/core';
import type { FastifyInstance } from 'fastify';

/**
 * Fails fast on a Fastify major these plugins do not support, with the same error as every other
 * Vigil check (package managers only warn about a peer mismatch). In the plugin body rather than
 * fastify-plugin's `fastify` range, which throws Fastify's own error before it.
 */
export function assertSupportedFastify(app: FastifyInstance): void {
  const version = (app as { version?: unknown }).version;
  if (typeof version !== 'string') return;
  const major = Number.parseInt(version, 10);
  if (major === 5) return;
  throw new VigilOptionError(
    'fastify',
    major === 4
      ? 'Fastify 5: Fastify 4 is not supported yet (a later version of @vigil/fastify adds it); upgrade to Fastify 5 or stay without @vigil/fastify for now'
      : 'Fastify 5',
    `Fastify ${version}`,
  );
}
