import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type Prometheus,
  startPrometheus,
  startTraffic,
  waitFor,
} from '../../scripts/dashboards/harness.js';
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
        text: (e.querySelector('.panel-body') as HTMLElement | null)?.innerText ?? '',
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
    return d.result.filter((s: { values: [number, string][] }) => s.values.some(([, v]) => v !== 'NaN')).length;
  if (d.resultType === 'vector') return d.result.filter((s: { value: [number, string] }) => s.value[1] !== 'NaN').length;
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
      ...(await Promise.all(EXAMPLES.map((e) => startService(join(ROOT, 'examples', e, 'dist', 'server.js'))))),
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
  async function open(path: string) {
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
    await page.goto(`${viewer.url}${path}`);
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
          expect({ where, state: p.state, text: p.text }).toEqual({ where, state: 'nodata', text: 'No data' });
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
      ps.find((p) => p.type === 'timeseries' && p.queries.some((q) => /by \(instance\)/.test(q.params.query)));
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

  it('refreshes by itself, moving the time range with the clock', async () => {
    const overview = viewer.list().find((d) => /overview/i.test(d.title))!;
    const { page, problems } = await open(`/d/${overview.uid}?from=now-5m&to=now&refresh=1s`);
    await refreshed(page, 1);
    const end = async () =>
      Number((await panelsOf(page)).find((p) => p.type === 'timeseries')!.queries[0]!.params.end);
    const first = await end();
    await refreshed(page, 3);
    expect(await end()).toBeGreaterThan(first);
    expect(await page.$eval('select[data-control="refresh"]', (s) => (s as HTMLSelectElement).value)).toBe('1s');
    expect(problems).toEqual([]);
    await page.close();
  });
});
