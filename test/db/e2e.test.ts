/**
 * End to end: createSimulation with the deterministic mock store and the PostgreSQL recorder,
 * 372 agents × 6 cycles, fast. What the database holds equals the run's JSON summary.
 */
import { describe, expect, it } from 'vitest';
import { sql } from 'slonik';
import { z } from 'zod';
import type { Database } from '../../src/db/connection.ts';
import { buildReport } from '../../src/db/report.ts';
import { generateProducts } from '../../src/model/catalog.ts';
import { generatePersonas } from '../../src/model/personas.ts';
import { createSimulation, DEFAULT_SIMULATION_CONFIG } from '../../src/simulation/create-simulation.ts';
import { createMockStore } from '../../src/store/mock-store.ts';
import { targets, useDatabase } from './helpers.ts';

const statusCounts = z.object({ status: z.string(), kind: z.string(), n: z.number() });

for (const target of targets()) {
  describe.skipIf(target.skip)(`simulation → database (${target.name})`, () => {
    let db: Database;
    useDatabase(target, (d) => (db = d));

    it('372 agents × 6 cycles: sessions by status, events and revenue equal the summary', async () => {
      const personas = generatePersonas(372, 42);
      const products = generateProducts(240, 42);
      const runId = `e2e-${target.name}`;
      // A few injected store failures, so failed sessions (with their error in notes) are written too.
      const store = createMockStore({ seed: 42, products, agentIds: personas.map((p) => p.id), failRate: 0.02 });
      const config = { ...DEFAULT_SIMULATION_CONFIG, runId, fast: true, cycles: 6, startMs: Date.parse('2024-01-03T10:00:00Z'), breakerPercent: 100, breakerAction: 'exit' as const };
      await db.recorder.beginRun({ runId, seed: config.seed, config: { ...config }, isReplay: false, resumedFrom: null, startedAt: new Date().toISOString(), personas, products });
      const sim = createSimulation(config, { personas, products, store, recorder: db.recorder });
      const summary = await sim.run();
      await db.recorder.endRun(runId, summary as unknown as Record<string, unknown>);
      expect(summary.exit_reason).toBe('completed');
      expect(summary.sessions_created).toBeGreaterThan(100);
      expect(summary.sessions_failed).toBeGreaterThan(0);

      const rows = await db.pool.any(sql.type(statusCounts)`
        SELECT status, kind, count(*)::int AS n FROM shopping_sessions WHERE run_id = ${runId} GROUP BY 1, 2`);
      const count = (status: string, kind?: string) => rows.filter((r) => r.status === status && (!kind || r.kind === kind)).reduce((s, r) => s + r.n, 0);
      const events = await db.pool.oneFirst(sql.type(z.object({ n: z.number() }))`SELECT count(*)::int AS n FROM shopping_session_events WHERE run_id = ${runId}`);
      expect({
        sessions: rows.reduce((s, r) => s + r.n, 0),
        checkouts: count('completed', 'shop'),
        browses: count('completed', 'browse'),
        abandoned: count('abandoned'),
        failed: count('failed'),
        active: count('active'),
        events,
      }).toEqual({
        sessions: summary.sessions_created,
        checkouts: summary.checkouts_completed,
        browses: summary.idle_browses,
        abandoned: summary.sessions_abandoned,
        failed: summary.sessions_failed,
        active: 0,
        events: summary.events_created,
      });
      const failedNotes = await db.pool.anyFirst(sql.type(z.object({ notes: z.string().nullable() }))`
        SELECT notes FROM shopping_sessions WHERE run_id = ${runId} AND status = 'failed'`);
      expect(failedNotes.every((n) => typeof n === 'string' && n.length > 0 && n.length <= 500)).toBe(true);

      const report = await buildReport(db.pool, runId);
      expect(report.funnel).toMatchObject({
        sessions: summary.sessions_created,
        browse_only: summary.idle_browses,
        carts: summary.carts_created,
        coupons_applied: summary.coupons_applied,
        checkouts: summary.checkouts_completed,
        abandoned: summary.sessions_abandoned,
        failed: summary.sessions_failed,
        events: summary.events_created,
      });
      expect(report.revenue.revenue_cents).toBe(summary.revenue_cents);
      expect(report.run.summary).toMatchObject({ run_id: runId, digest: summary.digest });
    });
  });
}
