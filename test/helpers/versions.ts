import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

/**
 * Checks for the modules that depend on another library's internals: each declares the version
 * range it was written and tested against, and its test fails when the installed version, or the
 * range the package.json accepts, leaves it. An upgrade then breaks one module and one test.
 */

type Version = [number, number, number];

function parse(v: string): Version {
  const m = /^(\d+)\.(\d+)\.(\d+)/.exec(v.trim());
  if (!m) throw new Error(`not a version: ${v}`);
  return [Number(m[1]), Number(m[2]), Number(m[3])];
}

function compare(a: Version, b: Version): number {
  return a[0] - b[0] || a[1] - b[1] || a[2] - b[2];
}

/** `>=A.B.C <D.E.F`: the only range form the internals modules declare. */
export function inRange(version: string, range: string): boolean {
  const m = /^>=(\S+) <(\S+)$/.exec(range);
  if (!m) throw new Error(`unsupported range form: ${range}`);
  const v = parse(version);
  return compare(v, parse(m[1] as string)) >= 0 && compare(v, parse(m[2] as string)) < 0;
}

/** The version of `pkg` that code in `fromFile`'s folder resolves. */
export function installedVersion(pkg: string, fromFile: string): string {
  const require = createRequire(fromFile);
  try {
    return (require(`${pkg}/package.json`) as { version: string }).version;
  } catch {
    // An `exports` map without ./package.json: walk up from the entry point.
    let dir = dirname(require.resolve(pkg));
    for (;;) {
      const file = join(dir, 'package.json');
      if (existsSync(file)) {
        const j = JSON.parse(readFileSync(file, 'utf8')) as { name?: string; version: string };
        if (j.name === pkg) return j.version;
      }
      const up = dirname(dir);
      if (up === dir) throw new Error(`no package.json of ${pkg} above its entry point`);
      dir = up;
    }
  }
}

/**
 * The lowest and highest versions a package.json range accepts, for the forms Vigil uses
 * (`^A.B.C`, `~A.B.C`, `A.B.C`): both must lie inside the supported range.
 */
export function specBounds(spec: string): { lowest: string; below: string } {
  const m = /^([\^~]?)(\d+)\.(\d+)\.(\d+)$/.exec(spec.trim());
  if (!m) throw new Error(`unsupported dependency range: ${spec}`);
  const [maj, min, pat] = [Number(m[2]), Number(m[3]), Number(m[4])];
  const lowest = `${maj}.${min}.${pat}`;
  if (m[1] === '^') return { lowest, below: maj > 0 ? `${maj + 1}.0.0` : `0.${min + 1}.0` };
  if (m[1] === '~') return { lowest, below: `${maj}.${min + 1}.0` };
  return { lowest, below: `${maj}.${min}.${pat + 1}` };
}

/** The dependency range `packageJson` declares for `pkg` (dependencies, then peer dependencies). */
export function declaredRange(packageJson: string, pkg: string): string {
  const j = JSON.parse(readFileSync(packageJson, 'utf8')) as Record<
    string,
    Record<string, string> | undefined
  >;
  const spec = j.dependencies?.[pkg] ?? j.peerDependencies?.[pkg];
  if (spec === undefined) throw new Error(`${packageJson} does not depend on ${pkg}`);
  return spec;
}

/**
 * Whether every version a declared range accepts is inside the supported one. A union
 * (`^4.17.0 || ^5.0.0`) is within when each of its parts is.
 */
export function rangeWithin(spec: string, supported: string): boolean {
  const m = /^>=(\S+) <(\S+)$/.exec(supported);
  if (!m) throw new Error(`unsupported range form: ${supported}`);
  return spec.split('||').every((part) => {
    const { lowest, below } = specBounds(part);
    return (
      compare(parse(lowest), parse(m[1] as string)) >= 0 && compare(parse(below), parse(m[2] as string)) <= 0
    );
  });
}
