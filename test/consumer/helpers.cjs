'use strict';
// Shared by the consumer-check fixtures; see README.md. Runs inside the temporary npm project.

const { existsSync, readFileSync } = require('node:fs');
const path = require('node:path');

/** The packages under test, `[{ name, version }]`, written by scripts/consumer-check.mjs. */
const packages = JSON.parse(readFileSync(path.join(__dirname, 'vigil-packages.json'), 'utf8'));
const packageNames = new Set(packages.map((p) => p.name));

function check(condition, message) {
  if (!condition) throw new Error(message);
}

function ok(message) {
  console.log(`ok - ${message}`);
}

/** Exports a user sees (the `__esModule` interop marker is not one). */
function exportNames(mod) {
  return Object.keys(mod)
    .filter((k) => k !== '__esModule' && k !== 'module.exports')
    .sort();
}

/** Key exports of the packages we know; other packages get the generic checks only. */
const EXPECTED = {
  '@vigil/catalog': { CATALOG: 'object' },
  '@vigil/metrics': { createMetrics: 'function' },
  '@vigil/express': { createExpressMetrics: 'function' },
  '@vigil/fastify': { vigilMetrics: 'function', default: 'function' },
  '@vigil/mixin': { generate: 'function', write: 'function' },
};

/** Generic and package-specific export checks; `how` is `require` or `import`. */
function checkModule(name, mod, how) {
  const names = exportNames(mod).filter((k) => k !== 'default');
  check(names.length > 0, `${how}('${name}') has no named exports`);
  for (const [key, type] of Object.entries(EXPECTED[name] ?? {})) {
    check(typeof mod[key] === type, `${how}('${name}').${key} is ${typeof mod[key]}, expected a ${type}`);
  }
  if (name === '@vigil/catalog') {
    check(Array.isArray(mod.CATALOG) && mod.CATALOG.length > 0, `${how}('${name}').CATALOG is empty`);
  }
  if (name === '@vigil/fastify') {
    check(mod.default === mod.vigilMetrics, `${how}('${name}').default is not vigilMetrics`);
  }
  return names;
}

/** 'cjs' or 'esm', the way Node decides it for a file: by extension, then the nearest "type". */
function moduleKind(file) {
  if (file.endsWith('.cjs')) return 'cjs';
  if (file.endsWith('.mjs')) return 'esm';
  for (let dir = path.dirname(file); ; dir = path.dirname(dir)) {
    const pj = path.join(dir, 'package.json');
    if (existsSync(pj)) return JSON.parse(readFileSync(pj, 'utf8')).type === 'module' ? 'esm' : 'cjs';
    if (path.dirname(dir) === dir) return 'cjs';
  }
}

/** Resolved files must come from this project's node_modules, not from a workspace somewhere. */
function checkInstalledHere(name, file) {
  const nm = path.join(__dirname, 'node_modules') + path.sep;
  check(file.startsWith(nm), `${name} resolved to ${file}, outside ${nm}`);
}

/** What fastify looks at on a plugin function (fastify-plugin's markers), comparable across copies. */
function pluginShape(fn) {
  return {
    type: typeof fn,
    length: fn.length,
    skipOverride: fn[Symbol.for('skip-override')],
    displayName: fn[Symbol.for('fastify.display-name')],
    meta: JSON.stringify(fn[Symbol.for('plugin-meta')]),
    ownKeys: Object.keys(fn).sort().join(','),
    defaultIsItself: fn.default === fn,
  };
}

// ----------------------------------------------------------------------------------------------
// HTTP apps: the same traffic for Express and Fastify, then assertions on /metrics.
// ----------------------------------------------------------------------------------------------

const USER_REQUESTS = ['/users/1', '/users/2', '/users/1'];
const UNKNOWN_PATH = '/no-such-page/42';

async function get(url) {
  const res = await fetch(url);
  const body = await res.text();
  return { status: res.status, headers: res.headers, body };
}

async function exercise(base) {
  for (const p of USER_REQUESTS) {
    const r = await get(base + p);
    check(r.status === 200, `GET ${p} answered ${r.status}, expected 200`);
  }
  const r = await get(base + UNKNOWN_PATH);
  check(r.status === 404, `GET ${UNKNOWN_PATH} answered ${r.status}, expected 404`);
}

/** Samples of a Prometheus text exposition: `{ name, labels, value, line }`. */
function parseSamples(text) {
  const samples = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)/.exec(line);
    if (!m) continue;
    const labels = {};
    for (const l of (m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g))
      labels[l[1]] = l[2];
    samples.push({ name: m[1], labels, value: Number(m[3]), line });
  }
  return samples;
}

function findSample(samples, name, labels) {
  return samples.find((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
}

/** Asserts the RED series for the traffic of `exercise()`; returns the lines it matched. */
function assertRedMetrics(text) {
  const samples = parseSamples(text);
  const users = { route: '/users/:id', method: 'GET', status_code: '200' };
  const unmatched = { route: '__unmatched__', method: 'GET', status_code: '404' };
  const total = findSample(samples, 'http_requests_total', users);
  check(total, `no http_requests_total${JSON.stringify(users)} in /metrics:\n${text.slice(0, 3000)}`);
  check(total.value === USER_REQUESTS.length, `expected ${USER_REQUESTS.length} requests: ${total.line}`);
  const miss = findSample(samples, 'http_requests_total', unmatched);
  check(miss, `the unknown path is not labelled __unmatched__ (no ${JSON.stringify(unmatched)}):\n${text}`);
  check(miss.value === 1, `expected 1 unmatched request: ${miss.line}`);
  const count = findSample(samples, 'http_request_duration_seconds_count', users);
  check(count?.value === USER_REQUESTS.length, 'http_request_duration_seconds_count for /users/:id is wrong');
  const raw = samples.filter(
    (s) => s.name.startsWith('http_') && /\/users\/\d|no-such-page/.test(s.labels.route ?? ''),
  );
  check(raw.length === 0, `raw URLs leaked into route labels:\n${raw.map((s) => s.line).join('\n')}`);
  return [total.line, miss.line];
}

/** Metrics may be recorded just after the response ends: retry the assertions for a moment. */
async function pollRedMetrics(base, path = '/metrics') {
  let lastError;
  for (let attempt = 0; attempt < 20; attempt++) {
    const r = await get(base + path);
    check(r.status === 200, `GET ${path} answered ${r.status}`);
    check(
      /^text\/plain/.test(r.headers.get('content-type') ?? ''),
      'the /metrics content type is not text/plain',
    );
    try {
      return assertRedMetrics(r.body);
    } catch (err) {
      lastError = err;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
  throw lastError;
}

/** Fails the script if it has not finished in time (a hung server, a handle left open). */
function watchdog(ms, what) {
  setTimeout(() => {
    console.error(`${what}: timed out after ${ms} ms`);
    process.exit(1);
  }, ms).unref();
}

/** Runs `main` and reports an error the same way in every script. */
function runMain(main) {
  main().catch((err) => {
    console.error(err?.stack ?? String(err));
    process.exitCode = 1;
  });
}

module.exports = {
  packages,
  packageNames,
  check,
  ok,
  exportNames,
  checkModule,
  moduleKind,
  checkInstalledHere,
  pluginShape,
  exercise,
  parseSamples,
  pollRedMetrics,
  watchdog,
  runMain,
  UNKNOWN_PATH,
};
