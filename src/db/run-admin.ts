/**
 * Removing runs from the database (`shopsim runs rm|prune`): a run's row, its sessions and their
 * events (the sessions and events go with the run: ON DELETE CASCADE). The store's tables (carts,
 * orders, offers) are the store's, keyed by shopper, not by run, and are left alone.
 */
import { sql, type DatabasePool } from 'slonik';
import { z } from 'zod';

export interface RunRows {
  run_id: string;
  sessions: number;
  events: number;
}

/** How many rows removing each run would remove (runs absent from the database are absent here). */
export async function countRunRows(pool: DatabasePool, ids: readonly string[]): Promise<RunRows[]> {
  if (ids.length === 0) return [];
  const rows = await pool.any(sql.type(z.object({ run_id: z.string(), sessions: z.unknown(), events: z.unknown() }))`
    SELECT r.id AS run_id,
      (SELECT count(*) FROM shopping_sessions s WHERE s.run_id = r.id) AS sessions,
      (SELECT count(*) FROM shopping_session_events e WHERE e.run_id = r.id) AS events
    FROM runs r WHERE r.id = ANY(${sql.array([...ids], 'text')}) ORDER BY r.started_at`);
  return rows.map((r) => ({ run_id: r.run_id, sessions: Number(r.sessions), events: Number(r.events) }));
}

/** Deletes the runs (and, by cascade, their sessions and events) in one transaction; returns how many runs went. */
export async function deleteRuns(pool: DatabasePool, ids: readonly string[]): Promise<number> {
  if (ids.length === 0) return 0;
  return pool.transaction(async (tx) => {
    const r = await tx.query(sql.unsafe`DELETE FROM runs WHERE id = ANY(${sql.array([...ids], 'text')})`);
    return r.rowCount;
  });
}

/** Every run id in the database, newest first. */
export async function allRunIds(pool: DatabasePool): Promise<string[]> {
  const rows = await pool.any(sql.type(z.object({ id: z.string() }))`SELECT id FROM runs ORDER BY started_at DESC, updated_at DESC`);
  return rows.map((r) => r.id);
}
