import { checkFunction, checkObject, checkString, VigilOptionError } from '@vigil/core';
import type { CheckContext, CheckOptions, HealthCheck } from '../types.js';
import { noLiveness, splitOptions } from './options.js';

export interface HttpCheckOptions extends CheckOptions {
  /** Default `GET`. */
  method?: string;
  headers?: Record<string, string>;
  /** Which status codes pass. Default: 200 to 399. */
  expectStatus?: (status: number) => boolean;
}

/**
 * An HTTP dependency is up: request `url` (with the run's abort signal, so a timeout cancels the
 * request) and check the status code. The response body is discarded.
 */
export function httpCheck(url: string | URL, options?: HttpCheckOptions): HealthCheck {
  let target: URL;
  try {
    target = new URL(String(url));
  } catch {
    throw new VigilOptionError('httpCheck(url)', 'an absolute http(s) URL', url);
  }
  if (target.protocol !== 'http:' && target.protocol !== 'https:') {
    throw new VigilOptionError('httpCheck(url)', 'an absolute http(s) URL', String(url));
  }
  const { scheduling, rest } = splitOptions('httpCheck', options, ['method', 'headers', 'expectStatus']);
  noLiveness('httpCheck', scheduling);
  const method =
    checkString('httpCheck(options).method', rest.method, /^[A-Z]+$/, 'an upper-case HTTP method') ?? 'GET';
  const headersIn = checkObject('httpCheck(options).headers', rest.headers);
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(headersIn)) {
    headers[k] = checkString(`httpCheck(options).headers.${k}`, v) as string;
  }
  const expectStatus =
    checkFunction<(s: number) => boolean>('httpCheck(options).expectStatus', rest.expectStatus) ??
    ((s: number) => s >= 200 && s < 400);
  const href = target.href;
  return {
    ...scheduling,
    dependency: true,
    componentType: 'component',
    async check({ signal }: CheckContext) {
      const res = await fetch(href, { method, headers, signal, redirect: 'manual' });
      // Free the connection for reuse without reading a possibly large body.
      await res.body?.cancel().catch(() => undefined);
      if (!expectStatus(res.status)) return { status: 'fail', output: `HTTP ${res.status}` };
      return { status: 'pass', observedValue: res.status, observedUnit: 'status' };
    },
  };
}
