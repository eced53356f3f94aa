// `node --import <this file>`: the process's ESM `import 'express'` loads Express 4 (the `express4`
// devDependency of @vigil/express) instead, so an example written for Express runs unchanged on
// Express 4. For tests only.
import { createRequire, register } from 'node:module';
import { pathToFileURL } from 'node:url';
import { MessageChannel } from 'node:worker_threads';

const express4 = createRequire(new URL('../../packages/express/package.json', import.meta.url)).resolve(
  'express4',
);
// The hook runs off the main thread (where Node 24 does not forward its stderr): it reports the
// redirect here, and this thread prints it once, so a test can tell the redirect happened.
const { port1, port2 } = new MessageChannel();
port1.on('message', (url) => process.stderr.write(`express4-loader: express -> ${url}\n`));
port1.unref();
register(new URL('./express4-resolve.mjs', import.meta.url), {
  data: { url: pathToFileURL(express4).href, port: port2 },
  transferList: [port2],
});
