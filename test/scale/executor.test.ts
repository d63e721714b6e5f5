/**
 * The executor seam: the orchestrator merges cohort reports in cohort order at the barrier, so
 * an executor whose cohorts finish in another order (here: the first cohort last) gives the
 * same digest and counts as the in-process default.
 */
import { describe, expect, it } from 'vitest';
import type { CohortContext, CohortReport } from '../../machines/cohort.machine.ts';
import { generatePersonas } from '../../src/model/personas.ts';
import { emptyTotals } from '../../src/model/totals.ts';
import type { Persona } from '../../src/model/types.ts';
import { inProcessExecutor, type CohortExecutor } from '../../src/scale/executor.ts';
import { createSimulation, DEFAULT_SIMULATION_CONFIG, type SimulationConfig } from '../../src/simulation/create-simulation.ts';
import { createMockRecorder } from '../../src/simulation/mock-recorder.ts';
import { createMockStore } from '../../src/store/mock-store.ts';
import { products } from '../helpers.ts';

const COHORT_SIZE = 100;

/**
 * Holds every cohort's report of a cycle until all have reported, then hands them to the
 * orchestrator last cohort first: completion order is reversed, deterministically.
 */
function reversedExecutor(cohorts: number): CohortExecutor {
  let held: { parent: { send: (e: CohortReport) => void }; report: CohortReport }[] = [];
  const report = (empty: boolean) => ({ context, self }: { context: CohortContext; self: unknown }) => {
    const parent = (self as { _parent: { send: (e: CohortReport) => void } })._parent;
    held.push({ parent, report: { type: 'COHORT_DONE', baseIndex: context.baseIndex, totals: empty ? emptyTotals() : context.totals } });
    if (held.length < cohorts) return;
    const out = held.sort((x, y) => y.report.baseIndex - x.report.baseIndex);
    held = [];
    // After the current transition, as a sendParent would be delivered.
    queueMicrotask(() => {
      for (const h of out) h.parent.send(h.report);
    });
  };
  return {
    name: 'reversed-test',
    cohort: (local) => local.provide({ actions: { reportTotals: report(false), reportEmpty: report(true) } }),
  };
}

/** Runs the simulation; `delivered` gets the baseIndex of every COHORT_DONE the orchestrator receives, in order. */
async function run(personas: Persona[], executor: CohortExecutor, delivered: number[] = []) {
  const config: SimulationConfig = { ...DEFAULT_SIMULATION_CONFIG, runId: 'executor-run', fast: true, cycles: 6, warmupCycles: 2, cohortSize: COHORT_SIZE, breakerAction: 'wait', breakerPercent: 100 };
  const store = createMockStore({ seed: config.seed, products, agentIds: personas.map((p) => p.id), failRate: 0.02 });
  const sim = createSimulation(config, { personas, products, store, recorder: createMockRecorder(),
    executor,
    inspect: (ev) => {
      if (ev.type === '@xstate.event' && ev.event.type === 'COHORT_DONE') delivered.push((ev.event as CohortReport).baseIndex);
    },
  });
  const s = await sim.run();
  return { digest: s.digest, sessions: s.sessions_created, checkouts: s.checkouts_completed, requests: s.requests, revenue: s.revenue_cents, failed: s.sessions_failed };
}

describe('cohort executor seam', () => {
  it('cohorts reporting in reverse order give the in-process digest and counts', async () => {
    const personas = generatePersonas(400, 42);
    const delivered: number[] = [];
    const inProcess = await run(personas, inProcessExecutor);
    const reversed = await run(personas, reversedExecutor(4), delivered);
    // The test executor did reverse the order: every cycle's reports reached the orchestrator last cohort first.
    expect(delivered.length).toBe(4 * 6);
    for (let c = 0; c < 6; c++) expect(delivered.slice(4 * c, 4 * c + 4)).toEqual([300, 200, 100, 0]);
    expect(inProcess.sessions).toBeGreaterThan(0);
    expect(reversed).toEqual(inProcess);
  });
});
