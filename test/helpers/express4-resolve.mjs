// The resolve hook of express4-loader.mjs (module.register runs it off the main thread).
let express4;
let said = false;

export function initialize(url) {
  express4 = url;
}

export async function resolve(specifier, context, next) {
  if (specifier !== 'express') return next(specifier, context);
  // Printed once, so a test can tell the redirect happened.
  if (!said) {
    said = true;
    process.stderr.write(`express4-loader: express -> ${express4}\n`);
  }
  return { url: express4, format: 'commonjs', shortCircuit: true };
}
