import { LABEL_VALUES } from '@vigil/catalog';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { runs } from '../../../test/helpers/property.js';
import { createMetrics } from '../src/index.js';

// Label values come from the request line (method, path) and from application code (route,
// status): whatever an application records, what is written stays bounded (the normalisers
// themselves: packages/core/test/labels.property.test.ts).

const METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'CONNECT', 'OPTIONS', 'TRACE', 'PATCH'];
const anyString = fc.oneof(fc.string({ maxLength: 300 }), fc.string({ unit: 'binary', maxLength: 300 }));

describe('labels written by the metrics (property)', () => {
  it('whatever an application records, the scrape has only bounded label values and at most maxSeries series', async () => {
    const m = createMetrics({ maxSeries: 20, runtimeMetrics: false });
    try {
      fc.assert(
        fc.property(anyString, anyString, fc.integer({ min: -5, max: 1000 }), (method, route, status) => {
          m.http.end(method, route, status, m.http.start());
        }),
        runs(),
      );
      const text = (await m.scrape(undefined, undefined)).body as string;
      const series = text.split('\n').filter((l) => l.startsWith('http_requests_total{'));
      expect(series.length).toBeGreaterThan(0);
      // The cap, plus the overflow series per status class (at most 6).
      expect(series.length).toBeLessThanOrEqual(20 + 6);
      for (const line of series) {
        const method = /method="([^"]*)"/.exec(line)?.[1];
        const status = /status_code="([^"]*)"/.exec(line)?.[1];
        expect([...METHODS, LABEL_VALUES.otherMethod]).toContain(method);
        expect(status).toMatch(/^([1-5]\d\d|[1-5]xx|other)$/);
      }
    } finally {
      await m.close();
    }
  });
});
