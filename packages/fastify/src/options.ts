/**
 * Keys Fastify itself reads from `register()` options; they are not the plugin's to validate.
 * `prefix` is Fastify's route prefix for the health and shutdown plugins, but the metric name
 * prefix of `vigilMetrics` (whose only route, the scrape endpoint, has its own option).
 */
export function withoutFastifyKeys<T extends object>(o: T, keepPrefix = false): T {
  const { prefix, logLevel: _l, logSerializers: _s, ...rest } = o as T & Record<string, unknown>;
  return (keepPrefix && prefix !== undefined ? { ...rest, prefix } : rest) as T;
}
