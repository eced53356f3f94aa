// Types for the prom-client files Vigil loads directly (see prom.ts). prom-client 15 has no
// `exports` map, so these paths resolve in CommonJS and ESM; each file's `module.exports` is the
// class or function its index re-exports.
declare module 'prom-client/lib/registry.js' {
  const Registry: typeof import('prom-client').Registry;
  export default Registry;
}
declare module 'prom-client/lib/defaultMetrics.js' {
  const collectDefaultMetrics: typeof import('prom-client').collectDefaultMetrics;
  export default collectDefaultMetrics;
}
