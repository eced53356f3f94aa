// Prometheus' template functions, reimplemented so the promtool unit tests can state the exact
// annotations an alert renders (promtool compares them verbatim). Mirrors Go's `%.4g`.

/** Go's `fmt.Sprintf("%.4g", v)`. */
export function g4(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (!Number.isFinite(v)) return v > 0 ? '+Inf' : '-Inf';
  if (v === 0) return '0';
  const exp = Math.floor(Math.log10(Math.abs(Number(v.toPrecision(4)))));
  if (exp < -4 || exp >= 4) {
    const [mant, e] = v.toExponential(3).split('e') as [string, string];
    const m = mant.replace(/\.?0+$/, '');
    const n = Number(e);
    return `${m}e${n < 0 ? '-' : '+'}${String(Math.abs(n)).padStart(2, '0')}`;
  }
  const s = v.toPrecision(4);
  return s.includes('.') ? s.replace(/\.?0+$/, '') : s;
}

/** `{{ $value | humanize }}`: SI prefixes. */
export function humanize(v: number): string {
  if (v === 0 || !Number.isFinite(v)) return g4(v);
  if (Math.abs(v) >= 1) {
    let prefix = '';
    for (const p of ['k', 'M', 'G', 'T', 'P', 'E', 'Z', 'Y']) {
      if (Math.abs(v) < 1000) break;
      prefix = p;
      v /= 1000;
    }
    return g4(v) + prefix;
  }
  let prefix = '';
  for (const p of ['m', 'u', 'n', 'p', 'f', 'a', 'z', 'y']) {
    if (Math.abs(v) >= 1) break;
    prefix = p;
    v *= 1000;
  }
  return g4(v) + prefix;
}

/** `{{ $value | humanizePercentage }}`. */
export function humanizePercentage(v: number): string {
  return `${g4(v * 100)}%`;
}

/** `{{ $value | humanizeDuration }}` (seconds in). */
export function humanizeDuration(v: number): string {
  if (!Number.isFinite(v)) return g4(v);
  if (v === 0) return '0s';
  if (Math.abs(v) >= 1) {
    const sign = v < 0 ? '-' : '';
    const a = Math.abs(v);
    const whole = Math.trunc(a);
    const seconds = whole % 60;
    const minutes = Math.trunc(whole / 60) % 60;
    const hours = Math.trunc(whole / 3600) % 24;
    const days = Math.trunc(whole / 86_400);
    if (days) return `${sign}${days}d ${hours}h ${minutes}m ${seconds}s`;
    if (hours) return `${sign}${hours}h ${minutes}m ${seconds}s`;
    if (minutes) return `${sign}${minutes}m ${seconds}s`;
    return `${sign}${g4(a)}s`;
  }
  let prefix = '';
  for (const p of ['m', 'u', 'n', 'p', 'f', 'a', 'z', 'y']) {
    if (Math.abs(v) >= 1) break;
    prefix = p;
    v *= 1000;
  }
  return `${g4(v)}${prefix}s`;
}

export type ValueFormat = 'humanize' | 'humanizePercentage' | 'humanizeDuration';

const FORMATS: Record<ValueFormat, (v: number) => string> = {
  humanize,
  humanizePercentage,
  humanizeDuration,
};

/**
 * Renders the subset of Go templates the rules use: `{{ $labels.name }}` and
 * `{{ $value | fn }}`. Anything else is a generator bug and throws.
 */
/** Go's `urlquery` (url.QueryEscape): unreserved characters kept, space as `+`, the rest `%XX`. */
export function urlquery(v: string): string {
  return encodeURIComponent(v)
    .replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`)
    .replace(/%20/g, '+');
}

export function renderTemplate(tpl: string, labels: Readonly<Record<string, string>>, value: number): string {
  return tpl.replace(/\{\{\s*(.*?)\s*\}\}/g, (_, inner: string) => {
    const label = /^\$labels\.([a-zA-Z_][a-zA-Z0-9_]*)(\s*\|\s*urlquery)?$/.exec(inner);
    if (label) {
      const v = labels[label[1]!];
      if (v === undefined)
        throw new Error(`template uses $labels.${label[1]}, which the alert's series do not have`);
      return label[2] ? urlquery(v) : v;
    }
    const val = /^\$value\s*\|\s*(humanize|humanizePercentage|humanizeDuration)$/.exec(inner);
    if (val) return FORMATS[val[1] as ValueFormat](value);
    throw new Error(`unsupported template expression {{ ${inner} }}`);
  });
}
