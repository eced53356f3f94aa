import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  commandOf,
  dockerignored,
  type Instruction,
  readDockerfile,
  readDockerignore,
  EXAMPLE_IMAGES as SERVICES,
  splitOptions,
} from './dockerfile.js';

// Static checks of the example services' Dockerfiles (no Docker engine here), aimed at the reference
// guide's mistakes: curl in an alpine HEALTHCHECK, `yarn cache clean` after switching user, floating
// tags, no init process for signals.

const root = join(import.meta.dirname, '..', '..');
const ignore = readDockerignore(join(root, '.dockerignore'));
const rootPkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { packageManager: string };

const all = (ins: Instruction[], cmd: string) => ins.filter((i) => i.cmd === cmd);
const last = (ins: Instruction[], cmd: string) => all(ins, cmd).at(-1);

describe.each(Object.entries(SERVICES))('examples/%s/Dockerfile', (name, port) => {
  const path = join(root, 'examples', name, 'Dockerfile');
  const df = readDockerfile(path);
  const final = df.stages.at(-1)!;
  const ins = final.instructions;

  it('is multi-stage with every base image pinned to an exact version', () => {
    expect(df.stages.length).toBeGreaterThanOrEqual(2);
    for (const stage of df.stages) {
      if (df.stages.some((s) => s.name === stage.image)) continue; // FROM an earlier stage
      expect(stage.image, 'ARG substituted').not.toContain('$');
      const tag = /^[^@]+:([^@/]+)(@sha256:[0-9a-f]{64})?$/.exec(stage.image)?.[1];
      expect(tag, `${stage.image} has a tag`).toBeDefined();
      expect(tag).not.toBe('latest');
      expect(tag, `${stage.image}: major.minor.patch`).toMatch(/^v?\d+\.\d+\.\d+/);
    }
    // Node 20 or newer (the workspace's engines).
    expect(Number(/^node:(\d+)\./.exec(final.image)?.[1])).toBeGreaterThanOrEqual(20);
  });

  it('runs as a non-root user in the final stage and changes nothing after switching to it', () => {
    const users = all(ins, 'USER');
    expect(users.length).toBeGreaterThan(0);
    const user = (last(ins, 'USER')!.args.split(':')[0] as string).trim();
    expect(['root', '0', '']).not.toContain(user);
    const after = ins.slice(ins.indexOf(users[0]!));
    // The guide's `RUN yarn cache clean` after `USER nextjs` fails (no permission) or does nothing.
    expect(after.filter((i) => i.cmd === 'RUN').map((i) => i.args)).toEqual([]);
    for (const stage of df.stages) {
      const i = stage.instructions;
      const firstUser = i.findIndex((x) => x.cmd === 'USER');
      if (firstUser < 0) continue;
      for (const run of all(i.slice(firstUser), 'RUN')) expect(run.args).not.toMatch(/cache clean/);
    }
  });

  it('has a HEALTHCHECK on /livez with node itself, no curl or wget', () => {
    const hc = last(ins, 'HEALTHCHECK');
    expect(hc).toBeDefined();
    const { options, rest } = splitOptions(hc!.args);
    expect(rest.startsWith('CMD')).toBe(true);
    const command = commandOf(rest.slice(3));
    expect(command).toMatch(/^node -e /);
    expect(command).not.toMatch(/\b(curl|wget)\b/);
    expect(command).toContain('/livez');
    expect(command).toContain(`process.env.PORT || ${port}`);
    for (const key of ['interval', 'timeout', 'start-period', 'retries']) expect(options).toHaveProperty(key);
  });

  it('runs node under tini (installed in the final stage) and stops with SIGTERM', () => {
    const entry = JSON.parse(last(ins, 'ENTRYPOINT')!.args) as string[];
    expect(entry[0]).toMatch(/(^|\/)(tini|dumb-init)$/);
    const bin = (entry[0] as string).split('/').at(-1) as string;
    expect(
      all(ins, 'RUN').some((r) =>
        new RegExp(`apk add .*\\b${bin}\\b|apt-get install .*\\b${bin}\\b`).test(r.args),
      ),
    ).toBe(true);
    expect(JSON.parse(last(ins, 'CMD')!.args)).toEqual(['node', 'dist/server.js']);
    expect(last(ins, 'STOPSIGNAL')?.args).toBe('SIGTERM');
    const pkg = JSON.parse(readFileSync(join(root, 'examples', name, 'package.json'), 'utf8'));
    expect(pkg.scripts.start).toBe('node dist/server.js');
  });

  it('exposes and defaults to the contract port, in production mode', () => {
    expect(last(ins, 'EXPOSE')?.args).toBe(String(port));
    const env = all(ins, 'ENV')
      .map((e) => e.args)
      .join(' ');
    expect(env).toMatch(/\bNODE_ENV=production\b/);
    expect(env).toMatch(new RegExp(`\\bPORT=${port}\\b`));
  });

  it('carries OCI labels', () => {
    const labels = all(ins, 'LABEL')
      .map((l) => l.args)
      .join(' ');
    expect(labels).toContain(`org.opencontainers.image.title="${name}"`);
    for (const key of ['source', 'licenses', 'version', 'description']) {
      expect(labels).toContain(`org.opencontainers.image.${key}=`);
    }
  });

  it('builds this service with the pinned pnpm, from the lockfile, and deploys production deps only', () => {
    const runs = df.stages.flatMap((s) => all(s.instructions, 'RUN').map((r) => r.args));
    const pnpmVersion = rootPkg.packageManager.replace('pnpm@', '');
    expect(runs.some((r) => r.includes(`pnpm@${pnpmVersion}`))).toBe(true);
    expect(runs.some((r) => r.includes('pnpm install --frozen-lockfile') && r.includes(`"${name}..."`))).toBe(
      true,
    );
    expect(runs.some((r) => r.includes('run build') && r.includes(`"${name}..."`))).toBe(true);
    const deploy = runs.find((r) => / deploy /.test(r));
    expect(deploy).toContain(`--filter "${name}"`);
    expect(deploy).toContain('--prod');
    // Every --filter names this service or the workspace root ("vigil"): no copy-paste leftovers.
    const filters = [...runs.join(' ').matchAll(/--filter "?([\w@/-]+)(?:\.\.\.)?"?(?=\s|$)/g)];
    expect(filters.length).toBeGreaterThanOrEqual(4);
    for (const m of filters) expect(['vigil', name]).toContain(m[1]);
  });

  it('copies only sources that exist in the build context (the repository root)', () => {
    for (const stage of df.stages) {
      for (const copy of [...all(stage.instructions, 'COPY'), ...all(stage.instructions, 'ADD')]) {
        const { options, rest } = splitOptions(copy.args);
        if ('from' in options) continue;
        const parts = rest.startsWith('[') ? (JSON.parse(rest) as string[]) : rest.split(/\s+/);
        for (const src of parts.slice(0, -1)) {
          expect(existsSync(join(root, src)), src).toBe(true);
          if (src !== '.') expect(dockerignored(ignore, src), `${src} is not .dockerignored`).toBe(false);
        }
      }
    }
  });
});

describe('.dockerignore (the build context is the repository root)', () => {
  it('keeps what the build needs', () => {
    const needed = [
      'package.json',
      'pnpm-lock.yaml',
      'pnpm-workspace.yaml',
      'tsconfig.base.json',
      'packages/metrics/src/index.ts',
      'packages/metrics/package.json',
      'packages/metrics/tsup.config.ts',
      'bench/package.json', // a workspace member the lockfile lists
      'test/nest/nest11/package.json', // so are the Nest test fixtures
      'test/nest/nest12/package.json',
      ...Object.keys(SERVICES).flatMap((s) => [`examples/${s}/package.json`, `examples/${s}/src/server.ts`]),
    ];
    for (const path of needed) expect(dockerignored(ignore, path), path).toBe(false);
  });

  it('drops host installs, build output and everything unrelated', () => {
    const dropped = [
      'node_modules/.pnpm/x',
      'packages/metrics/node_modules/prom-client/index.js',
      'packages/metrics/dist/index.js',
      'examples/users-service/dist/server.js',
      'examples/users-service/node_modules/pg/package.json',
      '.git/HEAD',
      'bench/results/http-overhead.md',
      'docs/dashboards.md',
      'test/examples.test.ts',
      'test/nest/app.mjs',
      'test/nest/nest12/index.mjs',
    ];
    for (const path of dropped) expect(dockerignored(ignore, path), path).toBe(true);
  });
});
