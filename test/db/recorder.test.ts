/**
 * The database layer against the embedded PGlite and (TEST_DATABASE_URL) a real PostgreSQL:
 * migrations, per-agent transactions and rollback, orphan clean-up, resume de-duplication,
 * the report.
 */
import { describe, expect, it } from 'vitest';
import { sql, type QuerySqlToken } from 'slonik';
import { z } from 'zod';
import type { Database } from '../../src/db/connection.ts';
import { migrate, migrationFiles } from '../../src/db/migrate.ts';
import { ORPHAN_NOTE } from '../../src/db/pg-recorder.ts';
import { buildReport, listRuns } from '../../src/db/report.ts';
import { runCounts, runMeta, sessionRecord, targets, useDatabase } from './helpers.ts';

const count = z.object({ n: z.number() });

for (const target of targets()) {
  describe.skipIf(target.skip)(`database layer (${target.name})`, () => {
    let db: Database;
    const n = async (query: QuerySqlToken<typeof count>) => (await db.pool.one(query)).n;
    const { sessionsOf, eventsOf } = runCounts(() => db);
    useDatabase(target, (d) => (db = d));

    it('migrates an empty database, and a second run applies nothing', async () => {
      expect(db.migrations?.applied).toEqual(migrationFiles().map((f) => f.name));
      const tables = await db.pool.anyFirst(sql.type(z.object({ t: z.string() }))`
        SELECT table_name::text AS t FROM information_schema.tables WHERE table_schema = ANY (current_schemas(false)) ORDER BY 1`);
      expect(tables).toEqual(expect.arrayContaining(['agents', 'products', 'runs', 'shopping_session_events', 'shopping_sessions', 'shopsim_migrations']));
      expect(await migrate(db.pool)).toEqual({ applied: [], total: migrationFiles().length });
      // Concurrent migrators (simulation + store server) are serialised by an advisory lock.
      const again = await Promise.all([migrate(db.pool), migrate(db.pool)]);
      expect(again.map((r) => r.applied)).toEqual([[], []]);
    });

    it('beginRun stores run, agents and products, without secrets; re-running it upserts', async () => {
      const meta = runMeta('run-begin', 12, { databaseUrl: 'postgres://shop:Hunter2Secret@db.example:5432/shop', dbPassword: 'Hunter2Secret', nested: { apiToken: 'x', keep: 1 } });
      await db.recorder.beginRun(meta);
      await db.recorder.beginRun({ ...meta, isReplay: true, resumedFrom: 'checkpoint-3.json' });
      const run = await db.pool.one(sql.type(z.object({ config: z.record(z.unknown()), is_replay: z.boolean(), resumed_from: z.string().nullable() }))`
        SELECT config, is_replay, resumed_from FROM runs WHERE id = 'run-begin'`);
      expect(JSON.stringify(run.config)).not.toContain('Hunter2Secret');
      expect(run.config).toMatchObject({ agents: 12, databaseUrl: 'postgres://db.example:5432/shop', nested: { keep: 1 } });
      expect(run).toMatchObject({ is_replay: true, resumed_from: 'checkpoint-3.json' });
      expect(await n(sql.type(count)`SELECT count(*)::int AS n FROM agents WHERE last_run_id = 'run-begin'`)).toBe(12);
      expect(await n(sql.type(count)`SELECT count(*)::int AS n FROM products`)).toBeGreaterThanOrEqual(5);
    });

    it('commits each agent-cycle in one transaction; a failing one leaves nothing while concurrent others commit', async () => {
      const runId = 'run-rollback';
      await db.recorder.beginRun(runMeta(runId, 40));
      const good = Array.from({ length: 39 }, (_, i) => sessionRecord(runId, i, 1, i % 3 === 0 ? 'checkout' : i % 3 === 1 ? 'abandon' : 'browse'));
      // Agent 39: the session row inserts, then the batched events violate a constraint
      // (duplicate seq → primary key) mid-transaction.
      const bad = sessionRecord(runId, 39, 1, 'checkout');
      bad.events[3] = { ...bad.events[3]!, seq: 1 };
      const results = await Promise.allSettled([...good, bad].map((r) => db.recorder.commitSession(r)));
      expect(results.filter((r) => r.status === 'rejected')).toHaveLength(1);
      expect(results[39]!.status).toBe('rejected');
      expect(await sessionsOf(runId)).toBe(39);
      expect(await eventsOf(runId)).toBe(good.reduce((s, r) => s + r.events.length, 0));
      expect(await n(sql.type(count)`SELECT count(*)::int AS n FROM shopping_sessions WHERE id = ${bad.sessionId}`)).toBe(0);
      expect(await n(sql.type(count)`SELECT count(*)::int AS n FROM shopping_session_events WHERE session_id = ${bad.sessionId}`)).toBe(0);
      // An invalid payload (not an object) is refused by a CHECK the same way.
      const bad2 = sessionRecord(runId, 39, 2, 'browse');
      bad2.events[2] = { ...bad2.events[2]!, payload: [1, 2] as unknown as Record<string, unknown> };
      await expect(db.recorder.commitSession(bad2)).rejects.toThrow();
      expect(await sessionsOf(runId)).toBe(39);
      // The agent can commit its next cycle normally. Committing the same agent-cycle again is
      // idempotent (migration 011: a write whose answer was lost is sent again): nothing doubles.
      await db.recorder.commitSession(sessionRecord(runId, 39, 2, 'checkout'));
      const events = await eventsOf(runId);
      await db.recorder.commitSession(good[0]!);
      expect(await sessionsOf(runId)).toBe(40);
      expect(await eventsOf(runId)).toBe(events);
    });

    it('stores a failed session with its error in notes (≤ 500 chars) and its <step>_failed event', async () => {
      const runId = 'run-failed';
      await db.recorder.beginRun(runMeta(runId, 2));
      const r = sessionRecord(runId, 0, 1, 'failed');
      r.notes = 'x'.repeat(800);
      await db.recorder.commitSession(r);
      const row = await db.pool.one(sql.type(z.object({ status: z.string(), notes: z.string() }))`SELECT status, notes FROM shopping_sessions WHERE id = ${r.sessionId}`);
      expect(row.status).toBe('failed');
      expect(row.notes).toHaveLength(500);
      const ev = await db.pool.one(sql.type(z.object({ type: z.string(), payload: z.record(z.unknown()) }))`
        SELECT type, payload FROM shopping_session_events WHERE session_id = ${r.sessionId} ORDER BY seq DESC LIMIT 1`);
      expect(ev).toEqual({ type: 'checkout_failed', payload: { error: 'store answered 503 Service Unavailable', error_type: 'StoreCallError' } });
    });

    it('deleting sessions, or their whole run, deletes their events too (no foreign key; a statement trigger)', async () => {
      const runId = 'run-delete';
      await db.recorder.beginRun(runMeta(runId, 6));
      const records = Array.from({ length: 6 }, (_, i) => sessionRecord(runId, i, 1, i % 2 ? 'checkout' : 'browse'));
      await Promise.all(records.map((r) => db.recorder.commitSession(r)));
      const total = records.reduce((s, r) => s + r.events.length, 0);
      expect(await eventsOf(runId)).toBe(total);
      await db.pool.query(sql.unsafe`DELETE FROM shopping_sessions WHERE id = ${records[0]!.sessionId}`);
      expect(await eventsOf(runId)).toBe(total - records[0]!.events.length);
      // runs → shopping_sessions is ON DELETE CASCADE; the cascade fires the events trigger.
      await db.pool.query(sql.unsafe`DELETE FROM runs WHERE id = ${runId}`);
      expect(await sessionsOf(runId)).toBe(0);
      expect(await eventsOf(runId)).toBe(0);
    });

    it('prepareResume: abandons orphaned active sessions, clears the carts of every agent of the run, takes back orders no session references, drops cycles after the checkpoint; re-commits never duplicate', async () => {
      const runId = 'run-resume';
      const agents = 10;
      await db.recorder.beginRun(runMeta(runId, agents));
      for (let c = 1; c <= 5; c++) {
        await Promise.all(Array.from({ length: agents }, (_, i) => db.recorder.commitSession(sessionRecord(runId, i, c, (i + c) % 4 === 0 ? 'abandon' : 'checkout'))));
      }
      // Two sessions left `active` by a crash in cycle 3 (e.g. written by a store that opens sessions).
      await db.pool.query(sql.unsafe`UPDATE shopping_sessions SET status = 'active', ended_at = NULL WHERE run_id = ${runId} AND cycle = 3 AND agent_id IN ('agent-0001', 'agent-0002')`);
      // Carts in the store's tables (migration 002); minimal stand-ins if this database has none.
      const hasCarts = await db.pool.oneFirst(sql.type(z.object({ t: z.boolean() }))`SELECT to_regclass('carts') IS NOT NULL AS t`);
      if (hasCarts) {
        await db.pool.query(sql.unsafe`INSERT INTO carts (user_id) VALUES ('agent-0001'), ('agent-0002'), ('agent-0005'), ('outsider') ON CONFLICT DO NOTHING`);
        await db.pool.query(sql.unsafe`INSERT INTO cart_items (user_id, product_id, quantity, unit_price_cents) VALUES ('agent-0001', 'prod-1', 1, 1001), ('agent-0002', 'prod-2', 1, 1002), ('agent-0005', 'prod-1', 2, 1001), ('outsider', 'prod-1', 2, 1001)`);
        await db.pool.query(sql.unsafe`INSERT INTO cart_coupons (user_id, code, discount_percent, min_spend_cents) VALUES ('agent-0001', 'SAVE10', 10, 0), ('agent-0005', 'SAVE10', 10, 0), ('outsider', 'SAVE10', 10, 0)`);
      } else {
        await db.pool.query(sql.unsafe`CREATE TABLE cart_items (user_id text NOT NULL, product_id text NOT NULL, quantity int NOT NULL)`);
        await db.pool.query(sql.unsafe`CREATE TABLE cart_coupons (user_id text NOT NULL, code text NOT NULL)`);
        await db.pool.query(sql.unsafe`INSERT INTO cart_items VALUES ('agent-0001', 'prod-1', 1), ('agent-0002', 'prod-2', 1), ('agent-0005', 'prod-1', 2), ('outsider', 'prod-1', 2)`);
        await db.pool.query(sql.unsafe`INSERT INTO cart_coupons VALUES ('agent-0001', 'SAVE10'), ('agent-0005', 'SAVE10'), ('outsider', 'SAVE10')`);
      }
      const before = await eventsOf(runId);
      // The checkpoint was taken after cycle 3; cycles 4 and 5 were committed after it.
      const res = await db.recorder.prepareResume(runId, 3);
      expect(res).toEqual({ orphanedSessions: 2, discardedSessions: 2 * agents });
      const orphans = await db.pool.any(sql.type(z.object({ agent_id: z.string(), status: z.string(), notes: z.string() }))`
        SELECT agent_id, status, notes FROM shopping_sessions WHERE run_id = ${runId} AND cycle = 3 AND notes IS NOT NULL ORDER BY agent_id`);
      expect(orphans).toEqual([
        { agent_id: 'agent-0001', status: 'abandoned', notes: ORPHAN_NOTE },
        { agent_id: 'agent-0002', status: 'abandoned', notes: ORPHAN_NOTE },
      ]);
      // Every agent of the run starts the re-run cycles with an empty cart; a user of no run keeps theirs.
      expect(await db.pool.anyFirst(sql.type(z.object({ u: z.string() }))`SELECT user_id AS u FROM cart_items ORDER BY 1`)).toEqual(['outsider']);
      expect(await db.pool.anyFirst(sql.type(z.object({ u: z.string() }))`SELECT user_id AS u FROM cart_coupons ORDER BY 1`)).toEqual(['outsider']);
      expect(await sessionsOf(runId)).toBe(3 * agents);
      // The resumed run re-runs cycles 4 and 5: exactly the same rows as before, no duplicates.
      for (let c = 4; c <= 5; c++) {
        await Promise.all(Array.from({ length: agents }, (_, i) => db.recorder.commitSession(sessionRecord(runId, i, c, (i + c) % 4 === 0 ? 'abandon' : 'checkout'))));
      }
      expect(await sessionsOf(runId)).toBe(5 * agents);
      expect(await eventsOf(runId)).toBe(before);
      const dup = await n(sql.type(count)`
        SELECT count(*)::int AS n FROM (SELECT 1 FROM shopping_sessions WHERE run_id = ${runId} GROUP BY cycle, agent_id HAVING count(*) > 1) d`);
      expect(dup).toBe(0);
      // A second prepareResume at the end is a no-op.
      expect(await db.recorder.prepareResume(runId, 5)).toEqual({ orphanedSessions: 0, discardedSessions: 0 });
    });

    it('listRuns (report --list): newest first, counts from the database, exit and size from the summary', async () => {
      await db.recorder.beginRun({ ...runMeta('run-list-a', 3), startedAt: '2030-01-01T00:00:00.000Z' });
      await db.recorder.beginRun({ ...runMeta('run-list-b', 3), startedAt: '2030-01-02T00:00:00.000Z' });
      const records = [sessionRecord('run-list-b', 0, 1, 'checkout'), sessionRecord('run-list-b', 1, 1, 'browse'), sessionRecord('run-list-b', 2, 1, 'abandon')];
      await Promise.all(records.map((r) => db.recorder.commitSession(r)));
      await db.recorder.endRun('run-list-b', { exit_reason: 'completed', agents: 3, cycles_completed: 1 });
      const runs = await listRuns(db.pool);
      expect(runs.slice(0, 2).map((r) => r.id)).toEqual(['run-list-b', 'run-list-a']);
      expect(runs[0]).toMatchObject({ seed: 7, exit_reason: 'completed', agents: 3, cycles_completed: 1, sessions: 3, checkouts: 1, is_replay: false });
      expect(runs[0]!.revenue_cents).toBe(records[0]!.order!.totalCents);
      expect(runs[0]!.ended_at).not.toBeNull();
      expect(runs[1]).toMatchObject({ exit_reason: null, agents: null, sessions: 0, checkouts: 0, revenue_cents: 0, ended_at: null });
      expect(typeof runs[0]!.seed).toBe('number');
      await db.pool.query(sql.unsafe`DELETE FROM runs WHERE id IN ('run-list-a', 'run-list-b')`);
    });

    it('report: the funnel equals what was committed; endRun stores the summary; default run is the newest', async () => {
      const runId = 'run-report';
      const agents = 30;
      await db.recorder.beginRun({ ...runMeta(runId, agents), startedAt: '2030-01-01T00:00:00.000Z' });
      const expected = { sessions: 0, browse_only: 0, carts: 0, coupons_applied: 0, checkouts: 0, abandoned: 0, failed: 0, events: 0, revenue: 0 };
      const byHour = new Map<number, { s: number; c: number }>();
      const records = [];
      for (let c = 1; c <= 30; c++) {
        for (let i = 0; i < agents; i++) {
          const k = (i * 7 + c * 3) % 11;
          if (k === 10) continue; // skipped cycle: no session
          const outcome = k < 3 ? 'browse' : k < 7 ? 'checkout' : k < 9 ? 'abandon' : 'failed';
          const r = sessionRecord(runId, i, c, outcome, { coupon: k === 4 || k === 7 });
          records.push(r);
          expected.sessions++;
          expected.events += r.events.length;
          if (outcome === 'browse') expected.browse_only++;
          else expected.carts++;
          if (outcome === 'checkout') {
            expected.checkouts++;
            expected.revenue += 901;
          }
          if (outcome === 'abandon') expected.abandoned++;
          if (outcome === 'failed') expected.failed++;
          if (k === 4 || k === 7) expected.coupons_applied++;
          const hour = (c - 1) % 24;
          const h = byHour.get(hour) ?? { s: 0, c: 0 };
          h.s++;
          if (outcome === 'checkout') h.c++;
          byHour.set(hour, h);
        }
      }
      await Promise.all(records.map((r) => db.recorder.commitSession(r)));
      await db.recorder.endRun(runId, { run_id: runId, sessions_created: expected.sessions, note: 'ok' });
      const report = await buildReport(db.pool);
      expect(report.run.id).toBe(runId);
      expect(report.run.ended_at).not.toBeNull();
      expect(report.run.summary).toMatchObject({ sessions_created: expected.sessions });
      expect(report.funnel).toMatchObject({
        sessions: expected.sessions,
        browse_only: expected.browse_only,
        carts: expected.carts,
        coupons_applied: expected.coupons_applied,
        checkouts: expected.checkouts,
        abandoned: expected.abandoned,
        failed: expected.failed,
        active: 0,
        events: expected.events,
        agents,
      });
      expect(report.revenue.revenue_cents).toBe(expected.revenue);
      expect(report.rates.conversion_rate).toBeCloseTo(expected.checkouts / expected.sessions, 3);
      expect(report.rates.abandonment_rate).toBeCloseTo(expected.abandoned / (expected.checkouts + expected.abandoned), 3);
      for (const h of report.by_hour) {
        expect([h.hour, h.sessions, h.checkouts]).toEqual([h.hour, byHour.get(h.hour)?.s ?? 0, byHour.get(h.hour)?.c ?? 0]);
      }
      // 2024-01-01 is a Monday: cycles 1-24 are Monday, 25-30 Tuesday.
      expect(report.by_weekday.map((d) => d.sessions).reduce((a, b) => a + b, 0)).toBe(expected.sessions);
      expect(report.by_weekday[0]!.weekday).toBe('Mon');
      expect(report.by_weekday[0]!.sessions + report.by_weekday[1]!.sessions).toBe(expected.sessions);
      // Every failed session of this fixture has the same error in its notes.
      expect(report.top_failures).toEqual([{ error: 'store answered 503 Service Unavailable', sessions: expected.failed }]);
      const other = await buildReport(db.pool, 'run-rollback');
      expect(other.run.id).toBe('run-rollback');
      await expect(buildReport(db.pool, 'no-such-run')).rejects.toMatchObject({ code: 'E_INPUT' });
    });
  });
}
