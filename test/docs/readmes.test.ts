import { spawnSync } from 'node:child_process';
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

// What a new user reads first: the READMEs' snippets, install lines, changelog links and the
// published versions have to hold together.

const root = join(import.meta.dirname, '..', '..');
const PACKAGES = readdirSync(join(root, 'packages')).filter((p) =>
  existsSync(join(root, 'packages', p, 'package.json')),
);
const pkgJson = (p: string) => JSON.parse(readFileSync(join(root, 'packages', p, 'package.json'), 'utf8'));
const publishable = PACKAGES.filter((p) => pkgJson(p).private !== true);
const READMES = [
  'README.md',
  ...PACKAGES.map((p) => `packages/${p}/README.md`),
  ...readdirSync(join(root, 'examples'))
    .map((e) => `examples/${e}/README.md`)
    .filter((f) => existsSync(join(root, f))),
];
const read = (f: string) => readFileSync(join(root, f), 'utf8');

/** Fenced code blocks of a Markdown text. */
function fenced(md: string): string[] {
  return [...md.matchAll(/^```[^\n]*\n([\s\S]*?)^```/gm)].map((m) => m[1] as string);
}

/** Inline code spans of a Markdown text (outside fenced blocks). */
function inline(md: string): string[] {
  const prose = md.replace(/^```[^\n]*\n[\s\S]*?^```/gm, '');
  return [...prose.matchAll(/`([^`\n]+)`/g)].map((m) => m[1] as string);
}

/** Fenced code blocks and inline code spans of a Markdown text. */
function snippets(md: string): string[] {
  return [...fenced(md), ...inline(md)];
}

/** The argument text of each call `name(...)` in `code` (balanced parentheses). */
function calls(code: string, name: string): string[] {
  const out: string[] = [];
  let i = code.indexOf(`${name}(`);
  while (i >= 0) {
    let depth = 0;
    let j = i + name.length;
    for (; j < code.length; j++) {
      if (code[j] === '(') depth++;
      else if (code[j] === ')' && --depth === 0) break;
    }
    out.push(code.slice(i + name.length + 1, j));
    i = code.indexOf(`${name}(`, j);
  }
  return out;
}

describe('README snippets', () => {
  it('every snippet that creates health wires its metrics to the registry /metrics serves', () => {
    const problems: string[] = [];
    for (const f of READMES) {
      for (const s of snippets(read(f))) {
        for (const fn of ['createHealth', 'createExpressHealth']) {
          for (const args of calls(s, fn)) {
            // Prose naming the function (`createHealth(options)`, `createExpressHealth()`) is not a
            // snippet; in a code block even `createHealth()` is one.
            if ((args === 'options' || args === '') && !fenced(read(f)).some((b) => b.includes(s))) continue;
            if (!/\b(metrics|registry)\b/.test(args)) problems.push(`${f}: ${fn}(${args})`);
          }
        }
        // Fastify: vigilHealth joins the registry of a vigilMetrics registered before it.
        const health = s.indexOf('register(vigilHealth');
        if (health >= 0 && !s.slice(0, health).includes('register(vigilMetrics')) {
          // Prose may say it instead of a snippet ("registered after `vigilMetrics`").
          const line = read(f)
            .split('\n')
            .findIndex((l) => l.includes(s));
          const around = read(f)
            .split('\n')
            .slice(line, line + 3)
            .join(' ');
          if (!/after `vigilMetrics`/.test(around)) {
            problems.push(`${f}: register(vigilHealth) without register(vigilMetrics) before it`);
          }
        }
      }
    }
    expect(problems).toEqual([]);
  });

  it('no README snippet adds a shutdown hook for tracing: the shutdown flushes it by itself', () => {
    for (const f of READMES) {
      for (const block of fenced(read(f))) expect(block, f).not.toMatch(/addHook\(\s*['"]tracing['"]/);
    }
  });

  it('install commands have one form: npm install', () => {
    const problems: string[] = [];
    for (const f of READMES.filter((r) => r.startsWith('packages/'))) {
      for (const s of snippets(read(f))) {
        for (const line of s.split('\n')) {
          if (/^\s*(pnpm add|yarn add|npm i |npm add|bun add)/.test(line))
            problems.push(`${f}: ${line.trim()}`);
        }
      }
      expect(read(f), f).toMatch(/^npm install @vigil\//m);
    }
    expect(problems).toEqual([]);
  });
});

describe('changelogs and versions', () => {
  it('every package README links ./CHANGELOG.md, which exists and is published', () => {
    for (const p of PACKAGES) {
      expect(read(`packages/${p}/README.md`), p).toContain('(./CHANGELOG.md)');
      expect(read(`packages/${p}/CHANGELOG.md`), p).toMatch(new RegExp(`^# ${pkgJson(p).name}\\n`));
      expect(pkgJson(p).files, p).toContain('CHANGELOG.md');
    }
  });

  it('publishable packages share one version, and depend on each other through workspace:^', () => {
    const versions = new Set(publishable.map((p) => pkgJson(p).version));
    expect([...versions]).toHaveLength(1);
    expect([...versions][0]).not.toBe('0.0.0');
    for (const p of publishable) {
      const j = pkgJson(p);
      for (const [dep, range] of Object.entries((j.dependencies ?? {}) as Record<string, string>)) {
        if (dep.startsWith('@vigil/')) expect(range, `${p} dependencies ${dep}`).toBe('workspace:^');
      }
      // A peer on another Vigil package takes any version from the first one on (a minor release
      // of the peer must not force a major release here), and is linked for development.
      for (const [dep, range] of Object.entries((j.peerDependencies ?? {}) as Record<string, string>)) {
        if (!dep.startsWith('@vigil/')) continue;
        expect(range, `${p} peerDependencies ${dep}`).toMatch(/^>=\d+\.\d+\.\d+$/);
        expect((j.devDependencies as Record<string, string>)[dep], `${p} devDependencies ${dep}`).toBe(
          'workspace:^',
        );
      }
    }
  });

  describe('changeset version writes the changelogs', () => {
    const tmp = mkdtempSync(join(tmpdir(), 'vigil-changesets-'));
    afterAll(() => rmSync(tmp, { recursive: true, force: true }));

    it('into each bumped package, under its title, with the changeset text', () => {
      // A copy of the workspace's manifests, changelogs and changeset config, with one changeset.
      for (const f of ['package.json', 'pnpm-workspace.yaml']) cpSync(join(root, f), join(tmp, f));
      cpSync(join(root, '.changeset', 'config.json'), join(tmp, '.changeset', 'config.json'));
      for (const p of PACKAGES) {
        mkdirSync(join(tmp, 'packages', p), { recursive: true });
        for (const f of ['package.json', 'CHANGELOG.md']) {
          cpSync(join(root, 'packages', p, f), join(tmp, 'packages', p, f));
        }
      }
      symlinkSync(join(root, 'node_modules'), join(tmp, 'node_modules'));
      writeFileSync(
        join(tmp, '.changeset', 'check-changelog.md'),
        "---\n'@vigil/health': patch\n---\n\nA note for the person upgrading.\n",
      );
      const git = (...args: string[]) => spawnSync('git', args, { cwd: tmp, encoding: 'utf8' });
      git('init', '-q', '-b', 'main');
      const r = spawnSync(join(root, 'node_modules', '.bin', 'changeset'), ['version'], {
        cwd: tmp,
        encoding: 'utf8',
      });
      expect(r.status, r.stderr + r.stdout).toBe(0);
      const changelog = readFileSync(join(tmp, 'packages', 'health', 'CHANGELOG.md'), 'utf8');
      const version = JSON.parse(
        readFileSync(join(tmp, 'packages', 'health', 'package.json'), 'utf8'),
      ).version;
      expect(changelog).toMatch(new RegExp(`^# @vigil/health\\n\\n## ${version.replaceAll('.', '\\.')}\\n`));
      expect(changelog).toContain('A note for the person upgrading.');
    });
  });
});
