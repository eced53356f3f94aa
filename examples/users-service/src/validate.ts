/**
 * Input checks with messages that name the field. Hand-written on purpose: four fields do not need
 * a validation library, and the messages stay exactly as documented in the README.
 */

export type Result<T> = { ok: true; value: T } | { ok: false; error: string };

export interface UserInput {
  name: string;
  email: string;
}

const MAX_NAME = 100;
const MAX_EMAIL = 254; // RFC 5321 path limit
// Deliberately loose: one @, no spaces, a dot in the domain. Real validation is a confirmation mail.
const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;
const FIELDS = new Set(['name', 'email']);
const MAX_INT = 2_147_483_647; // PostgreSQL integer

function checkName(v: unknown): Result<string> {
  if (typeof v !== 'string') return { ok: false, error: '"name" must be a string' };
  const name = v.trim();
  if (name.length === 0 || name.length > MAX_NAME)
    return { ok: false, error: `"name" must be 1 to ${MAX_NAME} characters` };
  return { ok: true, value: name };
}

function checkEmail(v: unknown): Result<string> {
  if (typeof v !== 'string') return { ok: false, error: '"email" must be a string' };
  const email = v.trim();
  if (email.length > MAX_EMAIL || !EMAIL.test(email))
    return { ok: false, error: '"email" must be a valid email address' };
  return { ok: true, value: email };
}

/** POST: both fields required. PATCH (`partial`): at least one of them. Unknown fields are refused. */
export function parseUser(body: unknown, partial: false): Result<UserInput>;
export function parseUser(body: unknown, partial: true): Result<Partial<UserInput>>;
export function parseUser(body: unknown, partial: boolean): Result<Partial<UserInput>> {
  if (typeof body !== 'object' || body === null || Array.isArray(body))
    return { ok: false, error: 'request body must be a JSON object' };
  const input = body as Record<string, unknown>;
  const unknown = Object.keys(input).find((k) => !FIELDS.has(k));
  if (unknown !== undefined) return { ok: false, error: `unknown field "${unknown.slice(0, 50)}"` };
  const out: Partial<UserInput> = {};
  for (const [field, check] of [
    ['name', checkName],
    ['email', checkEmail],
  ] as const) {
    if (input[field] === undefined) {
      if (!partial) return { ok: false, error: `"${field}" is required` };
      continue;
    }
    const r = check(input[field]);
    if (!r.ok) return r;
    out[field] = r.value;
  }
  if (partial && Object.keys(out).length === 0)
    return { ok: false, error: 'request body must contain "name" or "email"' };
  return { ok: true, value: out };
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
