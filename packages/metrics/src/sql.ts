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
    else if (c === 45 && s.charCodeAt(i + 1) === 45) {
      const e = s.indexOf('\n', i);
      i = e < 0 ? n : e + 1;
    } else if (c === 47 && s.charCodeAt(i + 1) === 42) {
      const e = s.indexOf('*/', i + 2);
      i = e < 0 ? n : e + 2;
    } else if (parens && c === 40 && s.charCodeAt(skipWs(s, i + 1)) !== 41) {
      // "(SELECT ..." at statement start: look inside the parenthesis.
      i++;
    } else break;
  }
  return i;
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

/** Reads a possibly qualified, possibly quoted identifier (`a`, `"A"`, `s.t`, `"s"."t"`). */
function identifier(s: string, i: number): [string, number] | undefined {
  const parts: string[] = [];
  let j = i;
  for (;;) {
    if (s.charCodeAt(j) === 34) {
      const e = s.indexOf('"', j + 1);
      if (e < 0 || e - j - 1 > MAX_IDENT || e === j + 1) return undefined;
      parts.push(s.slice(j + 1, e));
      j = e + 1;
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
    const c = s.charCodeAt(k);
    if (c === 39) {
      const e = s.indexOf("'", k + 1);
      if (e < 0) return undefined;
      k = e;
    } else if (c === 40) depth++;
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
  // Scan words at parenthesis depth 0 until the intro keyword (FROM / INTO / TABLE).
  let depth = 0;
  for (let k = i; k < s.length; k++) {
    const c = s.charCodeAt(k);
    if (c === 39) {
      const e = s.indexOf("'", k + 1);
      if (e < 0) return undefined;
      k = e;
      continue;
    }
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
