import { LABEL_VALUES } from '@vigil/catalog';

/** What `parseSql` derives from a statement: both values are bounded and never contain literals. */
export interface SqlSummary {
  /** Upper-case SQL verb (`SELECT`, `INSERT`, ...) or `unknown`. */
  readonly operation: string;
  /** Target table (`schema.table`, lower-cased unless quoted) or `unknown`. */
  readonly table: string;
}

/** Only this much of a statement is ever scanned, so huge statements cost the same as small ones. */
const SCAN_LIMIT = 2048;
const MAX_IDENT = 63; // PostgreSQL's NAMEDATALEN - 1

const OPERATIONS = new Set([
  'SELECT',
  'INSERT',
  'UPDATE',
  'DELETE',
  'MERGE',
  'WITH',
  'CREATE',
  'ALTER',
  'DROP',
  'TRUNCATE',
  'BEGIN',
  'COMMIT',
  'ROLLBACK',
  'SAVEPOINT',
  'RELEASE',
  'START',
  'SET',
  'SHOW',
  'COPY',
  'VACUUM',
  'ANALYZE',
  'EXPLAIN',
  'LISTEN',
  'NOTIFY',
  'UNLISTEN',
  'LOCK',
  'CALL',
  'DO',
  'PREPARE',
  'EXECUTE',
  'DEALLOCATE',
  'GRANT',
  'REVOKE',
  'REFRESH',
  'REINDEX',
  'CLUSTER',
  'DISCARD',
  'FETCH',
  'DECLARE',
  'CLOSE',
  'VALUES',
  'TABLE',
]);

const UNKNOWN: SqlSummary = Object.freeze({
  operation: LABEL_VALUES.unknownSql,
  table: LABEL_VALUES.unknownSql,
});

/** Skip whitespace and SQL comments; returns the index of the next significant character. */
function skip(s: string, i: number, parens = false): number {
  const n = s.length;
  while (i < n) {
    const c = s.charCodeAt(i);
    if (c === 32 || c === 9 || c === 10 || c === 13 || c === 12) i++;
    else if ((c === 45 && s.charCodeAt(i + 1) === 45) || (c === 47 && s.charCodeAt(i + 1) === 42)) {
      i = skipQuoted(s, i);
    } else if (parens && c === 40 && s.charCodeAt(skipWs(s, i + 1)) !== 41) {
      // "(SELECT ..." at statement start: look inside the parenthesis.
      i++;
    } else break;
  }
  return i;
}

/**
 * At a comment, a literal or a quoted identifier starting at `i`: the index just past it (the end
 * of the text for a comment that never ends, -1 for a literal or identifier that never ends).
 * Anywhere else: `i`. Covers `--` and nested `/* *\/` comments, '' strings, E'' strings with
 * backslash escapes, $$ and $tag$ dollar quoting, and "" identifiers. Each character is read once.
 */
function skipQuoted(s: string, i: number): number {
  const n = s.length;
  const c = s.charCodeAt(i);
  if (c === 45 && s.charCodeAt(i + 1) === 45) {
    const e = s.indexOf('\n', i + 2);
    return e < 0 ? n : e + 1;
  }
  if (c === 47 && s.charCodeAt(i + 1) === 42) {
    let depth = 1;
    let k = i + 2;
    while (k < n) {
      const d = s.charCodeAt(k);
      if (d === 47 && s.charCodeAt(k + 1) === 42) {
        depth++;
        k += 2;
      } else if (d === 42 && s.charCodeAt(k + 1) === 47) {
        k += 2;
        if (--depth === 0) return k;
      } else k++;
    }
    return n;
  }
  if (c === 39 || c === 34) return closeQuote(s, i + 1, c, false);
  if ((c === 69 || c === 101) && s.charCodeAt(i + 1) === 39 && !isWordChar(s.charCodeAt(i - 1))) {
    return closeQuote(s, i + 2, 39, true);
  }
  if (c === 36 && !isWordChar(s.charCodeAt(i - 1))) {
    // $$ or $tag$ (a tag does not start with a digit: $1 is a parameter).
    let k = i + 1;
    const t = s.charCodeAt(k);
    if (t !== 36 && !((t >= 65 && t <= 90) || (t >= 97 && t <= 122) || t === 95)) return i;
    while (k < n && s.charCodeAt(k) !== 36) {
      if (!isWordChar(s.charCodeAt(k))) return i;
      k++;
    }
    if (k >= n) return i;
    const tag = s.slice(i, k + 1);
    const e = s.indexOf(tag, k + 1);
    return e < 0 ? -1 : e + tag.length;
  }
  return i;
}

/** Past the quote `q` that closes a string or identifier (doubled quotes, and with `backslash` \x, escape). */
function closeQuote(s: string, k: number, q: number, backslash: boolean): number {
  const n = s.length;
  while (k < n) {
    const d = s.charCodeAt(k);
    if (backslash && d === 92) k += 2;
    else if (d === q) {
      if (s.charCodeAt(k + 1) !== q) return k + 1;
      k += 2;
    } else k++;
  }
  return -1;
}

function skipWs(s: string, i: number): number {
  while (i < s.length && /\s/.test(s[i] as string)) i++;
  return i;
}

function isWordChar(c: number): boolean {
  return (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || (c >= 48 && c <= 57) || c === 95 || c === 36;
}

/** Reads a keyword at i; returns [UPPER, nextIndex] or undefined. */
function word(s: string, i: number): [string, number] | undefined {
  let j = i;
  while (j < s.length && isWordChar(s.charCodeAt(j))) j++;
  if (j === i || j - i > 32) return undefined;
  return [s.slice(i, j).toUpperCase(), j];
}

/** Reads a possibly qualified, possibly quoted identifier (`a`, `"A"`, `s.t`, `"s"."t"`, `"a""b"`). */
function identifier(s: string, i: number): [string, number] | undefined {
  const parts: string[] = [];
  let j = i;
  for (;;) {
    if (s.charCodeAt(j) === 34) {
      const e = closeQuote(s, j + 1, 34, false);
      if (e < 0 || e - j - 2 > MAX_IDENT || e === j + 2) return undefined;
      parts.push(s.slice(j + 1, e - 1).replaceAll('""', '"'));
      j = e;
    } else {
      const k = j;
      while (j < s.length && isWordChar(s.charCodeAt(j))) j++;
      if (j === k || j - k > MAX_IDENT) return undefined;
      const c0 = s.charCodeAt(k);
      if (c0 >= 48 && c0 <= 57) return undefined; // starts with a digit: not an identifier
      parts.push(s.slice(k, j).toLowerCase());
    }
    if (s.charCodeAt(j) === 46 && parts.length < 3) {
      j++;
      continue;
    }
    break;
  }
  return [parts.join('.'), j];
}

const TABLE_INTRO: Record<string, readonly string[]> = {
  SELECT: ['FROM'],
  DELETE: ['FROM'],
  INSERT: ['INTO'],
  MERGE: ['INTO'],
  UPDATE: [],
  TRUNCATE: ['TABLE'],
  COPY: [],
  LOCK: ['TABLE'],
  TABLE: [],
};

/**
 * Derive `operation` and `table` from SQL text with a bounded scanner (at most 2 KiB read,
 * no backtracking regexes). Anything it cannot classify is `unknown`; literals never leak.
 */
export function parseSql(text: unknown): SqlSummary {
  if (typeof text !== 'string' || text.length === 0) return UNKNOWN;
  const s = text.length > SCAN_LIMIT ? text.slice(0, SCAN_LIMIT) : text;
  const i = skip(s, 0, true);
  const w = word(s, i);
  if (!w) return UNKNOWN;
  let [op, j] = w;
  if (!OPERATIONS.has(op)) return UNKNOWN;
  if (op === 'WITH') {
    // CTE: the operation is the main statement after the CTE list; find it at depth 0.
    const main = afterCte(s, j);
    if (!main) return { operation: 'WITH', table: LABEL_VALUES.unknownSql };
    [op, j] = main;
    if (!OPERATIONS.has(op)) return { operation: 'WITH', table: LABEL_VALUES.unknownSql };
  }
  const intro = TABLE_INTRO[op];
  if (!intro) return { operation: op, table: LABEL_VALUES.unknownSql };
  const table = findTable(s, j, intro, op);
  return { operation: op, table: table ?? LABEL_VALUES.unknownSql };
}

function afterCte(s: string, i: number): [string, number] | undefined {
  let depth = 0;
  for (let k = i; k < s.length; k++) {
    const past = skipQuoted(s, k);
    if (past < 0) return undefined;
    if (past !== k) {
      k = past - 1;
      continue;
    }
    const c = s.charCodeAt(k);
    if (c === 40) depth++;
    else if (c === 41) depth--;
    else if (depth === 0 && isWordChar(c) && !isWordChar(s.charCodeAt(k - 1))) {
      const w = word(s, k);
      if (
        w &&
        (w[0] === 'SELECT' || w[0] === 'INSERT' || w[0] === 'UPDATE' || w[0] === 'DELETE' || w[0] === 'MERGE')
      ) {
        return w;
      }
      if (w) k = w[1] - 1;
    }
  }
  return undefined;
}

function findTable(s: string, i: number, intro: readonly string[], op: string): string | undefined {
  if (intro.length === 0) {
    // UPDATE [ONLY] t / COPY t / TABLE t
    i = skip(s, i);
    const w = word(s, i);
    if (w && w[0] === 'ONLY') i = skip(s, w[1]);
    return identifier(s, i)?.[0];
  }
  // Scan words at parenthesis depth 0 until the intro keyword (FROM / INTO / TABLE), stepping over
  // comments, literals and quoted identifiers (which may hold that keyword, and user data).
  let depth = 0;
  for (let k = i; k < s.length; k++) {
    const past = skipQuoted(s, k);
    if (past < 0) return undefined;
    if (past !== k) {
      k = past - 1;
      continue;
    }
    const c = s.charCodeAt(k);
    if (c === 40) {
      depth++;
      continue;
    }
    if (c === 41) {
      depth--;
      continue;
    }
    if (depth !== 0 || !isWordChar(c) || isWordChar(s.charCodeAt(k - 1))) continue;
    const w = word(s, k);
    if (!w) continue;
    if (intro.includes(w[0])) {
      let j = skip(s, w[1]);
      const only = word(s, j);
      if (only && (only[0] === 'ONLY' || (op === 'LOCK' && only[0] === 'TABLE'))) j = skip(s, only[1]);
      if (s.charCodeAt(j) === 40) return undefined; // FROM (subquery)
      return identifier(s, j)?.[0];
    }
    k = w[1] - 1;
  }
  return undefined;
}

/** Cache of parsed statements; bounded, since SQL text with inlined literals is unbounded. */
export class SummaryCache {
  private readonly map = new Map<string, SqlSummary>();
  constructor(private readonly max = 2000) {}
  get(text: string | undefined): SqlSummary {
    if (text === undefined) return parseSql(undefined);
    let v = this.map.get(text);
    if (v === undefined) {
      v = parseSql(text);
      if (this.map.size < this.max) this.map.set(text, v);
    }
    return v;
  }
}
