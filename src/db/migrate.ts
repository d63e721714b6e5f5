/**
 * Schema migrations: the SQL files of `src/db/migrations/` (`NNN_name.sql`, applied in name
 * order) run by umzug with a slonik-backed storage table `shopsim_migrations`. Each file runs
 * in one transaction that first takes a transaction-level advisory lock and re-checks the
 * storage table, so two processes migrating at once (the simulation and the reference store)
 * apply each file exactly once, and nothing relies on session state (safe behind a
 * transaction-mode pooler).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { Umzug, type UmzugStorage } from 'umzug';
import { sql, type DatabasePool } from 'slonik';
import { z } from 'zod';
import { rawSql, splitSqlStatements } from './sql.ts';

export const MIGRATIONS_DIR = fileURLToPath(new URL('./migrations/', import.meta.url));
/** pg_advisory_xact_lock key: "shopsim migrations". */
const LOCK_KEY = 0x5340_4d31;

const nameRow = z.object({ name: z.string() });

async function ensureStorage(pool: DatabasePool): Promise<void> {
  await pool.transaction(async (tx) => {
    await tx.query(sql.unsafe`SELECT pg_advisory_xact_lock(${LOCK_KEY})`);
    await tx.query(sql.unsafe`
      CREATE TABLE IF NOT EXISTS shopsim_migrations (
        name text PRIMARY KEY,
        applied_at timestamptz NOT NULL DEFAULT now()
      )`);
  });
}

function storage(pool: DatabasePool): UmzugStorage {
  return {
    async executed() {
      const rows = await pool.any(sql.type(nameRow)`SELECT name FROM shopsim_migrations ORDER BY name`);
      return rows.map((r) => r.name);
    },
    // Logged inside the migration's own transaction (see up()); nothing left to do here.
    async logMigration() {},
    async unlogMigration({ name }) {
      await pool.query(sql.unsafe`DELETE FROM shopsim_migrations WHERE name = ${name}`);
    },
  };
}

export function migrationFiles(dir = MIGRATIONS_DIR): { name: string; path: string }[] {
  return readdirSync(dir)
    .filter((f) => /^\d{3}_[\w-]+\.sql$/.test(f))
    .sort()
    .map((f) => ({ name: f, path: join(dir, f) }));
}

export interface MigrateResult {
  applied: string[];
  total: number;
}

/**
 * Applies the pending migrations. Idempotent.
 * @throws the database error of the first migration that fails (its transaction is rolled back).
 */
export async function migrate(pool: DatabasePool, options: { dir?: string } = {}): Promise<MigrateResult> {
  await ensureStorage(pool);
  const files = migrationFiles(options.dir);
  const applied: string[] = [];
  const umzug = new Umzug({
    logger: undefined,
    storage: storage(pool),
    migrations: files.map((f) => ({
      name: f.name,
      async up() {
        const text = readFileSync(f.path, 'utf8');
        await pool.transaction(async (tx) => {
          await tx.query(sql.unsafe`SELECT pg_advisory_xact_lock(${LOCK_KEY})`);
          const done = await tx.exists(sql.unsafe`SELECT 1 FROM shopsim_migrations WHERE name = ${f.name}`);
          if (done) return; // another process applied it while we waited for the lock
          for (const statement of splitSqlStatements(text)) await tx.query(rawSql(statement));
          await tx.query(sql.unsafe`INSERT INTO shopsim_migrations (name) VALUES (${f.name})`);
          applied.push(f.name);
        });
      },
    })),
  });
  await umzug.up();
  return { applied, total: files.length };
}
