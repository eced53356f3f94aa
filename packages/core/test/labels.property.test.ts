import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { runs } from '../../../test/helpers/property.js';
import { boundLabel, LABEL_VALUES, normalizeMethod, statusClass, statusLabel } from '../src/labels.js';

// Label values come from the request line (method, path) and from application code (route,
// status): whatever arrives, each normaliser's output stays in its documented set.

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
});
