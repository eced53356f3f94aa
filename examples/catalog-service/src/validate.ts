import type { FastifySchemaValidationError } from 'fastify';

/**
 * Bodies are checked by Fastify's JSON schemas (below); this turns Ajv's errors into messages that
 * name the field, in the same words as the other example services.
 */
export function formatSchemaErrors(errors: FastifySchemaValidationError[], dataVar: string): Error {
  const e = errors[0];
  if (e === undefined) return new Error(`invalid ${dataVar}`);
  const params = e.params as Record<string, unknown>;
  const field = e.instancePath.replace(/^\//, '').replaceAll('/', '.');
  if (e.keyword === 'required') return new Error(`"${String(params.missingProperty)}" is required`);
  if (e.keyword === 'additionalProperties')
    return new Error(`unknown field "${String(params.additionalProperty).slice(0, 50)}"`);
  if (field === '' && e.keyword === 'type') return new Error(`request ${dataVar} must be a JSON object`);
  if (field === '') return new Error(`request ${dataVar} ${e.message ?? 'is invalid'}`);
  return new Error(`"${field}" ${e.message ?? 'is invalid'}`);
}

const MAX_INT = 2_147_483_647; // PostgreSQL integer

export const productBody = {
  type: 'object',
  required: ['sku', 'name', 'price_cents', 'stock'],
  additionalProperties: false,
  properties: {
    sku: { type: 'string', minLength: 1, maxLength: 64, pattern: '^[A-Za-z0-9][A-Za-z0-9._-]*$' },
    name: { type: 'string', minLength: 1, maxLength: 200 },
    price_cents: { type: 'integer', minimum: 0, maximum: MAX_INT },
    stock: { type: 'integer', minimum: 0, maximum: MAX_INT },
  },
} as const;

export const reserveBody = {
  type: 'object',
  required: ['quantity'],
  additionalProperties: false,
  properties: { quantity: { type: 'integer', minimum: 1, maximum: 1_000_000 } },
} as const;

export const chaosBody = {
  type: 'object',
  additionalProperties: false,
  properties: {
    errorRate: { type: 'number', minimum: 0, maximum: 1 },
    delayMs: { type: 'integer', minimum: 0, maximum: 10_000 },
  },
} as const;

export type Result<T> = { ok: true; value: T } | { ok: false; error: string };

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
