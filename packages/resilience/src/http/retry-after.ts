// Retry-After (RFC 9110 §10.2.3): delay-seconds or an HTTP date in one of its three forms.

const MONTHS = 'Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec';
const MONTH_INDEX = new Map(MONTHS.split('|').map((m, i) => [m, i]));
// RFC 9110 §5.6.7: IMF-fixdate, and the two obsolete forms recipients must accept. Anchored, with
// fixed-width fields: nothing to backtrack over.
const IMF_FIXDATE = new RegExp(
  `^(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun), (\\d{2}) (${MONTHS}) (\\d{4}) (\\d{2}):(\\d{2}):(\\d{2}) GMT$`,
);
const RFC850_DATE = new RegExp(
  `^(?:Mon|Tues|Wednes|Thurs|Fri|Satur|Sun)day, (\\d{2})-(${MONTHS})-(\\d{2}) (\\d{2}):(\\d{2}):(\\d{2}) GMT$`,
);
const ASCTIME_DATE = new RegExp(
  `^(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun) (${MONTHS}) ([ \\d]\\d) (\\d{2}):(\\d{2}):(\\d{2}) (\\d{4})$`,
);

/** The fields of an HTTP date in one of its three forms (RFC 9110), or undefined. */
function httpDateFields(
  s: string,
  nowMs: number,
): { day: string; month: string; year: number; hms: string[] } | undefined {
  const imf = IMF_FIXDATE.exec(s);
  if (imf)
    return { day: imf[1] as string, month: imf[2] as string, year: Number(imf[3]), hms: imf.slice(4, 7) };
  const rfc850 = RFC850_DATE.exec(s);
  if (rfc850) {
    // A two-digit year more than 50 years in the future is the most recent past year with it.
    const current = new Date(nowMs).getUTCFullYear();
    let year = Math.floor(current / 100) * 100 + Number(rfc850[3]);
    if (year > current + 50) year -= 100;
    return { day: rfc850[1] as string, month: rfc850[2] as string, year, hms: rfc850.slice(4, 7) };
  }
  const asctime = ASCTIME_DATE.exec(s);
  if (asctime) {
    const day = (asctime[2] as string).trim();
    return { day, month: asctime[1] as string, year: Number(asctime[6]), hms: asctime.slice(3, 6) };
  }
  return undefined;
}

/** An HTTP date (RFC 9110) as epoch ms, or undefined. */
function parseHttpDate(s: string, nowMs: number): number | undefined {
  const f = httpDateFields(s, nowMs);
  if (f === undefined) return undefined;
  const mon = MONTH_INDEX.get(f.month) as number;
  const [h, min, sec] = f.hms.map(Number) as [number, number, number];
  const d = Number(f.day);
  if (h > 23 || min > 59 || sec > 59 || d < 1) return undefined;
  const t = Date.UTC(f.year, mon, d, h, min, sec);
  // Date.UTC rolls 31 Feb over into March: such a date does not exist.
  return new Date(t).getUTCDate() === d ? t : undefined;
}

/**
 * `Retry-After` as ms: delay-seconds, or an HTTP date (its three forms in RFC 9110) counted from
 * `nowMs`. Anything else is ignored (undefined), including the free-form dates `Date.parse` would
 * accept.
 */
export function parseRetryAfter(v: string | null, nowMs = Date.now()): number | undefined {
  if (v === null || v.length > 64) return undefined;
  const s = v.trim();
  if (/^\d{1,10}$/.test(s)) return Number(s) * 1000;
  const t = parseHttpDate(s, nowMs);
  return t === undefined ? undefined : Math.max(0, t - nowMs);
}
