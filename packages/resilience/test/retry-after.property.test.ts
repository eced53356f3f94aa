import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { huge, runs } from '../../../test/helpers/property.js';
import { parseRetryAfter } from '../src/index.js';

// `Retry-After` comes from the server called, so from anywhere: delay-seconds and the three forms
// of HTTP date are read, anything else is ignored, and nothing throws.

const DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const LONG_DAYS = ['Sunday', 'Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday'];
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const p2 = (n: number) => String(n).padStart(2, '0');
const time = (d: Date) => `${p2(d.getUTCHours())}:${p2(d.getUTCMinutes())}:${p2(d.getUTCSeconds())}`;

/** The three forms of an HTTP date (RFC 9110 §5.6.7). */
const formats = {
  imf: (d: Date) => d.toUTCString(),
  rfc850: (d: Date) =>
    `${LONG_DAYS[d.getUTCDay()]}, ${p2(d.getUTCDate())}-${MONTHS[d.getUTCMonth()]}-${p2(d.getUTCFullYear() % 100)} ${time(d)} GMT`,
  asctime: (d: Date) =>
    `${DAYS[d.getUTCDay()]} ${MONTHS[d.getUTCMonth()]} ${String(d.getUTCDate()).padStart(2, ' ')} ${time(d)} ${d.getUTCFullYear()}`,
};

const NOW = Date.UTC(2026, 5, 15, 12, 0, 0);
/** Whole seconds, as HTTP dates carry them; years 1970-9999 (four digits). */
const date = fc
  .integer({ min: 0, max: Math.floor(Date.UTC(9999, 11, 31) / 1000) })
  .map((s) => new Date(s * 1000));
/** Within 49 years of NOW: the years a two-digit RFC 850 year can stand for. */
const nearDate = fc
  .integer({
    min: Math.floor((NOW - 49 * 365 * 86_400_000) / 1000),
    max: Math.floor((NOW + 49 * 365 * 86_400_000) / 1000),
  })
  .map((s) => new Date(s * 1000));

const junk = fc.oneof(
  fc.string({ maxLength: 70 }),
  fc.string({ unit: 'binary', maxLength: 70 }),
  // Date-like text that Date.parse would take (`Jan 1 2030`, `foo 2020`): not an HTTP date.
  fc
    .array(
      fc.oneof(
        fc.constantFrom(...DAYS, ...MONTHS, 'GMT', ',', ' ', '-', ':', 'foo'),
        fc.nat(3000).map(String),
      ),
      {
        maxLength: 8,
      },
    )
    .map((p) => p.join(' ')),
);

describe('parseRetryAfter (property)', () => {
  it('delay-seconds: that many seconds, in ms', () => {
    fc.assert(
      fc.property(fc.stringMatching(/^\d{1,10}$/), fc.constantFrom('', ' ', '\t'), (n, ws) => {
        expect(parseRetryAfter(`${ws}${n}${ws}`, NOW)).toBe(Number(n) * 1000);
      }),
      runs(),
    );
  });

  it('each form of HTTP date: the time until then, 0 once past', () => {
    fc.assert(
      fc.property(date, fc.constantFrom('imf', 'asctime') as fc.Arbitrary<'imf' | 'asctime'>, (d, f) => {
        expect(parseRetryAfter(formats[f](d), NOW)).toBe(Math.max(0, d.getTime() - NOW));
      }),
      runs(),
    );
    fc.assert(
      fc.property(nearDate, (d) => {
        expect(parseRetryAfter(formats.rfc850(d), NOW)).toBe(Math.max(0, d.getTime() - NOW));
      }),
      runs(),
    );
  });

  it('never throws; anything but delay-seconds or an HTTP date is ignored', () => {
    const PAST = -62_000_000_000_000; // before year 0: every date lies ahead, so the result gives it back
    fc.assert(
      fc.property(junk, (v) => {
        const ms = parseRetryAfter(v, PAST);
        if (ms === undefined) return;
        expect(Number.isInteger(ms) && ms >= 0).toBe(true);
        const s = v.trim();
        if (/^\d{1,10}$/.test(s)) return;
        // Accepted as a date: it must be that date written in one of the three forms.
        const d = new Date(PAST + ms);
        expect([formats.imf(d), formats.asctime(d)]).toContain(s);
      }),
      runs(),
    );
    expect(parseRetryAfter('Jan 1 2030', NOW)).toBeUndefined();
    expect(parseRetryAfter('foo 2020', NOW)).toBeUndefined();
    expect(parseRetryAfter('Sun, 31 Feb 2030 00:00:00 GMT', NOW)).toBeUndefined();
    expect(parseRetryAfter('-1', NOW)).toBeUndefined();
  });

  it('1 MB values complete and are ignored', () => {
    for (const unit of ['1', ' ', 'a', 'Sun, ']) expect(parseRetryAfter(huge(unit), NOW)).toBeUndefined();
  });
});
