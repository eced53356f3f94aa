// The resolve hook of express4-loader.mjs (module.register runs it off the main thread).
let express4;
let port;
let said = false;

export function initialize(data) {
  express4 = data.url;
  port = data.port;
}

export async function resolve(specifier, context, next) {
  if (specifier !== 'express') return next(specifier, context);
  if (!said) {
    said = true;
    port.postMessage(express4);
  }
  return { url: express4, format: 'commonjs', shortCircuit: true };
}
