/**
 * Pinned digests of mock-mode runs. A refactor changes no decision, so these stay as they are;
 * a change that alters decisions on purpose (calibration) updates them in one commit that says so.
 */
import { describe, expect, it } from 'vitest';
import { generatePersonas } from '../../src/model/personas.ts';
import { createSimulation, DEFAULT_SIMULATION_CONFIG, type SimulationConfig } from '../../src/simulation/create-simulation.ts';
import { createMockRecorder } from '../../src/simulation/mock-recorder.ts';
import { createMockStore } from '../../src/store/mock-store.ts';
import { personas372, products } from '../helpers.ts';

async function digestOf(personas = personas372, over: Partial<SimulationConfig> = {}, failRate = 0) {
  const config: SimulationConfig = { ...DEFAULT_SIMULATION_CONFIG, runId: 'pin-run', fast: true, cycles: 24, breakerAction: 'wait', breakerPercent: 100, ...over };
  const store = createMockStore({ seed: config.seed, products, agentIds: personas.map((p) => p.id), failRate });
  const sim = createSimulation(config, { personas, products, store, recorder: createMockRecorder() });
  const s = await sim.run();
  return { digest: s.digest, sessions: s.sessions_created, checkouts: s.checkouts_completed, requests: s.requests, revenue: s.revenue_cents };
}

describe('pinned mock-mode digests (decisions unchanged)', () => {
  it('372 agents, 24 cycles, seed 42', async () => {
    expect(await digestOf()).toEqual(PINS.day372);
  });
  it('372 agents, 48 cycles, seed 7, 2% store failures, warm-up 6', async () => {
    expect(await digestOf(personas372, { seed: 7, cycles: 48, warmupCycles: 6 }, 0.02)).toEqual(PINS.faults372);
  });
  it('1,200 agents in cohorts of 300, a window of 200, 12 cycles', async () => {
    expect(await digestOf(generatePersonas(1200, 42), { cycles: 12, cohortSize: 300, maxConcurrentAgents: 200 })).toEqual(PINS.cohorts1200);
  });
});

const PINS = {
  day372: { digest: 'sha256:e6c5072b0a039b9d78bfff8886f46001adbf509f0c7b27ef62b673740ff9d568', sessions: 2204, checkouts: 921, requests: 11300, revenue: 6348269 },
  faults372: { digest: 'sha256:b529d6b28a19673736d555f9067b2c926e7e972bf95b3d9de5fe81777d4879d2', sessions: 4320, checkouts: 1529, requests: 21143, revenue: 10792197 },
  cohorts1200: { digest: 'sha256:c72f91f291b549804b8817410e3735e1aabac9f0806324ef7364e9be6994dacb', sessions: 2005, checkouts: 859, requests: 10476, revenue: 6658354 },
};
