import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { trace } from '@opentelemetry/api';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { isVigilOptionError, startTracing, type Tracing, type TracingOptions } from '../src/index.js';
import { backoffMs, parseRetryAfter } from '../src/internal/exporter.js';
import { PKG_DIR, type Receiver, startReceiver } from './helpers.js';

// The OTLP exporter against the OTLP exporter spec (issue 22), end to end: startTracing reads the
// OTEL_* variables, Vigil's batch processor exports through Vigil's transport, and a receiver in
// its own process (fixtures/otlp-receiver.mjs) decodes what arrives, over http or https.

let tracing: Tracing | undefined;
const receivers: Receiver[] = [];
afterEach(async () => {
  await tracing?.close();
  tracing = undefined;
  await Promise.all(receivers.splice(0).map((r) => r.stop()));
  vi.restoreAllMocks();
});

async function receiver(env: Record<string, string> = {}): Promise<Receiver> {
  const r = await startReceiver('ok', env);
  receivers.push(r);
  return r;
}

interface Warning {
  fields: Record<string, unknown>;
  msg: string;
}

/** startTracing with these variables set (only while it reads them), warnings collected. */
function traced(env: Record<string, string>, options: TracingOptions = {}): Warning[] {
  const warnings: Warning[] = [];
  const saved = Object.fromEntries(Object.keys(env).map((k) => [k, process.env[k]]));
  Object.assign(process.env, env);
  try {
    tracing = startTracing({
      logger: { warn: (fields, msg) => warnings.push({ fields: fields as Warning['fields'], msg }) },
      fetchSpans: false,
      sampleRatio: 1,
      scheduledDelayMs: 600_000, // nothing leaves before forceFlush()
      shutdownTimeoutMs: 15_000,
      ...options,
    });
  } finally {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  }
  return warnings;
}

function endSpans(n: number, prefix = 'span'): void {
  const t = trace.getTracer('exporter-test');
  for (let i = 0; i < n; i++) t.startSpan(`${prefix}-${i}`).end();
}

describe('compression (OTEL_EXPORTER_OTLP_COMPRESSION)', () => {
  for (const protocol of ['http/protobuf', 'http/json']) {
    it(`gzip: ${protocol} bodies arrive gzip-encoded and decode to every span`, async () => {
      const r = await receiver();
      traced({
        OTEL_EXPORTER_OTLP_ENDPOINT: r.url,
        OTEL_EXPORTER_OTLP_PROTOCOL: protocol,
        OTEL_EXPORTER_OTLP_COMPRESSION: 'gzip',
      });
      endSpans(5, 'gz');
      await tracing!.forceFlush();
      const spans = await r.waitForSpans((s) => s.length === 5, '5 spans');
      expect(spans.map((s) => s.name).sort()).toEqual(['gz-0', 'gz-1', 'gz-2', 'gz-3', 'gz-4']);
      expect((await r.stats()).log.map((l) => l.encoding)).toEqual(['gzip']);
    });
  }

  it('the TRACES_ variable wins; an unknown value is reported, naming it, and nothing is compressed', async () => {
    const r = await receiver();
    traced({
      OTEL_EXPORTER_OTLP_ENDPOINT: r.url,
      OTEL_EXPORTER_OTLP_COMPRESSION: 'gzip',
      OTEL_EXPORTER_OTLP_TRACES_COMPRESSION: 'none',
    });
    endSpans(1);
    await tracing!.forceFlush();
    expect((await r.stats()).log.map((l) => l.encoding)).toEqual([undefined]);
    await tracing!.close();

    const w = traced({ OTEL_EXPORTER_OTLP_ENDPOINT: r.url, OTEL_EXPORTER_OTLP_COMPRESSION: 'brotli' });
    expect(w.map((x) => x.fields.variable)).toEqual(['OTEL_EXPORTER_OTLP_COMPRESSION']);
    endSpans(1);
    await tracing!.forceFlush();
    expect((await r.stats()).log.map((l) => l.encoding)).toEqual([undefined, undefined]);
  });
});

describe('headers (OTEL_EXPORTER_OTLP_HEADERS)', () => {
  it('are sent, percent-decoded; the TRACES_ variable wins per header', async () => {
    const r = await receiver();
    traced({
      OTEL_EXPORTER_OTLP_ENDPOINT: r.url,
      OTEL_EXPORTER_OTLP_HEADERS: 'authorization=Bearer%20general,x-tenant=acme',
      OTEL_EXPORTER_OTLP_TRACES_HEADERS: 'authorization=Bearer%20traces',
    });
    endSpans(1);
    await tracing!.forceFlush();
    const [req] = (await r.stats()).log;
    expect(req).toMatchObject({ authorization: 'Bearer traces', tenant: 'acme' });
  });
});

describe('TLS (OTEL_EXPORTER_OTLP_CERTIFICATE, CLIENT_KEY, CLIENT_CERTIFICATE)', () => {
  // A CA made for this run, a server certificate for 127.0.0.1 and a client certificate, both signed by it.
  let dir: string;
  const file = (n: string) => join(dir, n);
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'vigil-tls-'));
    const ssl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
    const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
    ssl(
      'req',
      '-x509',
      ...ec,
      '-keyout',
      'ca.key',
      '-out',
      'ca.pem',
      '-days',
      '1',
      '-subj',
      '/CN=vigil-test-ca',
    );
    writeFileSync(file('server.ext'), 'subjectAltName=IP:127.0.0.1\n');
    ssl('req', ...ec, '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=127.0.0.1');
    ssl(
      'x509',
      '-req',
      '-in',
      'server.csr',
      '-CA',
      'ca.pem',
      '-CAkey',
      'ca.key',
      '-CAcreateserial',
      '-out',
      'server.pem',
      '-days',
      '1',
      '-extfile',
      'server.ext',
    );
    ssl('req', ...ec, '-keyout', 'client.key', '-out', 'client.csr', '-subj', '/CN=vigil-test-client');
    ssl(
      'x509',
      '-req',
      '-in',
      'client.csr',
      '-CA',
      'ca.pem',
      '-CAkey',
      'ca.key',
      '-CAcreateserial',
      '-out',
      'client.pem',
      '-days',
      '1',
    );
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const httpsReceiver = (mutual: boolean) =>
    receiver({
      RECEIVER_TLS_KEY: file('server.key'),
      RECEIVER_TLS_CERT: file('server.pem'),
      ...(mutual && { RECEIVER_TLS_CLIENT_CA: file('ca.pem') }),
    });

  it('a collector whose certificate the CA file signs: delivered', async () => {
    const r = await httpsReceiver(false);
    traced({ OTEL_EXPORTER_OTLP_ENDPOINT: r.tlsUrl!, OTEL_EXPORTER_OTLP_CERTIFICATE: file('ca.pem') });
    endSpans(3, 'tls');
    await tracing!.forceFlush();
    await r.waitForSpans((s) => s.length === 3, '3 spans over https');
    expect(tracing!.stats().exported).toBe(3);
  });

  it('without the CA file: the self-signed chain is refused, once, not retried, and counted', async () => {
    const r = await httpsReceiver(false);
    const w = traced({ OTEL_EXPORTER_OTLP_ENDPOINT: r.tlsUrl! });
    endSpans(3);
    const t0 = Date.now();
    await tracing!.forceFlush();
    expect(Date.now() - t0).toBeLessThan(5_000); // no backoff rounds for a certificate error
    expect(tracing!.stats().dropped.export_failed).toBe(3);
    expect(w.map((x) => x.msg).join('\n')).toMatch(/Span export failed/);
    expect(String(w[0]?.fields.error)).toMatch(/certificate|CERT/i);
    expect((await r.stats()).requests).toBe(0);
  });

  it('mutual TLS: the client key and certificate are presented (the receiver sees the CN)', async () => {
    const r = await httpsReceiver(true);
    traced({
      OTEL_EXPORTER_OTLP_ENDPOINT: r.tlsUrl!,
      OTEL_EXPORTER_OTLP_CERTIFICATE: file('ca.pem'),
      OTEL_EXPORTER_OTLP_CLIENT_KEY: file('client.key'),
      OTEL_EXPORTER_OTLP_TRACES_CLIENT_CERTIFICATE: file('client.pem'),
    });
    endSpans(2);
    await tracing!.forceFlush();
    await r.waitForSpans((s) => s.length === 2, '2 spans over mutual TLS');
    expect((await r.stats()).log.map((l) => l.clientCN)).toEqual(['vigil-test-client']);
  });

  it('mutual TLS without a client certificate: refused by the collector and counted', async () => {
    const r = await httpsReceiver(true);
    traced({
      OTEL_EXPORTER_OTLP_ENDPOINT: r.tlsUrl!,
      OTEL_EXPORTER_OTLP_CERTIFICATE: file('ca.pem'),
      OTEL_EXPORTER_OTLP_TIMEOUT: '2000',
    });
    endSpans(2);
    await tracing!.forceFlush();
    expect(tracing!.stats().dropped.export_failed).toBe(2);
    expect(await r.spans()).toEqual([]);
  });

  it('an unreadable file, or a key without its certificate: reported naming the variable, tracing still starts', () => {
    const w = traced({
      OTEL_EXPORTER_OTLP_ENDPOINT: 'https://127.0.0.1:4318',
      OTEL_EXPORTER_OTLP_CERTIFICATE: file('missing.pem'),
      OTEL_EXPORTER_OTLP_CLIENT_KEY: file('client.key'),
    });
    expect(w.map((x) => x.fields.variable)).toEqual([
      'OTEL_EXPORTER_OTLP_CERTIFICATE',
      'OTEL_EXPORTER_OTLP_CLIENT_KEY',
    ]);
    expect(w[0]?.msg).toMatch(/ENOENT/);
    expect(tracing!.enabled).toBe(true);
  });
});

describe('partial success (OTLP ExportTraceServiceResponse.partial_success)', () => {
  for (const protocol of ['http/protobuf', 'http/json']) {
    it(`${protocol}: rejected spans are counted as dropped (rejected), the rest exported; one warning with the collector's message`, async () => {
      const r = await receiver({ RECEIVER_REJECT: '2', RECEIVER_REJECT_MESSAGE: 'span too large' });
      const w = traced({ OTEL_EXPORTER_OTLP_ENDPOINT: r.url, OTEL_EXPORTER_OTLP_PROTOCOL: protocol });
      endSpans(5);
      await tracing!.forceFlush();
      endSpans(5);
      await tracing!.forceFlush();
      expect(tracing!.stats()).toMatchObject({ exported: 6, dropped: { rejected: 4, export_failed: 0 } });
      expect(w).toHaveLength(1);
      expect(w[0]?.fields).toMatchObject({ rejected: 2, sent: 5, error: 'span too large' });
      expect(w[0]?.msg).toMatch(/rejected/);
      expect((await r.stats()).requests).toBe(2); // a partial success is never retried
    });
  }
});

describe('partial success from a hostile collector', () => {
  it('more rejected spans than sent count as the batch, never more; a huge message is cut in the warning', async () => {
    const r = await receiver({ RECEIVER_REJECT: '999999999', RECEIVER_REJECT_MESSAGE: 'x'.repeat(20_000) });
    const w = traced({ OTEL_EXPORTER_OTLP_ENDPOINT: r.url, OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json' });
    endSpans(3);
    await tracing!.forceFlush();
    expect(tracing!.stats()).toMatchObject({ exported: 0, dropped: { rejected: 3 } });
    expect(String(w[0]?.fields.error).length).toBeLessThanOrEqual(1000);
  });
});

describe('retries (429, 502, 503, 504; Retry-After; exponential backoff with jitter)', () => {
  it('503 with Retry-After: 1 twice, then accepted: delivered, each retry at least a second later', async () => {
    const r = await receiver({
      RECEIVER_FAIL_STATUS: '503',
      RECEIVER_FAIL_COUNT: '2',
      RECEIVER_RETRY_AFTER: '1',
    });
    traced({ OTEL_EXPORTER_OTLP_ENDPOINT: r.url });
    endSpans(3);
    await tracing!.forceFlush();
    expect(tracing!.stats()).toMatchObject({ exported: 3, dropped: { export_failed: 0 } });
    const at = (await r.stats()).log.map((l) => l.at);
    expect(at).toHaveLength(3);
    expect(at[1]! - at[0]!).toBeGreaterThanOrEqual(950);
    expect(at[2]! - at[1]!).toBeGreaterThanOrEqual(950);
  });

  for (const status of ['429', '502', '504']) {
    it(`${status} without Retry-After: retried after the backoff (1 s ± 20 %)`, async () => {
      const r = await receiver({ RECEIVER_FAIL_STATUS: status, RECEIVER_FAIL_COUNT: '1' });
      traced({ OTEL_EXPORTER_OTLP_ENDPOINT: r.url });
      endSpans(2);
      await tracing!.forceFlush();
      expect(tracing!.stats().exported).toBe(2);
      const at = (await r.stats()).log.map((l) => l.at);
      expect(at).toHaveLength(2);
      expect(at[1]! - at[0]!).toBeGreaterThanOrEqual(780);
    });
  }

  it('500 and 400 are not retried', async () => {
    for (const status of ['500', '400']) {
      const r = await receiver({ RECEIVER_FAIL_STATUS: status, RECEIVER_FAIL_COUNT: '100' });
      traced({ OTEL_EXPORTER_OTLP_ENDPOINT: r.url });
      endSpans(2);
      await tracing!.forceFlush();
      expect(tracing!.stats().dropped.export_failed).toBe(2);
      expect((await r.stats()).requests).toBe(1);
      await tracing!.close();
    }
  });

  it('a Retry-After beyond the export timeout fails the export now instead of waiting', async () => {
    const r = await receiver({
      RECEIVER_FAIL_STATUS: '429',
      RECEIVER_FAIL_COUNT: '100',
      RECEIVER_RETRY_AFTER: '30',
    });
    traced({ OTEL_EXPORTER_OTLP_ENDPOINT: r.url, OTEL_EXPORTER_OTLP_TRACES_TIMEOUT: '3000' });
    endSpans(2);
    const t0 = Date.now();
    await tracing!.forceFlush();
    expect(Date.now() - t0).toBeLessThan(2_500);
    expect(tracing!.stats().dropped.export_failed).toBe(2);
    expect((await r.stats()).requests).toBe(1);
  });

  it('retries stop at the export timeout (backoff included)', async () => {
    const r = await receiver({ RECEIVER_FAIL_STATUS: '503', RECEIVER_FAIL_COUNT: '100' });
    traced({ OTEL_EXPORTER_OTLP_ENDPOINT: r.url, OTEL_EXPORTER_OTLP_TIMEOUT: '3000' });
    endSpans(1);
    const t0 = Date.now();
    await tracing!.forceFlush();
    expect(Date.now() - t0).toBeLessThan(3_500);
    expect(tracing!.stats().dropped.export_failed).toBe(1);
    // 1 s then 1.5 s (±20 %) fit in 3 s at most: two or three requests, never more.
    expect((await r.stats()).requests).toBeGreaterThanOrEqual(2);
    expect((await r.stats()).requests).toBeLessThanOrEqual(3);
  });

  it('Retry-After: seconds or an HTTP-date; anything else is ignored', () => {
    const now = Date.parse('2026-12-06T10:00:00Z');
    expect(parseRetryAfter('3', now)).toBe(3000);
    expect(parseRetryAfter('Sun, 06 Dec 2026 10:00:07 GMT', now)).toBe(7000);
    expect(parseRetryAfter('Sun, 06 Dec 2026 09:00:00 GMT', now)).toBe(0);
    for (const bad of [undefined, '', ' ', '-1', '1.5', 'soon'])
      expect(parseRetryAfter(bad, now)).toBeUndefined();
  });

  it('backoff: 1 s, ×1.5 per attempt, capped at 5 s, jitter ±20 %', () => {
    expect(backoffMs(0, () => 0.5)).toBe(1000);
    expect(backoffMs(1, () => 0.5)).toBe(1500);
    expect(backoffMs(10, () => 0.5)).toBe(5000);
    expect(backoffMs(0, () => 0)).toBeCloseTo(800);
    expect(backoffMs(0, () => 0.999999)).toBeCloseTo(1200, 0);
  });
});

describe('OTEL_TRACES_EXPORTER', () => {
  it('none: spans still made (ids for logs), nothing queued, sent or counted; url empty', async () => {
    const r = await receiver();
    traced({ OTEL_EXPORTER_OTLP_ENDPOINT: r.url, OTEL_TRACES_EXPORTER: 'none' });
    expect(tracing!.url).toBe('');
    const span = trace.getTracer('t').startSpan('x');
    expect(span.spanContext().traceId).toMatch(/^[0-9a-f]{32}$/);
    span.end();
    await tracing!.forceFlush();
    expect(tracing!.stats()).toMatchObject({ exported: 0, queued: 0 });
    expect((await r.stats()).requests).toBe(0);
  });

  it('console: spans printed on stdout (console.dir), nothing sent', async () => {
    const r = await receiver();
    const dir = vi.spyOn(console, 'dir').mockImplementation(() => {});
    traced({ OTEL_EXPORTER_OTLP_ENDPOINT: r.url, OTEL_TRACES_EXPORTER: 'console' });
    endSpans(2, 'printed');
    await tracing!.forceFlush();
    const names = dir.mock.calls.map((c) => (c[0] as { name: string }).name);
    expect(names).toEqual(['printed-0', 'printed-1']);
    expect((await r.stats()).requests).toBe(0);
  });

  it('otlp,console: both; an unknown name (zipkin) is reported and the rest kept', async () => {
    const r = await receiver();
    const dir = vi.spyOn(console, 'dir').mockImplementation(() => {});
    const w = traced({ OTEL_EXPORTER_OTLP_ENDPOINT: r.url, OTEL_TRACES_EXPORTER: 'otlp, console,zipkin' });
    expect(w.map((x) => x.fields.variable)).toEqual(['OTEL_TRACES_EXPORTER']);
    endSpans(2);
    await tracing!.forceFlush();
    expect(dir).toHaveBeenCalledTimes(2);
    await r.waitForSpans((s) => s.length === 2, '2 spans');
    expect(tracing!.stats().exported).toBe(2);
  });
});

describe('OTEL_EXPORTER_OTLP_PROTOCOL=grpc', () => {
  it('startTracing throws, naming the variable (the TRACES_ variant too)', () => {
    for (const name of ['OTEL_EXPORTER_OTLP_PROTOCOL', 'OTEL_EXPORTER_OTLP_TRACES_PROTOCOL']) {
      let err: unknown;
      try {
        traced({ [name]: 'grpc' });
      } catch (e) {
        err = e;
      }
      expect(isVigilOptionError(err)).toBe(true);
      expect((err as { option: string }).option).toBe(name);
      expect((err as Error).message).toMatch(/OTLP\/HTTP only/);
      expect(tracing).toBeUndefined();
    }
  });

  it('the protocol option wins over the variable', () => {
    traced({ OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc' }, { protocol: 'http/json' });
    expect(tracing!.enabled).toBe(true);
  });

  it('register entry: the service still starts, and stderr says why tracing did not', () => {
    const out = spawnSync(
      process.execPath,
      ['--import', '@vigil/tracing/register', '-e', 'console.log("service up")'],
      {
        cwd: PKG_DIR,
        env: { ...process.env, NODE_OPTIONS: '', OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc' },
        encoding: 'utf8',
        timeout: 15_000,
      },
    );
    expect(out.status).toBe(0);
    expect(out.stdout).toContain('service up');
    expect(out.stderr).toMatch(/Tracing not started: Invalid option \\?"OTEL_EXPORTER_OTLP_PROTOCOL\\?"/);
  });
});

describe('transport: a collector that drops connections, answers too much, or would see its own requests', () => {
  interface Collector {
    url: string;
    requests: http.IncomingHttpHeaders[];
    close(): Promise<void>;
  }
  const collectors: Collector[] = [];
  afterEach(async () => {
    await Promise.all(collectors.splice(0).map((c) => c.close()));
  });

  /** An in-process collector; `answer` decides per request (0-based) what happens to it. */
  async function collector(
    answer: (n: number, req: http.IncomingMessage, res: http.ServerResponse) => void,
  ): Promise<Collector> {
    const requests: http.IncomingHttpHeaders[] = [];
    const server = http.createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        requests.push(req.headers);
        answer(requests.length - 1, req, res);
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const c: Collector = {
      url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
      requests,
      close: () => {
        server.closeAllConnections();
        return new Promise((resolve) => server.close(() => resolve()));
      },
    };
    collectors.push(c);
    return c;
  }
  const ok = (_n: number, _req: http.IncomingMessage, res: http.ServerResponse) => res.end();

  it('a collector that drops the connection mid-request is retried (ECONNRESET), then delivered', async () => {
    const c = await collector((n, req, res) => (n === 0 ? req.socket.destroy() : res.end()));
    traced({ OTEL_EXPORTER_OTLP_ENDPOINT: c.url });
    endSpans(3);
    await tracing!.forceFlush();
    expect(tracing!.stats()).toMatchObject({ exported: 3, dropped: { export_failed: 0 } });
    expect(c.requests).toHaveLength(2);
  });

  it('a 2 MB answer (the exporter reads 64 KB at most): the export succeeds, and the next one too', async () => {
    const big = Buffer.alloc(2 * 1024 * 1024, 0x41);
    const c = await collector((_n, _req, res) => res.end(big));
    traced({ OTEL_EXPORTER_OTLP_ENDPOINT: c.url });
    endSpans(2);
    await tracing!.forceFlush();
    endSpans(2);
    await tracing!.forceFlush();
    expect(tracing!.stats()).toMatchObject({ exported: 4, dropped: { export_failed: 0 } });
  });

  it("with fetch spans on, the exporter's own requests make no spans: one export, no feedback loop", async () => {
    const c = await collector(ok);
    traced({ OTEL_EXPORTER_OTLP_ENDPOINT: c.url }, { fetchSpans: true });
    endSpans(2);
    await tracing!.forceFlush();
    await tracing!.forceFlush();
    expect(tracing!.stats()).toMatchObject({ exported: 2, queued: 0 });
    expect(c.requests).toHaveLength(1);
  });
});
