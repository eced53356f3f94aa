// A minimal, deterministic YAML writer for the shapes Prometheus rule and promtool test files use:
// maps, lists, strings, numbers and booleans. Multi-line strings become literal blocks (`|-`);
// strings that could be misread (numbers, booleans, `{`, `:` ...) are double-quoted, JSON-style,
// which YAML reads the same way.

export type Yaml =
  | string
  | number
  | boolean
  | null
  | readonly Yaml[]
  | { readonly [key: string]: Yaml | undefined };

const PLAIN = /^[A-Za-z_][A-Za-z0-9_ ./()-]*$/;
const DURATION = /^\d+(?:ms|s|m|h|d|w|y)$/;
const RESERVED = /^(?:true|false|yes|no|on|off|y|n|null|~)$/i;

function scalar(s: string): string {
  if ((PLAIN.test(s) && !RESERVED.test(s) && !s.endsWith(' ')) || DURATION.test(s)) return s;
  // Single quotes read best for PromQL and templates: only ' itself needs escaping (as '').
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters need double quotes
  if (!/[\u0000-\u001f\u007f]/.test(s)) return `'${s.replace(/'/g, "''")}'`;
  return JSON.stringify(s);
}

function key(k: string): string {
  return /^[A-Za-z_][A-Za-z0-9_]*$/.test(k) ? k : JSON.stringify(k);
}

function isBlock(v: Yaml | undefined): boolean {
  return (
    (Array.isArray(v) && v.length > 0) ||
    (typeof v === 'object' && v !== null && !Array.isArray(v) && Object.keys(v).length > 0)
  );
}

function inline(v: Yaml, indent: string): string {
  if (v === null) return 'null';
  if (typeof v === 'number') {
    if (!Number.isFinite(v)) throw new Error(`cannot write ${v} to YAML`);
    return String(v);
  }
  if (typeof v === 'boolean') return String(v);
  if (typeof v === 'string') {
    if (!v.includes('\n')) return scalar(v);
    if (/^\s/.test(v) || /[ \t]$/m.test(v)) return JSON.stringify(v);
    return `|-\n${v
      .split('\n')
      .map((l) => (l === '' ? '' : indent + l))
      .join('\n')}`;
  }
  if (Array.isArray(v)) return '[]';
  return '{}';
}

function lines(v: Yaml, indent: string): string[] {
  const out: string[] = [];
  if (Array.isArray(v)) {
    for (const item of v as readonly Yaml[]) {
      if (isBlock(item) && !Array.isArray(item)) {
        const inner = lines(item, `${indent}  `);
        out.push(`${indent}- ${inner[0]!.slice(indent.length + 2)}`, ...inner.slice(1));
      } else if (isBlock(item)) {
        out.push(`${indent}-`, ...lines(item, `${indent}  `));
      } else {
        out.push(`${indent}- ${inline(item, `${indent}  `)}`);
      }
    }
    return out;
  }
  if (typeof v === 'object' && v !== null) {
    for (const [k, val] of Object.entries(v)) {
      if (val === undefined) continue;
      if (isBlock(val)) out.push(`${indent}${key(k)}:`, ...lines(val, `${indent}  `));
      else out.push(`${indent}${key(k)}: ${inline(val, `${indent}  `)}`);
    }
    return out;
  }
  return [indent + inline(v, indent)];
}

/** Serialises a value as a YAML document (with a trailing newline). */
export function toYaml(v: Yaml, header?: string): string {
  const head = header
    ? `${header
        .split('\n')
        .map((l) => (l ? `# ${l}` : '#'))
        .join('\n')}\n`
    : '';
  return `${head}${lines(v, '').join('\n')}\n`;
}
