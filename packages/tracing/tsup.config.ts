import { defineConfig } from 'tsup';

export default defineConfig({
  // `register` is the one side-effect entry (listed in package.json "sideEffects").
  entry: ['src/index.ts', 'src/register.ts'],
  format: ['esm', 'cjs'],
  dts: true,
  sourcemap: true,
  clean: true,
  target: 'node20',
  // Start-up: the OpenTelemetry SDK parts Vigil runs (trace SDK, core, resources) are bundled
  // into dist, one file instead of ~90 modules to resolve and compile (measured: import of
  // @vigil/tracing 104–134 ms → 54–71 ms). The context manager is not: its only build is CommonJS,
  // which an ESM bundle could not require. They stay
  // dependencies (their types are in Vigil's public types, and the OTLP serializer, loaded on the
  // first export, uses them). Not bundled: @opentelemetry/api (a peer: one API per process, shared
  // with the application's own instrumentations) and the lazily loaded serializer.
  // Licences of the bundled code: THIRD-PARTY-NOTICES.md.
  noExternal: [/^@opentelemetry\/(core|resources|sdk-trace)(\/|$)/],
});
