import { defineConfig } from 'tsup';

export default defineConfig({
  // `register` is the one side-effect entry (listed in package.json "sideEffects").
  entry: ['src/index.ts', 'src/register.ts'],
  format: ['esm', 'cjs'],
  dts: true,
  sourcemap: true,
  clean: true,
  target: 'node20',
});
