import { LABEL_VALUES } from '@vigil/catalog';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { runs } from '../../../test/helpers/property.js';
import { createMetrics } from '../src/index.js';
import { boundLabel, normalizeMethod, statusClass, statusLabel } from '../src/internal/normalize.js';

// Label values come from the request line (method, path) and from application code (route,
// status): whatever arrives, each label stays in its documented set, and series stay bounded.

const METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'CONNECT', 'OPTIONS', 'TRACE', 'PATCH'];
const STATUS = /^([1-5]\d\d|other)$/;
const anyString = fc.oneof(fc.string({ maxLength: 300 }), fc.string({ unit: 'binary', maxLength: 300 }));

describe('label normalisation (property)', () => {
  it('method: a standard method as it is, anything else _OTHER', () => {
    fc.assert(
      fc.property(fc.oneof(fc.constantFrom(...METHODS, 'get', 'PROPFIND', ''), anyString), (m) => {
        const v = normalizeMethod(m);
        expect(v).toBe(METHODS.includes(m) ? m : LABEL_VALUES.otherMethod);
      }),
      runs(),
    );
    expect(normalizeMethod(undefined)).toBe(LABEL_VALUES.otherMethod);
  });

  it('status: 100-599 as digits, anything else "other"; its class 1xx-5xx or "other"', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.integer({ min: -1000, max: 2000 }),
          fc.double(),
          fc.constantFrom(Number.NaN, Infinity, 600, 99),
        ),
        (code) => {
          const s = statusLabel(code);
          expect(s).toMatch(STATUS);
          if (Number.isInteger(code) && code >= 100 && code <= 599) expect(s).toBe(String(code));
          else expect(s).toBe('other');
          expect(statusClass(s)).toMatch(/^([1-5]xx|other)$/);
        },
      ),
      runs(),
    );
    fc.assert(
      fc.property(anyString, (s) => {
        expect(statusClass(s)).toMatch(/^([1-5]xx|other)$/);
      }),
      runs(),
    );
  });

  it('route: cut to 200 characters, never longer', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 1000 }), (r) => {
        const v = boundLabel(r);
        expect(v.length).toBeLessThanOrEqual(200);
        expect(r.startsWith(v)).toBe(true);
      }),
      runs(),
    );
  });

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
