import { defineConfig } from 'tsup';

export default defineConfig({
  // The framework adapters are subpath entries, so `@vigil/logger` itself never loads express or fastify.
  entry: ['src/index.ts', 'src/express.ts', 'src/fastify.ts'],
  format: ['esm', 'cjs'],
  dts: true,
  sourcemap: true,
  clean: true,
  target: 'node20',
  external: ['@vigil/express', 'express', 'fastify', 'pino'],
  // import.meta.url in the CommonJS build (pino-pretty is resolved from this package as a fallback).
  shims: true,
});
