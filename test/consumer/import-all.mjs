// (b) ESM: import every package; each resolves to its ESM build, exports the same names as
// require(), and the Fastify plugin has the same shape through import and require.

import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { isDeepStrictEqual } from 'node:util';
import helpers from './helpers.cjs';

const {
  packages,
  packageNames,
  check,
  ok,
  checkModule,
  exportNames,
  moduleKind,
  checkInstalledHere,
  pluginShape,
} = helpers;
const require = createRequire(import.meta.url);

helpers.runMain(async () => {
  for (const { name } of packages) {
    const file = fileURLToPath(import.meta.resolve(name));
    checkInstalledHere(name, file);
    check(moduleKind(file) === 'esm', `import '${name}' resolved to ${file}, which is not ESM`);
    const esm = await import(name);
    const names = checkModule(name, esm, 'import');
    const fromEsm = exportNames(esm).join(', ');
    const fromCjs = exportNames(require(name)).join(', ');
    check(fromEsm === fromCjs, `${name}: import gives [${fromEsm}] but require gives [${fromCjs}]`);
    ok(`import '${name}' -> ${file.slice(file.indexOf(name))} (${names.length} exports, same as require)`);
  }

  if (packageNames.has('@vigil/fastify')) {
    const esm = await import('@vigil/fastify');
    const cjs = require('@vigil/fastify');
    const a = pluginShape(esm.vigilMetrics);
    const b = pluginShape(cjs.vigilMetrics);
    check(
      isDeepStrictEqual(a, b),
      `fastify plugin differs: import ${JSON.stringify(a)} require ${JSON.stringify(b)}`,
    );
    check(a.type === 'function' && a.skipOverride === true, 'vigilMetrics is not a non-encapsulated plugin');
    check(isDeepStrictEqual(pluginShape(cjs.default), b), 'require(@vigil/fastify).default differs');
    ok(`@vigil/fastify plugin has the same shape via import and require (name ${a.displayName})`);
  }
});
