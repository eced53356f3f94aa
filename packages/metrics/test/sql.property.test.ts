import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { huge, runs } from '../../../test/helpers/property.js';
import { parseSql } from '../src/sql.js';

// parseSql reads SQL text an application built, often with user input in its literals: whatever
// the text, it never throws, reads a bounded prefix, and yields only an operation from its list
// and a table that is an identifier, never a literal.

const OPERATIONS = new Set(
  'SELECT INSERT UPDATE DELETE MERGE WITH CREATE ALTER DROP TRUNCATE BEGIN COMMIT ROLLBACK SAVEPOINT RELEASE START SET SHOW COPY VACUUM ANALYZE EXPLAIN LISTEN NOTIFY UNLISTEN LOCK CALL DO PREPARE EXECUTE DEALLOCATE GRANT REVOKE REFRESH REINDEX CLUSTER DISCARD FETCH DECLARE CLOSE VALUES TABLE unknown'.split(
    ' ',
  ),
);

const pieces = fc.constantFrom(
  'SELECT',
  'select',
  'INSERT',
  'INTO',
  'UPDATE',
  'DELETE',
  'FROM',
  'WITH',
  'AS',
  'ONLY',
  'TABLE',
  'LOCK',
  'MERGE',
  ' ',
  '\n',
  '\t',
  '(',
  ')',
  ',',
  '.',
  '"',
  "'",
  '--',
  '/*',
  '*/',
  '*',
  '$1',
  'users',
  '"Mixed Case"',
  'public',
  '0x',
  '🙂',
  '$$',
  "E'",
  '\\',
);
/** Text made of SQL's own tokens in any order: reaches the scanner's branches far more often. */
const quoted = fc.string({ maxLength: 12 }).map((q) => `"${q}"`);
const sqlish = fc
  .array(fc.oneof(pieces, quoted, fc.string({ maxLength: 8 })), { maxLength: 60 })
  .map((p) => p.join(''));
const anyText = fc.oneof(
  sqlish,
  fc.string({ maxLength: 300 }),
  fc.string({ unit: 'binary', maxLength: 300 }),
);

const ident = fc.stringMatching(/^[a-z_][a-z0-9_$]{0,20}$/);
const space = fc.constantFrom(' ', '  ', '\n', '\t', ' /* c */ ', ' -- c\n');
/** A literal with anything inside, quotes doubled as SQL escapes them. */
const literal = fc.string({ maxLength: 40 }).map((s) => `'${s.replaceAll("'", "''")}'`);

describe('parseSql (property)', () => {
  it('never throws; the operation is from its list and the table an identifier or unknown', () => {
    fc.assert(
      fc.property(anyText, (text) => {
        const r = parseSql(text);
        expect(OPERATIONS.has(r.operation)).toBe(true);
        // An identifier (up to three dotted parts of at most 63 characters each), or `unknown`.
        expect(r.table.length).toBeGreaterThan(0);
        expect(r.table.length).toBeLessThanOrEqual(63 * 3 + 2);
      }),
      runs(),
    );
  });

  it('finds the table of the common statements, whatever the spacing, comments and case', () => {
    const statement = fc
      .tuple(
        fc.constantFrom('select', 'insert', 'update', 'delete'),
        fc.boolean(),
        ident,
        fc.option(ident, { nil: undefined }),
        space,
        space,
        literal,
      )
      .map(([op, upper, table, schema, s1, s2, lit]) => {
        const qualified = schema ? `${schema}.${table}` : table;
        const kw = (k: string) => (upper ? k.toUpperCase() : k);
        const text = {
          select: `${kw('select')}${s1}a, b${s2}${kw('from')}${s1}${qualified}${s2}${kw('where')} x = ${lit}`,
          insert: `${kw('insert')}${s1}${kw('into')}${s2}${qualified} (a) ${kw('values')} (${lit})`,
          update: `${kw('update')}${s1}${qualified}${s2}${kw('set')} a = ${lit}`,
          delete: `${kw('delete')}${s1}${kw('from')}${s2}${qualified} ${kw('where')} a = ${lit}`,
        }[op];
        return { text, op: op.toUpperCase(), table: qualified };
      });
    fc.assert(
      fc.property(statement, ({ text, op, table }) => {
        expect(parseSql(text)).toEqual({ operation: op, table });
      }),
      runs(),
    );
  });

  it('never returns what a literal holds', () => {
    // A literal shaped like the SQL around it must not be taken for a table name.
    const secret = fc.stringMatching(/^[a-z][a-z0-9]{5,20}$/).map((s) => `secret_${s}`);
    fc.assert(
      fc.property(secret, space, (s, sp) => {
        const texts = [
          `SELECT * FROM t WHERE name = '${s}'`,
          `SELECT '${s}' FROM t`,
          `SELECT 'x FROM ${s}' FROM t`,
          `WITH a AS (SELECT '${s}')${sp}SELECT * FROM t`,
          `INSERT INTO t (a) VALUES ('${s}')`,
          `UPDATE t SET a = 'FROM ${s}'`,
          // PostgreSQL's other literals and comments hold text too.
          `SELECT $$ FROM ${s} $$ FROM t`,
          `SELECT $q$ FROM ${s} $q$ FROM t`,
          `SELECT E'\\' FROM ${s}' FROM t`,
          `SELECT 1 -- FROM ${s}\nFROM t`,
          `SELECT /* FROM ${s} */ a FROM t`,
          `SELECT /* nested /* FROM x */ FROM ${s} */ a FROM t`,
          `WITH a AS (SELECT 1) /* DELETE FROM ${s} */ SELECT * FROM t`,
          `SELECT "FROM ${s}" FROM t`,
        ];
        for (const text of texts) {
          const r = parseSql(text);
          expect(r.table).not.toContain(s);
          expect(r.operation).not.toContain(s);
        }
      }),
      runs(),
    );
  });

  it('1 MB statements of every shape complete (the scan is bounded)', () => {
    for (const unit of ['(', ' ', "'", '/*', '--', 'a', '"', 'SELECT ', 'WITH a AS (', '( ', ',']) {
      expect(OPERATIONS.has(parseSql(huge(unit)).operation)).toBe(true);
      expect(OPERATIONS.has(parseSql(`SELECT * FROM ${huge(unit)}`).operation)).toBe(true);
    }
  });
});
