import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Prometheus, startPrometheus, startTraffic, waitFor } from '../../scripts/dashboards/harness.js';
import { findChromium, launchChromium } from '../../scripts/viewer/browser.mjs';
import { startViewer } from '../../scripts/viewer/server.mjs';
import { haveTool, IN_CI } from '../helpers/env.js';
import { type Running, startService } from '../helpers/spawn.js';

// The live dashboards in a real browser: both basic examples under traffic, a real Prometheus
// scraping them (the shipped rules loaded), the viewer in front of it, headless Chromium on each
// dashboard. Every page loads without a console error; every panel shows what Prometheus answered
// for its queries (series drawn when there is data, "No data" when there is none); the variables
// and the time range change the queries; the page refreshes by itself.

const ROOT = join(import.meta.dirname, '..', '..');
const EXAMPLES = ['express-basic', 'fastify-basic'] as const;
const prometheusInstalled = haveTool('prometheus', ['--version']);
const chromium = findChromium();
if (!chromium && IN_CI) throw new Error('chromium is required in CI (CI=true) but is not installed');

type Viewer = Awaited<ReturnType<typeof startViewer>>;
interface Sent {
  refId: string;
  path: string;
  params: Record<string, string>;
}
interface PanelView {
  title: string;
  type: string;
  state: string;
  series: number;
  error?: string;
  queries: Sent[];
  canvases: number;
  segments: number;
  text: string;
}
type PromResult = { status: string; data?: { resultType: string; result: any[] } };

/** What the page shows: one entry per panel, read from the DOM. */
const panelsOf = (page: Page): Promise<PanelView[]> =>
  page.$$eval('.panel', (els) =>
    els.map((e) => {
      const d = (e as HTMLElement).dataset;
      return {
        title: d.panelTitle ?? '',
        type: d.type ?? '',
        state: d.state ?? '',
        series: Number(d.series ?? 0),
        error: d.error,
        queries: JSON.parse(d.queries ?? '[]'),
        canvases: e.querySelectorAll('canvas').length,
        segments: e.querySelectorAll('.tl-seg').length,
        text: (e.querySelector('.panel-body') as HTMLElement | null)?.textContent ?? '',
      };
    }),
  );

const refreshed = (page: Page, n: number) =>
  page.waitForFunction((k) => Number(document.body.dataset.refreshes ?? 0) >= k, n, { timeout: 60_000 });

/** Series of a Prometheus answer that have at least one value (NaN is no value, as in Grafana). */
function seriesWithData(body: PromResult | undefined): number {
  const d = body?.data;
  if (!d) return 0;
  if (d.resultType === 'matrix')
    return d.result.filter((s: { values: [number, string][] }) => s.values.some(([, v]) => v !== 'NaN'))
      .length;
  if (d.resultType === 'vector')
    return d.result.filter((s: { value: [number, string] }) => s.value[1] !== 'NaN').length;
  return d.resultType === 'scalar' && d.result[1] !== 'NaN' ? 1 : 0;
}

describe.runIf(prometheusInstalled && chromium)('live dashboards in headless Chromium', () => {
  const services: Running[] = [];
  let prom: Prometheus;
  let viewer: Viewer;
  let browser: Browser;
  let traffic: { stop(): Promise<number> } | undefined;

  beforeAll(async () => {
    services.push(
      ...(await Promise.all(
        EXAMPLES.map((e) => startService(join(ROOT, 'examples', e, 'dist', 'server.js'))),
      )),
    );
    traffic = startTraffic(
      services.map((s) => s.port),
      { maxMs: 110_000 },
    );
    prom = await startPrometheus({
      rules: readdirSync(join(ROOT, 'alert-rules'))
        .filter((f) => f.endsWith('.yaml'))
        .map((f) => join(ROOT, 'alert-rules', f)),
      targets: EXAMPLES.map((job, i) => ({ job, address: `127.0.0.1:${services[i]!.port}` })),
      interval: '1s',
    });
    viewer = await startViewer({ prometheus: prom.url, dashboards: join(ROOT, 'dashboards') });
    browser = await launchChromium();
    // Rates need a few scrapes of both examples.
    await waitFor('request rates of both examples', async () =>
      (await prom.query('sum by (job) (rate(http_requests_total[5s])) > 0')).length === EXAMPLES.length
        ? true
        : undefined,
    );
  });

  afterAll(async () => {
    await browser?.close();
    await viewer?.close();
    await traffic?.stop();
    await prom?.stop();
    await Promise.all(services.map((s) => s.stop()));
  });

  /** Opens a page, recording console errors, failed requests and every Prometheus answer. */
  async function open(path: string, base = viewer.url) {
    const page = await browser.newPage({ viewport: { width: 1600, height: 1000 } });
    const problems: string[] = [];
    const answers = new Map<string, Promise<PromResult>>();
    page.on('console', (m) => {
      if (m.type() === 'error' || m.type() === 'warning') problems.push(`console ${m.type()}: ${m.text()}`);
    });
    page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
    page.on('requestfailed', (r) => problems.push(`request failed: ${r.url()} ${r.failure()?.errorText}`));
    page.on('response', (r) => {
      const u = new URL(r.url());
      if (r.status() >= 400) problems.push(`HTTP ${r.status()}: ${u.pathname}`);
      if (u.pathname.startsWith('/api/prom/')) answers.set(`${u.pathname}${u.search}`, r.json());
    });
    await page.goto(`${base}${path}`);
    return { page, problems, answers };
  }

  const answerFor = (answers: Map<string, Promise<PromResult>>, q: Sent) =>
    answers.get(`/api/prom${q.path}?${new URLSearchParams(q.params)}`);

  it('the index lists every dashboard', async () => {
    const { page, problems } = await open('/');
    await page.waitForSelector('body[data-ready="index"]');
    const links = await page.$$eval('.index a', (as) => as.map((a) => (a as HTMLAnchorElement).pathname));
    expect(links).toEqual(viewer.list().map((d) => `/d/${d.uid}`));
    expect(problems).toEqual([]);
    await page.close();
  });

  it('every dashboard loads without console errors, and every panel draws what Prometheus answered', async () => {
    const withData = new Map<string, number>();
    for (const d of viewer.list()) {
      const { page, problems, answers } = await open(`/d/${d.uid}?from=now-5m&to=now&refresh=`);
      await refreshed(page, 1);
      const panels = await panelsOf(page);
      expect(panels.length, d.title).toBeGreaterThan(0);
      let drawn = 0;
      for (const p of panels) {
        const where = `${d.title} / ${p.title}`;
        expect(p.error, where).toBeUndefined();
        if (p.type === 'text') continue;
        expect(p.queries.length, `${where}: queries sent`).toBeGreaterThan(0);
        let expected = 0;
        for (const q of p.queries) {
          // Every variable and built-in was replaced before the query left the page.
          expect(q.params.query, where).not.toMatch(/\$\w|\$\{|\[\[/);
          const answer = await answerFor(answers, q);
          expect(answer?.status, `${where}: ${q.params.query}`).toBe('success');
          expected += seriesWithData(answer);
        }
        if (expected === 0) {
          expect({ where, state: p.state, text: p.text }).toEqual({
            where,
            state: 'nodata',
            text: 'No data',
          });
          continue;
        }
        expect({ where, state: p.state }).toEqual({ where, state: 'data' });
        drawn++;
        if (p.type === 'table') {
          expect(p.series, where).toBeGreaterThan(0);
          continue;
        }
        expect(p.series, where).toBe(expected);
        if (p.type === 'timeseries') expect(p.canvases, `${where}: canvas`).toBeGreaterThan(0);
        if (p.type === 'state-timeline') expect(p.segments, `${where}: segments`).toBeGreaterThan(0);
        if (p.type === 'stat') expect(p.text, where).not.toContain('No data');
      }
      withData.set(d.title, drawn);
      expect(problems, d.title).toEqual([]);
      await page.close();
    }
    console.log(`panels drawing data: ${[...withData].map(([t, n]) => `${t} ${n}`).join(', ')}`);
    // The basic examples emit HTTP and runtime metrics: those dashboards are mostly full.
    const overview = [...withData].find(([t]) => /overview/i.test(t))?.[1] ?? 0;
    const runtime = [...withData].find(([t]) => /runtime/i.test(t))?.[1] ?? 0;
    expect(overview).toBeGreaterThanOrEqual(10);
    expect(runtime).toBeGreaterThanOrEqual(10);
  });

  it('variables and the time range change the queries', async () => {
    const overview = viewer.list().find((d) => /overview/i.test(d.title))!;
    const { page, problems } = await open(`/d/${overview.uid}?from=now-5m&to=now&refresh=`);
    await refreshed(page, 1);
    const byInstance = (ps: PanelView[]) =>
      ps.find(
        (p) => p.type === 'timeseries' && p.queries.some((q) => /by \(instance\)/.test(q.params.query ?? '')),
      );
    const before = byInstance(await panelsOf(page))!;
    expect(before, 'a timeseries panel by instance').toBeDefined();
    expect(before.series).toBe(2);

    await page.selectOption('select[data-var="service"]', 'express-basic');
    await refreshed(page, 2);
    expect(new URL(page.url()).searchParams.getAll('var-service')).toEqual(['express-basic']);
    const after = await panelsOf(page);
    const mine = after.find((p) => p.title === before.title)!;
    expect(mine.queries[0]!.params.query).toContain('service=~"express-basic"');
    expect(mine.series).toBe(1);
    // Dependent variables offer only what the chosen service has.
    const instances = await page.$$eval('select[data-var="instance"] option', (os) =>
      os.map((o) => (o as HTMLOptionElement).value),
    );
    expect(instances).toEqual(['$__all', `127.0.0.1:${services[0]!.port}`]);

    await page.selectOption('select[data-control="time"]', 'now-15m');
    await refreshed(page, 3);
    expect(new URL(page.url()).searchParams.get('from')).toBe('now-15m');
    const q = (await panelsOf(page)).find((p) => p.title === before.title)!.queries[0]!.params;
    expect(Number(q.end) - Number(q.start)).toBeGreaterThan(14 * 60);
    expect(q.query).toContain('service=~"express-basic"'); // the variable stays chosen
    expect(problems).toEqual([]);
    await page.close();
  });

  it('zooms to the range dragged on a chart', async () => {
    const overview = viewer.list().find((d) => /overview/i.test(d.title))!;
    const { page, problems } = await open(`/d/${overview.uid}?from=now-5m&to=now&refresh=`);
    await refreshed(page, 1);
    const box = (await page.locator('.panel[data-type="timeseries"] .u-over').first().boundingBox())!;
    await page.mouse.move(box.x + box.width * 0.25, box.y + box.height / 2);
    await page.mouse.down();
    await page.mouse.move(box.x + box.width * 0.75, box.y + box.height / 2, { steps: 5 });
    await page.mouse.up();
    await refreshed(page, 2);
    const q = new URL(page.url()).searchParams;
    const from = Number(q.get('from'));
    const to = Number(q.get('to'));
    // Absolute epoch milliseconds, about the middle half of the five minutes.
    expect(to - from).toBeGreaterThan(100_000);
    expect(to - from).toBeLessThan(200_000);
    expect(problems).toEqual([]);
    await page.close();
  });

  it('draws panel types, variables and layouts the generated dashboards do not use yet', async () => {
    // What a dashboard may grow into (a table of SLOs, gauges, repeats, annotations): drawn, or
    // said to be unsupported, never an error.
    const dir = mkdtempSync(join(tmpdir(), 'vigil-viewer-'));
    const target = (expr: string, refId = 'A', extra = {}) => ({
      refId,
      expr,
      legendFormat: '{{job}}',
      ...extra,
    });
    const rate = 'sum by (job) (rate(http_requests_total{job=~"$job"}[$__rate_interval]))';
    writeFileSync(
      join(dir, 'extra.json'),
      JSON.stringify({
        uid: 'extra',
        title: 'Extra',
        time: { from: 'now-5m', to: 'now' },
        templating: {
          list: [
            {
              name: 'job',
              type: 'query',
              query: 'label_values(up, job)',
              multi: true,
              includeAll: true,
              current: { value: ['$__all'] },
            },
            { name: 'quantile', type: 'custom', query: '0.5,0.99', current: { value: '0.99' } },
            { name: 'window', type: 'constant', query: '1m', hide: 2 },
          ],
        },
        annotations: {
          list: [
            {
              name: 'Requests',
              enable: true,
              expr: 'sum(rate(http_requests_total[1m])) > 0',
              iconColor: 'blue',
              datasource: { type: 'prometheus' },
            },
          ],
        },
        panels: [
          {
            type: 'text',
            title: 'About',
            gridPos: { x: 0, y: 0, w: 6, h: 4 },
            options: { mode: 'markdown', content: '# Hello\n\nSee **this** [link](https://example.com).' },
          },
          {
            type: 'gauge',
            title: 'Gauge',
            gridPos: { x: 6, y: 0, w: 6, h: 4 },
            targets: [target(rate)],
            fieldConfig: { defaults: { unit: 'reqps', min: 0, max: 1000 } },
          },
          { type: 'bargauge', title: 'Bars', gridPos: { x: 12, y: 0, w: 6, h: 4 }, targets: [target(rate)] },
          {
            type: 'candlestick-3d',
            title: 'Odd',
            gridPos: { x: 18, y: 0, w: 6, h: 4 },
            targets: [target(rate)],
          },
          {
            type: 'table',
            title: 'Table',
            gridPos: { x: 0, y: 4, w: 12, h: 6 },
            targets: [
              target(rate, 'A', { instant: true, format: 'table' }),
              target(
                `histogram_quantile($quantile, sum by (job, le) (rate(http_request_duration_seconds_bucket[$window])))`,
                'B',
                { instant: true, format: 'table' },
              ),
            ],
            transformations: [
              { id: 'merge', options: {} },
              {
                id: 'organize',
                options: {
                  excludeByName: { Time: true },
                  renameByName: { 'Value #A': 'Rate', 'Value #B': 'Latency' },
                },
              },
            ],
            fieldConfig: {
              defaults: {},
              overrides: [
                {
                  matcher: { id: 'byName', options: 'Latency' },
                  properties: [
                    { id: 'unit', value: 's' },
                    { id: 'custom.cellOptions', value: { type: 'color-background' } },
                  ],
                },
              ],
            },
          },
          {
            type: 'stat',
            title: 'Rate of $job',
            repeat: 'job',
            gridPos: { x: 12, y: 4, w: 6, h: 6 },
            targets: [target(rate)],
          },
          {
            type: 'row',
            title: 'Folded',
            collapsed: true,
            gridPos: { x: 0, y: 10, w: 24, h: 1 },
            panels: [
              {
                type: 'timeseries',
                title: 'Inside',
                gridPos: { x: 0, y: 11, w: 24, h: 6 },
                targets: [target(rate)],
              },
            ],
          },
        ],
      }),
    );
    const extra = await startViewer({ prometheus: prom.url, dashboards: dir });
    try {
      const { page, problems } = await open('/d/extra?refresh=', extra.url);
      await refreshed(page, 1);
      const panels = await panelsOf(page);
      const byTitle = (t: string) => panels.filter((p) => p.title === t);
      expect(byTitle('About')[0]!.text).toContain('Hello');
      expect(byTitle('Gauge')[0]).toMatchObject({ state: 'data', series: 2 });
      expect(byTitle('Bars')[0]).toMatchObject({ state: 'data', series: 2 });
      expect(byTitle('Odd')[0]).toMatchObject({ state: 'unsupported' });
      expect(byTitle('Table')[0]).toMatchObject({ state: 'data', series: 2 });
      const header = await page.$$eval('.panel[data-panel-title="Table"] th', (ths) =>
        ths.map((t) => t.textContent),
      );
      expect(header).toEqual(['job', 'Rate', 'Latency']);
      expect(byTitle('Table')[0]!.queries[1]!.params.query).toContain('histogram_quantile(0.99,');
      expect(byTitle('Table')[0]!.queries[1]!.params.query).toContain('[1m]');
      // One stat per job, each scoped to its own.
      expect(
        panels
          .filter((p) => p.title.startsWith('Rate of '))
          .map((p) => p.title)
          .sort(),
      ).toEqual(EXAMPLES.map((e) => `Rate of ${e}`));
      for (const p of panels.filter((x) => x.title.startsWith('Rate of ')))
        expect(p.queries[0]!.params.query).toContain(`job=~"${p.title.slice('Rate of '.length)}"`);
      // The folded row's panel is not queried until the row is opened.
      expect(byTitle('Inside')[0]!.state).toBe('loading');
      await page.click('.row-title');
      await page.waitForFunction(
        () =>
          document.querySelector('.panel[data-panel-title="Inside"]')?.getAttribute('data-state') === 'data',
      );
      expect(await page.$$eval('.annotation-toggle', (ls) => ls.map((l) => l.textContent))).toEqual([
        'Requests',
      ]);
      expect(await page.$('select[data-var="window"]')).toBeNull(); // hidden constant
      expect(problems).toEqual([]);
      await page.close();
    } finally {
      await extra.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refreshes by itself, moving the time range with the clock', async () => {
    const overview = viewer.list().find((d) => /overview/i.test(d.title))!;
    const { page, problems } = await open(`/d/${overview.uid}?from=now-5m&to=now&refresh=1s`);
    await refreshed(page, 1);
    const end = async () =>
      Number((await panelsOf(page)).find((p) => p.type === 'timeseries')!.queries[0]!.params.end);
    const first = await end();
    await refreshed(page, 3);
    expect(await end()).toBeGreaterThan(first);
    expect(await page.$eval('select[data-control="refresh"]', (s) => (s as HTMLSelectElement).value)).toBe(
      '1s',
    );
    expect(problems).toEqual([]);
    await page.close();
  });

  it('keeps refreshing through a range that is not valid yet', async () => {
    const overview = viewer.list().find((d) => /overview/i.test(d.title))!;
    // Starts five seconds from now: invalid at first, then the clock catches up.
    const { page, problems } = await open(`/d/${overview.uid}?from=${Date.now() + 5000}&to=now&refresh=1s`);
    await page.waitForSelector('.status-error');
    expect(await page.textContent('.status')).toContain('not before its end');
    await refreshed(page, 1);
    expect(problems).toEqual([]);
    await page.close();
  });
});
