// Draws one Grafana panel from query results: time series (uPlot), stat, gauge, bar gauge, table,
// state timeline / status history and text. Panels whose queries return nothing say "No data"
// (or the panel's `noValue`), as Grafana does; a failed query shows its error on the panel.
import * as G from './grafana.js';
import uPlot from './uPlot.esm.js';

const SVG = 'http://www.w3.org/2000/svg';

function h(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null) continue;
    if (k === 'class') e.className = v;
    else if (k === 'text') e.textContent = v;
    else if (k === 'style') Object.assign(e.style, v);
    else e.setAttribute(k, v);
  }
  for (const c of children) if (c !== undefined && c !== null) e.append(c);
  return e;
}

function svg(tag, attrs = {}) {
  const e = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
  return e;
}

export function destroyPanel(p) {
  p.chart?.destroy();
  p.chart = undefined;
  p.chartKey = undefined;
}

export function resizePanel(p) {
  if (p.chart && p.body.clientWidth > 0)
    p.chart.setSize(chartSize(p, p.chart.root.querySelector('.u-legend')));
  else if (p.last) renderPanel(p, p.last.data, p.last.dash);
}

/** Renders query results into the panel; `data` is `{ results, range, iv, annotations }`. */
export function renderPanel(p, data, dash) {
  p.last = { data, dash };
  const def = p.def;
  const kind = G.PANEL_KINDS[def.type];
  const errors = data.results
    .filter((r) => r.error)
    .map((r) => (data.results.length > 1 ? `${r.refId}: ${r.error}` : r.error));
  const head = p.el.querySelector('h3');
  head.querySelector('.panel-error-badge')?.remove();
  if (errors.length) {
    p.el.dataset.error = errors.join('\n');
    head.prepend(h('span', { class: 'panel-error-badge', title: errors.join('\n'), text: '!' }));
  } else delete p.el.dataset.error;

  if (!kind) return message(p, 'unsupported', `Panel type "${def.type}" is not supported by this viewer`);
  if (kind === 'text') return text(p);
  const series = collect(def, data);
  const withData = series.filter((s) => s.values.some(([, v]) => v !== null));
  if (withData.length === 0) {
    if (errors.length) return message(p, 'error', errors.join('\n'));
    const noValue = G.fieldConfig(def, { name: '', type: 'number' }).noValue;
    return message(p, 'nodata', noValue || 'No data');
  }
  if (p.kind !== kind || kind !== 'timeseries') {
    destroyPanel(p);
    p.body.replaceChildren();
    p.body.className = `panel-body body-${kind}`;
  }
  p.kind = kind;
  let drawn;
  if (kind === 'timeseries') drawn = timeSeries(p, data, dash, withData);
  else if (kind === 'stat') drawn = stat(p, withData);
  else if (kind === 'gauge') drawn = gauge(p, withData);
  else if (kind === 'bargauge') drawn = barGauge(p, withData);
  else if (kind === 'table') drawn = table(p, data);
  else drawn = timeline(p, data, withData);
  p.el.dataset.state = drawn > 0 ? 'data' : 'nodata';
  p.el.dataset.series = String(drawn);
  if (drawn === 0) message(p, 'nodata', 'No data');
}

function message(p, state, textContent) {
  destroyPanel(p);
  p.kind = undefined;
  p.body.className = `panel-body panel-message message-${state}`;
  p.body.replaceChildren(h('span', { text: textContent }));
  p.el.dataset.state = state;
  p.el.dataset.series = '0';
}

/** Every series of every query, with its field config and display name. */
function collect(def, data) {
  const out = [];
  for (const r of data.results) {
    for (const s of r.series) {
      const cfg = G.fieldConfig(def, { name: s.name, displayName: s.name, refId: r.refId, type: 'number' });
      out.push({
        ...s,
        refId: r.refId,
        instant: r.instant,
        stepMs: r.stepMs,
        cfg,
        label: cfg.displayName || s.name,
      });
    }
  }
  return out;
}

function colorOf(cfg, value, index, fallbackMode = 'palette-classic') {
  const mode = cfg.color?.mode ?? fallbackMode;
  if (mode === 'fixed' || mode === 'shades') return G.cssColor(cfg.color?.fixedColor ?? 'green');
  if (mode === 'thresholds') return G.thresholdColor(value, cfg.thresholds, cfg.min, cfg.max);
  return G.PALETTE[index % G.PALETTE.length];
}

function alpha(color, opacity) {
  const a = Math.round(Math.max(0, Math.min(1, opacity)) * 255)
    .toString(16)
    .padStart(2, '0');
  return /^#[0-9a-f]{6}$/i.test(color) ? `${color}${a}` : color;
}

const lastValue = (s) => {
  for (let i = s.values.length - 1; i >= 0; i--) if (s.values[i][1] !== null) return s.values[i][1];
  return null;
};

// ---- time series ----------------------------------------------------------------------------------

function chartSize(p, legend) {
  const width = Math.max(50, p.body.clientWidth);
  const height = Math.max(40, p.body.clientHeight - (legend?.offsetHeight ?? 0));
  return { width, height };
}

function timeSeries(p, data, dash, series) {
  const def = p.def;
  const defaults = G.fieldConfig(def, { name: '', type: 'number' });
  const custom = defaults.custom ?? {};
  const visible = series.filter((s) => !s.cfg.custom?.hideFrom?.viz);
  const xsSet = new Set();
  for (const s of visible) for (const [t] of s.values) xsSet.add(t);
  const xsMs = [...xsSet].sort((a, b) => a - b);
  const index = new Map(xsMs.map((t, i) => [t, i]));
  let ys = visible.map((s) => {
    const a = new Array(xsMs.length).fill(null);
    for (const [t, v] of s.values) a[index.get(t)] = v === null || !Number.isFinite(v) ? null : v;
    if (s.cfg.custom?.transform === 'negative-Y')
      for (let i = 0; i < a.length; i++) if (a[i] !== null) a[i] = -a[i];
    return a;
  });
  // Stacking: cumulative sums per stacking group, in series order (Grafana's "normal" / "percent").
  const stackMode = (s) => s.cfg.custom?.stacking?.mode ?? 'none';
  if (visible.some((s) => stackMode(s) !== 'none')) {
    const groups = new Map();
    ys = ys.map((a, i) => {
      const s = visible[i];
      if (stackMode(s) === 'none') return a;
      const key = `${stackMode(s)}/${s.cfg.custom?.stacking?.group ?? 'A'}`;
      const acc = groups.get(key) ?? new Array(a.length).fill(0);
      groups.set(key, acc);
      return a.map((v, k) => {
        if (v === null) return null;
        acc[k] += v;
        return acc[k];
      });
    });
    for (const [key, acc] of groups) {
      if (!key.startsWith('percent/')) continue;
      ys = ys.map((a, i) => {
        const s = visible[i];
        if (`${stackMode(s)}/${s.cfg.custom?.stacking?.group ?? 'A'}` !== key) return a;
        return a.map((v, k) => (v === null || acc[k] === 0 ? null : v / acc[k]));
      });
    }
  }
  const unit = visible.some((s) => stackMode(s) === 'percent') ? 'percentunit' : (defaults.unit ?? 'short');
  const decimals = defaults.decimals;
  const colors = visible.map((s, i) => colorOf(s.cfg, lastValue(s), i));
  const thresholdsMode = custom.thresholdsStyle?.mode ?? 'off';
  const steps = (defaults.thresholds?.steps ?? []).filter((s) => s.value !== null && s.value !== undefined);
  const legendOpts = def.options?.legend ?? {};
  const showLegend = legendOpts.showLegend !== false && legendOpts.displayMode !== 'hidden';
  const tooltipMode = def.options?.tooltip?.mode ?? 'multi';

  const uSeries = visible.map((s, i) => {
    const c = s.cfg.custom ?? {};
    const color = colors[i];
    const draw = c.drawStyle ?? 'line';
    const fill = Number(c.fillOpacity ?? (def.type === 'graph' ? 10 : 0)) / 100;
    const stacked = stackMode(s) !== 'none';
    const paths =
      draw === 'bars'
        ? uPlot.paths.bars({ size: [0.7, 40] })
        : c.lineInterpolation === 'stepAfter'
          ? uPlot.paths.stepped({ align: 1 })
          : c.lineInterpolation === 'stepBefore'
            ? uPlot.paths.stepped({ align: -1 })
            : c.lineInterpolation === 'smooth'
              ? uPlot.paths.spline()
              : undefined;
    return {
      label: s.label,
      stroke: color,
      width: draw === 'points' ? 0 : Number(c.lineWidth ?? 1),
      fill:
        fill > 0 || draw === 'bars' ? alpha(color, draw === 'bars' ? Math.max(fill, 0.8) : fill) : undefined,
      ...(paths ? { paths } : {}),
      points: { show: draw === 'points' || c.showPoints === 'always', size: Number(c.pointSize ?? 5) },
      spanGaps: c.spanNulls === true,
      value: (_u, v) =>
        v === null || v === undefined ? '' : G.display(v, s.cfg.unit ?? unit, s.cfg.decimals ?? decimals),
      ...(stacked ? { band: true } : {}),
    };
  });
  // Stacked areas fill down to the series below them, as Grafana draws them.
  const bands = [];
  for (let i = 1; i < visible.length; i++) {
    if (stackMode(visible[i]) !== 'none' && stackMode(visible[i - 1]) === stackMode(visible[i]))
      bands.push({ series: [i + 1, i] });
  }
  const softMin = custom.axisSoftMin;
  const softMax = custom.axisSoftMax;
  const yRange = (_u, dmin, dmax) => {
    let lo = dmin ?? 0;
    let hi = dmax ?? 1;
    if (softMin !== undefined && softMin !== null) lo = Math.min(lo, softMin);
    if (softMax !== undefined && softMax !== null) hi = Math.max(hi, softMax);
    if (thresholdsMode !== 'off') for (const s of steps) hi = Math.max(hi, s.value);
    if (lo === hi) hi = lo === 0 ? 1 : lo + Math.abs(lo) * 0.1;
    let [a, b] = uPlot.rangeNum(lo, hi, 0.1, true);
    if (softMin !== undefined && softMin !== null && lo >= softMin) a = Math.max(a, softMin);
    if (defaults.min !== undefined && defaults.min !== null) a = defaults.min;
    if (defaults.max !== undefined && defaults.max !== null) b = defaults.max;
    return [a, b];
  };
  const draw = (u) => {
    const ctx = u.ctx;
    ctx.save();
    if (thresholdsMode !== 'off') {
      const dashed = thresholdsMode.startsWith('dashed');
      const area = thresholdsMode.includes('area');
      const all = defaults.thresholds?.steps ?? [];
      for (let k = 0; k < all.length; k++) {
        const s = all[k];
        const color = G.cssColor(s.color);
        if (area) {
          const lo = s.value ?? u.scales.y.min;
          const hi = all[k + 1]?.value ?? u.scales.y.max;
          const y0 = u.valToPos(Math.max(lo, u.scales.y.min), 'y', true);
          const y1 = u.valToPos(Math.min(hi, u.scales.y.max), 'y', true);
          ctx.fillStyle = alpha(color, 0.12);
          ctx.fillRect(u.bbox.left, y1, u.bbox.width, y0 - y1);
        }
        if (s.value === null || s.value === undefined || thresholdsMode === 'area') continue;
        const y = u.valToPos(s.value, 'y', true);
        ctx.strokeStyle = color;
        ctx.lineWidth = 1;
        ctx.setLineDash(dashed ? [8, 5] : []);
        ctx.beginPath();
        ctx.moveTo(u.bbox.left, y);
        ctx.lineTo(u.bbox.left + u.bbox.width, y);
        ctx.stroke();
      }
    }
    // Annotations: a vertical line where each starts, a band while it lasts.
    ctx.setLineDash([3, 3]);
    for (const a of data.annotations ?? []) {
      const x0 = u.valToPos(a.start / 1e3, 'x', true);
      const x1 = u.valToPos(a.end / 1e3, 'x', true);
      if (x1 < u.bbox.left || x0 > u.bbox.left + u.bbox.width) continue;
      if (x1 - x0 > 1) {
        ctx.fillStyle = alpha(a.color, 0.1);
        ctx.fillRect(
          Math.max(x0, u.bbox.left),
          u.bbox.top,
          Math.min(x1, u.bbox.left + u.bbox.width) - Math.max(x0, u.bbox.left),
          u.bbox.height,
        );
      }
      ctx.strokeStyle = a.color;
      ctx.beginPath();
      ctx.moveTo(x0, u.bbox.top);
      ctx.lineTo(x0, u.bbox.top + u.bbox.height);
      ctx.stroke();
    }
    ctx.restore();
  };
  const xs = xsMs.map((t) => t / 1e3);
  const key = JSON.stringify([
    uSeries.map((s) => [s.label, s.stroke, s.fill, s.width]),
    unit,
    thresholdsMode,
    showLegend,
  ]);
  const plotData = [xs, ...ys];
  p.annotations = data.annotations;
  if (p.chart && p.chartKey === key) {
    p.chart.setData(plotData);
    return visible.length;
  }
  destroyPanel(p);
  p.body.replaceChildren();
  const opts = {
    ...chartSize(p),
    legend: { show: showLegend, live: tooltipMode !== 'none' },
    cursor: { drag: { x: true, y: false }, points: { size: 6 }, focus: { prox: 16 } },
    focus: { alpha: 0.4 },
    scales: {
      x: { time: true, range: () => [data.range.from / 1e3, data.range.to / 1e3] },
      y: { range: yRange },
    },
    axes: [
      {
        stroke: '#8e8e9a',
        grid: { stroke: '#2c3036', width: 1 },
        ticks: { stroke: '#2c3036', width: 1 },
        font: '11px sans-serif',
        size: 28,
        space: 72, // room for an HH:mm:ss label
        values: (_u, vals) => vals.map((v) => timeLabel(v * 1e3, data.range.to - data.range.from)),
      },
      {
        stroke: '#8e8e9a',
        grid: { stroke: '#2c3036', width: 1 },
        ticks: { stroke: '#2c3036', width: 1 },
        font: '11px sans-serif',
        size: 64,
        show: custom.axisPlacement !== 'hidden',
        values: (_u, vals) => vals.map((v) => G.display(v, unit, decimals)),
      },
    ],
    series: [{ value: (_u, v) => (v === null ? '' : new Date(v * 1e3).toLocaleTimeString()) }, ...uSeries],
    bands,
    hooks: {
      draw: [draw],
      setSelect: [
        (u) => {
          if (u.select.width < 5) return;
          const from = u.posToVal(u.select.left, 'x') * 1e3;
          const to = u.posToVal(u.select.left + u.select.width, 'x') * 1e3;
          u.setSelect({ left: 0, width: 0, top: 0, height: 0 }, false);
          dash.zoom(from, to);
        },
      ],
    },
  };
  const u = new uPlot(opts, plotData, p.body);
  // The legend takes what it needs; the plot gets the rest of the panel.
  const legend = u.root.querySelector('.u-legend');
  if (legend) legend.classList.add(visible.length > 6 ? 'legend-wrap' : 'legend-list');
  u.setSize(chartSize(p, legend));
  // Once more after layout: the legend's final height is known only then.
  requestAnimationFrame(() => {
    if (p.chart === u && p.body.clientWidth > 0) u.setSize(chartSize(p, legend));
  });
  p.chart = u;
  p.chartKey = key;
  return visible.length;
}

/** An axis label, as precise as the range needs (Grafana: HH:mm, HH:mm:ss, or MM/DD HH:mm). */
export function timeLabel(ms, rangeMs) {
  const d = new Date(ms);
  const p = (n) => String(n).padStart(2, '0');
  const hm = `${p(d.getHours())}:${p(d.getMinutes())}`;
  if (rangeMs <= 5 * 60e3) return `${hm}:${p(d.getSeconds())}`;
  if (rangeMs <= 2 * 86400e3) return hm;
  return `${p(d.getMonth() + 1)}/${p(d.getDate())} ${hm}`;
}

// ---- stat, gauge, bar gauge ---------------------------------------------------------------------

function reduced(def, series) {
  const calc = def.options?.reduceOptions?.calcs?.[0] ?? 'lastNotNull';
  return series.map((s, i) => {
    const value = G.reduce(
      s.values.map(([, v]) => v),
      calc,
    );
    const mapped = G.mapValue(value, s.cfg.mappings);
    const color = mapped?.color ? G.cssColor(mapped.color) : colorOf(s.cfg, value, i, 'thresholds');
    const text = mapped?.text ?? G.display(value, s.cfg.unit, s.cfg.decimals);
    return { s, value, color, text };
  });
}

function fitText(elem, text, w, hgt, share) {
  const size = Math.max(10, Math.min(hgt * share, (w * 0.9) / Math.max(2, text.length * 0.58), 72));
  elem.style.fontSize = `${Math.round(size)}px`;
}

function sparkline(values, color, fill) {
  const pts = values.filter(([, v]) => v !== null && Number.isFinite(v));
  if (pts.length < 2) return undefined;
  const t0 = pts[0][0];
  const t1 = pts[pts.length - 1][0];
  let lo = Math.min(...pts.map(([, v]) => v));
  let hi = Math.max(...pts.map(([, v]) => v));
  if (hi === lo) {
    hi += 1;
    lo -= 1;
  }
  const xy = pts.map(([t, v]) => [
    ((t - t0) / Math.max(1, t1 - t0)) * 100,
    100 - ((v - lo) / (hi - lo)) * 90 - 5,
  ]);
  const line = xy.map(([x, y], i) => `${i ? 'L' : 'M'}${x.toFixed(2)},${y.toFixed(2)}`).join('');
  const s = svg('svg', { class: 'sparkline', viewBox: '0 0 100 100', preserveAspectRatio: 'none' });
  s.append(svg('path', { d: `${line}L100,100L0,100Z`, fill: alpha(color, fill), stroke: 'none' }));
  s.append(
    svg('path', {
      d: line,
      fill: 'none',
      stroke: color,
      'stroke-width': 1.5,
      'vector-effect': 'non-scaling-stroke',
    }),
  );
  return s;
}

function stat(p, series) {
  const def = p.def;
  const o = def.options ?? {};
  const items = reduced(def, series);
  const colorMode = o.colorMode ?? 'value';
  const textMode = o.textMode ?? 'auto';
  const showName =
    textMode === 'value_and_name' || textMode === 'name' || (textMode === 'auto' && items.length > 1);
  const W = p.body.clientWidth;
  const H = p.body.clientHeight;
  const horizontal =
    (o.orientation ?? 'auto') === 'horizontal' || ((o.orientation ?? 'auto') === 'auto' && W < H);
  const cols = horizontal ? 1 : items.length;
  const rows = horizontal ? items.length : 1;
  const tileW = W / cols - 4;
  const tileH = H / rows - 4;
  const tiles = items.map(({ s, text, color }) => {
    const bg = colorMode === 'background' || colorMode === 'background_solid';
    const tile = h('div', { class: 'stat-tile', style: bg ? { background: color } : {} });
    if (o.graphMode !== 'none' && !s.instant && tileH > 40) {
      const line = sparkline(s.values, bg ? '#ffffff' : color, bg ? 0.18 : 0.15);
      if (line) tile.append(line);
    }
    const value = h('div', {
      class: 'stat-value',
      text: textMode === 'name' ? s.label : text,
      style: { color: bg ? '#fff' : colorMode === 'none' ? '' : color },
    });
    fitText(value, value.textContent, tileW, tileH, showName ? 0.42 : 0.55);
    if (showName && textMode !== 'name') tile.append(h('div', { class: 'stat-name', text: s.label }));
    if (textMode !== 'none') tile.append(value);
    return tile;
  });
  const box = h('div', { class: `stat-grid${horizontal ? ' stat-vertical' : ''}` }, ...tiles);
  p.body.replaceChildren(box);
  return items.length;
}

function limits(cfg, values) {
  const unit = cfg.unit;
  const data = values.filter((v) => v !== null && Number.isFinite(v));
  const min = cfg.min ?? Math.min(0, ...data);
  const max =
    cfg.max ?? (unit === 'percentunit' ? 1 : unit === 'percent' ? 100 : Math.max(min + 1e-9, ...data));
  return { min, max };
}

function arc(cx, cy, r, a0, a1) {
  const p = (a) => [cx + r * Math.cos((a * Math.PI) / 180), cy + r * Math.sin((a * Math.PI) / 180)];
  const [x0, y0] = p(a0);
  const [x1, y1] = p(a1);
  return `M${x0.toFixed(2)},${y0.toFixed(2)}A${r},${r} 0 ${a1 - a0 > 180 ? 1 : 0} 1 ${x1.toFixed(2)},${y1.toFixed(2)}`;
}

function gauge(p, series) {
  const def = p.def;
  const items = reduced(def, series);
  const showMarkers = def.options?.showThresholdMarkers !== false;
  const tiles = items.map(({ s, value, text, color }) => {
    const { min, max } = limits(s.cfg, [value]);
    const share = Math.max(0, Math.min(1, ((value ?? min) - min) / (max - min || 1)));
    const A0 = 150;
    const SPAN = 240;
    const g = svg('svg', { class: 'gauge', viewBox: '0 0 100 80' });
    g.append(
      svg('path', { d: arc(50, 50, 36, A0, A0 + SPAN), stroke: '#2c3036', 'stroke-width': 9, fill: 'none' }),
    );
    if (showMarkers) {
      const steps = s.cfg.thresholds?.steps ?? [];
      const pct = s.cfg.thresholds?.mode === 'percentage';
      steps.forEach((st, k) => {
        const at = (v) =>
          v === null || v === undefined
            ? 0
            : Math.max(0, Math.min(1, ((pct ? min + ((max - min) * v) / 100 : v) - min) / (max - min || 1)));
        const from = at(st.value);
        const to = k + 1 < steps.length ? at(steps[k + 1].value) : 1;
        if (to > from)
          g.append(
            svg('path', {
              d: arc(50, 50, 43, A0 + SPAN * from, A0 + SPAN * to),
              stroke: G.cssColor(st.color),
              'stroke-width': 2.5,
              fill: 'none',
            }),
          );
      });
    }
    if (share > 0)
      g.append(
        svg('path', {
          d: arc(50, 50, 36, A0, A0 + SPAN * Math.max(share, 0.004)),
          stroke: color,
          'stroke-width': 9,
          fill: 'none',
        }),
      );
    const t = svg('text', {
      x: 50,
      y: 56,
      'text-anchor': 'middle',
      fill: color,
      'font-size': Math.min(18, 120 / Math.max(4, text.length)),
    });
    t.textContent = text;
    g.append(t);
    return h(
      'div',
      { class: 'gauge-tile' },
      g,
      items.length > 1 ? h('div', { class: 'stat-name', text: s.label }) : undefined,
    );
  });
  p.body.replaceChildren(h('div', { class: 'stat-grid' }, ...tiles));
  return items.length;
}

function barGauge(p, series) {
  const def = p.def;
  const items = reduced(def, series);
  const rows = items.map(({ s, value, text, color }) => {
    const { min, max } = limits(
      s.cfg,
      items.map((i) => i.value),
    );
    const share = Math.max(0, Math.min(1, ((value ?? min) - min) / (max - min || 1)));
    return h(
      'div',
      { class: 'bar-row' },
      h('div', { class: 'bar-name', text: s.label, title: s.label }),
      h(
        'div',
        { class: 'bar-track' },
        h('div', { class: 'bar-fill', style: { width: `${(share * 100).toFixed(2)}%`, background: color } }),
      ),
      h('div', { class: 'bar-value', text, style: { color } }),
    );
  });
  p.body.replaceChildren(h('div', { class: 'bar-list' }, ...rows));
  return items.length;
}

// ---- table --------------------------------------------------------------------------------------

function table(p, data) {
  const def = p.def;
  // Range results in a table: the last value of each series, as Grafana's reduce would show.
  const results = data.results.map((r) => ({
    refId: r.refId,
    samples: r.series
      .map((s) => {
        const last = [...s.values].reverse().find(([, v]) => v !== null);
        return last ? { metric: s.metric, value: [last[0] / 1e3, String(last[1])] } : undefined;
      })
      .filter(Boolean),
  }));
  const t = G.toTable(results, def.transformations ?? []);
  if (!t || t.rows.length === 0) return 0;
  const columns = t.columns
    .map((name) => {
      const type =
        name === 'Time' ? 'time' : t.rows.some((r) => typeof r[name] === 'number') ? 'number' : 'string';
      const cfg = G.fieldConfig(def, { name, displayName: name, type });
      return { name, type, cfg, title: cfg.displayName || name };
    })
    .filter((c) => !c.cfg.custom?.hidden);
  const sortBy = p.tableSort ?? def.options?.sortBy?.[0];
  const rows = [...t.rows];
  if (sortBy?.displayName) {
    const col = columns.find((c) => c.title === sortBy.displayName || c.name === sortBy.displayName);
    if (col) {
      const dir = sortBy.desc ? -1 : 1;
      rows.sort((a, b) => {
        const x = a[col.name];
        const y = b[col.name];
        if (typeof x === 'number' && typeof y === 'number') return dir * (x - y);
        return dir * String(x ?? '').localeCompare(String(y ?? ''));
      });
    }
  }
  const head = h(
    'tr',
    {},
    ...columns.map((c) =>
      h('th', {
        text: c.title + (sortBy?.displayName === c.title ? (sortBy.desc ? ' ▼' : ' ▲') : ''),
        style: c.cfg.custom?.width ? { width: `${c.cfg.custom.width}px` } : {},
        onclick: null,
      }),
    ),
  );
  head.querySelectorAll('th').forEach((th, i) => {
    th.addEventListener('click', () => {
      const title = columns[i].title;
      p.tableSort = { displayName: title, desc: sortBy?.displayName === title ? !sortBy.desc : false };
      renderPanel(p, p.last.data, p.last.dash);
    });
  });
  const body = rows.map((r) =>
    h(
      'tr',
      {},
      ...columns.map((c) => {
        const v = r[c.name];
        if (c.type === 'time')
          return h('td', { text: typeof v === 'number' ? new Date(v).toLocaleString() : String(v ?? '') });
        const mapped = G.mapValue(v, c.cfg.mappings);
        const txt =
          mapped?.text ??
          (typeof v === 'number' ? G.display(v, c.cfg.unit, c.cfg.decimals) : String(v ?? ''));
        const mode = c.cfg.custom?.cellOptions?.type ?? c.cfg.custom?.displayMode ?? 'auto';
        const color = mapped?.color
          ? G.cssColor(mapped.color)
          : typeof v === 'number'
            ? colorOf(c.cfg, v, 0, 'thresholds')
            : undefined;
        const cell = h('td', { class: typeof v === 'number' ? 'num' : undefined });
        if (/gauge/.test(mode) && typeof v === 'number') {
          const { min, max } = limits(
            c.cfg,
            rows.map((x) => x[c.name]),
          );
          const share = Math.max(0, Math.min(1, (v - min) / (max - min || 1)));
          cell.append(
            h(
              'div',
              { class: 'cell-gauge' },
              h('div', {
                class: 'bar-fill',
                style: { width: `${(share * 100).toFixed(1)}%`, background: color },
              }),
            ),
            h('span', { text: txt }),
          );
        } else cell.textContent = txt;
        if (/background/.test(mode) && color)
          Object.assign(cell.style, { background: alpha(color, 0.85), color: '#fff' });
        else if (/color-text/.test(mode) && color) cell.style.color = color;
        return cell;
      }),
    ),
  );
  p.body.replaceChildren(
    h('div', { class: 'table-wrap' }, h('table', {}, h('thead', {}, head), h('tbody', {}, ...body))),
  );
  return rows.length;
}

// ---- state timeline -----------------------------------------------------------------------------

function timeline(p, data, series) {
  const t0 = data.range.from;
  const t1 = data.range.to;
  const span = t1 - t0;
  const merge = p.def.options?.mergeValues !== false;
  const seen = new Map(); // legend: text -> color
  const rows = series.map((s, i) => {
    const track = h('div', { class: 'tl-track' });
    const pts = s.values.filter(([t]) => t >= t0 - s.stepMs && t <= t1);
    let k = 0;
    while (k < pts.length) {
      const [start, v] = pts[k];
      let j = k + 1;
      if (merge) while (j < pts.length && pts[j][1] === v && pts[j][0] - pts[j - 1][0] <= s.stepMs * 1.5) j++;
      const endPoint = pts[j - 1][0] + s.stepMs;
      const end = Math.min(t1, j < pts.length ? Math.min(pts[j][0], endPoint) : endPoint);
      if (v !== null) {
        const mapped = G.mapValue(v, s.cfg.mappings);
        const color = mapped?.color ? G.cssColor(mapped.color) : colorOf(s.cfg, v, i, 'thresholds');
        const label = mapped?.text ?? G.display(v, s.cfg.unit, s.cfg.decimals);
        seen.set(label, color);
        const from = Math.max(start, t0);
        const seg = h('span', {
          class: 'tl-seg',
          title: `${label}: ${new Date(from).toLocaleTimeString()} – ${new Date(end).toLocaleTimeString()}`,
          'data-value': label,
          style: {
            left: `${(((from - t0) / span) * 100).toFixed(3)}%`,
            width: `${Math.max(0.15, ((end - from) / span) * 100).toFixed(3)}%`,
            background: alpha(color, Number(s.cfg.custom?.fillOpacity ?? 80) / 100),
          },
        });
        seg.textContent = label;
        track.append(seg);
      }
      k = j;
    }
    return h(
      'div',
      { class: 'tl-row' },
      h('div', { class: 'tl-name', text: s.label, title: s.label }),
      track,
    );
  });
  const ticks = h('div', { class: 'tl-axis' });
  for (let i = 0; i <= 4; i++) {
    const t = t0 + (span * i) / 4;
    ticks.append(h('span', { style: { left: `${i * 25}%` }, text: timeLabel(t, span) }));
  }
  const legend =
    p.def.options?.legend?.showLegend === false
      ? undefined
      : h(
          'div',
          { class: 'tl-legend' },
          ...[...seen].map(([label, color]) =>
            h('span', {}, h('i', { style: { background: color } }), label),
          ),
        );
  p.body.replaceChildren(
    h(
      'div',
      { class: 'tl' },
      h('div', { class: 'tl-rows' }, ...rows),
      h('div', { class: 'tl-axis-row' }, h('div', { class: 'tl-name' }), ticks),
      legend,
    ),
  );
  return rows.length;
}

// ---- text ---------------------------------------------------------------------------------------

function inline(line) {
  const out = [];
  const re = /\[([^\]]+)\]\(([^)\s]+)\)|\*\*([^*]+)\*\*|`([^`]+)`/g;
  let at = 0;
  for (const m of line.matchAll(re)) {
    out.push(line.slice(at, m.index));
    if (m[1]) {
      const safe = /^(https?:|\/|#)/.test(m[2]) ? m[2] : '#';
      out.push(h('a', { href: safe, target: '_blank', rel: 'noopener', text: m[1] }));
    } else if (m[3]) out.push(h('b', { text: m[3] }));
    else out.push(h('code', { text: m[4] }));
    at = m.index + m[0].length;
  }
  out.push(line.slice(at));
  return out;
}

/** A small Markdown subset (headings, paragraphs, lists, links, bold, code); HTML is shown as text. */
function text(p) {
  const content = String(p.def.options?.content ?? '');
  const blocks = [];
  for (const para of content.split(/\n\s*\n/)) {
    const lines = para.split('\n').filter((l) => l.trim() !== '');
    if (lines.length === 0) continue;
    const hm = /^(#{1,6})\s+(.*)$/.exec(lines[0]);
    if (hm) blocks.push(h(`h${Math.min(6, hm[1].length + 2)}`, {}, ...inline(hm[2])));
    else if (lines.every((l) => /^\s*[-*]\s+/.test(l)))
      blocks.push(h('ul', {}, ...lines.map((l) => h('li', {}, ...inline(l.replace(/^\s*[-*]\s+/, ''))))));
    else blocks.push(h('p', {}, ...inline(lines.join(' '))));
  }
  destroyPanel(p);
  p.body.className = 'panel-body body-text';
  p.body.replaceChildren(...blocks);
  p.el.dataset.state = 'data';
  p.el.dataset.series = '0';
}
