// Types for the prom-client files this package loads directly (see prom.ts). prom-client 15 has
// no `exports` map, so these paths resolve in CommonJS and ESM; each file's `module.exports` is the
// class its index re-exports.
declare module 'prom-client/lib/gauge.js' {
  const Gauge: typeof import('prom-client').Gauge;
  export default Gauge;
}
declare module 'prom-client/lib/histogram.js' {
  const Histogram: typeof import('prom-client').Histogram;
  export default Histogram;
}
