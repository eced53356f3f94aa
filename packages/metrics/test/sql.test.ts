import { describe, expect, it } from 'vitest';
import { parseSql } from '../src/sql.js';

describe('parseSql', () => {
  it.each([
    ['SELECT id, name FROM users WHERE id = $1', 'SELECT', 'users'],
    ['select * from public.Users u join orders o on o.user_id = u.id', 'SELECT', 'public.users'],
    ['SELECT * FROM "Mixed"."Case" WHERE x = 1', 'SELECT', 'Mixed.Case'],
    ['  -- leading comment\n /* block */ INSERT INTO orders (a, b) VALUES ($1, $2)', 'INSERT', 'orders'],
    ['UPDATE ONLY accounts SET balance = balance - 1', 'UPDATE', 'accounts'],
    ['DELETE FROM sessions WHERE expires < now()', 'DELETE', 'sessions'],
    ['WITH recent AS (SELECT * FROM events) SELECT count(*) FROM recent', 'SELECT', 'recent'],
    ['WITH x AS (SELECT 1) INSERT INTO audit SELECT * FROM x', 'INSERT', 'audit'],
    ['SELECT (SELECT max(id) FROM a) AS m FROM b', 'SELECT', 'b'],
    ["SELECT 'from nowhere' AS s FROM real_table", 'SELECT', 'real_table'],
    ['TRUNCATE TABLE logs', 'TRUNCATE', 'logs'],
    ['BEGIN', 'BEGIN', 'unknown'],
    ['COMMIT', 'COMMIT', 'unknown'],
    ['SELECT 1', 'SELECT', 'unknown'],
    ['SELECT * FROM (SELECT 1) s', 'SELECT', 'unknown'],
    ['(SELECT 1 FROM t1) UNION (SELECT 2 FROM t2)', 'SELECT', 't1'],
    ['CREATE TABLE t (id int)', 'CREATE', 'unknown'],
    // Found by the property tests (sql.property.test.ts): text inside PostgreSQL's other literals
    // and in comments was read as SQL, and a doubled quote ended a quoted identifier.
    ['SELECT $$ FROM secret $$ FROM t', 'SELECT', 't'],
    ["SELECT E'\\' FROM secret' FROM t", 'SELECT', 't'],
    ['SELECT 1 -- FROM secret\nFROM t', 'SELECT', 't'],
    ['SELECT /* a /* FROM x */ FROM secret */ a FROM t', 'SELECT', 't'],
    ['WITH a AS (SELECT 1) /* DELETE FROM x */ SELECT * FROM t', 'SELECT', 't'],
    ['SELECT * FROM "a""b"', 'SELECT', 'a"b'],
    ['SELECT $1::int AS n FROM t', 'SELECT', 't'],
  ])('%s -> %s %s', (sql, operation, table) => {
    expect(parseSql(sql)).toEqual({ operation, table });
  });

  it('never returns literals or unbounded text for hostile input', () => {
    expect(parseSql("DROP'; -- evil")).toEqual({ operation: 'DROP', table: 'unknown' });
    expect(parseSql('EXPLODE everything')).toEqual({ operation: 'unknown', table: 'unknown' });
    expect(parseSql('')).toEqual({ operation: 'unknown', table: 'unknown' });
    expect(parseSql(undefined)).toEqual({ operation: 'unknown', table: 'unknown' });
    expect(parseSql(42)).toEqual({ operation: 'unknown', table: 'unknown' });
    const longIdent = `SELECT * FROM ${'a'.repeat(500)}`;
    expect(parseSql(longIdent).table).toBe('unknown');
    const huge = `SELECT ${'x, '.repeat(100_000)} y FROM far_away`;
    expect(parseSql(huge)).toEqual({ operation: 'SELECT', table: 'unknown' }); // beyond the 2 KiB scan
    expect(parseSql("SELECT * FROM users WHERE name = 'O''Brien'").table).toBe('users');
    expect(parseSql('SELECT * FROM 123abc').table).toBe('unknown');
  });
});
