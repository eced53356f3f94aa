import { readFileSync } from 'node:fs';
import { CATALOG, dbQueryDuration, LABEL_VALUES } from '@vigil/catalog';
import { describe, expect, it } from 'vitest';
import { createMetrics } from '../src/index.js';

// Labels with a fixed set of values carry that set in the catalog, the README says it, and what
// the code writes stays inside it.

describe('fixed label values', () => {
  it("database_query_duration_seconds' outcome is success or error: in the catalog, in the README, and in what is written", async () => {
    expect(dbQueryDuration.labelValues?.outcome).toEqual([LABEL_VALUES.success, LABEL_VALUES.error]);
    const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
    const row = readme.split('\n').find((l) => l.startsWith('| `database_query_duration_seconds` |'));
    expect(row).toContain('`outcome` (`success`, `error`)');
    expect(readme).toMatch(/^\| `success` \| `outcome` \|/m);
    expect(readme).toMatch(/^\| `error` \| `outcome` \|/m);

    const m = createMetrics({ runtimeMetrics: false });
    try {
      await m.trackDatabaseQuery('SELECT', 'users', async () => 1);
      await m
        .trackDatabaseQuery('UPDATE', 'users', async () => Promise.reject(new Error('x')))
        .catch(() => {});
      const text = (await m.scrape(undefined, undefined)).body as string;
      const written = new Set(
        [...text.matchAll(/^database_query_duration_seconds_count\{[^}]*outcome="([^"]*)"/gm)].map(
          (x) => x[1],
        ),
      );
      expect([...written].sort()).toEqual(['error', 'success']);
    } finally {
      await m.close();
    }
  });

  it('every listed value set names a label of its metric', () => {
    for (const d of CATALOG) {
      for (const label of Object.keys(d.labelValues ?? {})) expect(d.labels).toContain(label);
    }
  });
});
