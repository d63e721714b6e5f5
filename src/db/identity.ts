/**
 * Which database this is, and what it holds of a run: read-only lookups a resume makes before
 * anything is written (src/run/preflight.ts). They work on a schema that was never migrated
 * (a database shopsim has not written to answers "no identity, no run").
 */
import { sql, type DatabasePool } from 'slonik';
import { z } from 'zod';

const idRow = z.object({ database_id: z.string() });
const existsRow = z.object({ present: z.boolean() });
const runRow = z.object({ ended: z.boolean(), exit_reason: z.string().nullable(), cycles_completed: z.number().nullable() });

async function hasTable(pool: DatabasePool, name: string): Promise<boolean> {
  const r = await pool.one(sql.type(existsRow)`SELECT to_regclass(${name}) IS NOT NULL AS present`);
  return r.present;
}

/** The database's identity (migration 015), or null when it has none. */
export async function readDatabaseId(pool: DatabasePool): Promise<string | null> {
  if (!(await hasTable(pool, 'shopsim_meta'))) return null;
  const r = await pool.maybeOne(sql.type(idRow)`SELECT database_id FROM shopsim_meta LIMIT 1`);
  return r?.database_id ?? null;
}

export interface RunRow {
  /** The run recorded its end (ended_at is set). */
  ended: boolean;
  /** summary.exit_reason, when the end was recorded. */
  exitReason: string | null;
  cyclesCompleted: number | null;
}

/** The run's row, or null when this database has no such run. */
export async function findRunRow(pool: DatabasePool, runId: string): Promise<RunRow | null> {
  if (!(await hasTable(pool, 'runs'))) return null;
  const r = await pool.maybeOne(sql.type(runRow)`
    SELECT ended_at IS NOT NULL AS ended, summary->>'exit_reason' AS exit_reason,
           CASE WHEN jsonb_typeof(summary->'cycles_completed') = 'number' THEN (summary->>'cycles_completed')::int END AS cycles_completed
    FROM runs WHERE id = ${runId}`);
  return r ? { ended: r.ended, exitReason: r.exit_reason, cyclesCompleted: r.cycles_completed } : null;
}
