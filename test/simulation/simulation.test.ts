import { describe, expect, it } from 'vitest';
import type { Persona, StoreApi } from '../../src/model/types.ts';
import { createSimulation, DEFAULT_SIMULATION_CONFIG, type CycleReport, type SimulationConfig } from '../../src/simulation/create-simulation.ts';
import { createMockRecorder } from '../../src/simulation/mock-recorder.ts';
import { createMockStore } from '../../src/store/mock-store.ts';
import { StoreCallError } from '../../src/store/store-error.ts';
import { runPlainLoop } from '../bench/plain-loop.ts';
import { persona, personas372, products } from '../helpers.ts';

function config(over: Partial<SimulationConfig> = {}): SimulationConfig {
  return { ...DEFAULT_SIMULATION_CONFIG, runId: 'test-run', fast: true, cycles: 24, breakerAction: 'exit', ...over };
}

function mockStore(ps: Persona[], seed = 42, failRate = 0) {
  return createMockStore({ seed, products, agentIds: ps.map((p) => p.id), failRate });
}

async function runMock(ps: Persona[], over: Partial<SimulationConfig> = {}, failRate = 0) {
  const c = config(over);
  const sim = createSimulation(c, { personas: ps, products, store: mockStore(ps, c.seed, failRate), recorder: createMockRecorder() });
  const cycles: CycleReport[] = [];
  sim.events.on('cycle', (r: CycleReport) => cycles.push(r));
  const summary = await sim.run();
  return { summary, cycles, sim };
}

describe('createSimulation (no commander, no network)', () => {
  it('runs a seeded day of 372 agents and is reproducible', async () => {
    const a = await runMock(personas372);
    const b = await runMock(personas372);
    expect(a.summary.cycles_completed).toBe(24);
    expect(a.summary.sessions_created).toBeGreaterThan(1000);
    expect(a.summary.checkouts_completed).toBeGreaterThan(0);
    expect(a.summary.digest).toMatch(/^sha256:[0-9a-f]{64}$/);
    for (const k of ['digest', 'sessions_created', 'checkouts_completed', 'sessions_abandoned', 'idle_browses', 'events_created', 'offers_assigned', 'requests', 'revenue_cents'] as const) {
      expect(b.summary[k]).toEqual(a.summary[k]);
    }
    expect(a.summary.sessions_created).toBe(a.summary.checkouts_completed + a.summary.sessions_abandoned + a.summary.sessions_failed + a.summary.idle_browses);
  });

  it('another seed gives another digest', async () => {
    const a = await runMock(personas372, { cycles: 6 });
    const b = await runMock(personas372, { cycles: 6, seed: 43 });
    expect(b.summary.digest).not.toBe(a.summary.digest);
  });

  it('makes exactly the decisions of a plain loop over the same logic (same digest)', async () => {
    const xs = await runMock(personas372, { cycles: 12 }, 0.02);
    const plain = await runPlainLoop({
      runId: 'test-run', seed: 42, personas: personas372, cycles: 12, startMs: DEFAULT_SIMULATION_CONFIG.startMs, warmupCycles: 0,
      breakerPercent: 5, offerCycleDays: 7, store: mockStore(personas372, 42, 0.02), recorder: createMockRecorder(),
    });
    expect(xs.summary.digest).toBe(plain.digest);
    expect(xs.summary.sessions_failed).toBe(plain.totals.failed);
    expect(xs.summary.sessions_failed).toBeGreaterThan(0);
  });

  it('ramps up during warm-up: 37, 37, 93, 93, 186, 186, 279, 279, 372, 372, then 372', async () => {
    const { cycles } = await runMock(personas372, { cycles: 11, warmupCycles: 10 });
    expect(cycles.map((c) => c.active)).toEqual([37, 37, 93, 93, 186, 186, 279, 279, 372, 372, 372]);
  });

  it('starts an offer cycle every 7 simulated days and counts offers assigned', async () => {
    const ps = personas372.slice(0, 50);
    const { summary, sim } = await runMock(ps, { cycles: 24 * 8 });
    expect(sim.stats().offer.current_offer_cycle).toBe(2);
    expect(sim.stats().offer.cycle_started_at).toBe('2024-01-08T00:00:00.000Z');
    expect(summary.offers_assigned).toBeGreaterThan(0);
  });

  function failingFirst(n: number, ps: Persona[]): StoreApi {
    const base = mockStore(ps);
    return {
      ...base,
      listProducts: async (ctx, q) => {
        if (ctx.agentIndex < n) throw new StoreCallError('failed', 'injected outage', { status: 503 });
        return base.listProducts(ctx, q);
      },
      startOfferCycle: (r) => base.startOfferCycle(r),
      clearCart: (ctx) => base.clearCart(ctx),
      getProduct: (ctx, id) => base.getProduct(ctx, id),
      addToCart: (ctx, id, q) => base.addToCart(ctx, id, q),
      listOffers: (ctx) => base.listOffers(ctx),
      applyCoupon: (ctx, c) => base.applyCoupon(ctx, c),
      checkout: (ctx, k) => base.checkout(ctx, k),
      getCart: (ctx) => base.getCart(ctx),
      removeFromCart: (ctx, id) => base.removeFromCart(ctx, id),
    };
  }

  it('keeps the breaker closed at 18 failures of 372 and opens it at 19', async () => {
    const everyoneShops = personas372.map((p) => persona({ ...p, shopping_frequency: 1, hour_affinity: new Array(24).fill(1), weekday_affinity: 1, weekend_affinity: 1 }));
    for (const [n, expected] of [[18, 'completed'], [19, 'breaker']] as const) {
      const sim = createSimulation(config({ cycles: 2 }), { personas: everyoneShops, products, store: failingFirst(n, everyoneShops), recorder: createMockRecorder() });
      const summary = await sim.run();
      expect(summary.exit_reason).toBe(expected);
      expect(summary.breaker.threshold).toBe(18);
      expect(summary.breaker.last_cycle_failures).toBe(n);
      if (expected === 'breaker') {
        expect(summary.cycles_completed).toBe(1);
        expect(summary.breaker.state).toBe('open');
        expect(summary.breaker.failure_samples[0]).toMatchObject({ agent_id: everyoneShops[0]!.id, step: 'browse', message: 'injected outage' });
      }
    }
  });

  it('an open breaker pauses the run until resume() (breakerAction wait), which closes it', async () => {
    const everyoneShops = personas372.map((p) => ({ ...p, shopping_frequency: 1, hour_affinity: new Array(24).fill(1), weekday_affinity: 1, weekend_affinity: 1 }));
    const sim = createSimulation(config({ cycles: 3, breakerAction: 'wait' }), { personas: everyoneShops, products, store: failingFirst(30, everyoneShops), recorder: createMockRecorder() });
    const opened: number[] = [];
    sim.events.on('breaker-open', (s) => {
      opened.push(s.cyclesCompleted);
      setTimeout(() => {
        expect(sim.stats().status).toBe('breaker_open');
        expect(sim.stats().cyclesCompleted).toBe(s.cyclesCompleted);
        sim.resume();
      }, 50);
    });
    const summary = await sim.run();
    expect(opened).toEqual([1, 2, 3].slice(0, opened.length));
    expect(opened.length).toBeGreaterThanOrEqual(2);
    expect(summary.cycles_completed).toBe(3);
    expect(summary.breaker.trips).toBe(3);
  });

  it('pause freezes the clock and resume goes on; stop ends gracefully', async () => {
    const ps = personas372.slice(0, 40);
    // Not fast: 3600 / 72000 = 50 ms per cycle.
    const sim = createSimulation(config({ fast: false, timeScale: 72_000, cycles: 200 }), { personas: ps, products, store: mockStore(ps), recorder: createMockRecorder() });
    const done = sim.run();
    await new Promise((r) => setTimeout(r, 200));
    sim.pause();
    await new Promise((r) => setTimeout(r, 120));
    const frozen = sim.stats().cyclesCompleted;
    expect(sim.stats().status).toBe('paused');
    await new Promise((r) => setTimeout(r, 300));
    expect(sim.stats().cyclesCompleted).toBe(frozen);
    expect(sim.stats().simulatedTime).toBe(new Date(DEFAULT_SIMULATION_CONFIG.startMs + frozen * 3_600_000).toISOString());
    sim.resume();
    await new Promise((r) => setTimeout(r, 300));
    expect(sim.stats().cyclesCompleted).toBeGreaterThan(frozen);
    sim.stop();
    const summary = await done;
    expect(summary.exit_reason).toBe('stopped');
    expect(summary.cycles_completed).toBeLessThan(200);
  });

  it('paces cycles 3600 / time-scale seconds apart and reports lag instead of absorbing it', async () => {
    const ps = personas372.slice(0, 20);
    let now = 0;
    const sleeps: number[] = [];
    const clock = {
      now: () => now,
      sleep: async (ms: number) => {
        sleeps.push(ms);
        now += ms;
      },
    };
    const sim = createSimulation(config({ fast: false, timeScale: 48, cycles: 4 }), { personas: ps, products, store: mockStore(ps), recorder: createMockRecorder(), clock });
    const summary = await sim.run();
    expect(summary.cycles_completed).toBe(4);
    expect(sleeps.map((s) => Math.round(s))).toEqual([75_000, 75_000, 75_000]);
    expect(summary.cycle_lag_max_s).toBe(0);
  });
});
