/**
 * Pinned digests of mock-mode runs. A refactor changes no decision, so these stay as they are;
 * a change that alters decisions on purpose (calibration) updates them in one commit that says so.
 * The `seed` profile is the behaviour these digests were first pinned with (before profiles):
 * it must reproduce them exactly. The `retail` profile (the default) has pins of its own.
 */
import { describe, expect, it } from 'vitest';
import { generatePersonas } from '../../src/model/personas.ts';
import { applyProfile } from '../../src/model/profiles.ts';
import type { Persona } from '../../src/model/types.ts';
import { loadProfile } from '../../src/run/load-data.ts';
import { createSimulation, DEFAULT_SIMULATION_CONFIG, type SimulationConfig } from '../../src/simulation/create-simulation.ts';
import { createMockRecorder } from '../../src/simulation/mock-recorder.ts';
import { createMockStore } from '../../src/store/mock-store.ts';
import { personas372, products } from '../helpers.ts';

const PINS = {
  seed: {
    day372: { digest: 'sha256:e6c5072b0a039b9d78bfff8886f46001adbf509f0c7b27ef62b673740ff9d568', sessions: 2204, checkouts: 921, requests: 11300, revenue: 6348269 },
    faults372: { digest: 'sha256:b529d6b28a19673736d555f9067b2c926e7e972bf95b3d9de5fe81777d4879d2', sessions: 4320, checkouts: 1529, requests: 21143, revenue: 10792197 },
    cohorts1200: { digest: 'sha256:c72f91f291b549804b8817410e3735e1aabac9f0806324ef7364e9be6994dacb', sessions: 2005, checkouts: 859, requests: 10476, revenue: 6658354 },
  },
  retail: {
    day372: { digest: 'sha256:2994f2207f41961e444a0e6c0e631be83eb8f696e78ddc2affee15d8ae1c4b75', sessions: 2413, checkouts: 71, requests: 12691, revenue: 334308 },
    faults372: { digest: 'sha256:c46ad0c2d3af7a5dbca5cbc45ac8cef0d3ef03c32fe547bccab72d566a73f3e7', sessions: 4667, checkouts: 106, requests: 23980, revenue: 550442 },
    cohorts1200: { digest: 'sha256:f8ce3c8a1a9a08c641b3daeaf2b9066d52f3655311d95b213554ecfb2dbc885d', sessions: 2263, checkouts: 71, requests: 11898, revenue: 326836 },
  },
};

async function digestOf(personas: Persona[], over: Partial<SimulationConfig> = {}, failRate = 0) {
  const config: SimulationConfig = { ...DEFAULT_SIMULATION_CONFIG, runId: 'pin-run', fast: true, cycles: 24, breakerAction: 'wait', breakerPercent: 100, ...over };
  const store = createMockStore({ seed: config.seed, products, agentIds: personas.map((p) => p.id), failRate });
  const sim = createSimulation(config, { personas, products, store, recorder: createMockRecorder() });
  const s = await sim.run();
  return { digest: s.digest, sessions: s.sessions_created, checkouts: s.checkouts_completed, requests: s.requests, revenue: s.revenue_cents };
}

for (const name of ['seed', 'retail'] as const) {
  const profile = loadProfile(name);
  const pins = PINS[name];
  describe(`pinned mock-mode digests, profile ${name} (decisions unchanged)`, () => {
    it('372 agents, 24 cycles, seed 42', async () => {
      expect(await digestOf(applyProfile(personas372, profile))).toEqual(pins.day372);
    });
    it('372 agents, 48 cycles, seed 7, 2% store failures, warm-up 6', async () => {
      expect(await digestOf(applyProfile(personas372, profile), { seed: 7, cycles: 48, warmupCycles: 6 }, 0.02)).toEqual(pins.faults372);
    });
    it('1,200 agents in cohorts of 300, a window of 200, 12 cycles', async () => {
      expect(await digestOf(applyProfile(generatePersonas(1200, 42), profile), { cycles: 12, cohortSize: 300, maxConcurrentAgents: 200 })).toEqual(pins.cohorts1200);
    });
  });
}

it('the seed profile leaves the personas as written (the same objects)', () => {
  expect(applyProfile(personas372, loadProfile('seed'))).toBe(personas372);
});
