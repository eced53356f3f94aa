import { LABEL_VALUES } from '@vigil/catalog';

/** Standard methods keep their name; anything else collapses to `_OTHER` (OpenTelemetry semconv). */
const METHODS = new Map<string, string>(
  ['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'CONNECT', 'OPTIONS', 'TRACE', 'PATCH'].map((m) => [m, m]),
);

export function normalizeMethod(method: string | undefined): string {
  return (method !== undefined && METHODS.get(method)) || LABEL_VALUES.otherMethod;
}

/** Status codes as label strings, precomputed for 100..599; anything else becomes "other". */
const STATUS: string[] = [];
for (let i = 100; i < 600; i++) STATUS[i] = String(i);

export function statusLabel(code: number): string {
  return STATUS[code] ?? 'other';
}

/** Overflow sets keep only the status class ("5xx" still matches `status_code=~"5.."`). */
export function statusClass(status: string): string {
  const c = status.charCodeAt(0);
  return c >= 49 && c <= 53 && status.length === 3 ? `${status[0]}xx` : 'other';
}

/** Longest label value kept; longer values (which only misuse produces) are cut. */
export const MAX_LABEL_LENGTH = 200;

export function boundLabel(v: string): string {
  return v.length > MAX_LABEL_LENGTH ? v.slice(0, MAX_LABEL_LENGTH) : v;
}
