import { existsSync, readdirSync } from 'node:fs';
import { defineConfig } from 'vitest/config';

// One root config, one project per package that has tests (plus `repo` for cross-package and
// example tests under test/).
const packages = readdirSync('packages').filter((name) => existsSync(`packages/${name}/test`));

export default defineConfig({
  test: {
    projects: [
      ...packages.map((name) => ({
        test: {
          name,
          root: `packages/${name}`,
          include: ['test/**/*.test.ts'],
          testTimeout: 30_000,
          hookTimeout: 30_000,
        },
      })),
      {
        test: {
          name: 'repo',
          root: 'test',
          include: ['**/*.test.ts'],
          testTimeout: 120_000,
          hookTimeout: 120_000,
        },
      },
    ],
  },
});
