import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { Agent, createServer, type IncomingMessage, request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, type Prometheus, startPrometheus } from '../../scripts/dashboards/harness.js';
import { loadDashboards, startViewer } from '../../scripts/viewer/server.mjs';
import { haveTool } from '../helpers/env.js';

// The dashboard viewer's HTTP side: options, pages, assets, the read-only Prometheus proxy, close().

const ROOT = join(import.meta.dirname, '..', '..');
const DASHBOARDS = join(ROOT, 'dashboards');
const prometheusInstalled = haveTool('prometheus', ['--version']);

type Viewer = Awaited<ReturnType<typeof startViewer>>;

async function get(url: string, init?: RequestInit) {
  const res = await fetch(url, init);
  const text = await res.text();
  return { status: res.status, headers: res.headers, text, json: () => JSON.parse(text) };
}

describe('options', () => {
  const empty = mkdtempSync(join(tmpdir(), 'vigil-viewer-empty-'));
  afterAll(() => rmSync(empty, { recursive: true, force: true }));
  const base = { prometheus: 'http://127.0.0.1:9090', dashboards: DASHBOARDS };
  it.each([
    [{ ...base, prometheus: 'ftp://example' }, /option "prometheus" must be an http\(s\) URL/],
    [{ ...base, prometheus: 'not a url' }, /option "prometheus"/],
    [{ ...base, dashboards: join(empty, 'missing') }, /option "dashboards" cannot be read \(ENOENT\)/],
    [{ ...base, dashboards: empty }, /option "dashboards" holds no \.json file/],
    [{ ...base, port: 70_000 }, /option "port" must be an integer from 0 to 65535/],
    [{ ...base, refresh: 'often' }, /option "refresh" must be a duration/],
    [{ ...base, scrapeInterval: '15 s' }, /option "scrapeInterval"/],
    [{ ...base, time: { from: 'yesterday', to: 'now' } }, /option "time"/],
  ])('rejects %o', async (options, message) => {
    await expect(startViewer(options as never)).rejects.toThrow(message);
    await expect(startViewer(options as never)).rejects.toMatchObject({ code: 'VIGIL_INVALID_OPTION' });
  });
});

describe.runIf(prometheusInstalled)('serving, against a real Prometheus', () => {
  let prom: Prometheus;
  let viewer: Viewer;

  beforeAll(async () => {
    prom = await startPrometheus({ rules: [], targets: [], interval: '2s' });
    viewer = await startViewer({
      prometheus: prom.url,
      dashboards: DASHBOARDS,
      refresh: '5s',
      time: { from: 'now-15m', to: 'now' },
    });
  });
  afterAll(async () => {
    await viewer?.close();
    await prom?.stop();
  });

  it('listens on an ephemeral loopback port', () => {
    expect(viewer.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(viewer.port).toBeGreaterThan(0);
  });

  it('serves the page for / and /d/<uid>, locked down by a content security policy', async () => {
    for (const path of ['/', '/d/vigil-service-overview', '/d/vigil-resilience/any-slug']) {
      const r = await get(`${viewer.url}${path}`);
      expect(r.status, path).toBe(200);
      expect(r.headers.get('content-type')).toMatch(/^text\/html/);
      expect(r.text).toContain('<script type="module" src="/assets/app.js">');
      expect(r.headers.get('content-security-policy')).toMatch(/default-src 'none'.*script-src 'self'/);
    }
  });

  it('lists and serves every dashboard of the folder, read from disk', async () => {
    const files = loadDashboards(DASHBOARDS);
    const list = (await get(`${viewer.url}/api/dashboards`)).json();
    expect(list.map((d: { file: string }) => d.file)).toEqual(files.map((d) => d.file));
    expect(list.length).toBeGreaterThanOrEqual(6);
    for (const d of list) {
      const r = await get(`${viewer.url}/api/dashboards/${encodeURIComponent(d.uid)}`);
      expect(r.status).toBe(200);
      expect(r.json()).toEqual(JSON.parse(readFileSync(join(DASHBOARDS, d.file), 'utf8')));
    }
    expect(viewer.list().map((d) => d.uid)).toContain('vigil-resilience');
    expect(viewer.dashboardUrl('vigil-resilience')).toBe(`${viewer.url}/d/vigil-resilience`);
    expect((await get(`${viewer.url}/api/dashboards/nope`)).status).toBe(404);
  });

  it('gives the page its settings, with the scrape interval read from Prometheus', async () => {
    expect((await get(`${viewer.url}/api/settings`)).json()).toEqual({
      title: 'Vigil dashboards',
      refresh: '5s',
      time: { from: 'now-15m', to: 'now' },
      scrapeInterval: '2s',
    });
  });

  it('serves its assets and uPlot from node_modules, and nothing else', async () => {
    for (const a of ['app.js', 'panels.js', 'grafana.js', 'style.css', 'uPlot.esm.js', 'uPlot.min.css']) {
      const r = await get(`${viewer.url}/assets/${a}`);
      expect(r.status, a).toBe(200);
      expect(r.headers.get('content-type')).toMatch(a.endsWith('.css') ? /^text\/css/ : /^text\/javascript/);
    }
    expect((await get(`${viewer.url}/assets/server.mjs`)).status).toBe(404);
    expect((await get(`${viewer.url}/assets/%2e%2e/server.mjs`)).status).toBe(404);
    expect((await get(`${viewer.url}/package.json`)).status).toBe(404);
    expect((await get(`${viewer.url}/`, { method: 'POST' })).status).toBe(405);
  });

  it('proxies the read-only query API, passing Prometheus errors through, and nothing else', async () => {
    const ok = (
      await get(`${viewer.url}/api/prom/api/v1/query?query=${encodeURIComponent('vector(42)')}`)
    ).json();
    expect(ok).toMatchObject({
      status: 'success',
      data: { resultType: 'vector', result: [{ value: [expect.any(Number), '42'] }] },
    });
    const now = Math.floor(Date.now() / 1000);
    const range = await get(
      `${viewer.url}/api/prom/api/v1/query_range?query=vector(1)&start=${now - 60}&end=${now}&step=15`,
    );
    expect(range.json().data.resultType).toBe('matrix');
    expect((await get(`${viewer.url}/api/prom/api/v1/label/__name__/values`)).status).toBe(200);
    const bad = await get(`${viewer.url}/api/prom/api/v1/query?query=${encodeURIComponent('sum(')}`);
    expect(bad.status).toBe(400);
    expect(bad.json()).toMatchObject({ status: 'error', errorType: 'bad_data' });
    for (const path of [
      '/api/v1/admin/tsdb/delete_series',
      '/api/v1/status/config',
      '/-/quit',
      '/federate',
    ]) {
      expect((await get(`${viewer.url}/api/prom${path}`)).status, path).toBe(404);
    }
    expect(
      (await get(`${viewer.url}/api/prom/api/v1/query`, { method: 'POST', body: 'query=1' })).status,
    ).toBe(405);
  });
});

describe('without a reachable Prometheus', () => {
  it('answers 502 naming the Prometheus it tried, and still serves the page', async () => {
    const port = await freePort(); // nothing listens there
    const viewer = await startViewer({ prometheus: `http://127.0.0.1:${port}`, dashboards: DASHBOARDS });
    try {
      const r = await get(`${viewer.url}/api/prom/api/v1/query?query=up`);
      expect(r.status).toBe(502);
      expect(r.json()).toMatchObject({
        status: 'error',
        error: expect.stringContaining(`127.0.0.1:${port} is not reachable`),
      });
      expect((await get(`${viewer.url}/api/settings`)).json().scrapeInterval).toBe('15s'); // Grafana's default
      expect((await get(`${viewer.url}/d/vigil-slo`)).status).toBe(200);
    } finally {
      await viewer.close();
    }
  });
});

describe('dashboards folder', () => {
  it('reports a file that is not a dashboard instead of failing the others', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'vigil-viewer-'));
    mkdirSync(join(dir, 'sub'));
    writeFileSync(join(dir, 'a.json'), JSON.stringify({ uid: 'a', title: 'A', panels: [] }));
    writeFileSync(join(dir, 'broken.json'), '{ "uid": ');
    writeFileSync(join(dir, 'other.json'), '{"hello": 1}');
    const viewer = await startViewer({ prometheus: 'http://127.0.0.1:9', dashboards: dir });
    try {
      const list = (await get(`${viewer.url}/api/dashboards`)).json();
      expect(list).toEqual([
        { uid: 'a', title: 'A', file: 'a.json', tags: [] },
        {
          uid: 'broken',
          title: 'broken.json',
          file: 'broken.json',
          tags: [],
          error: expect.stringMatching(/JSON/),
        },
        {
          uid: 'other',
          title: 'other.json',
          file: 'other.json',
          tags: [],
          error: 'not a Grafana dashboard (no panels)',
        },
      ]);
      const r = await get(`${viewer.url}/api/dashboards/broken`);
      expect(r.status).toBe(500);
      expect(r.json().error).toMatch(/^broken\.json: /);
      // Read on every request: a regenerated dashboard shows up without a restart.
      writeFileSync(join(dir, 'b.json'), JSON.stringify({ uid: 'b', title: 'B', panels: [] }));
      expect((await get(`${viewer.url}/api/dashboards/b`)).status).toBe(200);
    } finally {
      await viewer.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('close()', () => {
  it('ends idle keep-alive connections, stops listening, and is idempotent', async () => {
    const viewer = await startViewer({ prometheus: 'http://127.0.0.1:9', dashboards: DASHBOARDS });
    const agent = new Agent({ keepAlive: true });
    // A completed request whose connection stays open in the agent's pool, as a browser keeps it.
    const socket = await new Promise<import('node:net').Socket>((resolve, reject) => {
      const req = request(`${viewer.url}/api/dashboards`, { agent }, (res) => {
        res.resume();
        res.on('end', () => resolve(req.socket!));
      });
      req.on('error', reject);
      req.end();
    });
    expect(socket.destroyed).toBe(false);
    const socketClosed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
    const first = viewer.close();
    expect(viewer.close()).toBe(first);
    await first;
    await socketClosed;
    await expect(fetch(`${viewer.url}/`)).rejects.toThrow();
    agent.destroy();
  });

  // The deadline is for a hang: without the abort, the viewer would wait out its 30 s upstream timeout.
  it('aborts proxied queries still waiting for Prometheus', { timeout: 15_000 }, async () => {
    // A Prometheus that accepts the query and never answers (a stuck one cannot be made on demand).
    const stuck = createServer(() => {});
    stuck.listen(0, '127.0.0.1');
    await once(stuck, 'listening');
    const { port } = stuck.address() as { port: number };
    const viewer = await startViewer({ prometheus: `http://127.0.0.1:${port}`, dashboards: DASHBOARDS });
    const client = fetch(`${viewer.url}/api/prom/api/v1/query?query=up`).then(
      (r) => r.status,
      (e: Error) => e.message,
    );
    const [req] = (await once(stuck, 'request')) as [IncomingMessage];
    const upstreamClosed = once(req.socket, 'close');
    await viewer.close();
    await upstreamClosed; // the viewer gave up its upstream request
    expect(await client).not.toBe(200);
    stuck.closeAllConnections();
    stuck.close();
  });
});

describe('pnpm dashboards:view', () => {
  const CLI = join(ROOT, 'scripts', 'viewer', 'cli.mjs');

  it('prints the URL of every dashboard and stops on SIGINT with exit 0', async () => {
    const child = spawn(
      process.execPath,
      [CLI, '--port=0', '--prometheus=http://127.0.0.1:9', '--refresh=10s'],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let out = '';
    child.stdout.on('data', (b: Buffer) => (out += b));
    child.stderr.on('data', (b: Buffer) => (out += b));
    const exited = once(child, 'exit');
    const url = await new Promise<string>((resolve, reject) => {
      child.stdout.on('data', () => {
        const m = /Vigil \/ Resilience\s+(http:\/\/127\.0\.0\.1:\d+\/d\/vigil-resilience)/.exec(out);
        if (m) resolve(m[1]!);
      });
      child.once('exit', () => reject(new Error(`exited early:\n${out}`)));
    });
    expect(out).toMatch(
      /^dashboards: http:\/\/127\.0\.0\.1:\d+\/ \(from http:\/\/127\.0\.0\.1:9; Ctrl-C stops\)/,
    );
    expect((await get(url)).status).toBe(200);
    expect((await get(new URL('/api/settings', url).href)).json().refresh).toBe('10s');
    child.kill('SIGINT');
    expect(await exited).toEqual([0, null]);
  });

  it('names an unknown argument or a bad option and exits 2', () => {
    const unknown = spawnSync(process.execPath, [CLI, '--prometeus=x'], { encoding: 'utf8' });
    expect(unknown.status).toBe(2);
    expect(unknown.stderr).toContain('unknown argument "--prometeus=x"');
    const bad = spawnSync(process.execPath, [CLI, '--prometheus=localhost:9090'], { encoding: 'utf8' });
    expect(bad.status).toBe(2);
    expect(bad.stderr).toContain('option "prometheus" must be an http(s) URL');
  });
});
