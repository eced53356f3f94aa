// What a Grafana dashboard JSON means, as pure functions shared by the browser (app.js) and the
// tests: time ranges, intervals, template variables and their interpolation into PromQL, legends,
// units, thresholds, value mappings, reducers, field overrides and table transformations.
// Follows Grafana's own rules where they are observable (the Prometheus data source's escaping,
// `$__rate_interval`, the interval rounding table), so a query here is the query Grafana sends.

// ---- durations and time ranges --------------------------------------------------------------------

const UNIT_MS = {
  ms: 1,
  s: 1e3,
  m: 60e3,
  h: 3600e3,
  d: 86400e3,
  w: 7 * 86400e3,
  M: 30 * 86400e3,
  y: 365 * 86400e3,
};

/** `'1m30s'`, `'5m'`, `'250ms'` -> milliseconds; undefined when it is not a duration. */
export function parseDuration(text) {
  const s = String(text ?? '').trim();
  if (s === '') return undefined;
  if (/^\d+(\.\d+)?$/.test(s)) return Number(s) * 1e3; // Grafana reads a bare number as seconds
  let ms = 0;
  let rest = s;
  const re = /^(\d+(?:\.\d+)?)(ms|s|m|h|d|w|M|y)/;
  while (rest.length > 0) {
    const m = re.exec(rest);
    if (!m) return undefined;
    ms += Number(m[1]) * UNIT_MS[m[2]];
    rest = rest.slice(m[0].length);
  }
  return ms;
}

/** Milliseconds -> the shortest exact PromQL duration (`90000` -> `'90s'`, `60000` -> `'1m'`). */
export function formatDuration(ms) {
  const v = Math.max(1, Math.round(ms));
  for (const [u, f] of [
    ['d', 86400e3],
    ['h', 3600e3],
    ['m', 60e3],
    ['s', 1e3],
  ]) {
    if (v % f === 0) return `${v / f}${u}`;
  }
  return `${v}ms`;
}

/**
 * A Grafana time expression -> epoch milliseconds: `now`, `now-15m`, `now-1d/d`, epoch
 * milliseconds, or an ISO date. `roundUp` rounds `/unit` to the end of the unit (for `to`).
 */
export function parseTime(text, now = Date.now(), roundUp = false) {
  const s = String(text ?? '').trim();
  if (/^\d{10,}$/.test(s)) return Number(s);
  if (s.startsWith('now')) {
    let t = now;
    let rest = s.slice(3);
    const re = /^([+-])(\d+)(ms|s|m|h|d|w|M|y)|^\/(s|m|h|d|w|M|y)/;
    while (rest.length > 0) {
      const m = re.exec(rest);
      if (!m) return undefined;
      if (m[4]) t = roundTo(t, m[4], roundUp);
      else t += (m[1] === '-' ? -1 : 1) * Number(m[2]) * UNIT_MS[m[3]];
      rest = rest.slice(m[0].length);
    }
    return t;
  }
  const d = Date.parse(s);
  return Number.isNaN(d) ? undefined : d;
}

function roundTo(t, unit, up) {
  const d = new Date(t);
  const parts = { y: 0, M: 1, w: 2, d: 2, h: 3, m: 4, s: 5 };
  const level = parts[unit];
  const fields = [d.getFullYear(), level >= 1 ? d.getMonth() : 0, level >= 2 ? d.getDate() : 1];
  if (unit === 'w') fields[2] -= d.getDay();
  const start = new Date(
    fields[0],
    fields[1],
    fields[2],
    level >= 3 ? d.getHours() : 0,
    level >= 4 ? d.getMinutes() : 0,
    level >= 5 ? d.getSeconds() : 0,
  ).getTime();
  if (!up) return start;
  const end = new Date(start);
  if (unit === 'y') end.setFullYear(end.getFullYear() + 1);
  else if (unit === 'M') end.setMonth(end.getMonth() + 1);
  else end.setTime(start + UNIT_MS[unit]);
  return end.getTime() - 1;
}

/** `{ from: 'now-1h', to: 'now' }` -> `{ from, to }` in epoch ms, or throws naming the bad part. */
export function resolveRange(range, now = Date.now()) {
  const from = parseTime(range.from, now, false);
  const to = parseTime(range.to, now, true);
  if (from === undefined) throw new Error(`invalid time range start "${range.from}"`);
  if (to === undefined) throw new Error(`invalid time range end "${range.to}"`);
  if (from >= to) throw new Error(`time range start "${range.from}" is not before its end "${range.to}"`);
  return { from, to };
}

/** A short text for a range: `Last 15 minutes`, or the absolute times. */
export function describeRange(range) {
  const m = /^now-(\d+)([smhdwMy])$/.exec(String(range.from));
  if (m && range.to === 'now') {
    const names = { s: 'second', m: 'minute', h: 'hour', d: 'day', w: 'week', M: 'month', y: 'year' };
    const n = Number(m[1]);
    return `Last ${n} ${names[m[2]]}${n === 1 ? '' : 's'}`;
  }
  const fmt = (t) => new Date(parseTime(t) ?? 0).toLocaleString();
  return `${fmt(range.from)} to ${fmt(range.to)}`;
}

// Grafana's interval rounding (kbn.roundInterval): [upper bound, interval], both ms.
const ROUND = [
  [10, 1],
  [15, 10],
  [35, 20],
  [75, 50],
  [150, 100],
  [350, 200],
  [750, 500],
  [1500, 1e3],
  [3500, 2e3],
  [7500, 5e3],
  [12500, 10e3],
  [17500, 15e3],
  [25000, 20e3],
  [45000, 30e3],
  [90000, 60e3],
  [210000, 120e3],
  [450000, 300e3],
  [750000, 600e3],
  [1050000, 900e3],
  [1500000, 1200e3],
  [2700000, 1800e3],
  [5400000, 3600e3],
  [9000000, 7200e3],
  [16200000, 10800e3],
  [24300000, 21600e3],
  [54000000, 43200e3],
  [129600000, 86400e3],
  [864000000, 604800e3],
  [3153600000, 2592000e3],
];

export function roundInterval(ms) {
  for (const [bound, v] of ROUND) if (ms <= bound) return v;
  return 31536000e3;
}

/**
 * The intervals Grafana derives for one panel: `$__interval` from the range and the number of
 * points the panel can show (at least the data source's scrape interval and the panel's min
 * interval), `$__rate_interval` = max($__interval + scrape, 4 × scrape), the query step, and
 * `$__range`.
 */
/** @param {{ from: number, to: number, maxDataPoints: number, scrapeIntervalMs?: number, minIntervalMs?: number }} p */
export function intervals({ from, to, maxDataPoints, scrapeIntervalMs, minIntervalMs }) {
  const range = to - from;
  const lower = Math.max(scrapeIntervalMs ?? 15e3, minIntervalMs ?? 0);
  const interval = Math.max(lower, roundInterval(range / Math.max(1, maxDataPoints ?? 1000)));
  // Prometheus refuses more than 11,000 points per series.
  const step = Math.max(interval, Math.ceil(range / 11000 / 1e3) * 1e3);
  const scrape = scrapeIntervalMs ?? 15e3;
  return {
    intervalMs: interval,
    rateIntervalMs: Math.max(interval + scrape, 4 * scrape),
    stepMs: step,
    rangeMs: range,
  };
}

// ---- template variables -------------------------------------------------------------------------

export const ALL = '$__all';

/** A variable's `query` field, which schema versions store as a string or `{ query }`. */
export function variableQuery(v) {
  const q = v.query;
  if (q && typeof q === 'object') return String(q.query ?? q.qryType ?? '');
  return String(q ?? v.definition ?? '');
}

/**
 * Parses the Prometheus data source's variable queries:
 * `label_values(selector, label)`, `label_values(label)`, `label_names(selector?)`,
 * `metrics(regex)`, `query_result(expr)`.
 */
export function parseVariableQuery(query) {
  const q = String(query).trim();
  let m = /^label_values\(\s*(.*?)\s*,\s*([a-zA-Z_][\w]*)\s*\)$/s.exec(q);
  if (m) return { kind: 'label_values', selector: m[1], label: m[2] };
  m = /^label_values\(\s*([a-zA-Z_][\w]*)\s*\)$/.exec(q);
  if (m) return { kind: 'label_values', selector: '', label: m[1] };
  m = /^label_names\(\s*(.*?)\s*\)$/s.exec(q);
  if (m) return { kind: 'label_names', selector: m[1] };
  m = /^metrics\(\s*(.*?)\s*\)$/s.exec(q);
  if (m) return { kind: 'metrics', regex: m[1] };
  m = /^query_result\(\s*(.*)\s*\)$/s.exec(q);
  if (m) return { kind: 'query_result', expr: m[1] };
  return { kind: 'unsupported', query: q };
}

/**
 * A Prometheus API call for a parsed variable query: `{ path, params }`, or `{ path, params,
 * extract }` for query_result (the text of each series is extracted from the result).
 */
export function variableCall(parsed, range) {
  const time = { start: String(Math.floor(range.from / 1e3)), end: String(Math.ceil(range.to / 1e3)) };
  switch (parsed.kind) {
    case 'label_values':
      return {
        path: `/api/v1/label/${encodeURIComponent(parsed.label)}/values`,
        params: parsed.selector ? { 'match[]': parsed.selector, ...time } : time,
      };
    case 'label_names':
      return {
        path: '/api/v1/labels',
        params: parsed.selector ? { 'match[]': parsed.selector, ...time } : time,
      };
    case 'metrics':
      return { path: '/api/v1/label/__name__/values', params: time, filter: parsed.regex };
    case 'query_result':
      return { path: '/api/v1/query', params: { query: parsed.expr, time: time.end }, extract: true };
    default:
      throw new Error(`unsupported variable query "${parsed.query}"`);
  }
}

/** `metric{a="b"} 1 1700000000000`: how Grafana shows a query_result series as a variable value. */
export function seriesText(sample) {
  const { __name__: name = '', ...labels } = sample.metric ?? {};
  const ls = Object.entries(labels)
    .map(([k, v]) => `${k}="${v}"`)
    .join(',');
  const value = sample.value ?? [0, ''];
  return `${name}${ls ? `{${ls}}` : ''} ${value[1]} ${Math.round(Number(value[0]) * 1000)}`;
}

/** Grafana's `regex` field: `/pattern/flags`, with optional `text` / `value` named groups. */
export function applyVariableRegex(values, regex) {
  if (!regex) return values.map((v) => ({ text: v, value: v }));
  const m = /^\/(.*)\/([gimsuy]*)$/s.exec(regex);
  const re = m ? new RegExp(m[1], m[2].replace('g', '')) : new RegExp(regex);
  const out = [];
  for (const v of values) {
    const r = re.exec(v);
    if (!r) continue;
    const g = r.groups ?? {};
    const value = g.value ?? g.text ?? (r.length > 1 ? r[1] : v);
    if (value === undefined) continue;
    out.push({ text: g.text ?? value, value });
  }
  return out;
}

/**
 * Grafana's variable `sort`: 0 none, 1/2 alphabetical, 3/4 numerical, 5/6 case-insensitive, 7/8 natural.
 * @param {{ text: string, value: string }[]} options
 * @param {number} sort
 */
export function sortOptions(options, sort) {
  const s = Number(sort ?? 0);
  if (!s) return options;
  const num = (o) => {
    const m = /-?\d+(\.\d+)?/.exec(o.text);
    return m ? Number(m[0]) : Number.NEGATIVE_INFINITY;
  };
  const collator = new Intl.Collator(undefined, { numeric: true });
  const cmp = {
    1: (a, b) => (a.text < b.text ? -1 : a.text > b.text ? 1 : 0),
    3: (a, b) => num(a) - num(b),
    5: (a, b) => a.text.toLowerCase().localeCompare(b.text.toLowerCase()),
    7: (a, b) => collator.compare(a.text, b.text),
  };
  const base = cmp[s % 2 === 1 ? s : s - 1] ?? cmp[1];
  const out = [...options].sort(base);
  return s % 2 === 0 ? out.reverse() : out;
}

/** Options of a `custom` variable: `a, b, c` or `text : value` pairs. */
export function customOptions(query) {
  return String(query ?? '')
    .split(/(?<!\\),/)
    .map((s) => s.replace(/\\,/g, ',').trim())
    .filter((s) => s !== '')
    .map((s) => {
      const m = /^(.*?)\s+:\s+(.*)$/.exec(s);
      return m ? { text: m[1], value: m[2] } : { text: s, value: s };
    });
}

const REGEX_SPECIAL = /[\\^$*+?.()|{}[\]]/g;
/** The Prometheus data source's escaping of a regex-matched value (inside a PromQL string). */
export function promRegexEscape(v) {
  return String(v).replace(REGEX_SPECIAL, (c) => `\\\\${c}`);
}
/** …and of a single value in a plain string. */
export function promEscape(v) {
  return String(v).replace(/\\/g, '\\\\').replace(/'/g, "\\\\'");
}

/**
 * The text that replaces one variable reference. `state` is `{ values: string[], all: boolean,
 * options: {text, value}[], texts?: string[] }`; `v` the variable's JSON.
 */
export function formatVariable(v, state, format) {
  const values = state.all ? state.options.map((o) => o.value) : state.values;
  const texts = state.all ? ['All'] : (state.texts ?? state.values);
  if (format === 'text') return texts.join(' + ');
  if (state.all && v.allValue != null && v.allValue !== '' && (format === undefined || format === 'regex'))
    return String(v.allValue);
  switch (format) {
    case 'raw':
      return values.join(',');
    case 'csv':
      return values.join(',');
    case 'pipe':
      return values.join('|');
    case 'json':
      return JSON.stringify(values);
    case 'glob':
      return values.length > 1 ? `{${values.join(',')}}` : (values[0] ?? '');
    case 'queryparam':
      return values.map((x) => `var-${v.name}=${encodeURIComponent(x)}`).join('&');
    case 'singlequote':
      return values.map((x) => `'${x.replace(/'/g, "\\'")}'`).join(',');
    case 'doublequote':
      return values.map((x) => `"${x.replace(/"/g, '\\"')}"`).join(',');
    case 'regex':
      return values.length === 1 ? promRegexEscape(values[0]) : `(${values.map(promRegexEscape).join('|')})`;
    default:
      break;
  }
  // Default: what the Prometheus data source does (regex escaping when a variable can be several).
  if (!v.multi && !v.includeAll) return promEscape(values[0] ?? '');
  if (values.length === 0) return '';
  return values.length === 1 ? promRegexEscape(values[0]) : `(${values.map(promRegexEscape).join('|')})`;
}

/**
 * Replaces `$name`, `${name}`, `${name:format}` and `[[name]]` with variable values, and the
 * built-ins (`$__interval`, `$__rate_interval`, `$__range`, …). Unknown names stay as written,
 * as in Grafana. `vars` maps a name to `{ def, state }`; `builtins` maps `__x` to its text.
 */
export function interpolate(text, vars, builtins = {}) {
  return String(text).replace(
    /\$\{(\w+)(?::(\w+))?\}|\[\[(\w+)(?::(\w+))?\]\]|\$(\w+)/g,
    (all, a, aFmt, b, bFmt, c) => {
      const name = a ?? b ?? c;
      const format = aFmt ?? bFmt;
      if (Object.hasOwn(builtins, name)) return String(builtins[name]);
      // `$__rate_intervalX` is not `$__rate_interval`: only exact names above.
      const v = vars.get(name);
      if (!v) return all;
      return formatVariable(v.def, v.state, format);
    },
  );
}

/** Built-in variables for one panel query. */
export function builtinsFor({ from, to }, iv) {
  return {
    __interval: formatDuration(iv.intervalMs),
    __interval_ms: String(iv.intervalMs),
    __rate_interval: formatDuration(iv.rateIntervalMs),
    __rate_interval_ms: String(iv.rateIntervalMs),
    __range: `${Math.round(iv.rangeMs / 1e3)}s`,
    __range_s: String(Math.round(iv.rangeMs / 1e3)),
    __range_ms: String(iv.rangeMs),
    __from: String(from),
    __to: String(to),
  };
}

/** The names a text refers to (`$a`, `${b}`, `[[c]]`), to order variable refreshes. */
export function referencedNames(text) {
  const out = new Set();
  for (const m of String(text).matchAll(/\$\{(\w+)(?::\w+)?\}|\[\[(\w+)(?::\w+)?\]\]|\$(\w+)/g))
    out.add(m[1] ?? m[2] ?? m[3]);
  return out;
}

// ---- series names -------------------------------------------------------------------------------

/** Grafana's legend: `{{label}}` templates, `__auto`, or the series' own name and labels. */
export function legendName(format, metric, expr) {
  const labels = metric ?? {};
  if (format && format !== '__auto')
    return format.replace(/\{\{\s*(.+?)\s*\}\}/g, (_, l) => (labels[l] !== undefined ? labels[l] : ''));
  const { __name__: name, ...rest } = labels;
  const ls = Object.entries(rest).map(([k, v]) => `${k}="${v}"`);
  if (format === '__auto') {
    if (ls.length === 0) return name ?? expr ?? 'Value';
    return ls.length === 1 ? String(Object.values(rest)[0]) : `{${ls.join(', ')}}`;
  }
  if (!name && ls.length === 0) return expr ?? 'Value';
  return `${name ?? ''}${ls.length ? `{${ls.join(', ')}}` : ''}`;
}

// ---- values: units, decimals, colours, thresholds, mappings --------------------------------------

const SI = ['p', 'n', 'µ', 'm', '', 'k', 'M', 'G', 'T', 'P', 'E'];

function decimalsFor(v, decimals) {
  if (decimals !== undefined && decimals !== null && decimals !== '') return Number(decimals);
  const a = Math.abs(v);
  if (a === 0 || Number.isInteger(v)) return 0;
  if (a >= 100) return 0;
  if (a >= 10) return 1;
  if (a >= 1) return 2;
  // Small numbers: three significant digits.
  return Math.min(10, 2 - Math.floor(Math.log10(a)));
}

function fixed(v, decimals) {
  const d = decimalsFor(v, decimals);
  let s = v.toFixed(d);
  // Auto decimals never show trailing zeros Grafana would not (`1.50` -> `1.5`).
  if ((decimals === undefined || decimals === null) && s.includes('.')) s = s.replace(/\.?0+$/, '');
  return s === '-0' ? '0' : s;
}

function scaled(v, base, units, decimals, start = 0) {
  let i = start;
  let x = v;
  while (Math.abs(x) >= base && i < units.length - 1) {
    x /= base;
    i++;
  }
  return { text: fixed(x, decimals), suffix: units[i] };
}

function siPrefixed(v, unit, decimals) {
  if (v === 0) return { text: '0', suffix: ` ${unit}` };
  let i = 4;
  let x = v;
  while (Math.abs(x) >= 1000 && i < SI.length - 1) {
    x /= 1000;
    i++;
  }
  while (Math.abs(x) < 1 && i > 0) {
    x *= 1000;
    i--;
  }
  return { text: fixed(x, decimals), suffix: ` ${SI[i]}${unit}` };
}

function duration(v, decimals, unitMs) {
  const ms = v * unitMs;
  const a = Math.abs(ms);
  if (a === 0) return { text: '0', suffix: unitMs === 1 ? ' ms' : ' s' };
  if (a < 1e-3) return { text: fixed(ms * 1e6, decimals), suffix: ' ns' };
  if (a < 1) return { text: fixed(ms * 1e3, decimals), suffix: ' µs' };
  if (a < 1e3) return { text: fixed(ms, decimals), suffix: ' ms' };
  if (a < 60e3) return { text: fixed(ms / 1e3, decimals), suffix: ' s' };
  if (a < 3600e3) return { text: fixed(ms / 60e3, decimals), suffix: ' min' };
  if (a < 86400e3) return { text: fixed(ms / 3600e3, decimals), suffix: ' hour' };
  if (a < 7 * 86400e3) return { text: fixed(ms / 86400e3, decimals), suffix: ' day' };
  return { text: fixed(ms / (7 * 86400e3), decimals), suffix: ' week' };
}

function humanDuration(ms) {
  const parts = [];
  let rest = Math.abs(Math.round(ms / 1e3));
  for (const [n, f] of [
    ['y', 31536000],
    ['d', 86400],
    ['h', 3600],
    ['m', 60],
    ['s', 1],
  ]) {
    if (rest >= f || (n === 's' && parts.length === 0)) {
      parts.push(`${Math.floor(rest / f)}${n}`);
      rest %= f;
    }
    if (parts.length === 2) break;
  }
  return (ms < 0 ? '-' : '') + parts.join(' ');
}

const RATE = {
  reqps: ' req/s',
  rps: ' rd/s',
  wps: ' wr/s',
  iops: ' io/s',
  ops: ' ops/s',
  cps: ' c/s',
  opm: ' ops/min',
  rpm: ' rd/min',
  wpm: ' wr/min',
  cpm: ' c/min',
  reqpm: ' req/min',
  mps: ' msg/s',
  eps: ' evt/s',
};

/**
 * Formats a value the way Grafana displays `unit` (its unit ids: `s`, `ms`, `percentunit`, `reqps`,
 * `bytes`, `short`, `suffix:…`, …). Returns `{ text, prefix, suffix }`; `display()` joins them.
 */
export function formatValue(value, unit, decimals) {
  if (value === null || value === undefined || Number.isNaN(value))
    return { text: 'No data', prefix: '', suffix: '' };
  if (!Number.isFinite(value)) return { text: value > 0 ? '+Inf' : '-Inf', prefix: '', suffix: '' };
  const v = Number(value);
  const u = unit ?? 'short';
  const out = (r, prefix = '') => ({ prefix, suffix: '', ...r });
  if (u.startsWith('suffix:')) return out({ text: fixed(v, decimals), suffix: u.slice(7) });
  if (u.startsWith('prefix:')) return out({ text: fixed(v, decimals) }, u.slice(7));
  if (u.startsWith('si:')) return out(siPrefixed(v, u.slice(3), decimals));
  if (u.startsWith('count:')) return out({ ...formatValue(v, 'short', decimals), suffix: ` ${u.slice(6)}` });
  if (u.startsWith('currency:')) return out({ text: fixed(v, decimals ?? 2) }, u.slice(9));
  if (RATE[u]) {
    const s = scaled(v, 1000, ['', ' K', ' Mil', ' Bil', ' Tri'], decimals);
    return out({ text: s.text, suffix: `${s.suffix}${RATE[u]}` });
  }
  switch (u) {
    case 'none':
    case 'string':
      return out({ text: decimals !== undefined && decimals !== null ? v.toFixed(decimals) : String(v) });
    case 'short':
    case 'sishort':
      return out(scaled(v, 1000, ['', ' K', ' Mil', ' Bil', ' Tri', ' Quadr'], decimals));
    case 'locale':
      return out({ text: v.toLocaleString(undefined, { maximumFractionDigits: decimals ?? 3 }) });
    case 'percent':
      return out({ text: fixed(v, decimals), suffix: '%' });
    case 'percentunit':
      return out({ text: fixed(v * 100, decimals), suffix: '%' });
    case 'ns':
      return out(duration(v, decimals, 1e-6));
    case 'µs':
    case 'us':
      return out(duration(v, decimals, 1e-3));
    case 'ms':
      return out(duration(v, decimals, 1));
    case 's':
      return out(duration(v, decimals, 1e3));
    case 'm':
      return out(duration(v, decimals, 60e3));
    case 'h':
      return out(duration(v, decimals, 3600e3));
    case 'd':
      return out(duration(v, decimals, 86400e3));
    case 'dtdurations':
      return out({ text: humanDuration(v * 1e3) });
    case 'dtdurationms':
      return out({ text: humanDuration(v) });
    case 'clocks':
    case 'clockms': {
      const ms = u === 'clocks' ? v * 1e3 : v;
      const t = new Date(Math.abs(ms)).toISOString().slice(11, 19);
      return out({ text: (ms < 0 ? '-' : '') + t });
    }
    case 'bytes':
    case 'decbytes':
    case 'bits':
    case 'decbits':
    case 'kbytes':
    case 'mbytes':
    case 'gbytes':
    case 'deckbytes':
    case 'decmbytes':
    case 'decgbytes': {
      const bin = !u.startsWith('dec');
      const bit = u.endsWith('bits');
      const start = /k/.test(u) ? 1 : /m/.test(u) ? 2 : /g/.test(u) ? 3 : 0;
      const names = bit
        ? ['b', bin ? 'Kib' : 'kb', bin ? 'Mib' : 'Mb', bin ? 'Gib' : 'Gb', bin ? 'Tib' : 'Tb']
        : [
            'B',
            bin ? 'KiB' : 'kB',
            bin ? 'MiB' : 'MB',
            bin ? 'GiB' : 'GB',
            bin ? 'TiB' : 'TB',
            bin ? 'PiB' : 'PB',
          ];
      const s = scaled(v, bin ? 1024 : 1000, names, decimals, start);
      return out({ text: s.text, suffix: ` ${s.suffix}` });
    }
    case 'Bps':
    case 'binBps':
    case 'bps':
    case 'binbps': {
      const bin = u.startsWith('bin');
      const bit = u.endsWith('bps') && !u.endsWith('Bps');
      const b = bit ? 'b' : 'B';
      const names = [
        b,
        bin ? `Ki${b}` : `k${b}`,
        bin ? `Mi${b}` : `M${b}`,
        bin ? `Gi${b}` : `G${b}`,
        bin ? `Ti${b}` : `T${b}`,
      ];
      const s = scaled(v, bin ? 1024 : 1000, names, decimals);
      return out({ text: s.text, suffix: ` ${s.suffix}/s` });
    }
    case 'bool':
      return out({ text: v === 0 ? 'False' : 'True' });
    case 'bool_yes_no':
      return out({ text: v === 0 ? 'No' : 'Yes' });
    case 'bool_on_off':
      return out({ text: v === 0 ? 'Off' : 'On' });
    case 'dateTimeAsIso':
    case 'dateTimeAsSystem':
      return out({ text: new Date(v).toISOString().replace('T', ' ').slice(0, 19) });
    case 'dateTimeFromNow':
      return out({ text: `${humanDuration(Date.now() - v)} ago` });
    default:
      // An unknown unit id: the number, with the id as its suffix (Grafana does the same).
      return out({ text: fixed(v, decimals), suffix: ` ${u}` });
  }
}

export function display(value, unit, decimals) {
  const f = formatValue(value, unit, decimals);
  return `${f.prefix}${f.text}${f.suffix}`;
}

// Grafana's named colours (the classic dark theme's values).
const NAMED = {
  green: '#73BF69',
  'semi-dark-green': '#56A64B',
  'dark-green': '#37872D',
  'light-green': '#96D98D',
  'super-light-green': '#C8F2C2',
  red: '#F2495C',
  'semi-dark-red': '#E02F44',
  'dark-red': '#C4162A',
  'light-red': '#FF7383',
  'super-light-red': '#FFA6B0',
  orange: '#FF9830',
  'semi-dark-orange': '#FA6400',
  'dark-orange': '#FA6400',
  'light-orange': '#FFB357',
  'super-light-orange': '#FFCB7D',
  yellow: '#FADE2A',
  'semi-dark-yellow': '#F2CC0C',
  'dark-yellow': '#E0B400',
  'light-yellow': '#FFEE52',
  'super-light-yellow': '#FFF899',
  blue: '#5794F2',
  'semi-dark-blue': '#3274D9',
  'dark-blue': '#1F60C4',
  'light-blue': '#8AB8FF',
  'super-light-blue': '#C0D8FF',
  purple: '#B877D9',
  'semi-dark-purple': '#A352CC',
  'dark-purple': '#8F3BB8',
  'light-purple': '#CA95E5',
  'super-light-purple': '#DEB6F2',
  text: '#CCCCDC',
  transparent: 'transparent',
};

/** Grafana's classic palette (series colours in `palette-classic` mode). */
export const PALETTE = [
  '#7EB26D',
  '#EAB839',
  '#6ED0E0',
  '#EF843C',
  '#E24D42',
  '#1F78C1',
  '#BA43A9',
  '#705DA0',
  '#508642',
  '#CCA300',
  '#447EBC',
  '#C15C17',
  '#890F02',
  '#0A437C',
  '#6D1F62',
  '#584477',
];

export function cssColor(name) {
  if (!name) return NAMED.text;
  return NAMED[name] ?? name;
}

/** The threshold step a value falls in (absolute, or percentage of min..max). */
export function thresholdColor(value, thresholds, min, max) {
  const steps = thresholds?.steps ?? [];
  if (steps.length === 0) return NAMED.text;
  let color = steps[0].color;
  if (value === null || value === undefined || Number.isNaN(value)) return cssColor(color);
  const pct = thresholds.mode === 'percentage';
  const lo = min ?? 0;
  const hi = max ?? 100;
  for (const s of steps) {
    if (s.value === null || s.value === undefined) continue;
    const limit = pct ? lo + ((hi - lo) * s.value) / 100 : s.value;
    if (value >= limit) color = s.color;
  }
  return cssColor(color);
}

/** The first value mapping that matches: `{ text?, color? }`, or undefined. */
export function mapValue(value, mappings) {
  for (const m of mappings ?? []) {
    const o = m.options ?? {};
    if (m.type === 'value') {
      const key = value === null || value === undefined ? 'null' : String(value);
      if (Object.hasOwn(o, key)) return o[key];
    } else if (m.type === 'range') {
      const from = o.from ?? Number.NEGATIVE_INFINITY;
      const to = o.to ?? Number.POSITIVE_INFINITY;
      if (typeof value === 'number' && value >= from && value <= to) return o.result;
    } else if (m.type === 'special') {
      const match = o.match;
      const hit =
        (match === 'null' && (value === null || value === undefined)) ||
        (match === 'nan' && Number.isNaN(value)) ||
        (match === 'null+nan' && (value === null || value === undefined || Number.isNaN(value))) ||
        (match === 'true' && value === 1) ||
        (match === 'false' && value === 0) ||
        (match === 'empty' && value === '');
      if (hit) return o.result;
    } else if (m.type === 'regex') {
      if (o.pattern && new RegExp(o.pattern).test(String(value))) return o.result;
    }
  }
  return undefined;
}

/** Reduces a series' values with a Grafana calculation id (`lastNotNull`, `mean`, `max`, …). */
export function reduce(values, calc = 'lastNotNull') {
  const nn = values.filter((v) => v !== null && v !== undefined && !Number.isNaN(v));
  switch (calc) {
    case 'last':
      return values.length ? values[values.length - 1] : null;
    case 'first':
      return values.length ? values[0] : null;
    case 'firstNotNull':
      return nn.length ? nn[0] : null;
    case 'mean':
      return nn.length ? nn.reduce((a, b) => a + b, 0) / nn.length : null;
    case 'max':
      return nn.length ? Math.max(...nn) : null;
    case 'min':
      return nn.length ? Math.min(...nn) : null;
    case 'sum':
      return nn.reduce((a, b) => a + b, 0);
    case 'count':
      return values.length;
    case 'range':
      return nn.length ? Math.max(...nn) - Math.min(...nn) : null;
    case 'delta': {
      let d = 0;
      for (let i = 1; i < nn.length; i++) d += nn[i] >= nn[i - 1] ? nn[i] - nn[i - 1] : nn[i];
      return d;
    }
    case 'diff':
      return nn.length ? nn[nn.length - 1] - nn[0] : null;
    case 'median': {
      if (!nn.length) return null;
      const s = [...nn].sort((a, b) => a - b);
      const mid = Math.floor(s.length / 2);
      return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
    }
    case 'changeCount': {
      let n = 0;
      for (let i = 1; i < values.length; i++) if (values[i] !== values[i - 1]) n++;
      return n;
    }
    default:
      return nn.length ? nn[nn.length - 1] : null;
  }
}

// ---- fields: defaults + overrides ---------------------------------------------------------------

function setPath(obj, path, value) {
  const keys = path.split('.');
  let o = obj;
  for (const k of keys.slice(0, -1)) {
    if (typeof o[k] !== 'object' || o[k] === null) o[k] = {};
    o = o[k];
  }
  o[keys[keys.length - 1]] = value;
}

function clone(x) {
  return x === undefined ? undefined : JSON.parse(JSON.stringify(x));
}

function matches(matcher, field) {
  const opt = matcher?.options;
  switch (matcher?.id) {
    case 'byName':
      return field.name === opt || field.displayName === opt;
    case 'byRegexp': {
      try {
        const re = new RegExp(opt);
        return re.test(field.displayName ?? field.name) || re.test(field.name);
      } catch {
        return false;
      }
    }
    case 'byFrameRefID':
      return field.refId === opt;
    case 'byType':
      return field.type === opt;
    case 'byNames':
      return (opt?.names ?? []).includes(field.name) || (opt?.names ?? []).includes(field.displayName);
    default:
      return false;
  }
}

/**
 * The effective field config of one field (a series or a table column): the panel's defaults with
 * every matching override applied. `field` is `{ name, displayName?, refId?, type }`.
 */
export function fieldConfig(panel, field) {
  const fc = panel.fieldConfig ?? {};
  const cfg = clone(fc.defaults ?? {}) ?? {};
  // A panel saved without thresholds gets Grafana's defaults for new panels.
  cfg.thresholds ??= {
    mode: 'absolute',
    steps: [
      { color: 'green', value: null },
      { color: 'red', value: 80 },
    ],
  };
  for (const o of fc.overrides ?? []) {
    if (!matches(o.matcher, field)) continue;
    for (const p of o.properties ?? []) setPath(cfg, p.id, clone(p.value));
  }
  return cfg;
}

// ---- tables -------------------------------------------------------------------------------------

/**
 * Query results -> a table, as Grafana builds it for `format: "table"` queries: one column per
 * label, a `Value` column per query (`Value #A`, `Value #B` when several), and with the
 * transformations Vigil's dashboards may use (merge, organize, filterFieldsByName, sortBy,
 * limit, joinByField/seriesToColumns). Each result is `{ refId, samples }` (instant samples).
 */
export function toTable(results, transformations = []) {
  const multi = results.length > 1;
  const frames = results.map(({ refId, samples }) => {
    const labels = [...new Set(samples.flatMap((s) => Object.keys(s.metric ?? {})))]
      .filter((l) => l !== '__name__')
      .sort();
    const valueName = multi ? `Value #${refId}` : 'Value';
    const rows = samples.map((s) => {
      const row = { Time: Math.round(Number(s.value?.[0] ?? 0) * 1000) };
      for (const l of labels) row[l] = s.metric?.[l] ?? '';
      row[valueName] = s.value ? Number(s.value[1]) : null;
      return row;
    });
    return { refId, columns: ['Time', ...labels, valueName], rows };
  });
  let table = frames.length === 1 ? frames[0] : undefined;
  let pending = frames;
  for (const t of transformations) {
    if (t.disabled) continue;
    const o = t.options ?? {};
    if (t.id === 'merge' || t.id === 'joinByField' || t.id === 'seriesToColumns') {
      table = merge(pending, t.id === 'merge' ? undefined : o.byField);
      pending = [table];
      continue;
    }
    table ??= concat(pending);
    pending = [table];
    if (t.id === 'organize') {
      const exclude = o.excludeByName ?? {};
      const include = Object.keys(o.includeByName ?? {}).filter((c) => o.includeByName[c]);
      let cols = table.columns.filter((c) => !exclude[c] && (include.length === 0 || include.includes(c)));
      const index = o.indexByName ?? {};
      if (Object.keys(index).length) cols = [...cols].sort((a, b) => (index[a] ?? 1e9) - (index[b] ?? 1e9));
      const rename = o.renameByName ?? {};
      table = {
        ...table,
        columns: cols.map((c) => rename[c] || c),
        rows: table.rows.map((r) => Object.fromEntries(cols.map((c) => [rename[c] || c, r[c]]))),
      };
    } else if (t.id === 'filterFieldsByName') {
      const names = o.include?.names;
      const pattern = o.include?.pattern ? new RegExp(o.include.pattern) : undefined;
      const keep = (c) => (names ? names.includes(c) : true) && (pattern ? pattern.test(c) : true);
      table = { ...table, columns: table.columns.filter(keep) };
    } else if (t.id === 'sortBy') {
      const s = (o.sort ?? [])[0];
      if (s?.field) {
        const dir = s.desc ? -1 : 1;
        table = {
          ...table,
          rows: [...table.rows].sort((a, b) => {
            const x = a[s.field];
            const y = b[s.field];
            if (typeof x === 'number' && typeof y === 'number') return dir * (x - y);
            return dir * String(x ?? '').localeCompare(String(y ?? ''));
          }),
        };
      }
    } else if (t.id === 'limit') {
      table = { ...table, rows: table.rows.slice(0, o.limitField ?? 10) };
    }
    // Other transformations: the table as it is (the panel still shows its data).
  }
  return table ?? concat(pending);
}

function concat(frames) {
  const columns = [...new Set(frames.flatMap((f) => f.columns))];
  return { columns, rows: frames.flatMap((f) => f.rows) };
}

/** Grafana's merge: rows of all frames with equal values in their shared non-value columns become one. */
function merge(frames, byField) {
  const columns = [...new Set(frames.flatMap((f) => f.columns))];
  const isValue = (c) => c === 'Value' || c.startsWith('Value #');
  const keys = byField ? [byField] : columns.filter((c) => !isValue(c) && c !== 'Time');
  const byKey = new Map();
  for (const f of frames) {
    for (const r of f.rows) {
      const k = JSON.stringify(keys.map((c) => r[c] ?? ''));
      const prev = byKey.get(k);
      if (prev)
        Object.assign(
          prev,
          Object.fromEntries(Object.entries(r).filter(([, v]) => v !== '' && v !== undefined)),
        );
      else byKey.set(k, { ...r });
    }
  }
  return { columns, rows: [...byKey.values()] };
}

/** Grafana panel types -> how the viewer draws them (others say they are not supported). */
export const PANEL_KINDS = {
  timeseries: 'timeseries',
  graph: 'timeseries',
  trend: 'timeseries',
  heatmap: 'timeseries',
  barchart: 'timeseries',
  stat: 'stat',
  singlestat: 'stat',
  gauge: 'gauge',
  bargauge: 'bargauge',
  piechart: 'bargauge',
  table: 'table',
  'table-old': 'table',
  'state-timeline': 'timeline',
  'status-history': 'timeline',
  text: 'text',
};

// ---- panels and layout --------------------------------------------------------------------------

/**
 * The dashboard's panels grouped under their rows, in order: `[{ row, panels }]`, the first group
 * without a row for panels above any row. Collapsed rows keep their panels in `row.panels`.
 */
/** @typedef {{ type?: string, title?: string, collapsed?: boolean, gridPos?: { x?: number, y?: number, w?: number, h?: number }, panels?: Panel[], [key: string]: any }} Panel */
/** @param {{ panels?: Panel[] }} dashboard @returns {{ row: Panel | undefined, panels: Panel[] }[]} */
export function sections(dashboard) {
  /** @type {{ row: Panel | undefined, panels: Panel[] }[]} */
  const out = [{ row: undefined, panels: [] }];
  const sorted = [...(dashboard.panels ?? [])].sort(
    (a, b) => (a.gridPos?.y ?? 0) - (b.gridPos?.y ?? 0) || (a.gridPos?.x ?? 0) - (b.gridPos?.x ?? 0),
  );
  for (const p of sorted) {
    if (p.type === 'row') out.push({ row: p, panels: p.collapsed ? [...(p.panels ?? [])] : [] });
    else out[out.length - 1].panels.push(p);
  }
  return out.filter((s) => s.row || s.panels.length > 0);
}

/** Grafana's `repeat`: one copy of the panel per value of the variable, laid out across or down. */
/** @param {Panel} panel @param {string[]} values @returns {{ panel: Panel, scope: { name: string, value: string } | undefined }[]} */
export function repeatPanel(panel, values) {
  if (!panel.repeat || values.length === 0) return [{ panel, scope: undefined }];
  const g = panel.gridPos ?? { x: 0, y: 0, w: 24, h: 8 };
  const dir = panel.repeatDirection === 'v' ? 'v' : 'h';
  const perRow = dir === 'h' ? Math.max(1, Math.min(panel.maxPerRow ?? 4, values.length)) : 1;
  const w = dir === 'h' ? Math.max(1, Math.floor(24 / perRow)) : g.w;
  return values.map((value, i) => ({
    panel: {
      ...panel,
      gridPos:
        dir === 'h'
          ? { x: (i % perRow) * w, y: g.y + Math.floor(i / perRow) * g.h, w, h: g.h }
          : { x: g.x, y: g.y + i * g.h, w: g.w, h: g.h },
    },
    scope: { name: String(panel.repeat), value },
  }));
}

/**
 * Moves panels down until none overlaps another, in reading order: what Grafana's grid does after
 * repeats widen a row. Takes and returns `{ panel, scope }` items; gridPos is copied, not changed.
 * @template {{ panel: Panel }} T
 * @param {T[]} items
 * @returns {T[]}
 */
export function resolveOverlaps(items) {
  const placed = [];
  const sorted = items
    .map((it, i) => ({ it, i, g: { x: 0, y: 0, w: 12, h: 8, ...(it.panel.gridPos ?? {}) } }))
    // Repeated copies keep their places; the panels they land on move (as in Grafana).
    .sort((a, b) => a.g.y - b.g.y || Number(!a.it.scope) - Number(!b.it.scope) || a.g.x - b.g.x || a.i - b.i);
  for (const e of sorted) {
    const g = { ...e.g };
    for (;;) {
      const hit = placed.filter(
        (o) => g.x < o.x + o.w && o.x < g.x + g.w && g.y < o.y + o.h && o.y < g.y + g.h,
      );
      if (hit.length === 0) break;
      g.y = Math.max(...hit.map((o) => o.y + o.h));
    }
    placed.push(g);
    e.out = { ...e.it, panel: { ...e.it.panel, gridPos: g } };
  }
  return sorted.sort((a, b) => a.i - b.i).map((e) => e.out);
}

/** Prometheus annotation query results -> regions `{ start, end, title, text }` (ms). */
export function annotationRegions(series, stepMs, annotation) {
  const out = [];
  for (const s of series) {
    let start;
    let last;
    const flush = () => {
      if (start === undefined) return;
      out.push({
        start,
        end: last,
        title: legendName(annotation.titleFormat || '', s.metric, annotation.name) || annotation.name,
        text: annotation.textFormat ? legendName(annotation.textFormat, s.metric) : '',
      });
      start = undefined;
    };
    for (const [t, raw] of s.values ?? []) {
      const ts = Number(t) * 1000;
      const v = Number(raw);
      if (!(v !== 0 && Number.isFinite(v))) {
        flush();
        continue;
      }
      if (start !== undefined && ts - last > stepMs) flush();
      if (start === undefined) start = ts;
      last = ts;
    }
    flush();
  }
  return out.sort((a, b) => a.start - b.start);
}
