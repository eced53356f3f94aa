import { isVigilOptionError } from '@vigil/metrics';
import Fastify4 from 'fastify4';
import { describe, expect, it } from 'vitest';
import { vigilHealth, vigilMetrics, vigilShutdown } from '../src/index.js';

// Fastify 4 forced in (pnpm and yarn only warn about the peer range): a real fastify@4, installed
// here as `fastify4`. Every Vigil plugin refuses it with the same error as any other Vigil check.

describe('Fastify 4', () => {
  it.each([
    ['vigilMetrics', vigilMetrics],
    ['vigilHealth', vigilHealth],
    ['vigilShutdown', vigilShutdown],
  ] as const)(
    '%s: register() rejects with a VigilOptionError saying Fastify 4 is not supported yet',
    async (_name, plugin) => {
      const app = Fastify4({ logger: false });
      let error: unknown;
      try {
        await app.register(plugin as never, { signals: [] } as never);
        await app.ready();
      } catch (e) {
        error = e;
      }
      expect(isVigilOptionError(error)).toBe(true);
      expect(error).toMatchObject({ option: 'fastify' });
      expect((error as Error).message).toMatch(
        /^Invalid option "fastify": expected Fastify 5: Fastify 4 is not supported yet .*, got "Fastify 4\.\d+\.\d+"$/,
      );
      await app.close().catch(() => {});
    },
  );
});
