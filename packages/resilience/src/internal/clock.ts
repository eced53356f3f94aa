/**
 * The default monotonic clock, in ms. `process.hrtime()` is cheaper than `performance.now()` on
 * Node 20 (which wraps it), and a breaker call reads the clock twice.
 */
export function monotonicNow(): number {
  const t = process.hrtime();
  return t[0] * 1e3 + t[1] / 1e6;
}
