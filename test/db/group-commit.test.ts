/**
 * Group commit (`--db-group-commit N`): agent-cycles that arrive together go in one statement;
 * when a batch fails, each agent-cycle is written alone, so the bad one fails alone and the
 * others commit — the same guarantee as one transaction per agent-cycle.
 */
import { describe, expect, it } from 'vitest';
import { sql } from 'slonik';
import { z } from 'zod';
import type { Database } from '../../src/db/connection.ts';
import { createPgRecorder } from '../../src/db/pg-recorder.ts';
import { runCounts, runMeta, sessionRecord, targets, useDatabase } from './helpers.ts';

for (const target of targets()) {
  describe.skipIf(target.skip)(`group commit (${target.name})`, () => {
    let db: Database;
    useDatabase(target, (d) => (db = d));
    const { sessionsOf, eventsOf } = runCounts(() => db);

    it('writes a batch of agent-cycles together, all sessions and all events', async () => {
      const recorder = createPgRecorder(db.pool, { groupCommit: 16 });
      const runId = 'run-group';
      await recorder.beginRun(runMeta(runId, 40));
      const records = Array.from({ length: 40 }, (_, i) => sessionRecord(runId, i, 1, i % 3 === 0 ? 'checkout' : i % 3 === 1 ? 'abandon' : 'failed'));
      await Promise.all(records.map((r) => recorder.commitSession(r)));
      expect(await sessionsOf(runId)).toBe(40);
      expect(await eventsOf(runId)).toBe(records.reduce((s, r) => s + r.events.length, 0));
      const notes = await db.pool.oneFirst(sql.type(z.object({ notes: z.string().nullable() }))`SELECT notes FROM shopping_sessions WHERE id = ${records[2]!.sessionId}`);
      expect(notes).toBe(records[2]!.notes);
    });

    it('splits what arrives together into near-even statements of at most N, and one agent-cycle alone is written alone', async () => {
      const sizes: number[] = [];
      // The pool as the recorder sees it, recording the size of each statement's batch.
      const counting = new Proxy(db.pool, {
        get(pool, key) {
          if (key !== 'query') return Reflect.get(pool, key);
          return (q: { values: readonly unknown[] }) => {
            sizes.push((JSON.parse(String(q.values[0])) as unknown[]).length);
            return pool.query(q as never);
          };
        },
      });
      const recorder = createPgRecorder(counting, { groupCommit: 16 });
      const runId = 'run-group-split';
      await db.recorder.beginRun(runMeta(runId, 40));
      await Promise.all(Array.from({ length: 40 }, (_, i) => recorder.commitSession(sessionRecord(runId, i, 1, 'checkout'))));
      // 40 waiting, N = 16: three statements of ceil(40 / 3) = 14, the last one the rest.
      expect(sizes.sort((a, b) => a - b)).toEqual([12, 14, 14]);
      sizes.length = 0;
      await recorder.commitSession(sessionRecord(runId, 0, 2, 'browse'));
      expect(sizes).toEqual([1]);
      expect(await sessionsOf(runId)).toBe(41);
      // What the dashboard and the summary (`db_writes`) show: 41 agent-cycles in 4 statements.
      const m = recorder.metrics!();
      expect(m).toMatchObject({ commits: 41, failed: 0, statements: 4, events: await eventsOf(runId) });
      expect(m.commit_ms.count).toBe(41);
      expect(m.commit_ms.p50).toBeGreaterThan(0);
      expect(m.commit_ms.p99).toBeLessThanOrEqual(m.commit_ms.max);
    });

    it('a bad agent-cycle in a batch fails alone; the others commit', async () => {
      const recorder = createPgRecorder(db.pool, { groupCommit: 64 });
      const runId = 'run-group-bad';
      await recorder.beginRun(runMeta(runId, 30));
      const good = Array.from({ length: 29 }, (_, i) => sessionRecord(runId, i, 1, 'checkout'));
      const bad = sessionRecord(runId, 29, 1, 'checkout');
      bad.events[3] = { ...bad.events[3]!, seq: 1 }; // duplicate seq → primary key violation
      const results = await Promise.allSettled([...good, bad].map((r) => recorder.commitSession(r)));
      expect(results.filter((r) => r.status === 'rejected')).toHaveLength(1);
      expect(results[29]!.status).toBe('rejected');
      expect(await sessionsOf(runId)).toBe(29);
      // One failed batch, then each of the 30 alone.
      expect(recorder.metrics!()).toMatchObject({ commits: 29, failed: 1, statements: 31 });
      expect(await eventsOf(runId)).toBe(good.reduce((s, r) => s + r.events.length, 0));
    });
  });
}
