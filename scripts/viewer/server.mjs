// The dashboard viewer's HTTP server: serves the generated Grafana dashboards (dashboards/*.json)
// as live pages drawn in the browser from a Prometheus, without Grafana. Everything is local: the
// page, uPlot from node_modules, and a read-only proxy to the Prometheus query API (same origin, so
// the browser needs no CORS and never learns where Prometheus is).
import { readdirSync, readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml } from 'yaml';

const HERE = dirname(fileURLToPath(import.meta.url));
const PUBLIC = join(HERE, 'public');
const require = createRequire(import.meta.url);
const UPLOT = dirname(require.resolve('uplot/dist/uPlot.esm.js'));

const ASSETS = {
  'app.js': [join(PUBLIC, 'app.js'), 'text/javascript'],
  'panels.js': [join(PUBLIC, 'panels.js'), 'text/javascript'],
  'grafana.js': [join(PUBLIC, 'grafana.js'), 'text/javascript'],
  'style.css': [join(PUBLIC, 'style.css'), 'text/css'],
  'uPlot.esm.js': [join(UPLOT, 'uPlot.esm.js'), 'text/javascript'],
  'uPlot.min.css': [join(UPLOT, 'uPlot.min.css'), 'text/css'],
};

// The read-only part of the Prometheus HTTP API the page uses.
const PROXIED = /^\/api\/v1\/(query|query_range|labels|series|label\/[^/]+\/values|status\/buildinfo)$/;
const UPSTREAM_TIMEOUT_MS = 30_000;
const TIME = /^(now([+-]\d+(ms|s|m|h|d|w|M|y))*(\/[smhdwMy])?|\d{10,})$/;

/**
 * @typedef {object} ViewerOptions
 * @property {string} prometheus Base URL of the Prometheus to query, e.g. `http://127.0.0.1:9090`.
 * @property {string} dashboards Folder of Grafana dashboard JSON files (read on every request).
 * @property {string} [host] Listen address (default `127.0.0.1`).
 * @property {number} [port] Listen port (default 0: any free port).
 * @property {string} [refresh] Auto-refresh interval the pages start with, e.g. `5s` (default: each dashboard's own).
 * @property {{ from: string, to: string }} [time] Time range the pages start with (default: each dashboard's own).
 * @property {string} [scrapeInterval] Prometheus' scrape interval for `$__rate_interval`
 *   (default: read from Prometheus' config, else 15s as in Grafana).
 * @property {string} [title] Shown on the index page.
 */

/**
 * @typedef {object} Viewer
 * @property {string} url Base URL, e.g. `http://127.0.0.1:41234`.
 * @property {number} port
 * @property {(uid: string) => string} dashboardUrl URL of one dashboard by uid.
 * @property {() => { uid: string, title: string, file: string }[]} list The dashboards served.
 * @property {() => Promise<void>} close Stops listening and ends open connections and proxied requests.
 */

function optionError(name, message) {
  const e = new TypeError(`dashboard viewer: option "${name}" ${message}`);
  e.code = 'VIGIL_INVALID_OPTION';
  return e;
}

function validate(o) {
  if (typeof o !== 'object' || o === null) throw optionError('options', 'must be an object');
  let prom;
  try {
    prom = new URL(String(o.prometheus));
  } catch {
    throw optionError('prometheus', `must be an http(s) URL, got ${JSON.stringify(o.prometheus)}`);
  }
  if (prom.protocol !== 'http:' && prom.protocol !== 'https:')
    throw optionError('prometheus', `must be an http(s) URL, got ${JSON.stringify(o.prometheus)}`);
  if (typeof o.dashboards !== 'string' || o.dashboards === '')
    throw optionError('dashboards', 'must be the path of a folder of dashboard JSON files');
  let files;
  try {
    files = readdirSync(o.dashboards).filter((f) => f.endsWith('.json'));
  } catch (e) {
    throw optionError('dashboards', `cannot be read (${e.code ?? e.message}): ${o.dashboards}`);
  }
  if (files.length === 0) throw optionError('dashboards', `holds no .json file: ${o.dashboards}`);
  const port = o.port ?? 0;
  if (!Number.isInteger(port) || port < 0 || port > 65535)
    throw optionError('port', `must be an integer from 0 to 65535, got ${JSON.stringify(o.port)}`);
  if (o.refresh !== undefined && !/^(\d+(ms|s|m|h|d))+$/.test(String(o.refresh)))
    throw optionError('refresh', `must be a duration like "5s", got ${JSON.stringify(o.refresh)}`);
  if (o.scrapeInterval !== undefined && !/^(\d+(ms|s|m|h|d))+$/.test(String(o.scrapeInterval)))
    throw optionError(
      'scrapeInterval',
      `must be a duration like "15s", got ${JSON.stringify(o.scrapeInterval)}`,
    );
  if (o.time !== undefined) {
    if (!TIME.test(String(o.time?.from)) || !TIME.test(String(o.time?.to)))
      throw optionError(
        'time',
        `must be { from, to } like { from: "now-15m", to: "now" }, got ${JSON.stringify(o.time)}`,
      );
  }
  return { prom: prom.href.replace(/\/$/, ''), port };
}

/** Reads every dashboard of the folder: `{ uid, title, file, tags, dashboard }` or `{ file, error }`. */
export function loadDashboards(dir) {
  const out = [];
  for (const file of readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .sort()) {
    try {
      const d = JSON.parse(readFileSync(join(dir, file), 'utf8'));
      if (!d || !Array.isArray(d.panels)) throw new Error('not a Grafana dashboard (no panels)');
      out.push({
        uid: String(d.uid ?? file.replace(/\.json$/, '')),
        title: String(d.title ?? file),
        file,
        tags: d.tags ?? [],
        dashboard: d,
      });
    } catch (e) {
      out.push({ uid: file.replace(/\.json$/, ''), title: file, file, tags: [], error: e.message });
    }
  }
  return out;
}

/**
 * Starts the viewer. Resolves once it listens.
 * @param {ViewerOptions} options
 * @returns {Promise<Viewer>}
 */
export async function startViewer(options) {
  const { prom, port } = validate(options);
  const host = options.host ?? '127.0.0.1';
  const inflight = new Set();
  let scrape = options.scrapeInterval
    ? { value: options.scrapeInterval, at: Number.POSITIVE_INFINITY }
    : undefined;

  // Grafana reads the scrape interval from the data source's settings; ours is Prometheus itself.
  async function scrapeInterval() {
    if (scrape && Date.now() - scrape.at < 60_000) return scrape.value;
    try {
      const res = await fetch(`${prom}/api/v1/status/config`, { signal: AbortSignal.timeout(5_000) });
      const body = await res.json();
      const value = parseYaml(body.data.yaml)?.global?.scrape_interval;
      if (typeof value === 'string') scrape = { value, at: Date.now() };
    } catch {}
    return scrape?.value ?? '15s';
  }

  const send = (res, status, type, body, headers = {}) => {
    res.writeHead(status, {
      'content-type': type,
      'cache-control': 'no-store',
      'x-content-type-options': 'nosniff',
      ...headers,
    });
    res.end(body);
  };
  const json = (res, status, body) =>
    send(res, status, 'application/json; charset=utf-8', JSON.stringify(body));

  const page = (title) =>
    `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${title.replace(/[<&]/g, '')}</title><link rel="icon" href="data:,">
<link rel="stylesheet" href="/assets/uPlot.min.css"><link rel="stylesheet" href="/assets/style.css">
</head><body><div id="app"></div><script type="module" src="/assets/app.js"></script></body></html>
`;
  const CSP =
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

  async function proxy(_req, res, path, search) {
    const ac = new AbortController();
    inflight.add(ac);
    const timer = setTimeout(
      () => ac.abort(new Error('Prometheus did not answer within 30 s')),
      UPSTREAM_TIMEOUT_MS,
    );
    res.once('close', () => ac.abort(new Error('client went away')));
    try {
      const up = await fetch(`${prom}${path}${search}`, {
        signal: ac.signal,
        headers: { accept: 'application/json' },
      });
      const body = Buffer.from(await up.arrayBuffer());
      send(res, up.status, up.headers.get('content-type') ?? 'application/json', body);
    } catch (e) {
      if (!res.headersSent && !res.destroyed)
        json(res, 502, {
          status: 'error',
          errorType: 'unavailable',
          error: `Prometheus at ${prom} is not reachable: ${e.cause?.code ?? ac.signal.reason?.message ?? e.message}`,
        });
    } finally {
      clearTimeout(timer);
      inflight.delete(ac);
    }
  }

  async function handle(req, res) {
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      send(res, 405, 'text/plain; charset=utf-8', 'method not allowed\n', { allow: 'GET, HEAD' });
      return;
    }
    const url = new URL(req.url ?? '/', 'http://viewer');
    const path = url.pathname;
    if (path === '/' || /^\/d\/[^/]+(\/[^/]*)?$/.test(path)) {
      send(res, 200, 'text/html; charset=utf-8', page(options.title ?? 'Vigil dashboards'), {
        'content-security-policy': CSP,
      });
      return;
    }
    if (path.startsWith('/assets/')) {
      const asset = ASSETS[path.slice('/assets/'.length)];
      if (!asset) {
        send(res, 404, 'text/plain; charset=utf-8', 'not found\n');
        return;
      }
      send(res, 200, `${asset[1]}; charset=utf-8`, readFileSync(asset[0]));
      return;
    }
    if (path === '/api/settings') {
      json(res, 200, {
        title: options.title ?? 'Vigil dashboards',
        refresh: options.refresh ?? null,
        time: options.time ?? null,
        scrapeInterval: await scrapeInterval(),
      });
      return;
    }
    if (path === '/api/dashboards') {
      json(
        res,
        200,
        loadDashboards(options.dashboards).map(({ dashboard: _d, ...meta }) => meta),
      );
      return;
    }
    const m = /^\/api\/dashboards\/([^/]+)$/.exec(path);
    if (m) {
      const uid = decodeURIComponent(m[1]);
      const found = loadDashboards(options.dashboards).find((d) => d.uid === uid);
      if (!found) json(res, 404, { error: `no dashboard with uid "${uid}"` });
      else if (found.error) json(res, 500, { error: `${found.file}: ${found.error}` });
      else json(res, 200, found.dashboard);
      return;
    }
    if (path.startsWith('/api/prom/')) {
      const upstream = path.slice('/api/prom'.length);
      if (!PROXIED.test(upstream)) {
        json(res, 404, { status: 'error', errorType: 'not_found', error: `not proxied: ${upstream}` });
        return;
      }
      await proxy(req, res, upstream, url.search);
      return;
    }
    send(res, 404, 'text/plain; charset=utf-8', 'not found\n');
  }

  const server = createServer((req, res) => {
    handle(req, res).catch((e) => {
      if (!res.headersSent) json(res, 500, { error: e.message });
      else res.destroy();
    });
  });
  server.keepAliveTimeout = 5_000;
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address();
  const shown = host.includes(':') ? `[${host}]` : host;
  const base = `http://${shown}:${address.port}`;
  let closed;
  return {
    url: base,
    port: address.port,
    dashboardUrl: (uid) => `${base}/d/${encodeURIComponent(uid)}`,
    list: () => loadDashboards(options.dashboards).map(({ uid, title, file }) => ({ uid, title, file })),
    close() {
      closed ??= new Promise((resolve) => {
        for (const ac of inflight) ac.abort(new Error('viewer closing'));
        server.close(() => resolve());
        // Browsers keep connections open; a viewer that is closing must not wait for them.
        server.closeAllConnections();
      });
      return closed;
    },
  };
}
