/**
 * `shopsim report` against the run's profile: a retail run written through the recorder, then
 * buildReport's achieved rates equal the ones folded from the very records the run committed,
 * each with its band, and the hourly curve sits beside the profile's.
 */
import { describe, expect, it } from 'vitest';
import { renderReport } from '../../src/cli/report.ts';
import type { Database } from '../../src/db/connection.ts';
import { buildReport } from '../../src/db/report.ts';
import { emptyFunnel, foldSession, ratesOf } from '../../src/model/funnel.ts';
import { applyProfile, RATE_NAMES } from '../../src/model/profiles.ts';
import type { Recorder } from '../../src/model/types.ts';
import { loadProfile } from '../../src/run/load-data.ts';
import { createSimulation, DEFAULT_SIMULATION_CONFIG } from '../../src/simulation/create-simulation.ts';
import { createMockStore } from '../../src/store/mock-store.ts';
import { personas372, products } from '../helpers.ts';
import { targets, useDatabase } from './helpers.ts';

for (const target of targets()) {
  describe.skipIf(target.skip)(`report: achieved vs the run's targets (${target.name})`, () => {
    let db: Database;
    useDatabase(target, (d) => (db = d));

    it('372 retail agents × 24 cycles: every targeted rate, its band and the hourly curve', async () => {
      const profile = loadProfile('retail');
      const personas = applyProfile(personas372, profile);
      const runId = `targets-${target.name}`;
      const funnel = emptyFunnel(personas.length);
      const recorder: Recorder = {
        ...db.recorder,
        beginRun: (m) => db.recorder.beginRun(m),
        commitSession: async (r) => {
          await db.recorder.commitSession(r);
          foldSession(funnel, r);
        },
        endRun: (id, s) => db.recorder.endRun(id, s),
      };
      const config = { ...DEFAULT_SIMULATION_CONFIG, runId, fast: true, cycles: 24, breakerPercent: 100, breakerAction: 'exit' as const };
      await recorder.beginRun({ runId, seed: 42, config: { agents: 372, profile: 'retail', profile_spec: profile }, isReplay: false, resumedFrom: null, startedAt: new Date().toISOString(), personas, products });
      const sim = createSimulation(config, { personas, products, store: createMockStore({ seed: 42, products, agentIds: personas.map((p) => p.id) }), recorder });
      const summary = await sim.run();
      await recorder.endRun(runId, summary as unknown as Record<string, unknown>);

      const report = await buildReport(db.pool, runId);
      const t = report.targets;
      expect(t?.profile).toBe('retail');
      const expected = ratesOf(funnel);
      expect(t?.rates.map((x) => x.rate)).toEqual(RATE_NAMES.filter((r) => profile.targets[r]));
      for (const x of t?.rates ?? []) {
        expect(x.achieved, x.rate).toBeCloseTo(expected[x.rate], 4);
        expect([x.min, x.max, x.target]).toEqual([profile.targets[x.rate]?.min, profile.targets[x.rate]?.max, profile.targets[x.rate]?.target]);
        expect(x.inside).toBe(x.achieved >= x.min && x.achieved <= x.max);
      }
      expect(t?.curve).toHaveLength(24);
      expect(t?.curve.map((h) => h.sessions_share * funnel.sessions).map(Math.round)).toEqual(funnel.byHour);
      expect(t?.curve.reduce((a, h) => a + h.target_share, 0)).toBeCloseTo(1, 3);
      const text = renderReport(report);
      expect(text).toContain('Target (profile retail)');
      expect(text).toMatch(/conversion \(orders \/ sessions\)\s*│\s*1\.5% – 3\.5% │/);
      expect(text).toMatch(/│ Hour \(UTC\) │ Sessions │ Orders │ Target │/);
    }, 120_000);
  });
}
