import type pg from 'pg';

export type ReserveOutcome =
  | { kind: 'reserved'; product_id: number; quantity: number; stock: number; replayed: boolean }
  | { kind: 'not_found' }
  | { kind: 'insufficient' }
  | { kind: 'key_reused' };

interface Reservation {
  product_id: number;
  quantity: number;
  stock_after: number;
}

const UNIQUE_VIOLATION = '23505';

/**
 * Decrement and record in ONE statement, so it is atomic without an explicit transaction and holds
 * the product's row lock for a single round trip. The conditional UPDATE (`stock >= quantity`) is
 * what prevents overselling: concurrent reservations queue on the row lock and each sees the stock
 * the previous one left. A duplicate idempotency key fails the INSERT, which undoes the UPDATE too.
 */
const RESERVE = `
  WITH taken AS (
    UPDATE products SET stock = stock - $2 WHERE id = $1 AND stock >= $2 RETURNING stock
  )
  INSERT INTO reservations (idempotency_key, product_id, quantity, stock_after)
  SELECT $3, $1, $2, stock FROM taken
  RETURNING stock_after`;

/**
 * Takes `quantity` from a product's stock, at most once per idempotency key: a repeated key gets
 * the first result back (`replayed`) without touching the stock. Failed reservations store
 * nothing, so retrying them later with the same key tries again.
 */
export async function reserve(
  pool: pg.Pool,
  productId: number,
  quantity: number,
  key: string | undefined,
): Promise<ReserveOutcome> {
  const replay = async (): Promise<ReserveOutcome | undefined> => {
    if (key === undefined) return undefined;
    const { rows } = await pool.query<Reservation>(
      'SELECT product_id, quantity, stock_after FROM reservations WHERE idempotency_key = $1',
      [key],
    );
    const r = rows[0];
    if (r === undefined) return undefined;
    if (r.product_id !== productId || r.quantity !== quantity) return { kind: 'key_reused' };
    return { kind: 'reserved', product_id: productId, quantity, stock: r.stock_after, replayed: true };
  };

  const earlier = await replay();
  if (earlier) return earlier;
  try {
    const { rows } = await pool.query<{ stock_after: number }>(RESERVE, [productId, quantity, key ?? null]);
    const stock = rows[0]?.stock_after;
    if (stock !== undefined)
      return { kind: 'reserved', product_id: productId, quantity, stock, replayed: false };
  } catch (err) {
    if ((err as { code?: unknown }).code !== UNIQUE_VIOLATION) throw err;
    // A concurrent request with the same key committed first: answer as it did.
    return (await replay()) ?? { kind: 'key_reused' };
  }
  // Nothing taken. A concurrent request with this key may have taken the last stock a moment ago.
  const concurrent = await replay();
  if (concurrent) return concurrent;
  const exists = await pool.query('SELECT 1 FROM products WHERE id = $1', [productId]);
  return exists.rowCount === 0 ? { kind: 'not_found' } : { kind: 'insufficient' };
}
