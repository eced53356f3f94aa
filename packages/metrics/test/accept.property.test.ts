import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { huge, runs } from '../../../test/helpers/property.js';
import { acceptsOpenMetrics } from '../src/index.js';

// The scrape endpoint answers OpenMetrics only when the scraper asks for it by name, with a
// quality above 0 and not below the Prometheus text format's; anything else, from anyone, gets the
// text format, and no header makes the negotiation throw or take long.

const PROMETHEUS_2 =
  'application/openmetrics-text;version=1.0.0;q=0.5,application/openmetrics-text;version=0.0.1;q=0.4,text/plain;version=0.0.4;q=0.3,*/*;q=0.2';
const PROMETHEUS_3 =
  'application/openmetrics-text;version=1.0.0;escaping=allow-utf-8;q=0.6,application/openmetrics-text;version=0.0.1;q=0.5,text/plain;version=1.0.0;escaping=allow-utf-8;q=0.4,text/plain;version=0.0.4;q=0.3,*/*;q=0.2';
const TEXT_FIRST =
  'text/plain;version=0.0.4;q=0.5,application/openmetrics-text;version=1.0.0;q=0.4,*/*;q=0.1';

const q = fc.constantFrom('', ';q=0', ';q=0.5', ';q=1', ';q=0.001', ';q=1.000', ';q=2', ';q=abc', ';Q=0.3');
const type = fc.constantFrom(
  'application/openmetrics-text',
  'APPLICATION/OpenMetrics-Text',
  'text/plain',
  'Text/Plain',
  '*/*',
  'application/*',
  'application/json',
);
const range = fc
  .tuple(
    type,
    fc.constantFrom('', ';version=1.0.0', ';version=0.0.4', ';charset=utf-8'),
    q,
    fc.constantFrom('', ' '),
  )
  .map(([t, p, qq, ws]) => `${ws}${t}${ws}${p}${qq}`);
const header = fc.array(range, { minLength: 1, maxLength: 8 });

/** The quality a list gives a type (the highest among its ranges naming it exactly), -1 if absent. */
function qualityOf(ranges: string[], wanted: string): number {
  let best = -1;
  for (const r of ranges) {
    const [t, ...params] = r.split(';');
    if (t?.trim().toLowerCase() !== wanted) continue;
    const qp = params.find((p) => p.trim().toLowerCase().startsWith('q='));
    const v = qp === undefined ? '1' : qp.trim().slice(2);
    const num = /^(0(\.\d{0,3})?|1(\.0{0,3})?)$/.test(v) ? Number(v) : 0;
    best = Math.max(best, num);
  }
  return best;
}

describe('acceptsOpenMetrics (property)', () => {
  it("follows the header's qualities: OpenMetrics when named above 0 and not below text/plain", () => {
    fc.assert(
      fc.property(header, (ranges) => {
        const om = qualityOf(ranges, 'application/openmetrics-text');
        const text = qualityOf(ranges, 'text/plain');
        expect(acceptsOpenMetrics(ranges.join(','))).toBe(om > 0 && om >= text);
      }),
      runs(),
    );
  });

  it('the order of the ranges does not matter', () => {
    fc.assert(
      fc.property(header, (ranges) => {
        expect(acceptsOpenMetrics([...ranges].reverse().join(','))).toBe(
          acceptsOpenMetrics(ranges.join(',')),
        );
      }),
      runs(),
    );
  });

  it('never throws on any text and answers a boolean', () => {
    fc.assert(
      fc.property(
        fc.oneof(fc.string({ maxLength: 300 }), fc.string({ unit: 'binary', maxLength: 300 })),
        (s) => {
          expect(typeof acceptsOpenMetrics(s)).toBe('boolean');
        },
      ),
      runs(),
    );
  });

  it('what real scrapers send: Prometheus 2 and 3 get OpenMetrics, a text-first scrape config does not', () => {
    expect(acceptsOpenMetrics(PROMETHEUS_2)).toBe(true);
    expect(acceptsOpenMetrics(PROMETHEUS_3)).toBe(true);
    expect(acceptsOpenMetrics(TEXT_FIRST)).toBe(false);
    expect(acceptsOpenMetrics('application/openmetrics-text;q=0, text/plain')).toBe(false);
    expect(acceptsOpenMetrics('*/*')).toBe(false);
    expect(acceptsOpenMetrics(undefined)).toBe(false);
  });

  it('1 MB headers complete', () => {
    for (const unit of [',', ';', 'application/openmetrics-text;q=0,', ' ', ';q=']) {
      expect(typeof acceptsOpenMetrics(huge(unit))).toBe('boolean');
    }
  });
});
