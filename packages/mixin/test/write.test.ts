// write(): creates the output folder, reports what differs in check mode, prunes only generated
// kinds of files in generated folders, and never writes outside the output folder.
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { generate, write } from '../src/index.js';

const CONFIG = {
  selector: '',
  slo: {
    window: '30d',
    availability: { objective: 0.999 },
    latency: { objective: 0.99, thresholdSeconds: 0.5 },
  },
};
const dirs: string[] = [];
function temp(): string {
  const d = mkdtempSync(join(tmpdir(), 'vigil-mixin-write-'));
  dirs.push(d);
  return d;
}
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

describe('write', () => {
  const files = generate(CONFIG);

  it('writes every file into a new folder, then finds them up to date', () => {
    const out = join(temp(), 'observability');
    const first = write(files, out);
    expect(first.written).toHaveLength(files.length);
    expect(readFileSync(join(out, 'rules', 'vigil-slo.yaml'), 'utf8')).toBe(
      files.find((f) => f.path === 'rules/vigil-slo.yaml')!.content,
    );
    expect(write(files, out, { check: true })).toEqual({
      written: [],
      stale: [],
      removed: [],
      upToDate: files.length,
    });
  });

  it('check mode reports changed, missing and (with prune) no longer generated files, writing nothing', () => {
    const out = temp();
    write(files, out);
    writeFileSync(join(out, 'rules', 'vigil-http.yaml'), 'groups: []\n');
    rmSync(join(out, 'runbooks', 'ServiceDown.md'));
    writeFileSync(join(out, 'runbooks', 'OldAlert.md'), '# gone\n');
    writeFileSync(join(out, 'runbooks', 'notes.txt'), 'mine\n');
    const r = write(files, out, { check: true, prune: true });
    expect(r.stale.sort()).toEqual([
      'rules/vigil-http.yaml',
      'runbooks/OldAlert.md',
      'runbooks/ServiceDown.md',
    ]);
    expect(r.written).toEqual([]);
    expect(existsSync(join(out, 'runbooks', 'ServiceDown.md'))).toBe(false);
    expect(readFileSync(join(out, 'rules', 'vigil-http.yaml'), 'utf8')).toBe('groups: []\n');
  });

  it('prune removes generated kinds of files no longer produced, and keeps everything else', () => {
    const out = temp();
    write(files, out);
    writeFileSync(join(out, 'dashboards', 'retired.json'), '{}\n');
    writeFileSync(join(out, 'dashboards', 'README.md'), 'mine\n');
    mkdirSync(join(out, 'mine'));
    writeFileSync(join(out, 'mine', 'x.json'), '{}\n');
    expect(write(files, out, { prune: false }).removed).toEqual([]);
    expect(write(files, out, { prune: true }).removed).toEqual(['dashboards/retired.json']);
    expect(existsSync(join(out, 'dashboards', 'README.md'))).toBe(true);
    expect(existsSync(join(out, 'mine', 'x.json'))).toBe(true);
  });

  it('a layout moves the folders, and write prunes the moved ones', () => {
    const out = temp();
    const layout = {
      dashboards: 'grafana/vigil',
      rules: 'prometheus/vigil',
      runbooks: 'docs/vigil',
      prometheusRule: 'k8s/rules.yaml',
    };
    const moved = generate(CONFIG, { layout });
    expect(
      moved
        .map((f) => f.path.split('/').slice(0, 2).join('/'))
        .filter((p, i, a) => a.indexOf(p) === i)
        .sort(),
    ).toEqual(['docs/vigil', 'grafana/vigil', 'k8s/rules.yaml', 'prometheus/vigil']);
    write(moved, out, { layout });
    writeFileSync(join(out, 'prometheus', 'vigil', 'tests', 'old.test.yaml'), 'tests: []\n');
    expect(write(moved, out, { layout, prune: true }).removed).toEqual([
      'prometheus/vigil/tests/old.test.yaml',
    ]);
  });

  it('refuses paths that leave the output folder', () => {
    const out = temp();
    expect(() => write([{ path: '../escape.yaml', content: '' }], out)).toThrow(/outside/);
    expect(() => write([{ path: 'a/../../escape.yaml', content: '' }], out)).toThrow(/outside/);
    expect(existsSync(join(out, '..', 'escape.yaml'))).toBe(false);
  });
});
