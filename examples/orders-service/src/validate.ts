/**
 * Input checks with messages that name the field. Hand-written on purpose: three integers do not
 * need a validation library, and the messages stay exactly as documented in the README.
 */

export type Result<T> = { ok: true; value: T } | { ok: false; error: string };

export interface OrderInput {
  user_id: number;
  product_id: number;
  quantity: number;
}

const MAX_INT = 2_147_483_647; // PostgreSQL integer
const FIELDS: readonly [keyof OrderInput, number, number][] = [
  ['user_id', 1, MAX_INT],
  ['product_id', 1, MAX_INT],
  ['quantity', 1, 1_000_000],
];
const KNOWN = new Set(FIELDS.map(([f]) => f as string));

export function parseOrder(body: unknown): Result<OrderInput> {
  if (typeof body !== 'object' || body === null || Array.isArray(body))
    return { ok: false, error: 'request body must be a JSON object' };
  const input = body as Record<string, unknown>;
  const unknown = Object.keys(input).find((k) => !KNOWN.has(k));
  if (unknown !== undefined) return { ok: false, error: `unknown field "${unknown.slice(0, 50)}"` };
  const out: Partial<OrderInput> = {};
  for (const [field, min, max] of FIELDS) {
    const v = input[field];
    if (v === undefined) return { ok: false, error: `"${field}" is required` };
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max)
      return { ok: false, error: `"${field}" must be an integer from ${min} to ${max}` };
    out[field] = v;
  }
  return { ok: true, value: out as OrderInput };
}

/** A path id: a positive integer that fits PostgreSQL's integer. */
export function parseId(raw: string): Result<number> {
  const id = /^[1-9][0-9]{0,9}$/.test(raw) ? Number(raw) : Number.NaN;
  if (!(id <= MAX_INT)) return { ok: false, error: '"id" must be a positive integer' };
  return { ok: true, value: id };
}

/** `?limit` (1-100, default 20) and `?offset` (0 or more, default 0). */
export function parsePage(query: Record<string, unknown>): Result<{ limit: number; offset: number }> {
  const limit = intParam(query.limit, 'limit', 20, 1, 100);
  if (!limit.ok) return limit;
  const offset = intParam(query.offset, 'offset', 0, 0, MAX_INT);
  if (!offset.ok) return offset;
  return { ok: true, value: { limit: limit.value, offset: offset.value } };
}

function intParam(v: unknown, name: string, dflt: number, min: number, max: number): Result<number> {
  if (v === undefined) return { ok: true, value: dflt };
  const n = typeof v === 'string' && /^[0-9]{1,10}$/.test(v) ? Number(v) : Number.NaN;
  if (!(n >= min && n <= max))
    return { ok: false, error: `"${name}" must be an integer from ${min} to ${max}` };
  return { ok: true, value: n };
}

/** An Idempotency-Key: 1-200 visible ASCII characters (a UUID is typical). */
export function parseIdempotencyKey(raw: unknown): Result<string | undefined> {
  if (raw === undefined) return { ok: true, value: undefined };
  if (typeof raw !== 'string' || !/^[\x21-\x7e]{1,200}$/.test(raw))
    return { ok: false, error: '"Idempotency-Key" must be 1 to 200 visible ASCII characters' };
  return { ok: true, value: raw };
}
