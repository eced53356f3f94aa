// `pnpm dashboards:preview`: runs the basic examples under traffic, scrapes them with a real
// Prometheus (the shipped rules loaded), queries every panel of every dashboard, and renders the
// dashboards as static HTML pages with uPlot. Then screenshots the Service overview with headless
// Chromium into docs/images/service-overview.png (the picture the docs show).
//
// Options: --seconds=N (traffic to record, default 60), --out=DIR (default .tmp/dashboards-preview),
// --no-screenshot.

import { execFileSync } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { DASHBOARDS } from '../alerts/model.js';
import type { JsonDashboardFile, JsonPanel } from './grafana.js';
import {
  startExample,
  startPrometheus,
  startTraffic,
  substitute,
  type VariableValues,
  waitFor,
} from './harness.js';

const EXAMPLES = ['express-basic', 'fastify-basic'] as const;
const SCREENSHOT = 'docs/images/service-overview.png';

interface Series {
  name: string;
  points: [number, number][];
}

interface PreviewPanel {
  title: string;
  description: string;
  type: string;
  unit: string;
  decimals?: number;
  min?: number;
  max?: number;
  stack: boolean;
  showThresholds: boolean;
  gridPos: { x: number; y: number; w: number; h: number };
  steps: { color: string; value: number | null }[];
  mappings: Record<string, { text: string; color: string }>;
  series: Series[];
  error?: string;
}

interface PreviewDashboard {
  file: string;
  title: string;
  description: string;
  variables: string[];
  start: number;
  end: number;
  rows: { title: string; y: number }[];
  panels: PreviewPanel[];
}

function legend(format: string, metric: Record<string, string>): string {
  if (format === '__auto' || format === '') {
    const ls = Object.entries(metric).filter(([k]) => k !== '__name__');
    return ls.length ? ls.map(([k, v]) => `${k}="${v}"`).join(', ') : 'value';
  }
  return format.replace(/\{\{\s*(\w+)\s*\}\}/g, (_, l: string) => metric[l] ?? '');
}

function arg(argv: readonly string[], name: string): string | undefined {
  const a = argv.find((x) => x.startsWith(`--${name}=`));
  return a?.slice(name.length + 3);
}

export async function main(root: string, argv: readonly string[]): Promise<void> {
  const seconds = Number(arg(argv, 'seconds') ?? 60);
  const out = join(root, arg(argv, 'out') ?? '.tmp/dashboards-preview');
  const shoot = !argv.includes('--no-screenshot');
  for (const e of EXAMPLES) {
    if (!existsSync(join(root, 'examples', e, 'dist', 'server.js'))) {
      throw new Error(`examples/${e}/dist/server.js is missing: run \`pnpm build\` first`);
    }
  }
  const chromium = shoot ? findChromium() : undefined;
  if (shoot && !chromium) {
    throw new Error(
      'chromium is not installed: `apt-get install -y --no-install-recommends chromium`, or pass --no-screenshot',
    );
  }

  const dashboards = new Map<string, JsonDashboardFile>();
  for (const f of readdirSync(join(root, 'dashboards'))
    .filter((x) => x.endsWith('.json'))
    .sort()) {
    dashboards.set(f, JSON.parse(readFileSync(join(root, 'dashboards', f), 'utf8')) as JsonDashboardFile);
  }

  console.log(`starting ${EXAMPLES.join(', ')} and Prometheus; recording ${seconds} s of traffic`);
  const services = await Promise.all(
    EXAMPLES.map((e) => startExample(join(root, 'examples', e, 'dist', 'server.js'))),
  );
  const rules = readdirSync(join(root, 'alert-rules'))
    .filter((f) => f.endsWith('.yaml'))
    .map((f) => join(root, 'alert-rules', f));
  const prom = await startPrometheus({
    rules,
    targets: EXAMPLES.map((job, i) => ({ job, address: `127.0.0.1:${services[i]!.port}` })),
  });
  const traffic = startTraffic(
    services.map((s) => s.port),
    { maxMs: seconds * 1000, errorEvery: 15 },
  );
  try {
    const start = Math.floor(Date.now() / 1000);
    await waitFor('first samples', async () =>
      (await prom.query('http_requests_total')).length ? true : undefined,
    );
    const sent = await traffic.done; // the recording window: traffic runs for --seconds, then stops
    const end = Math.floor(Date.now() / 1000);
    console.log(
      `sent ${sent} requests; querying ${[...dashboards.values()].reduce((n, d) => n + d.panels.length, 0)} panels`,
    );

    const values: VariableValues = {
      rateInterval: '10s',
      vars: { job: '.*', service: '.*', instance: '.*', route: '.*', datasource: '' },
    };
    const step = Math.max(1, Math.round((end - start) / 240));
    const previews: PreviewDashboard[] = [];
    for (const [file, d] of dashboards) previews.push(await collect(prom, file, d, values, start, end, step));

    rmSync(out, { recursive: true, force: true });
    mkdirSync(out, { recursive: true });
    const uplot = createRequire(join(root, 'package.json')).resolve('uplot/dist/uPlot.iife.min.js');
    const assets = {
      js: readFileSync(uplot, 'utf8'),
      css: readFileSync(uplot.replace('uPlot.iife.min.js', 'uPlot.min.css'), 'utf8'),
    };
    for (const p of previews)
      writeFileSync(join(out, p.file.replace('.json', '.html')), page(p, previews, assets));
    writeFileSync(join(out, 'index.html'), index(previews));
    console.log(`wrote ${relative(root, out)}/index.html (${previews.length} dashboards)`);

    if (chromium) {
      const overview = previews.find((p) => p.file === DASHBOARDS.overview.file)!;
      const height = 96 + Math.max(...overview.panels.map((p) => p.gridPos.y + p.gridPos.h), 0) * 34;
      const png = join(root, SCREENSHOT);
      mkdirSync(join(png, '..'), { recursive: true });
      const profile = mkdtempSync(join(tmpdir(), 'vigil-chromium-'));
      try {
        execFileSync(
          chromium,
          [
            '--headless',
            '--no-sandbox',
            '--disable-gpu',
            '--disable-quic',
            '--no-first-run',
            '--disable-background-networking',
            '--disable-component-update',
            '--disable-sync',
            '--hide-scrollbars',
            '--virtual-time-budget=5000',
            `--user-data-dir=${profile}`,
            `--window-size=1600,${height}`,
            `--screenshot=${png}`,
            `file://${join(out, overview.file.replace('.json', '.html'))}`,
          ],
          { stdio: 'pipe', timeout: 60_000 },
        );
      } finally {
        rmSync(profile, { recursive: true, force: true });
      }
      console.log(`wrote ${SCREENSHOT}`);
    }
  } finally {
    await traffic.stop();
    await prom.stop();
    await Promise.all(services.map((s) => s.stop()));
  }
}

function findChromium(): string | undefined {
  for (const c of ['chromium', 'chromium-browser', 'google-chrome']) {
    try {
      execFileSync(c, ['--version'], { stdio: 'ignore' });
      return c;
    } catch {
      // try the next name
    }
  }
  return undefined;
}

async function collect(
  prom: Awaited<ReturnType<typeof startPrometheus>>,
  file: string,
  d: JsonDashboardFile,
  values: VariableValues,
  start: number,
  end: number,
  step: number,
): Promise<PreviewDashboard> {
  const panels: PreviewPanel[] = [];
  const rows: { title: string; y: number }[] = [];
  for (const raw of d.panels) {
    if (raw.type === 'row') {
      rows.push({ title: raw.title ?? '', y: raw.gridPos?.y ?? 0 });
      continue;
    }
    const p = raw as JsonPanel;
    const defaults = p.fieldConfig.defaults;
    const custom = (defaults.custom ?? {}) as {
      stacking?: { mode?: string };
      thresholdsStyle?: { mode?: string };
    };
    const mappings: PreviewPanel['mappings'] = {};
    for (const m of defaults.mappings ?? []) {
      if (m.type === 'value')
        for (const [k, r] of Object.entries(m.options))
          mappings[k] = { text: r.text ?? k, color: r.color ?? '' };
    }
    const panel: PreviewPanel = {
      title: p.title ?? '',
      description: p.description ?? '',
      type: p.type,
      unit: defaults.unit ?? 'short',
      ...(defaults.decimals !== undefined ? { decimals: defaults.decimals } : {}),
      ...(defaults.min !== undefined ? { min: defaults.min } : {}),
      ...(defaults.max !== undefined ? { max: defaults.max } : {}),
      stack: custom.stacking?.mode === 'normal',
      showThresholds: (custom.thresholdsStyle?.mode ?? 'off') !== 'off',
      gridPos: p.gridPos as PreviewPanel['gridPos'],
      steps: (defaults.thresholds?.steps ?? []).map((s) => ({ color: s.color, value: s.value })),
      mappings,
      series: [],
    };
    try {
      for (const t of p.targets) {
        const res = await prom.queryRange(substitute(t.expr, values), start, end, step);
        for (const r of res) {
          panel.series.push({
            name: legend(t.legendFormat, r.metric),
            points: (r.values ?? [])
              .map(([ts, v]) => [ts, Number(v)] as [number, number])
              .filter(([, v]) => Number.isFinite(v)),
          });
        }
      }
    } catch (e) {
      panel.error = (e as Error).message;
    }
    panels.push(panel);
  }
  const vars = d.templating.list.slice(1).map((v) => `${v.label ?? v.name}: All`);
  return {
    file,
    title: d.title ?? file,
    description: d.description ?? '',
    variables: vars,
    start,
    end,
    rows,
    panels,
  };
}

const ROW_PX = 34;

function esc(s: string): string {
  return s.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]!);
}

function nav(current: string, all: readonly PreviewDashboard[]): string {
  return all
    .map((d) =>
      d.file === current
        ? `<b>${esc(d.title.replace('Vigil / ', ''))}</b>`
        : `<a href="${d.file.replace('.json', '.html')}">${esc(d.title.replace('Vigil / ', ''))}</a>`,
    )
    .join(' · ');
}

const STYLE = `
body{margin:0;background:#111217;color:#ccccdc;font:13px/1.4 Inter,Helvetica,Arial,sans-serif}
header{padding:10px 16px 6px;border-bottom:1px solid #24262e}
header h1{font-size:18px;margin:0 0 4px;color:#fff;font-weight:500}
header .meta{color:#8e8e9a;font-size:12px}
header a{color:#6e9fff;text-decoration:none}
.grid{position:relative;margin:8px}
.row{position:absolute;left:0;right:0;color:#fff;font-weight:500;font-size:14px;padding-top:6px}
.panel{position:absolute;box-sizing:border-box;background:#181b1f;border:1px solid #24262e;border-radius:3px;padding:6px 8px;overflow:hidden}
.panel h3{margin:0 0 2px;font-size:13px;font-weight:500;color:#d8d9da;white-space:nowrap;overflow:hidden;text-overflow:ellipsis}
.nodata{color:#8e8e9a;display:flex;align-items:center;justify-content:center;height:calc(100% - 22px)}
.stat{display:flex;flex-direction:column;justify-content:center;align-items:center;height:calc(100% - 22px)}
.stat .v{font-size:30px;font-weight:500}
.stat .n{font-size:11px;color:#8e8e9a}
.tl{display:flex;flex-direction:column;gap:3px;margin-top:4px}
.tl .r{display:flex;align-items:center;height:22px}
.tl .l{width:110px;flex:none;font-size:11px;color:#8e8e9a;overflow:hidden;text-overflow:ellipsis;white-space:nowrap}
.tl .b{flex:1;display:flex;height:100%}
.tl .b span{height:100%;font-size:11px;color:#111;overflow:hidden;white-space:nowrap;padding-left:3px;box-sizing:border-box}
.u-legend{font-size:11px;text-align:left;margin:0;line-height:16px}
.u-legend tr{display:inline-block;margin-right:10px}
.u-legend .u-series th{color:#ccccdc;font-weight:normal;padding:0}
.u-legend .u-series td{display:none}
.u-legend .u-marker{width:10px;height:3px;margin-right:4px}
`;

/** Client-side rendering: units, thresholds, uPlot charts, stats and state timelines. */
const CLIENT = `
const COLORS={green:'#73bf69',orange:'#ff9830',red:'#f2495c',blue:'#5794f2',text:'#ccccdc'};
const PALETTE=['#7eb26d','#eab839','#6ed0e0','#ef843c','#e24d42','#1f78c1','#ba43a9','#705da0','#508642','#cca300','#447ebc','#c15c17'];
const col=c=>COLORS[c]||c;
function fmt(v,unit,dec){
  if(v==null||!isFinite(v))return '–';
  const d=dec??null, a=Math.abs(v);
  const n=(x,k)=>x.toFixed(d??(Math.abs(x)>=100?0:Math.abs(x)>=10?1:k??2));
  switch(unit){
    case 's': return a===0?'0 s':a<1e-3?n(v*1e6)+' µs':a<1?n(v*1e3)+' ms':a<60?n(v)+' s':n(v/60)+' min';
    case 'percentunit': return n(v*100,d??1)+'%';
    case 'reqps': return n(v)+' req/s';
    case 'ops': return n(v)+' ops/s';
    case 'bytes': {const u=['B','KiB','MiB','GiB','TiB'];let i=0,x=v;while(Math.abs(x)>=1024&&i<u.length-1){x/=1024;i++}return n(x,1)+' '+u[i];}
    default: return a>=1e6?n(v/1e6,1)+'M':a>=1e3?n(v/1e3,1)+'k':n(v,d??(Number.isInteger(v)?0:2));
  }
}
function stepColor(p,v){let c=p.steps.length?p.steps[0].color:'text';for(const s of p.steps){if(s.value!=null&&v>=s.value)c=s.color}return col(c)}
function mapped(p,v){const m=p.mappings[String(v)];return m?{text:m.text,color:col(m.color)}:null}
function render(p,el){
  const body=document.createElement('div');el.appendChild(body);
  if(p.error){body.className='nodata';body.textContent=p.error;return}
  const series=p.series.filter(s=>s.points.length);
  if(!series.length){body.className='nodata';body.textContent='No data (no example emits these metrics yet)';return}
  if(p.type==='stat'){
    body.className='stat';
    for(const s of series.slice(0,3)){
      const v=s.points[s.points.length-1][1];const m=mapped(p,v);
      const e=document.createElement('div');e.className='v';e.style.color=m?m.color:stepColor(p,v);e.textContent=m?m.text:fmt(v,p.unit,p.decimals);
      body.appendChild(e);
      if(series.length>1){const l=document.createElement('div');l.className='n';l.textContent=s.name;body.appendChild(l)}
    }
    return;
  }
  if(p.type==='state-timeline'){
    body.className='tl';
    const t0=DATA.start,t1=DATA.end;
    for(const s of series){
      const r=document.createElement('div');r.className='r';
      r.innerHTML='<div class="l"></div><div class="b"></div>';r.firstChild.textContent=s.name;
      const bar=r.lastChild;let prev=null,from=t0;
      const pts=s.points.concat([[t1,null]]);
      for(const [t,v] of pts){
        if(prev!==null&&(v!==prev||t===t1)){
          const m=mapped(p,prev)||{text:String(prev),color:stepColor(p,prev)};
          const seg=document.createElement('span');seg.style.width=((t-from)/(t1-t0)*100)+'%';seg.style.background=m.color;seg.textContent=m.text;bar.appendChild(seg);from=t;
        }
        if(prev===null){const gap=document.createElement('span');gap.style.width=((t-t0)/(t1-t0)*100)+'%';bar.appendChild(gap);from=t}
        prev=v;
      }
      body.appendChild(r);
    }
    return;
  }
  const xs=[...new Set(series.flatMap(s=>s.points.map(q=>q[0])))].sort((a,b)=>a-b);
  const idx=new Map(xs.map((x,i)=>[x,i]));
  let ys=series.map(s=>{const a=new Array(xs.length).fill(null);for(const [t,v] of s.points)a[idx.get(t)]=v;return a});
  if(p.stack){const acc=new Array(xs.length).fill(0);ys=ys.map(a=>a.map((v,i)=>v==null?null:(acc[i]+=v)));}
  const order=p.stack?ys.map((_,i)=>i).reverse():ys.map((_,i)=>i);
  const legendH=series.length<=8?Math.ceil(series.length/3)*16+4:0;
  const h=el.clientHeight-30-legendH;
  const thr=p.showThresholds?p.steps.filter(s=>s.value!=null):[];
  const opts={width:el.clientWidth-16,height:h,legend:{show:series.length<=8,live:false},cursor:{points:{size:5}},
    scales:{x:{time:true},y:{range:(u,mn,mx)=>[p.min??Math.min(0,mn),p.max??Math.max(mx*1.1,...thr.map(s=>s.value*1.05),1e-9)]}},
    axes:[{stroke:'#8e8e9a',grid:{stroke:'#24262e'},ticks:{stroke:'#24262e'}},{stroke:'#8e8e9a',size:78,grid:{stroke:'#24262e'},ticks:{stroke:'#24262e'},values:(u,vs)=>vs.map(v=>fmt(v,p.unit,p.decimals))}],
    series:[{},...order.map(i=>({label:series[i].name,stroke:PALETTE[i%PALETTE.length],width:1.5,fill:PALETTE[i%PALETTE.length]+(p.stack?'55':'18'),points:{show:false},value:(u,v)=>fmt(v,p.unit,p.decimals)}))],
    hooks:{draw:[u=>{const c=u.ctx;c.save();c.setLineDash([6,4]);for(const s of thr){const y=u.valToPos(s.value,'y',true);c.strokeStyle=col(s.color);c.beginPath();c.moveTo(u.bbox.left,y);c.lineTo(u.bbox.left+u.bbox.width,y);c.stroke()}c.restore()}]}};
  new uPlot(opts,[xs,...order.map(i=>ys[i])],body);
}
const grid=document.querySelector('.grid');
for(const r of DATA.rows){const e=document.createElement('div');e.className='row';e.style.top=(r.y*ROW)+'px';e.textContent=r.title;grid.appendChild(e)}
let bottom=0;
for(const p of DATA.panels){
  const g=p.gridPos,el=document.createElement('div');el.className='panel';el.title=p.description;
  el.style.left='calc('+(g.x/24*100)+'% + 2px)';el.style.width='calc('+(g.w/24*100)+'% - 4px)';
  el.style.top=(g.y*ROW+2)+'px';el.style.height=(g.h*ROW-4)+'px';bottom=Math.max(bottom,(g.y+g.h)*ROW);
  const t=document.createElement('h3');t.textContent=p.title;el.appendChild(t);grid.appendChild(el);render(p,el);
}
grid.style.height=bottom+'px';
`;

function page(
  d: PreviewDashboard,
  all: readonly PreviewDashboard[],
  assets: { js: string; css: string },
): string {
  const when = `${new Date(d.start * 1000).toISOString().slice(11, 19)}–${new Date(d.end * 1000).toISOString().slice(11, 19)} UTC`;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${esc(d.title)} (preview)</title>
<style>${assets.css}</style><style>${STYLE}</style></head>
<body><header><h1>${esc(d.title)}</h1>
<div class="meta">${esc(d.variables.join(' · '))} · ${when} · data: express-basic and fastify-basic under generated traffic, scraped every 1 s · ${nav(d.file, all)}</div></header>
<div class="grid"></div>
<script>${assets.js}</script>
<script>const ROW=${ROW_PX};const DATA=${JSON.stringify(d).replace(/</g, '\\u003c')};${CLIENT}</script>
</body></html>
`;
}

function index(all: readonly PreviewDashboard[]): string {
  const items = all
    .map((d) => {
      const withData = d.panels.filter((p) => p.series.some((s) => s.points.length)).length;
      return `<li><a href="${d.file.replace('.json', '.html')}">${esc(d.title)}</a> — ${withData}/${d.panels.length} panels with data<br><small>${esc(d.description)}</small></li>`;
    })
    .join('\n');
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Vigil dashboards (preview)</title><style>${STYLE} ul{padding:16px 32px} li{margin:10px 0} a{color:#6e9fff}</style></head>
<body><header><h1>Vigil dashboards — preview</h1><div class="meta">Rendered from a real Prometheus scraping the basic examples. Grafana renders the same dashboards from dashboards/*.json.</div></header>
<ul>${items}</ul></body></html>
`;
}
