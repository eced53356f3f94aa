// `node --import <this file>`: the process's ESM `import 'express'` loads Express 4 (the `express4`
// devDependency of @vigil/express) instead, so an example written for Express runs unchanged on
// Express 4. For tests only.
import { createRequire, register } from 'node:module';
import { pathToFileURL } from 'node:url';

const express4 = createRequire(new URL('../../packages/express/package.json', import.meta.url)).resolve(
  'express4',
);
register(new URL('./express4-resolve.mjs', import.meta.url), { data: pathToFileURL(express4).href });
