'use strict';
// (a) CommonJS: require() every package; each resolves to its CommonJS build and has its exports.

const { readFileSync } = require('node:fs');
const path = require('node:path');
const {
  packages,
  check,
  ok,
  checkModule,
  moduleKind,
  checkInstalledHere,
  runMain,
} = require('./helpers.cjs');

runMain(async () => {
  for (const { name, version } of packages) {
    const file = require.resolve(name);
    checkInstalledHere(name, file);
    // Node 20.19+ can require() ESM too, so "require() worked" alone would not prove a CJS build.
    check(moduleKind(file) === 'cjs', `require('${name}') resolved to ${file}, which is not CommonJS`);
    const manifest = JSON.parse(
      readFileSync(path.join(__dirname, 'node_modules', name, 'package.json'), 'utf8'),
    );
    check(manifest.version === version, `${name}: installed ${manifest.version}, packed ${version}`);
    const names = checkModule(name, require(name), 'require');
    ok(`require('${name}') -> ${file.slice(file.indexOf(name))} (${names.length} exports)`);
  }
});
