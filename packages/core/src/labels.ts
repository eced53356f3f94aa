/**
 * Fixed label values that stand in for unbounded or unknown input, and the normalisers that
 * produce them. Dashboards and alert rules match on these values (the catalog re-exports them), so
 * they are part of the public contract.
 */
export const LABEL_VALUES = Object.freeze({
  /** `route` of a request that matched no route (404s, scanners). */
  unmatchedRoute: '__unmatched__',
  /** `route` once a metric reached its series cap; the overflow counter says how often. */
  overflowRoute: '__overflow__',
  /** `method` for anything outside the standard HTTP methods (OpenTelemetry semconv's value). */
  otherMethod: '_OTHER',
  /**
   * `status_code` of a request the client aborted before the response was complete
   * (nginx's "client closed request"; a 4xx, so it never counts against availability).
   */
  abortedStatus: '499',
  /** A declared label (`httpLabels`) whose value is not one of its declared values. */
  otherValue: '_OTHER',
  /** `status_code` outside 100-599. */
  otherStatus: 'other',
  /** `operation` / `table` when the SQL text cannot be classified. */
  unknownSql: 'unknown',
  /** `outcome` of a database query: it resolved. */
  success: 'success',
  /** `outcome` of a database query: it threw. */
  error: 'error',
});

/** The aborted status as a number, for log lines (`status_code: 499`). */
export const ABORTED_STATUS = 499;

/** HTTP methods kept as they are (OpenTelemetry semconv's list); anything else is `_OTHER`. */
export const HTTP_METHODS = Object.freeze([
  'GET',
  'HEAD',
  'POST',
  'PUT',
  'DELETE',
  'CONNECT',
  'OPTIONS',
  'TRACE',
  'PATCH',
] as const);

const METHODS = new Map<string, string>(HTTP_METHODS.map((m) => [m, m]));

/** A request method as a bounded label value: a standard method, or `_OTHER`. */
export function normalizeMethod(method: string | undefined): string {
  return (method !== undefined && METHODS.get(method)) || LABEL_VALUES.otherMethod;
}

/** Whether `method` is one of the standard methods. */
export function isStandardMethod(method: string): boolean {
  return METHODS.has(method);
}

/** Status codes as label strings, precomputed for 100..599; anything else becomes "other". */
const STATUS: string[] = [];
for (let i = 100; i < 600; i++) STATUS[i] = String(i);

export function statusLabel(code: number): string {
  return STATUS[code] ?? LABEL_VALUES.otherStatus;
}

/** A status label's class ("503" -> "5xx"), for overflow sets; still matches `status_code=~"5.."`. */
export function statusClass(status: string): string {
  const c = status.charCodeAt(0);
  return c >= 49 && c <= 53 && status.length === 3 ? `${status[0]}xx` : LABEL_VALUES.otherStatus;
}

/** Longest label value kept; longer values (which only misuse produces) are cut. */
export const MAX_LABEL_LENGTH = 200;

export function boundLabel(v: string): string {
  return v.length > MAX_LABEL_LENGTH ? v.slice(0, MAX_LABEL_LENGTH) : v;
}
