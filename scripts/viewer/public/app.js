// The dashboard viewer's page: loads a Grafana dashboard JSON, resolves its template variables and
// time range like Grafana (URL parameters `var-<name>`, `from`, `to`, `refresh`, as Grafana's own),
// queries Prometheus through the viewer's proxy and draws every panel (panels.js); refreshes on a
// timer. Each panel element carries `data-state` (loading, data, nodata, error, unsupported) and
// `data-series` (series drawn) so tests can read what the page shows.
import * as G from './grafana.js';
import { destroyPanel, renderPanel, resizePanel } from './panels.js';

const ROW_PX = 36; // one grid unit of height (Grafana: 30 px + 6..8 px margin)
const REFRESH_CHOICES = ['', '5s', '10s', '30s', '1m', '5m', '15m'];
const RANGE_CHOICES = [
  'now-5m',
  'now-15m',
  'now-30m',
  'now-1h',
  'now-3h',
  'now-6h',
  'now-12h',
  'now-24h',
  'now-2d',
  'now-7d',
];
const SKIPPED_TYPES = new Set(['adhoc', 'groupby', 'snapshot']);

const el = (tag, attrs = {}, ...children) => {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') e.className = v;
    else if (k === 'text') e.textContent = v;
    else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else if (k === 'dataset') Object.assign(e.dataset, v);
    else e.setAttribute(k, v === true ? '' : v);
  }
  for (const c of children) if (c !== undefined && c !== null) e.append(c);
  return e;
};

/** GET a viewer API path; throws with the server's or Prometheus' message. */
async function get(path, params = {}, signal) {
  const u = new URL(path, location.origin);
  for (const [k, v] of Object.entries(params))
    for (const x of Array.isArray(v) ? v : [v]) u.searchParams.append(k, x);
  const res = await fetch(u, { signal, headers: { accept: 'application/json' } });
  let body;
  try {
    body = await res.json();
  } catch {
    throw new Error(`${path}: HTTP ${res.status}`);
  }
  if (!res.ok || body?.status === 'error') throw new Error(body?.error ?? `${path}: HTTP ${res.status}`);
  return body;
}
const prom = async (path, params, signal) => (await get(`/api/prom${path}`, params, signal)).data;

const isAbort = (e) => e?.name === 'AbortError' || e?.name === 'TimeoutError' || e === 'superseded';

const app = document.getElementById('app');
let settings;

async function main() {
  settings = await get('/api/settings');
  const list = await get('/api/dashboards');
  const m = /^\/d\/([^/]+)/.exec(location.pathname);
  if (!m) return index(list);
  const uid = decodeURIComponent(m[1]);
  let dashboard;
  try {
    dashboard = await get(`/api/dashboards/${encodeURIComponent(uid)}`);
  } catch (e) {
    app.replaceChildren(
      el('div', { class: 'page-error', text: e.message }),
      el('a', { href: '/', text: 'All dashboards' }),
    );
    return;
  }
  await new Dashboard(uid, dashboard, list).start();
}

function index(list) {
  document.title = settings.title;
  app.replaceChildren(
    el('header', { class: 'top' }, el('h1', { text: settings.title })),
    el(
      'ul',
      { class: 'index' },
      ...list.map((d) =>
        el(
          'li',
          {},
          d.error
            ? el('span', { class: 'error', text: `${d.file}: ${d.error}` })
            : el('a', { href: `/d/${encodeURIComponent(d.uid)}${location.search}`, text: d.title }),
          el('small', { text: ` ${d.file}` }),
        ),
      ),
    ),
  );
  document.body.dataset.ready = 'index';
}

class Dashboard {
  constructor(uid, dashboard, list) {
    this.uid = uid;
    this.d = dashboard;
    this.list = list;
    const q = new URLSearchParams(location.search);
    this.range = {
      from: q.get('from') ?? settings.time?.from ?? dashboard.time?.from ?? 'now-6h',
      to: q.get('to') ?? settings.time?.to ?? dashboard.time?.to ?? 'now',
    };
    this.refresh = q.has('refresh') ? q.get('refresh') : (settings.refresh ?? dashboard.refresh ?? '');
    if (this.refresh && G.parseDuration(this.refresh) === undefined) this.refresh = '';
    this.scrapeMs = G.parseDuration(settings.scrapeInterval) ?? 15e3;
    this.urlVars = new Map();
    for (const [k, v] of q)
      if (k.startsWith('var-')) this.urlVars.set(k.slice(4), [...(this.urlVars.get(k.slice(4)) ?? []), v]);
    this.vars = new Map(); // name -> { def, state, error? }
    this.panels = [];
    // Prometheus-query annotations; newer schema versions keep the query in `target`.
    this.annotations = (dashboard.annotations?.list ?? [])
      .map((a) => ({ ...a, expr: a.expr ?? a.target?.expr, step: a.step ?? a.target?.step }))
      .filter((a) => a.expr && !a.builtIn && (a.datasource?.type ?? 'prometheus') === 'prometheus')
      .map((a) => ({ def: a, enabled: a.enable !== false, regions: [] }));
    this.generation = 0;
    this.refreshes = 0;
  }

  async start() {
    document.title = `${this.d.title ?? this.uid} · ${settings.title}`;
    this.header();
    this.grid = el('main', { class: 'grid' });
    app.replaceChildren(this.head, this.grid);
    let t;
    window.addEventListener('resize', () => {
      clearTimeout(t);
      t = setTimeout(() => {
        for (const p of this.panels) resizePanel(p);
      }, 150);
    });
    document.addEventListener('visibilitychange', () => {
      if (!document.hidden && this.refresh && this.stale) this.update();
    });
    await this.update();
  }

  // ---- header: dashboard picker, variables, annotations, time range, refresh --------------------

  header() {
    const picker = el(
      'select',
      {
        class: 'picker',
        dataset: { control: 'dashboard' },
        'aria-label': 'Dashboard',
        onchange: (e) => {
          location.href = `/d/${encodeURIComponent(e.target.value)}${this.linkSearch()}`;
        },
      },
      ...this.list
        .filter((d) => !d.error)
        .map((d) => el('option', { value: d.uid, selected: d.uid === this.uid, text: d.title })),
    );
    const time = el(
      'select',
      {
        dataset: { control: 'time' },
        'aria-label': 'Time range',
        onchange: (e) => {
          this.range = { from: e.target.value, to: 'now' };
          this.changed();
        },
      },
      ...this.timeOptions(),
    );
    const refresh = el(
      'select',
      {
        dataset: { control: 'refresh' },
        'aria-label': 'Auto refresh',
        onchange: (e) => {
          this.refresh = e.target.value;
          this.changed(false);
        },
      },
      ...[...new Set([...REFRESH_CHOICES, this.refresh])].map((r) =>
        el('option', { value: r, selected: r === this.refresh, text: r === '' ? 'Off' : `every ${r}` }),
      ),
    );
    this.status = el('span', { class: 'status', 'aria-live': 'polite' });
    this.varBar = el('div', { class: 'vars' });
    this.head = el(
      'header',
      { class: 'top' },
      el(
        'div',
        { class: 'bar' },
        el('a', { class: 'home', href: `/${this.linkSearch()}`, title: 'All dashboards', text: '▦' }),
        picker,
        el('span', { class: 'spacer' }),
        this.status,
        el('button', {
          type: 'button',
          title: 'Refresh now',
          dataset: { control: 'refresh-now' },
          onclick: () => this.update(),
          text: '↻',
        }),
        time,
        refresh,
      ),
      this.varBar,
    );
    this.timeSelect = time;
  }

  timeOptions() {
    const current =
      this.range.to === 'now' && RANGE_CHOICES.includes(this.range.from) ? this.range.from : undefined;
    const opts = RANGE_CHOICES.map((r) =>
      el('option', { value: r, selected: r === current, text: G.describeRange({ from: r, to: 'now' }) }),
    );
    if (!current)
      opts.unshift(
        el('option', { value: this.range.from, selected: true, text: G.describeRange(this.range) }),
      );
    return opts;
  }

  /** The query string other dashboards open with: time range, refresh and the variables' values. */
  linkSearch() {
    const q = new URLSearchParams();
    q.set('from', this.range.from);
    q.set('to', this.range.to);
    if (this.refresh) q.set('refresh', this.refresh);
    for (const [name, v] of this.vars) {
      if (v.def.type === 'datasource' || v.def.type === 'constant') continue;
      if (v.state.all) q.append(`var-${name}`, G.ALL);
      else for (const x of v.state.values) q.append(`var-${name}`, x);
    }
    return `?${q}`;
  }

  changed(requery = true) {
    history.replaceState(null, '', `${location.pathname}${this.linkSearch()}`);
    this.timeSelect.replaceChildren(...this.timeOptions());
    if (requery) this.update();
    else this.schedule();
  }

  renderVars() {
    const items = [];
    for (const [name, v] of this.vars) {
      const def = v.def;
      if (def.hide === 2 || def.type === 'constant') continue;
      const label = def.hide === 1 ? undefined : el('label', { for: `var-${name}`, text: def.label || name });
      let control;
      if (def.type === 'textbox') {
        control = el('input', {
          id: `var-${name}`,
          dataset: { var: name },
          value: v.state.values[0] ?? '',
          onchange: (e) => this.select(name, [e.target.value]),
        });
      } else {
        const opts = [];
        if (def.includeAll) opts.push(el('option', { value: G.ALL, selected: v.state.all, text: 'All' }));
        const chosen = new Set(v.state.all ? [] : v.state.values);
        if (!v.state.all && v.state.values.length > 1)
          opts.push(
            el('option', {
              value: JSON.stringify(v.state.values),
              selected: true,
              text: (v.state.texts ?? v.state.values).join(' + '),
            }),
          );
        for (const o of v.state.options)
          opts.push(
            el('option', {
              value: o.value,
              selected: v.state.values.length === 1 && chosen.has(o.value),
              text: o.text,
            }),
          );
        if (opts.length === 0) opts.push(el('option', { value: '', text: 'None' }));
        control = el(
          'select',
          {
            id: `var-${name}`,
            dataset: { var: name },
            disabled: def.type === 'datasource' || undefined,
            onchange: (e) => {
              const value = e.target.value;
              this.select(
                name,
                value === G.ALL ? G.ALL : value.startsWith('[') ? JSON.parse(value) : [value],
              );
            },
          },
          ...opts,
        );
      }
      items.push(
        el(
          'span',
          { class: `var${v.error ? ' var-error' : ''}`, title: v.error ?? def.description ?? '' },
          label,
          control,
        ),
      );
    }
    for (const a of this.annotations) {
      if (a.def.hide) continue;
      items.push(
        el(
          'label',
          { class: 'var annotation-toggle' },
          el('input', {
            type: 'checkbox',
            checked: a.enabled,
            onchange: (e) => {
              a.enabled = e.target.checked;
              this.update();
            },
          }),
          el('span', { class: 'swatch', style: `background:${G.cssColor(a.def.iconColor)}` }),
          a.def.name ?? 'Annotations',
        ),
      );
    }
    this.varBar.replaceChildren(...items);
  }

  select(name, value) {
    const v = this.vars.get(name);
    if (!v) return;
    v.state =
      value === G.ALL ? { ...v.state, all: true, values: [], texts: ['All'] } : this.chosen(v.state, value);
    v.touched = true;
    this.changed();
  }

  chosen(state, values) {
    const texts = values.map((x) => state.options.find((o) => o.value === x)?.text ?? x);
    return { ...state, all: false, values, texts };
  }

  // ---- variables ------------------------------------------------------------------------------

  /** Refreshes every variable's options in dashboard order (later ones may use earlier ones). */
  async refreshVariables(range, signal) {
    const builtins = G.builtinsFor(
      range,
      G.intervals({ ...range, maxDataPoints: 1000, scrapeIntervalMs: this.scrapeMs }),
    );
    for (const def of this.d.templating?.list ?? []) {
      if (!def?.name || SKIPPED_TYPES.has(def.type)) continue;
      const prev = this.vars.get(def.name);
      let options = [];
      let error;
      try {
        options = await this.variableOptions(def, range, builtins, signal);
      } catch (e) {
        if (isAbort(e)) throw e;
        error = e.message;
        options = prev?.state.options ?? [];
      }
      const state = this.pick(def, options, prev);
      this.vars.set(def.name, { def, state, error, touched: prev?.touched });
    }
  }

  async variableOptions(def, range, builtins, signal) {
    switch (def.type) {
      case 'datasource':
        return [{ text: 'Prometheus', value: 'prometheus' }];
      case 'constant':
        return [{ text: String(def.query ?? ''), value: String(def.query ?? '') }];
      case 'textbox': {
        const v = String(def.current?.value ?? def.query ?? '');
        return [{ text: v, value: v }];
      }
      case 'custom':
      case 'interval':
        return def.options?.length && def.type === 'custom' && !def.query
          ? def.options.map((o) => ({ text: String(o.text), value: String(o.value) }))
          : G.customOptions(def.query);
      case 'query': {
        const parsed = G.parseVariableQuery(G.interpolate(G.variableQuery(def), this.vars, builtins));
        const call = G.variableCall(parsed, range);
        const data = await prom(call.path, call.params, signal);
        let values = call.extract ? (data.result ?? []).map(G.seriesText) : data.map(String);
        if (call.filter) {
          const re = new RegExp(call.filter);
          values = values.filter((x) => re.test(x));
        }
        const seen = new Set();
        const options = G.applyVariableRegex(values, def.regex).filter(
          (o) => !seen.has(o.value) && seen.add(o.value),
        );
        return G.sortOptions(options, def.sort);
      }
      default:
        return [];
    }
  }

  /** The selection after a refresh: the user's, else the URL's, else the dashboard's saved current. */
  pick(def, options, prev) {
    const base = { options, values: [], texts: [], all: false };
    let wanted;
    if (prev) wanted = prev.state.all ? G.ALL : prev.state.values;
    else if (this.urlVars.has(def.name)) {
      const u = this.urlVars.get(def.name);
      wanted = u.includes(G.ALL) || u.includes('All') ? G.ALL : u;
    } else {
      const cur = def.current?.value;
      const list = Array.isArray(cur) ? cur : cur === undefined || cur === null ? [] : [String(cur)];
      wanted = list.includes(G.ALL) ? G.ALL : list;
    }
    if (def.type === 'datasource') return this.chosen(base, ['prometheus']);
    if (def.type === 'textbox' || def.type === 'constant') {
      const v =
        def.type === 'constant'
          ? options[0]?.value
          : wanted === G.ALL
            ? ''
            : (wanted[0] ?? options[0]?.value ?? '');
      return this.chosen(base, [v ?? '']);
    }
    if (wanted === G.ALL && def.includeAll) return { ...base, all: true, texts: ['All'] };
    const values = wanted === G.ALL ? [] : wanted.filter((w) => options.some((o) => o.value === w));
    if (values.length > 0) return this.chosen(base, def.multi ? values : values.slice(0, 1));
    // Nothing chosen is available (yet): Grafana falls back to All, or to the first option.
    if (def.includeAll) return { ...base, all: true, texts: ['All'] };
    return this.chosen(base, options.length ? [options[0].value] : []);
  }

  // ---- layout ---------------------------------------------------------------------------------

  /** The values a repeated panel repeats over. */
  repeatValues(name) {
    const v = this.vars.get(name);
    if (!v) return [];
    return v.state.all ? v.state.options.map((o) => o.value) : v.state.values;
  }

  layoutKey() {
    const repeats = new Set();
    const walk = (ps) => {
      for (const p of ps ?? []) {
        if (p.repeat) repeats.add(p.repeat);
        if (p.panels) walk(p.panels);
      }
    };
    walk(this.d.panels);
    return JSON.stringify([...repeats].map((r) => [r, this.repeatValues(r)]));
  }

  layout() {
    for (const p of this.panels) destroyPanel(p);
    this.panels = [];
    const out = [];
    for (const section of G.sections(this.d)) {
      const collapsed = Boolean(section.row?.collapsed);
      const body = el('div', { class: 'section-body', hidden: collapsed || undefined });
      if (section.row) {
        const title = G.interpolate(section.row.title ?? '', this.vars);
        const head = el(
          'button',
          {
            type: 'button',
            class: 'row-title',
            'aria-expanded': String(!collapsed),
            onclick: () => {
              body.hidden = !body.hidden;
              head.setAttribute('aria-expanded', String(!body.hidden));
              if (!body.hidden) {
                for (const p of this.panels) if (p.section === body) resizePanel(p);
                this.update();
              }
            },
          },
          el('span', { class: 'chevron' }),
          title,
        );
        out.push(head);
      }
      const placed = G.resolveOverlaps(
        section.panels.flatMap((p) => G.repeatPanel(p, p.repeat ? this.repeatValues(p.repeat) : [])),
      );
      const top = Math.min(...placed.map((x) => x.panel.gridPos?.y ?? 0));
      let bottom = 0;
      for (const { panel, scope } of placed) {
        const g = { x: 0, y: 0, w: 12, h: 8, ...(panel.gridPos ?? {}) };
        const y = g.y - top;
        bottom = Math.max(bottom, y + g.h);
        const title = this.interpolateScoped(panel.title ?? '', scope);
        const box = el(
          'section',
          {
            class: `panel panel-${panel.type}`,
            title: panel.description ?? '',
            dataset: { panelTitle: title, type: panel.type, state: 'loading', series: '0' },
            style: `left:calc(${(g.x / 24) * 100}% + 4px);width:calc(${(g.w / 24) * 100}% - 8px);top:${y * ROW_PX + 4}px;height:${g.h * ROW_PX - 8}px`,
          },
          el('h3', { text: title }),
        );
        const content = el('div', { class: 'panel-body' });
        box.append(content);
        body.append(box);
        this.panels.push({ def: panel, scope, el: box, body: content, section: body });
      }
      body.style.height = `${bottom * ROW_PX}px`;
      out.push(body);
    }
    this.grid.replaceChildren(...out);
    this.layoutSig = this.layoutKey();
  }

  interpolateScoped(text, scope, builtins) {
    return G.interpolate(text, this.scopedVars(scope), builtins);
  }

  scopedVars(scope) {
    if (!scope) return this.vars;
    const vars = new Map(this.vars);
    const v = vars.get(scope.name);
    if (v) vars.set(scope.name, { ...v, state: this.chosen(v.state, [scope.value]) });
    return vars;
  }

  // ---- queries --------------------------------------------------------------------------------

  async queryPanel(p, range, signal) {
    const def = p.def;
    const targets = (def.targets ?? []).filter(
      (t) => !t.hide && typeof t.expr === 'string' && t.expr.trim() !== '',
    );
    const vars = this.scopedVars(p.scope);
    const width = Math.max(100, p.body.clientWidth || 600);
    const minInterval = G.parseDuration(G.interpolate(def.interval ?? '', vars));
    const iv = G.intervals({
      ...range,
      maxDataPoints: def.maxDataPoints ?? width,
      scrapeIntervalMs: this.scrapeMs,
      minIntervalMs: minInterval,
    });
    const builtins = G.builtinsFor(range, iv);
    const sent = [];
    const results = await Promise.all(
      targets.map(async (t) => {
        const refId = t.refId ?? 'A';
        const expr = G.interpolate(t.expr, vars, builtins);
        const ownMin = G.parseDuration(G.interpolate(t.interval ?? '', vars)) ?? 0;
        const stepMs = Math.max(iv.stepMs, ownMin) * Math.max(1, Number(t.intervalFactor ?? 1));
        const instant = Boolean(t.instant) && !t.range;
        const step = stepMs / 1e3;
        const path = instant ? '/api/v1/query' : '/api/v1/query_range';
        const params = instant
          ? { query: expr, time: String(range.to / 1e3) }
          : {
              query: expr,
              start: String(Math.floor(range.from / stepMs) * step),
              end: String(Math.floor(range.to / stepMs) * step),
              step: String(step),
            };
        sent.push({ refId, path, params });
        try {
          const data = await prom(path, params, signal);
          return { refId, target: t, expr, instant, stepMs, series: normalize(data, t, expr) };
        } catch (e) {
          if (isAbort(e)) throw e;
          return { refId, target: t, expr, instant, stepMs, series: [], error: e.message };
        }
      }),
    );
    // What the panel asked Prometheus (like Grafana's query inspector; the tests read it too).
    p.el.dataset.queries = JSON.stringify(sent);
    return {
      results,
      range,
      iv,
      annotations: this.annotations.filter((a) => a.enabled).flatMap((a) => a.regions),
    };
  }

  async queryAnnotations(range, signal) {
    await Promise.all(
      this.annotations.map(async (a) => {
        a.regions = [];
        if (!a.enabled) return;
        const stepMs =
          G.parseDuration(a.def.step) ??
          Math.max(this.scrapeMs, G.roundInterval((range.to - range.from) / 500));
        const iv = G.intervals({ ...range, maxDataPoints: 500, scrapeIntervalMs: this.scrapeMs });
        const expr = G.interpolate(a.def.expr, this.vars, G.builtinsFor(range, iv));
        try {
          const step = stepMs / 1e3;
          const data = await prom(
            '/api/v1/query_range',
            {
              query: expr,
              start: String(Math.floor(range.from / stepMs) * step),
              end: String(Math.floor(range.to / stepMs) * step),
              step: String(step),
            },
            signal,
          );
          a.regions = G.annotationRegions(data.result ?? [], stepMs, a.def).map((r) => ({
            ...r,
            color: G.cssColor(a.def.iconColor ?? 'red'),
          }));
        } catch (e) {
          if (isAbort(e)) throw e;
          a.error = e.message;
        }
      }),
    );
  }

  // ---- the refresh cycle ----------------------------------------------------------------------

  async update() {
    clearTimeout(this.timer);
    this.controller?.abort('superseded');
    const controller = new AbortController();
    this.controller = controller;
    const gen = ++this.generation;
    const signal = controller.signal;
    this.stale = false;
    this.status.textContent = 'Updating…';
    this.status.classList.remove('status-error');
    let range;
    try {
      range = G.resolveRange(this.range);
    } catch (e) {
      this.status.textContent = e.message;
      this.status.classList.add('status-error');
      // A range that starts in the future becomes valid with time: keep refreshing.
      this.schedule();
      return;
    }
    try {
      await this.refreshVariables(range, signal);
      if (gen !== this.generation) return;
      this.renderVars();
      if (this.layoutSig !== this.layoutKey() || this.panels.length === 0) this.layout();
      await this.queryAnnotations(range, signal);
      const visible = this.panels.filter((p) => !p.section.hidden);
      await Promise.all(
        visible.map(async (p) => {
          if (!needsQuery(p.def)) {
            renderPanel(p, { results: [], range }, this);
            return;
          }
          const data = await this.queryPanel(p, range, signal);
          if (gen === this.generation) renderPanel(p, data, this);
        }),
      );
      if (gen !== this.generation) return;
      this.refreshes++;
      document.body.dataset.refreshes = String(this.refreshes);
      this.status.textContent = `Updated ${new Date().toLocaleTimeString()}`;
    } catch (e) {
      if (isAbort(e) || gen !== this.generation) return;
      this.status.textContent = e.message;
      this.status.classList.add('status-error');
    }
    this.schedule();
  }

  schedule() {
    clearTimeout(this.timer);
    const ms = this.refresh ? G.parseDuration(this.refresh) : undefined;
    if (!ms) return;
    this.timer = setTimeout(
      () => {
        // A hidden tab refreshes when it is shown again, not in the background.
        if (document.hidden) this.stale = true;
        else this.update();
      },
      Math.max(1000, ms),
    );
  }

  /** Drag-select on a chart: zoom to that absolute range, as Grafana does. */
  zoom(fromMs, toMs) {
    if (!(toMs - fromMs > 1000)) return;
    this.range = { from: String(Math.round(fromMs)), to: String(Math.round(toMs)) };
    this.changed();
  }
}

function needsQuery(def) {
  return !['text', 'news', 'dashlist', 'annolist', 'welcome'].includes(def.type);
}

/** A Prometheus result -> series `{ name, metric, values: [[ms, number|null]] }`. */
function normalize(data, target, expr) {
  const name = (metric) => G.legendName(target.legendFormat, metric, expr);
  switch (data?.resultType) {
    case 'matrix':
      return data.result.map((s) => ({
        name: name(s.metric),
        metric: s.metric,
        values: s.values.map(([t, v]) => [Number(t) * 1000, toNumber(v)]),
      }));
    case 'vector':
      return data.result.map((s) => ({
        name: name(s.metric),
        metric: s.metric,
        values: [[Number(s.value[0]) * 1000, toNumber(s.value[1])]],
      }));
    case 'scalar':
      return [
        { name: name({}), metric: {}, values: [[Number(data.result[0]) * 1000, toNumber(data.result[1])]] },
      ];
    default:
      return [];
  }
}

function toNumber(v) {
  if (v === '+Inf') return Number.POSITIVE_INFINITY;
  if (v === '-Inf') return Number.NEGATIVE_INFINITY;
  const n = Number(v);
  return Number.isNaN(n) ? null : n;
}

main().catch((e) => {
  app.replaceChildren(el('div', { class: 'page-error', text: `Cannot load the dashboards: ${e.message}` }));
});
