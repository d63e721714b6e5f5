/** openDatabase's failures: one line, exit code 2, host/port/database named, never the password. */
import { describe, expect, it } from 'vitest';
import { sql } from 'slonik';
import { z } from 'zod';
import { openDatabase } from '../../src/db/connection.ts';
import { describeDatabaseUrl, normalizeDatabaseUrl, scrubSecrets } from '../../src/db/url.ts';
import { scrubConfig } from '../../src/db/scrub.ts';
import { splitSqlStatements } from '../../src/db/sql.ts';
import { TEST_DATABASE_URL } from './helpers.ts';

const SECRET = 'S3cr3t-Pa55word';

async function failure(url: string) {
  try {
    await openDatabase({ databaseUrl: url, connectionTimeoutMs: 3000 });
  } catch (err) {
    return err as Error & { code?: string; exitCode?: number };
  }
  throw new Error('expected openDatabase to fail');
}

describe('database URLs', () => {
  it('describes host:port/database only', () => {
    expect(describeDatabaseUrl(`postgres://shop:${SECRET}@db.example.com:6543/app?pgbouncer=true`)).toBe('db.example.com:6543/app');
    expect(describeDatabaseUrl('postgresql://u@localhost/x')).toBe('localhost:5432/x');
  });
  it('drops pooler-only parameters and maps libpq sslmodes slonik rejects', () => {
    expect(normalizeDatabaseUrl('postgresql://u:p@h:6543/d?pgbouncer=true&sslmode=verify-full')).toBe('postgres://u:p@h:6543/d?sslmode=require');
    expect(normalizeDatabaseUrl('postgres://u@h/d?sslmode=prefer&options=-c%20x%3D1')).toBe('postgres://u@h/d?options=-c+x%3D1');
  });
  it('scrubs passwords, raw and URL-encoded, from messages and configs', () => {
    const url = `postgres://shop:${encodeURIComponent('p@ss/word')}@h:5432/d`;
    expect(scrubSecrets(`failed for ${url} with p@ss/word`, url)).toBe('failed for <database-url> with ***');
    expect(scrubConfig({ databaseUrl: `postgres://a:${SECRET}@h/d`, db: { password: SECRET, pool: 5 } })).toEqual({ databaseUrl: 'postgres://h/d', db: { pool: 5 } });
  });
  it('splits migration scripts on top-level semicolons only', () => {
    const script = "-- a; comment\nCREATE TABLE a (x text DEFAULT ';');\n/* b; */ CREATE FUNCTION f() RETURNS int AS $$ SELECT 1; $$ LANGUAGE sql;\n-- trailing;\n";
    expect(splitSqlStatements(script)).toEqual(["-- a; comment\nCREATE TABLE a (x text DEFAULT ';')", '/* b; */ CREATE FUNCTION f() RETURNS int AS $$ SELECT 1; $$ LANGUAGE sql']);
  });
});

describe('openDatabase failures', () => {
  it('unreachable server: E_DATABASE, exit 2, one line naming host:port/database, no password', async () => {
    const err = await failure(`postgres://shop:${SECRET}@127.0.0.1:1/shopdb`);
    expect(err.code).toBe('E_DATABASE');
    expect(err.exitCode).toBe(2);
    expect(err.message).toMatch(/^Cannot connect to PostgreSQL at 127\.0\.0\.1:1\/shopdb: /);
    expect(err.message).not.toContain('\n');
    expect(err.message).not.toContain(SECRET);
    expect(String(err.stack)).not.toContain(SECRET);
    expect(JSON.stringify(err)).not.toContain(SECRET);
    expect(err.cause).toBeUndefined();
  });

  it('not a URL, or not postgres://', async () => {
    expect((await failure(`shop:${SECRET}@nowhere`)).message).not.toContain(SECRET);
    expect((await failure(`mysql://root:${SECRET}@h/db`)).message).toMatch(/postgres:\/\//);
  });

  it('bad pool size', async () => {
    await expect(openDatabase({ databaseUrl: 'postgres://u@127.0.0.1:1/d', poolSize: 0 })).rejects.toMatchObject({ code: 'E_DATABASE' });
  });

  describe.skipIf(!TEST_DATABASE_URL)('against TEST_DATABASE_URL', () => {
    it('a database that does not exist (password in the URL): named, password absent', async () => {
      const u = new URL(TEST_DATABASE_URL as string);
      u.password = SECRET;
      u.pathname = '/shopsim_no_such_db_x';
      const err = await failure(u.toString());
      expect(err.code).toBe('E_DATABASE');
      expect(err.message).toContain(`${u.hostname}:${u.port || 5432}/shopsim_no_such_db_x`);
      expect(err.message).toMatch(/does not exist/);
      expect(err.message).not.toContain(SECRET);
    });
    it('applies the statement timeout (and none when 0) and the connect timeout', async () => {
      const show = async (statementTimeoutMs: number) => {
        const db = await openDatabase({ databaseUrl: TEST_DATABASE_URL as string, poolSize: 1, statementTimeoutMs, connectionTimeoutMs: 4000, migrate: false });
        try {
          return await db.pool.oneFirst(sql.type(z.object({ statement_timeout: z.string() }))`SHOW statement_timeout`);
        } finally {
          await db.close();
        }
      };
      expect(await show(5000)).toBe('5s');
      expect(await show(0)).toBe('0');
    });
    it('a user that does not exist: refused, password absent', async () => {
      const u = new URL(TEST_DATABASE_URL as string);
      u.username = 'shopsim_no_such_user';
      u.password = SECRET;
      const err = await failure(u.toString());
      expect(err.code).toBe('E_DATABASE');
      expect(err.message).not.toContain(SECRET);
    });
  });
});
