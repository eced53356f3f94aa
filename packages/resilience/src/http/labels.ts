import { HTTP_CLIENT_STATUS } from '@vigil/catalog';
import { NAME_PATTERN, VigilOptionError } from '@vigil/core';
import { isTimeoutError } from '../errors.js';

/** The client's default name (its `target` label): the base URL's host and port. */
export function defaultName(url: URL): string {
  const raw = `${url.hostname.replace(/^\[|\]$/g, '')}${url.port ? `:${url.port}` : ''}`;
  const clean = raw
    .replace(/[^A-Za-z0-9_.:/-]/g, '_')
    .replace(/^[^A-Za-z0-9]+/, '')
    .slice(0, 100);
  return NAME_PATTERN.test(clean) ? clean : 'http-client';
}

/** `retryStatusCodes`: HTTP status codes, checked. */
export function checkStatusCodes(v: unknown): readonly number[] | undefined {
  if (v === undefined) return undefined;
  if (
    !Array.isArray(v) ||
    v.some((x) => typeof x !== 'number' || !Number.isInteger(x) || x < 100 || x > 599)
  ) {
    throw new VigilOptionError('retryStatusCodes', 'an array of HTTP status codes (100 to 599)', v);
  }
  return Object.freeze([...v]);
}

/** `status_code` of an attempt that got no HTTP status. */
export function errorLabel(e: unknown, signal: AbortSignal): string {
  if (isTimeoutError(e) || (signal.aborted && isTimeoutError(signal.reason)))
    return HTTP_CLIENT_STATUS.timeout;
  if (signal.aborted) return HTTP_CLIENT_STATUS.aborted;
  return HTTP_CLIENT_STATUS.error;
}

/** `error.type` span attribute of an attempt that got no HTTP status. */
export function errorType(e: unknown, signal: AbortSignal): string {
  const label = errorLabel(e, signal);
  if (label !== HTTP_CLIENT_STATUS.error) return label;
  const code = (e as { cause?: { code?: unknown } } | undefined)?.cause?.code;
  if (typeof code === 'string' && code.length <= 40) return code;
  return e instanceof Error ? e.name : 'error';
}
