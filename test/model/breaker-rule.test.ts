/**
 * The circuit breaker's rule (src/model/warmup.ts breakerOpens): the seed's threshold, and a
 * cycle in which every session failed after at least 3 failed in a row, whatever the agent count.
 * Pure cases first, then whole runs against a store that never answers and one that is flaky.
 */
import { describe, expect, it } from 'vitest';
import { generatePersonas } from '../../src/model/personas.ts';
import { ALL_FAILED_MIN_IN_A_ROW, breakerOpens, breakerThreshold, failedInARowAfter } from '../../src/model/warmup.ts';
import { createSimulation, DEFAULT_SIMULATION_CONFIG, type SimulationConfig } from '../../src/simulation/create-simulation.ts';
import { createMockRecorder } from '../../src/simulation/mock-recorder.ts';
import { createMockStore } from '../../src/store/mock-store.ts';
import { products } from '../helpers.ts';

describe('breakerOpens', () => {
  it('keeps the seed rule at 372 agents and 5 %: 18 failures keep it closed, 19 open it', () => {
    const t = breakerThreshold(372, 5);
    expect(t).toBe(18);
    expect(breakerOpens({ sessions: 90, failed: 18 }, t, 0, 5)).toBe(false);
    expect(breakerOpens({ sessions: 90, failed: 19 }, t, 0, 5)).toBe(true);
  });

  it('opens on a cycle whose every session failed once 3 sessions have failed in a row, under the threshold', () => {
    const t = breakerThreshold(20, 5); // 1
    expect(ALL_FAILED_MIN_IN_A_ROW).toBe(3);
    expect(breakerOpens({ sessions: 1, failed: 1 }, t, 1, 5)).toBe(false);
    expect(breakerOpens({ sessions: 1, failed: 1 }, t, 2, 5)).toBe(false);
    expect(breakerOpens({ sessions: 1, failed: 1 }, t, 3, 5)).toBe(true);
    // One session of the cycle succeeded: not a store that cannot be reached.
    expect(breakerOpens({ sessions: 2, failed: 1 }, t, 5, 5)).toBe(false);
    // No session at all: no evidence either way.
    expect(breakerOpens({ sessions: 0, failed: 0 }, t, 5, 5)).toBe(false);
    // --breaker-percent 100 never opens it.
    expect(breakerOpens({ sessions: 1, failed: 1 }, breakerThreshold(20, 100), 9, 100)).toBe(false);
  });

  it('counts failed sessions in a row across cycles; a success resets the count, an empty cycle keeps it', () => {
    let n = 0;
    const seen: number[] = [];
    for (const c of [{ sessions: 1, failed: 1 }, { sessions: 0, failed: 0 }, { sessions: 2, failed: 2 }, { sessions: 3, failed: 2 }, { sessions: 1, failed: 1 }]) {
      n = failedInARowAfter(n, c);
      seen.push(n);
    }
    expect(seen).toEqual([1, 1, 3, 0, 1]);
  });
});

async function runWith(agents: number, failRate: number, over: Partial<SimulationConfig> = {}) {
  const personas = generatePersonas(agents, 42);
  const config: SimulationConfig = { ...DEFAULT_SIMULATION_CONFIG, runId: 'breaker-rule', fast: true, cycles: 24, breakerAction: 'exit', breakerPercent: 5, ...over };
  const store = createMockStore({ seed: config.seed, products, agentIds: personas.map((p) => p.id), failRate });
  const sim = createSimulation(config, { personas, products, store, recorder: createMockRecorder() });
  const cycles: { cycle: number; sessions: number; failed: number; open: boolean }[] = [];
  sim.events.on('cycle', (r) => cycles.push({ cycle: r.cycle, sessions: r.totals.sessions, failed: r.totals.failed, open: r.breakerOpen }));
  return { summary: await sim.run(), cycles };
}

describe('a run whose store never answers', () => {
  it('20 agents at 5 % (threshold 1): the breaker opens by rule (b), the run ends with exit reason breaker', async () => {
    const { summary, cycles } = await runWith(20, 1);
    expect(summary.breaker.threshold).toBe(1);
    expect(summary.exit_reason).toBe('breaker');
    expect(summary.breaker.trips).toBe(1);
    // Every session failed; no cycle exceeded the threshold (one session a cycle), so rule (a)
    // never fires: the breaker opened on the cycle where 3 sessions had failed in a row.
    expect(cycles.every((c) => c.failed === c.sessions)).toBe(true);
    const last = cycles.at(-1) as (typeof cycles)[number];
    expect(last.open).toBe(true);
    expect(last.failed).toBeLessThanOrEqual(summary.breaker.threshold);
    const failedBefore = cycles.slice(0, -1).reduce((n, c) => n + c.failed, 0);
    expect(failedBefore).toBeLessThan(3);
    expect(failedBefore + last.failed).toBeGreaterThanOrEqual(3);
    expect(cycles.slice(0, -1).every((c) => !c.open)).toBe(true);
    expect(summary.cycles_completed).toBeLessThan(24);
  });

  it('372 agents at 5 %: the seed rule opens it on the first cycle with sessions (more than 18 failures)', async () => {
    const { summary, cycles } = await runWith(372, 1);
    expect(summary.exit_reason).toBe('breaker');
    const last = cycles.at(-1) as (typeof cycles)[number];
    expect(last.failed).toBeGreaterThan(18);
  });
});

describe('a flaky store (2 % of calls fail) at 20 agents', () => {
  it('does not open the breaker by rule (b) while sessions keep succeeding', async () => {
    const { summary, cycles } = await runWith(20, 0.02, { breakerPercent: 50 });
    expect(summary.exit_reason).toBe('completed');
    expect(cycles.some((c) => c.sessions > c.failed)).toBe(true);
  });
});
