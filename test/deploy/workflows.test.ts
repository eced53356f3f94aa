import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parse, parseAllDocuments } from 'yaml';
import { HEALTH_DEFAULTS } from '../../packages/health/dist/index.js';
import { haveTool } from '../helpers/env.js';

// The GitHub Actions workflows (Vigil's CI and release, and the deploy template for the example
// services): schema-valid, pinned, least-privilege, consistent with .ci/run and package.json, and
// the deploy job's shell steps run for real against a fake kubectl/npm on PATH.

const root = join(import.meta.dirname, '..', '..');
const FILES = {
  ci: '.github/workflows/ci.yml',
  release: '.github/workflows/release.yml',
  deploy: 'examples/ci/deploy.yml',
} as const;
const SERVICES = ['users-service', 'catalog-service', 'orders-service'];

type Dict = Record<string, any>;
interface Step extends Dict {
  name?: string;
  uses?: string;
  run?: string;
  with?: Dict;
  env?: Dict;
}
interface Job extends Dict {
  steps: Step[];
  permissions?: Dict | string;
  env?: Dict;
}
interface Workflow extends Dict {
  on: Dict;
  jobs: Record<string, Job>;
}

const text = (rel: string) => readFileSync(join(root, rel), 'utf8');
const load = (rel: string) => parse(text(rel)) as Workflow;
const wf = { ci: load(FILES.ci), release: load(FILES.release), deploy: load(FILES.deploy) };
const pkg = JSON.parse(text('package.json'));
const ciRun = text('.ci/run');
const PNPM_VERSION = /^pnpm@(\d+\.\d+\.\d+)$/.exec(pkg.packageManager)?.[1];
const kubectl = haveTool('kubectl', ['version', '--client']);

/** A GitHub expression as written in a workflow, `${{ e }}`. */
const expr = (e: string) => `\${{ ${e} }}`;
const jobs = (w: Workflow) => Object.entries(w.jobs);
const steps = (w: Workflow) => Object.values(w.jobs).flatMap((j) => j.steps ?? []);
const runScripts = (w: Workflow) => steps(w).flatMap((s) => (s.run ? [s.run] : []));
const step = (job: Job, name: string) => {
  const found = job.steps.find((s) => s.name === name);
  if (!found) throw new Error(`no step named "${name}"`);
  return found;
};

/** The `pnpm ...` command lines of a shell script, in order (comments dropped). */
const pnpmCommands = (script: string) =>
  script
    .split('\n')
    .map((l) => l.replace(/\s+#.*$/, '').trim())
    .filter((l) => /^pnpm\s/.test(l));

const tmp: string[] = [];
afterAll(() => {
  for (const dir of tmp) rmSync(dir, { recursive: true, force: true });
});
function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-workflows-'));
  tmp.push(dir);
  return dir;
}

/** Runs a step's script as GitHub's default `bash` shell does, with `bin` first on PATH. */
function runStep(script: string, env: Dict, bin?: string) {
  const vars: Record<string, string> = {};
  for (const [k, v] of Object.entries(env)) vars[k] = String(v);
  const path = bin ? `${bin}:${process.env.PATH}` : (process.env.PATH as string);
  return spawnSync('bash', ['--noprofile', '--norc', '-eo', 'pipefail', '-c', script], {
    env: { ...process.env, ...vars, PATH: path },
    encoding: 'utf8',
    timeout: 90_000,
  });
}

describe.each(Object.entries(FILES))('%s (%s)', (key, rel) => {
  const w = wf[key as keyof typeof wf];

  it('passes action-validator (the workflow JSON schema)', () => {
    const r = spawnSync(join(root, 'node_modules/.bin/action-validator'), [rel], {
      cwd: root,
      encoding: 'utf8',
    });
    expect(r.stdout + r.stderr).toBe('');
    expect(r.status).toBe(0);
  });

  it('pins every action to a full commit SHA with a `# vX.Y.Z` comment', () => {
    // The rule (also in examples/ci/README.md): tags and branches can be moved, a SHA cannot; the
    // comment says which release it is, for people and for Dependabot/Renovate.
    const uses = [
      ...steps(w).flatMap((s) => (s.uses ? [s.uses] : [])),
      ...Object.values(w.jobs).flatMap((j) => (j.uses ? [j.uses] : [])),
    ];
    expect(uses.length).toBeGreaterThan(0);
    const lines = text(rel).split('\n');
    for (const u of uses) {
      if (u.startsWith('./')) continue;
      expect(u, u).toMatch(/^[\w.-]+\/[\w./-]+@[0-9a-f]{40}$/);
      const written = lines.filter((l) => l.includes(`uses: ${u}`));
      expect(written.length, u).toBeGreaterThan(0);
      for (const line of written) expect(line, line).toMatch(/ # v\d+\.\d+\.\d+$/);
    }
  });

  it('pins service container images to an exact version', () => {
    for (const job of Object.values(w.jobs)) {
      for (const svc of Object.values((job.services ?? {}) as Dict)) {
        expect(svc.image).toMatch(/^[\w./-]+:\d+\.\d+(\.\d+)?(-[\w.]+)?$|@sha256:[0-9a-f]{64}$/);
      }
    }
  });

  it('has least-privilege permissions: read-only at the top, writes only in named jobs', () => {
    expect(w.permissions).toBeTypeOf('object');
    expect(Object.values(w.permissions)).not.toContain('write');
    const writes: Record<string, string[]> = {};
    for (const [name, job] of jobs(w)) {
      const perms = job.permissions ?? w.permissions;
      expect(perms, `${name}: a permissions map, never write-all/read-all`).toBeTypeOf('object');
      const granted = Object.entries(perms as Dict).filter(([, v]) => v === 'write');
      if (granted.length > 0) writes[name] = granted.map(([k]) => k).sort();
    }
    const expected: Record<keyof typeof FILES, Record<string, string[]>> = {
      ci: {},
      release: { release: ['contents', 'id-token', 'pull-requests'] },
      deploy: { build: ['packages'] },
    };
    expect(writes).toEqual(expected[key as keyof typeof FILES]);
  });

  it('sets concurrency per ref and a timeout on every job', () => {
    expect(w.concurrency.group).toContain('github.ref');
    for (const [name, job] of jobs(w)) expect(job['timeout-minutes'], name).toBeGreaterThan(0);
  });

  it('keeps GitHub expressions out of run scripts (values go through env, never into shell code)', () => {
    for (const script of runScripts(w)) expect(script).not.toMatch(/\$\{\{/);
  });

  it('installs the pnpm version of package.json "packageManager" and a Node version the engines allow', () => {
    expect(PNPM_VERSION).toBeDefined();
    const minNode = Number(/^>=\s*(\d+)/.exec(pkg.engines.node)?.[1]);
    expect(minNode).toBeGreaterThanOrEqual(20);
    for (const job of Object.values(w.jobs)) {
      if (!job.steps.some((s) => s.run && /(^|\n)\s*pnpm\s/.test(s.run))) continue;
      const setup = job.steps.filter((s) => s.uses?.startsWith('pnpm/action-setup@'));
      expect(setup).toHaveLength(1);
      // No `version` input: the action then reads packageManager (and fails when both are set).
      expect(setup[0]?.with?.version).toBeUndefined();
      const node = job.steps.find((s) => s.uses?.startsWith('actions/setup-node@'));
      const spec = String(node?.with?.['node-version']);
      const versions = spec.includes('matrix.node') ? job.strategy.matrix.node : [spec];
      for (const v of versions) expect(Number(String(v).split('.')[0])).toBeGreaterThanOrEqual(minNode);
      // pnpm/action-setup must come first so setup-node can cache the pnpm store.
      expect(job.steps.indexOf(setup[0] as Step)).toBeLessThan(job.steps.indexOf(node as Step));
      expect(node?.with?.cache).toBe('pnpm');
    }
    // .ci/run installs the same pnpm with npm.
    expect(/npm i -g pnpm@(\S+)/.exec(ciRun)?.[1]).toBe(PNPM_VERSION);
  });
});

describe('ci.yml', () => {
  const job = wf.ci.jobs.test as Job;

  it('runs on pushes to main and on pull requests, cancelling superseded PR runs only', () => {
    expect(wf.ci.on.push.branches).toEqual(['main']);
    expect(wf.ci.on).toHaveProperty('pull_request');
    expect(wf.ci.permissions).toEqual({ contents: 'read' });
    expect(wf.ci.concurrency['cancel-in-progress']).toBe(expr("github.event_name == 'pull_request'"));
  });

  it('runs the same pnpm commands as .ci/run, in the same order, with CI=true', () => {
    const commands = pnpmCommands(ciRun);
    expect(commands).toEqual([
      'pnpm install --frozen-lockfile',
      'pnpm lint',
      'pnpm build',
      'pnpm typecheck',
      'pnpm check:generated',
      'pnpm check:api',
      'pnpm check:packages',
      'pnpm check:consumer',
      'pnpm test',
      'pnpm test:node 22',
      'pnpm test:node 24',
    ]);
    // .ci/run's `test:node <major>` runs are the workflow's Node matrix: one machine, three Nodes.
    const expected = commands.filter((c) => !c.startsWith('pnpm test:node '));
    expect(runScripts(wf.ci).flatMap(pnpmCommands)).toEqual(expected);
    const majors = commands
      .filter((c) => c.startsWith('pnpm test:node '))
      .map((c) => Number(c.split(' ')[2]));
    expect(job.strategy.matrix.node).toEqual([20, ...majors]);
    for (const cmd of expected.slice(1)) expect(pkg.scripts).toHaveProperty(cmd.split(' ')[1] as string);
    expect(job.env?.CI).toBe(true);
  });

  it('installs the Debian packages .ci/run installs, and tests on Node 20, 22 and 24', () => {
    // Chromium: GitHub's Ubuntu images ship Google Chrome (Ubuntu's chromium package is a snap
    // shim), and the workflow points the browser tests at it.
    const aptCi = /APT_PKGS="([^"]+)"/
      .exec(ciRun)?.[1]
      ?.split(/\s+/)
      .filter((p) => p !== 'chromium')
      .sort();
    expect(runScripts(wf.ci).join('\n')).toContain('CHROMIUM_PATH=$(command -v google-chrome)');
    const line = runScripts(wf.ci)
      .join('\n')
      .split('\n')
      .find((l) => l.includes('apt-get install'));
    const aptWf = line
      ?.replace(/.*apt-get install/, '')
      .split(/\s+/)
      .filter((w) => w && !w.startsWith('-'))
      .sort();
    expect(aptWf).toEqual(aptCi);
    expect(job.strategy.matrix.node).toEqual([20, 22, 24]);
  });

  it('provides PostgreSQL (trust, database test), Redis, MariaDB and RabbitMQ with health checks, where the tests look', () => {
    const { postgres, redis, mariadb, rabbitmq } = job.services;
    expect(rabbitmq.ports).toEqual(['5672:5672']);
    expect(rabbitmq.options).toContain('--health-cmd "rabbitmq-diagnostics -q check_port_listener 5672"');
    expect(mariadb.env).toMatchObject({ MARIADB_ALLOW_EMPTY_ROOT_PASSWORD: '1', MARIADB_DATABASE: 'test' });
    expect(mariadb.ports).toEqual(['3306:3306']);
    expect(mariadb.options).toContain('--health-cmd');
    // .ci/run starts the same four on the machine when they are down.
    for (const probe of [
      'pg_isready',
      'redis-cli -h 127.0.0.1 ping',
      'mariadb-admin -h 127.0.0.1 -uroot ping',
      'rabbitmq-diagnostics -q ping',
      'rabbitmq-server -detached',
    ]) {
      expect(ciRun).toContain(probe);
    }
    expect(postgres.env).toMatchObject({ POSTGRES_HOST_AUTH_METHOD: 'trust', POSTGRES_DB: 'test' });
    expect(postgres.ports).toEqual(['5432:5432']);
    expect(postgres.options).toContain('--health-cmd "pg_isready');
    expect(redis.ports).toEqual(['6379:6379']);
    expect(redis.options).toContain('--health-cmd "redis-cli ping"');
    expect(job.env?.VIGIL_TEST_DATABASE_URL).toBe('postgres://postgres@127.0.0.1:5432/test');
  });
});

describe('release.yml', () => {
  const job = wf.release.jobs.release as Job;
  const changesets = job.steps.find((s) => s.uses?.startsWith('changesets/action@')) as Step;

  it('runs on pushes to main only, one at a time, never cancelled, and not in forks', () => {
    expect(Object.keys(wf.release.on)).toEqual(['push']);
    expect(wf.release.on.push.branches).toEqual(['main']);
    expect(wf.release.permissions).toEqual({});
    expect(wf.release.concurrency['cancel-in-progress']).toBe(false);
    expect(job.if).toBe("github.repository == 'vigil-observability/vigil'");
    // The repository packages' provenance points at (npm checks it against the signing workflow).
    const repo = JSON.parse(text('packages/metrics/package.json')).repository.url;
    expect(repo).toContain('github.com/vigil-observability/vigil');
  });

  it('installs and builds before changesets/action versions or publishes', () => {
    const cmds = job.steps.map((s) => s.run ?? s.uses ?? '');
    const at = (prefix: string) => cmds.findIndex((c) => c.startsWith(prefix));
    expect(at('pnpm install --frozen-lockfile')).toBeGreaterThan(-1);
    expect(at('pnpm build')).toBeGreaterThan(at('pnpm install'));
    expect(at('changesets/action@')).toBeGreaterThan(at('pnpm build'));
  });

  it('publishes with provenance and the NPM_TOKEN secret, through commands that exist', () => {
    expect(changesets.env).toMatchObject({
      GITHUB_TOKEN: expr('secrets.GITHUB_TOKEN'),
      NPM_TOKEN: expr('secrets.NPM_TOKEN'),
      NPM_CONFIG_PROVENANCE: true,
    });
    for (const input of ['version', 'publish']) {
      const cmd = String(changesets.with?.[input]);
      // The action runs the command without a shell: `&&`, `;` and `|` would be arguments.
      expect(cmd).not.toMatch(/&&|;|\|/);
      const [bin, script, sub] = cmd.split(' ');
      expect(bin).toBe('pnpm');
      expect(pkg.scripts[script as string]).toBe('changeset');
      expect(sub).toBe(input);
    }
  });

  it('fails when a published version has no provenance attestation', () => {
    const check = step(job, 'Published versions carry provenance');
    expect(check.if).toBe("steps.changesets.outputs.published == 'true'");
    expect(changesets.id).toBe('changesets');
    const bin = tempDir();
    // A fake npm: `npm view <spec> dist.attestations --json` prints nothing for *-noprov specs.
    writeFileSync(
      join(bin, 'npm'),
      '#!/usr/bin/env bash\ncase "$2" in *-noprov) ;; *) echo \'{"url":"https://registry/attestations"}\' ;; esac\n',
    );
    chmodSync(join(bin, 'npm'), 0o755);
    const published = (versions: string[]) =>
      JSON.stringify(versions.map((version) => ({ name: '@vigil/metrics', version })));
    const ok = runStep(check.run as string, { PUBLISHED: published(['0.2.0', '0.3.0']) }, bin);
    expect(ok.status, ok.stderr).toBe(0);
    expect(ok.stdout).toContain('@vigil/metrics@0.3.0: provenance ok');
    const bad = runStep(check.run as string, { PUBLISHED: published(['0.2.0', '0.3.0-noprov']) }, bin);
    expect(bad.status).not.toBe(0);
    expect(bad.stdout).toContain('::error::@vigil/metrics@0.3.0-noprov was published without a provenance');
  });
});

describe('deploy.yml (template)', () => {
  const { test: testJob, build, deploy } = wf.deploy.jobs as Record<string, Job>;
  const deployEnv = deploy?.env as Dict;
  const SHA = '0123456789abcdef0123456789abcdef01234567';

  it('tests and builds each example service, pushes only from main, deploys only from main', () => {
    expect(testJob?.strategy.matrix.service).toEqual(SERVICES);
    expect(build?.strategy.matrix.service).toEqual(SERVICES);
    expect(String(deployEnv.SERVICES).split(' ')).toEqual(SERVICES);
    const onMain = "github.event_name == 'push' && github.ref == 'refs/heads/main'";
    const push = build?.steps.find((s) => s.uses?.startsWith('docker/build-push-action@')) as Step;
    const login = build?.steps.find((s) => s.uses?.startsWith('docker/login-action@')) as Step;
    expect(push.with?.push).toBe(expr(onMain));
    expect(login.if).toBe(onMain);
    expect(login.with).toMatchObject({ registry: 'ghcr.io', password: expr('secrets.GITHUB_TOKEN') });
    expect(deploy?.if).toBe(onMain);
    expect(deploy?.needs).toEqual(['test', 'build']);
    expect(testJob?.services.postgres.env).toMatchObject({ POSTGRES_HOST_AUTH_METHOD: 'trust' });
    expect(testJob?.services.redis.options).toContain('--health-cmd');
  });

  it('builds from the repository root with each service Dockerfile, gha cache scoped per service', () => {
    const push = build?.steps.find((s) => s.uses?.startsWith('docker/build-push-action@')) as Step;
    expect(build?.steps.some((s) => s.uses?.startsWith('docker/setup-buildx-action@'))).toBe(true);
    expect(push.with?.context).toBe('.');
    expect(push.with?.tags).toBe(`${expr('steps.image.outputs.name')}:${expr('github.sha')}`);
    expect(push.with?.['cache-from']).toBe(`type=gha,scope=${expr('matrix.service')}`);
    expect(push.with?.['cache-to']).toBe(`type=gha,mode=max,scope=${expr('matrix.service')}`);
    for (const svc of SERVICES) {
      const file = String(push.with?.file).replace(expr('matrix.service'), svc);
      expect(existsSync(join(root, file)), `${file} exists`).toBe(true);
    }
  });

  it('deploys through a protected environment, one at a time, never cancelled', () => {
    expect(deploy?.environment).toEqual({ name: 'production' });
    expect(deploy?.concurrency).toEqual({ group: 'deploy-production', 'cancel-in-progress': false });
    expect(deployEnv.IMAGE_TAG).toBe(expr('github.sha'));
    const creds = step(deploy as Job, 'Cluster credentials');
    expect(creds.env?.KUBE_CONFIG).toBe(expr('secrets.KUBE_CONFIG'));
    for (const svc of SERVICES) expect(deployEnv.SERVICES).toContain(svc);
    expect(step(deploy as Job, 'Wait for the rollouts').run).toMatch(
      /kubectl -n "\$K8S_NAMESPACE" rollout status "deployment\/\$svc" --timeout="\$ROLLOUT_TIMEOUT"/,
    );
  });

  it.runIf(kubectl)(
    'renders the prod overlay with the pushed images (same name and SHA tag as the build job)',
    () => {
      expect(existsSync(join(root, deployEnv.OVERLAY, 'kustomization.yaml'))).toBe(true);
      const tempRoot = tempDir();
      const env = {
        ...deployEnv,
        GITHUB_WORKSPACE: root,
        RUNNER_TEMP: tempRoot,
        OWNER: 'Acme-Org',
        IMAGE_TAG: SHA,
      };
      const r = runStep(
        step(deploy as Job, "Render the prod overlay with this commit's images").run as string,
        env,
      );
      expect(r.status, r.stderr).toBe(0);
      const docs = parseAllDocuments(readFileSync(join(tempRoot, 'deploy', 'rendered.yaml'), 'utf8')).map(
        (d) => d.toJS() as Dict,
      );
      for (const svc of SERVICES) {
        // The name the build job pushes, from the same step script.
        const out = join(tempRoot, `image-${svc}`);
        writeFileSync(out, '');
        const image = step(build as Job, 'Image name').run as string;
        expect(runStep(image, { OWNER: 'Acme-Org', SERVICE: svc, GITHUB_OUTPUT: out }).status).toBe(0);
        const pushed = `${readFileSync(out, 'utf8')
          .trim()
          .replace(/^name=/, '')}:${SHA}`;
        expect(pushed).toBe(`ghcr.io/acme-org/vigil-${svc}:${SHA}`);

        const d = docs.find((x) => x?.kind === 'Deployment' && x.metadata?.name === svc);
        expect(d, `Deployment ${svc} in the prod overlay`).toBeDefined();
        expect(d?.metadata.namespace).toBe(deployEnv.K8S_NAMESPACE);
        const [app] = d?.spec.template.spec.containers ?? [];
        expect(app.image).toBe(pushed);
        // The smoke test port-forwards to this port.
        expect(app.ports?.[0]?.containerPort).toBeGreaterThan(0);
      }
    },
  );

  it('smoke-tests Vigil probe paths: liveness and readiness', () => {
    const { liveness, readiness, startup } = HEALTH_DEFAULTS.paths;
    const vigil = new Set<string>([...liveness, ...readiness, ...startup]);
    const scripts = [
      step(deploy as Job, 'Smoke test /health and /ready').run as string,
      step(testJob as Job, 'Boots against PostgreSQL and Redis and reports ready').run as string,
    ];
    for (const script of scripts) {
      const paths = [...script.matchAll(/http:\/\/127\.0\.0\.1:[^/\s"]+(\/[\w/]*)/g)].map(
        (m) => m[1] as string,
      );
      expect(paths.length).toBeGreaterThan(0);
      for (const p of paths) expect(vigil.has(p), p).toBe(true);
      expect(paths.some((p) => liveness.includes(p))).toBe(true);
      expect(paths.some((p) => readiness.includes(p))).toBe(true);
    }
  });

  /** A fake kubectl on PATH: logs its arguments, answers revisions and ports, serves probes. */
  function fakeKubectl(revisions: Record<string, string>, readyStatus = 200) {
    const bin = tempDir();
    const log = join(bin, 'calls.log');
    writeFileSync(log, '');
    writeFileSync(
      join(bin, 'kubectl'),
      `#!/usr/bin/env node
const { appendFileSync } = require('node:fs');
const http = require('node:http');
const args = process.argv.slice(2);
appendFileSync(${JSON.stringify(log)}, args.join(' ') + '\\n');
const at = args.indexOf('deployment');
const svc = at >= 0 ? args[at + 1] : (args.find((a) => a.startsWith('deployment/')) ?? '').slice(11);
const revisions = ${JSON.stringify(revisions)};
if (args.includes('port-forward')) {
  const remote = args[args.length - 1].split(':')[1];
  const server = http.createServer((req, res) => {
    res.statusCode = req.url === '/health' ? 200 : req.url === '/ready' ? ${readyStatus} : 404;
    res.end(req.url + ' ' + res.statusCode);
  });
  server.listen(0, '127.0.0.1', () => {
    console.log('Forwarding from 127.0.0.1:' + server.address().port + ' -> ' + remote);
    console.log('Forwarding from [::1]:' + server.address().port + ' -> ' + remote);
  });
} else if (args.some((a) => a.includes('containerPort'))) {
  process.stdout.write('3001');
} else if (args.some((a) => a.includes('revision'))) {
  if (!(svc in revisions)) { process.stderr.write('NotFound\\n'); process.exit(1); }
  process.stdout.write(revisions[svc]);
}
`,
    );
    chmodSync(join(bin, 'kubectl'), 0o755);
    return { bin, calls: () => readFileSync(log, 'utf8').trim().split('\n') };
  }

  it('smoke test passes on healthy services and fails when /ready fails', () => {
    const script = step(deploy as Job, 'Smoke test /health and /ready').run as string;
    const good = fakeKubectl({});
    const env = { ...deployEnv, RUNNER_TEMP: tempDir() };
    const ok = runStep(script, env, good.bin);
    expect(ok.status, ok.stdout + ok.stderr).toBe(0);
    for (const svc of SERVICES) expect(ok.stdout).toContain(`${svc}: /health and /ready OK`);
    expect(good.calls()).toContain('-n vigil port-forward deployment/users-service :3001');

    const failing = fakeKubectl({}, 503);
    const bad = runStep(script, { ...env, SERVICES: 'users-service' }, failing.bin);
    expect(bad.status).not.toBe(0);
    expect(bad.stdout).toContain('::error::users-service failed its smoke test');
  });

  it('rolls back on failure only what this run changed, to the recorded revision', () => {
    const record = step(deploy as Job, 'Record current revisions');
    const rollback = step(deploy as Job, 'Roll back on failure');
    expect(rollback.if).toBe("failure() && steps.apply.outcome != 'skipped'");
    expect(step(deploy as Job, 'Apply').id).toBe('apply');
    const steps = (deploy as Job).steps;
    expect(steps.indexOf(record)).toBeLessThan(steps.findIndex((s) => s.id === 'apply'));

    const runnerTemp = tempDir();
    const env = { ...deployEnv, RUNNER_TEMP: runnerTemp };
    // Before apply: users at 3, catalog at 5, orders not deployed yet.
    const before = fakeKubectl({ 'users-service': '3', 'catalog-service': '5' });
    expect(runStep(record.run as string, env, before.bin).status).toBe(0);
    // After a failed rollout: users and orders changed, catalog did not.
    const after = fakeKubectl({ 'users-service': '4', 'catalog-service': '5', 'orders-service': '1' });
    const r = runStep(rollback.run as string, env, after.bin);
    expect(r.status, r.stderr).toBe(0);
    const mutations = after.calls().filter((c) => c.includes('rollout'));
    expect(mutations).toEqual([
      '-n vigil rollout undo deployment/users-service --to-revision=3',
      '-n vigil rollout status deployment/users-service --timeout=5m',
    ]);
    expect(r.stdout).toContain('catalog-service: unchanged (revision 5)');
    expect(r.stdout).toContain('::warning::orders-service had no previous revision');
  });
});
