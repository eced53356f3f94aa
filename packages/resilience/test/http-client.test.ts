import { Registry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import { createHttpClient, isHttpStatusError, parseRetryAfter } from '../src/index.js';
import { sample, startDownstream } from './helpers.js';

const cleanup: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  while (cleanup.length) await cleanup.pop()?.();
});

const DURATION = 'http_client_request_duration_seconds';

async function setup(extra: Record<string, unknown> = {}, path = '') {
  const downstream = await startDownstream();
  cleanup.push(() => downstream.close());
  const registry = new Registry();
  const client = createHttpClient({ baseUrl: downstream.url + path, registry, logger: false, ...extra });
  cleanup.push(() => client.close());
  return { downstream, registry, client };
}

describe('createHttpClient', () => {
  it('joins base URL and path, merges default headers, parses JSON', async () => {
    const { downstream, client } = await setup(
      { headers: { 'x-api-key': 'k', 'x-both': 'default' } },
      '/api/',
    );
    const body = await client.json<{ path: string; method: string }>('/users/1?expand=true', {
      headers: { 'x-both': 'request' },
    });
    expect(body).toMatchObject({ path: '/api/users/1?expand=true', method: 'GET' });
    const req = downstream.requests[0];
    expect(req?.headers['x-api-key']).toBe('k');
    expect(req?.headers['x-both']).toBe('request');
    expect(client.baseUrl).toBe(`${downstream.url}/api`);
    expect(await client.text('/t')).toContain('"path":"/api/t"');
  });

  it('rejects paths that are not a single-slash path', async () => {
    const { client } = await setup();
    await expect(client.fetch('users')).rejects.toMatchObject({ option: 'path' });
    await expect(client.fetch('//evil.example/x')).rejects.toMatchObject({ option: 'path' });
    await expect(client.fetch('http://evil.example/')).rejects.toMatchObject({ option: 'path' });
  });

  it('records http_client_request_duration_seconds{target, method, status_code} per attempt, bounded', async () => {
    const { downstream, client, registry } = await setup({ name: 'catalog', retry: { baseDelayMs: 0 } });
    expect(client.name).toBe('catalog');
    await client.fetch('/a');
    downstream.script({ kind: 'status', status: 503 });
    await client.fetch('/b'); // a 503 then a 200: two attempts, two observations
    await client.fetch('/c', { method: 'PURGE' });
    const count = (labels: Record<string, string>) => sample(registry, DURATION, labels, `${DURATION}_count`);
    expect(await count({ target: 'catalog', method: 'GET', status_code: '200' })).toBe(2);
    expect(await count({ target: 'catalog', method: 'GET', status_code: '503' })).toBe(1);
    expect(await count({ target: 'catalog', method: '_OTHER', status_code: '200' })).toBe(1);
    const m = registry.getSingleMetric(DURATION);
    const { values } = (await m!.get()) as unknown as { values: { labels: Record<string, unknown> }[] };
    // No URL, path or raw method ever becomes a label.
    for (const v of values)
      expect(Object.keys(v.labels).sort()).toEqual(
        ['le', 'method', 'status_code', 'target'].filter((k) => k in v.labels),
      );
    expect(JSON.stringify(values)).not.toContain('/b');
    expect(JSON.stringify(values)).not.toContain('PURGE');
  });

  it('defaults the target name to the base URL host and port', async () => {
    const { client, downstream } = await setup();
    expect(client.name).toBe(`127.0.0.1:${downstream.port}`);
  });

  it('json() throws HttpStatusError for non-2xx; fetch() returns it', async () => {
    const { downstream, client } = await setup({ retry: false });
    downstream.set({ kind: 'status', status: 409, body: 'conflict' });
    expect((await client.fetch('/x', { method: 'POST' })).status).toBe(409);
    const err = await client.json('/x').catch((e: unknown) => e);
    expect(isHttpStatusError(err)).toBe(true);
    expect(err).toMatchObject({ status: 409, body: 'conflict', code: 'VIGIL_HTTP_STATUS' });
    // The response is not enumerable (loggers do not walk into it).
    expect(Object.keys(err as object)).not.toContain('response');
  });

  it('parses Retry-After as seconds or an HTTP date, ignoring junk', () => {
    expect(parseRetryAfter('120')).toBe(120_000);
    expect(
      parseRetryAfter('Wed, 21 Oct 2015 07:28:00 GMT', Date.parse('Wed, 21 Oct 2015 07:27:00 GMT')),
    ).toBe(60_000);
    expect(parseRetryAfter('soon')).toBeUndefined();
    expect(parseRetryAfter(null)).toBeUndefined();
    expect(parseRetryAfter('-1')).toBeUndefined();
  });

  it("fetch(): the caller's signal still stops the body after the response arrived", async () => {
    const { downstream, client } = await setup({ retry: false });
    downstream.set({ kind: 'stall' });
    const ac = new AbortController();
    const res = await client.fetch('/stream', { signal: ac.signal });
    expect(res.status).toBe(200);
    const body = res.text();
    ac.abort(new Error('enough'));
    await expect(body).rejects.toThrow('enough');
  });

  it('uses an injected fetch', async () => {
    const calls: string[] = [];
    const client = createHttpClient({
      baseUrl: 'http://stub.invalid',
      logger: false,
      fetch: (async (url: string) => {
        calls.push(url);
        return new Response('{"ok":true}', { status: 200 });
      }) as typeof fetch,
    });
    cleanup.push(() => client.close());
    expect(await client.json('/ping')).toEqual({ ok: true });
    expect(calls).toEqual(['http://stub.invalid/ping']);
  });
});
