import { readFileSync } from 'node:fs';

// A small Dockerfile reader for static checks (no Docker engine on the test machines): enough of
// the syntax for our own Dockerfiles, i.e. continuations, comments, global ARGs and stages.

/** The example services and their default ports (the services contract). */
export const EXAMPLE_SERVICES = {
  'users-service': 3001,
  'catalog-service': 3002,
  'orders-service': 3003,
} as const;

/** Every example with a Dockerfile: the services, plus basic examples built as images on their own. */
export const EXAMPLE_IMAGES = {
  ...EXAMPLE_SERVICES,
  'nest-basic': 3000,
  'koa-basic': 3000,
} as const;

export interface Instruction {
  /** Upper-case keyword: FROM, RUN, COPY, ... */
  cmd: string;
  /** Everything after the keyword, continuations joined. */
  args: string;
}

export interface Stage {
  /** The image reference with global ARG defaults substituted. */
  image: string;
  name: string | undefined;
  instructions: Instruction[];
}

export interface Dockerfile {
  globalArgs: Record<string, string>;
  stages: Stage[];
}

function logicalLines(text: string): string[] {
  const out: string[] = [];
  let current = '';
  for (const raw of text.split('\n')) {
    const line = raw.trimEnd();
    // Comment lines are dropped, also inside a continued instruction (as Docker does).
    if (/^\s*#/.test(line)) continue;
    if (line.endsWith('\\')) {
      current += `${line.slice(0, -1)} `;
      continue;
    }
    current += line;
    if (current.trim() !== '') out.push(current.trim());
    current = '';
  }
  if (current.trim() !== '') out.push(current.trim());
  return out;
}

const substitute = (s: string, vars: Record<string, string>) =>
  s.replace(/\$\{(\w+)\}|\$(\w+)/g, (m, a, b) => vars[a ?? b] ?? m);

export function parseDockerfile(text: string): Dockerfile {
  const globalArgs: Record<string, string> = {};
  const stages: Stage[] = [];
  for (const line of logicalLines(text)) {
    const m = /^(\w+)\s*(.*)$/.exec(line);
    if (!m) continue;
    const cmd = (m[1] as string).toUpperCase();
    const args = m[2] as string;
    if (cmd === 'FROM') {
      const parts = args.split(/\s+/).filter((p) => !p.startsWith('--'));
      const asIndex = parts.findIndex((p) => p.toUpperCase() === 'AS');
      stages.push({
        image: substitute(parts[0] as string, globalArgs),
        name: asIndex >= 0 ? parts[asIndex + 1] : undefined,
        instructions: [],
      });
      continue;
    }
    const stage = stages.at(-1);
    if (!stage) {
      if (cmd === 'ARG') {
        const [key, value = ''] = args.split('=', 2) as [string, string?];
        globalArgs[key.trim()] = value.trim().replace(/^"(.*)"$/, '$1');
      }
      continue;
    }
    stage.instructions.push({ cmd, args });
  }
  return { globalArgs, stages };
}

export const readDockerfile = (path: string) => parseDockerfile(readFileSync(path, 'utf8'));

/** The command of an exec-form (JSON array) or shell-form instruction, as one string. */
export function commandOf(args: string): string {
  const trimmed = args.trim();
  if (trimmed.startsWith('[')) return (JSON.parse(trimmed) as string[]).join(' ');
  return trimmed;
}

/** `--name=value` options at the start of an instruction, and the rest. */
export function splitOptions(args: string): { options: Record<string, string>; rest: string } {
  const options: Record<string, string> = {};
  let rest = args.trim();
  for (;;) {
    const m = /^--([\w-]+)(?:=(\S*))?\s+/.exec(rest);
    if (!m) break;
    options[m[1] as string] = m[2] ?? '';
    rest = rest.slice(m[0].length);
  }
  return { options, rest };
}

/**
 * Whether `.dockerignore` patterns exclude a context path (Go filepath.Match plus `**`, the last
 * matching pattern wins, and a matched directory excludes everything below it).
 */
export function dockerignored(patterns: string[], path: string): boolean {
  const toRegex = (p: string) =>
    new RegExp(
      `^${p
        .replace(/^\/+/, '')
        .replace(/[.+^${}()|\\]/g, '\\$&')
        .replace(/\*\*\/|\*\*|\*|\?/g, (t) =>
          t === '**/' ? '(?:.*/)?' : t === '**' ? '.*' : t === '*' ? '[^/]*' : '[^/]',
        )}$`,
    );
  const segments = path.split('/');
  const prefixes = segments.map((_, i) => segments.slice(0, i + 1).join('/'));
  let excluded = false;
  for (const raw of patterns) {
    const negated = raw.startsWith('!');
    const re = toRegex(negated ? raw.slice(1) : raw);
    if (prefixes.some((p) => re.test(p))) excluded = !negated;
  }
  return excluded;
}

export function readDockerignore(path: string): string[] {
  return readFileSync(path, 'utf8')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'));
}
