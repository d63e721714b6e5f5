/**
 * End to end over real HTTP: `shopsim run` with no mocks — the bundled reference store
 * in-process on loopback, writing to the embedded database (and, with TEST_DATABASE_URL, to a
 * real PostgreSQL in a schema of its own). Orders in the database equal checkouts_completed.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { sql } from 'slonik';
import { z } from 'zod';
import { scratchDir, shopsim } from '../e2e/helpers.ts';
import { targets } from '../db/helpers.ts';

const count = z.object({ n: z.number() });

for (const target of targets()) {
  describe.skipIf(target.skip)(`shopsim run over HTTP on the ${target.name} database`, () => {
    beforeAll(() => target.setup());
    afterAll(() => target.teardown());

    it('372 agents × 6 cycles: sessions and orders in the database equal the summary', async () => {
      // Removed after the file (the helpers' afterAll), failed or not.
      const dataDir = scratchDir('shopsim-e2e-');
      const where = target.url() ? ['--database-url', target.url() as string] : ['--data-dir', dataDir];
      // The seed profile: its six night hours still order (under retail the night's few visits
      // order nothing), at the workload this test was sized for; it checks the pipeline, not the funnel.
      const r = await shopsim(['run', '--agents', '372', '--cycles', '6', '--profile', 'seed', '--fast', '--rate-limit', '0', '--json', '--checkpoint-dir', join(dataDir, 'cp'), ...where]);
      expect(r.stderr).not.toMatch(/run failed/);
      expect(r.code).toBe(0);
      const s = JSON.parse(r.stdout);
      expect(s.exit_reason).toBe('completed');
      expect(s.checkouts_completed).toBeGreaterThan(0);
      expect(s.requests).toBeGreaterThan(0);
      expect(s.latency_ms.p95).toBeGreaterThan(0);
      expect(s.store).toMatch(/reference store \(in-process, http:\/\/127\.0\.0\.1:\d+\)/);
      // The recorder's own count of what it wrote (dashboard row "DB writes").
      expect(s.db_writes).toMatchObject({ commits: s.sessions_created, failed: 0, statements: s.sessions_created, events: s.events_created });
      expect(s.db_writes.commit_ms.count).toBe(s.sessions_created);
      const db = await (target.url() ? target.open() : target.open({ dataDir }));
      try {
        const orders = await db.pool.one(sql.type(count)`SELECT count(*)::int AS n FROM orders WHERE id IN (SELECT order_id FROM shopping_sessions WHERE run_id = ${s.run_id})`);
        const allOrders = await db.pool.one(sql.type(count)`SELECT count(*)::int AS n FROM orders`);
        const sessions = await db.pool.one(sql.type(count)`SELECT count(*)::int AS n FROM shopping_sessions WHERE run_id = ${s.run_id}`);
        const events = await db.pool.one(sql.type(count)`SELECT count(*)::int AS n FROM shopping_session_events WHERE run_id = ${s.run_id}`);
        expect(orders.n).toBe(s.checkouts_completed);
        if (!target.url()) expect(allOrders.n).toBe(s.checkouts_completed); // a fresh database: no other orders
        expect(sessions.n).toBe(s.sessions_created);
        expect(events.n).toBe(s.events_created);
      } finally {
        await db.close();
      }
      // The report, from the database, agrees with the run's own summary.
      // The run is listed, with the same counts.
      const list = await shopsim(['report', '--list', '--json', ...where]);
      expect(list.code).toBe(0);
      const listed = (JSON.parse(list.stdout).runs as { id: string }[]).find((x) => x.id === s.run_id);
      expect(listed).toMatchObject({ exit_reason: 'completed', agents: 372, cycles_completed: 6, sessions: s.sessions_created, checkouts: s.checkouts_completed, revenue_cents: s.revenue_cents });
      const rep = await shopsim(['report', '--run', s.run_id, '--json', ...where]);
      expect(rep.code).toBe(0);
      const f = JSON.parse(rep.stdout).funnel;
      expect(f).toMatchObject({
        sessions: s.sessions_created,
        browse_only: s.idle_browses,
        carts: s.carts_created,
        coupons_applied: s.coupons_applied,
        checkouts: s.checkouts_completed,
        abandoned: s.sessions_abandoned,
        failed: s.sessions_failed,
        events: s.events_created,
      });
    });
  });
}
