import { describe, expect, it } from 'vitest';
import type { Persona, StoreApi } from '../../src/model/types.ts';
import { createSimulation, DEFAULT_SIMULATION_CONFIG, type SimulationConfig } from '../../src/simulation/create-simulation.ts';
import { createMockRecorder } from '../../src/simulation/mock-recorder.ts';
import { createMockStore } from '../../src/store/mock-store.ts';
import { StoreCallError } from '../../src/store/store-error.ts';
import { persona, personas372, products } from '../helpers.ts';

const everyoneShops: Persona[] = personas372.map((p) => persona({ ...p, shopping_frequency: 1, hour_affinity: new Array(24).fill(1), weekday_affinity: 1, weekend_affinity: 1, browse_propensity: 0, abandonment_tendency: 0 }));

function config(over: Partial<SimulationConfig> = {}): SimulationConfig {
  return { ...DEFAULT_SIMULATION_CONFIG, runId: 'test-run', fast: true, cycles: 2, breakerAction: 'exit', ...over };
}

/** The mock store, but the first `n` agents' add-to-cart is answered as the store answers an empty shelf, or as an outage. */
function shelfEmptyFor(n: number, how: 'refused' | 'outage'): StoreApi {
  const base = createMockStore({ seed: 42, products, agentIds: everyoneShops.map((p) => p.id) });
  return {
    ...base,
    addToCart: async (ctx, id, qty) => {
      if (ctx.agentIndex < n) {
        throw how === 'refused'
          ? new StoreCallError('rejected', `POST /cart/items: 409 INSUFFICIENT_STOCK: product ${id}: ${qty} wanted, 0 in stock`, { status: 409, storeCode: 'INSUFFICIENT_STOCK' })
          : new StoreCallError('failed', 'POST /cart/items: 503 STORE_FAILED: down', { status: 503 });
      }
      return base.addToCart(ctx, id, qty);
    },
  };
}

const run = (store: StoreApi, over: Partial<SimulationConfig> = {}) => createSimulation(config(over), { personas: everyoneShops, products, store, recorder: createMockRecorder() }).run();

describe('what the circuit breaker counts', () => {
  it('store rule refusals (409 out of stock) are outcomes: 100 of 372 refused, the breaker (threshold 18) stays closed', async () => {
    const s = await run(shelfEmptyFor(100, 'refused'));
    expect(s.exit_reason).toBe('completed');
    expect(s.breaker.state).toBe('closed');
    expect(s.breaker.counts).toBe('faults');
    expect(s.breaker.last_cycle_failures).toBe(0);
    // Still failed sessions in the records (the database agrees), named as refusals in the summary.
    // (a few of the 100 abandon before the cart: nothing affordable on their page)
    expect(s.store_refusals).toBeGreaterThan(2 * 90);
    expect(s.sessions_failed).toBe(s.store_refusals);
    expect(s.agent_failures).toBe(0);
  });

  it('--breaker-on all counts them: the breaker opens and the run stops (exit reason breaker)', async () => {
    const s = await run(shelfEmptyFor(100, 'refused'), { breakerOn: 'all' });
    expect(s.exit_reason).toBe('breaker');
    expect(s.breaker.counts).toBe('all');
    expect(s.cycles_completed).toBe(1);
    expect(s.breaker.last_cycle_failures).toBe(s.sessions_failed);
    expect(s.breaker.last_cycle_failures).toBeGreaterThan(90);
  });

  it('faults on the same step still open it', async () => {
    const s = await run(shelfEmptyFor(19, 'outage'));
    expect(s.exit_reason).toBe('breaker');
    expect(s.breaker.last_cycle_failures).toBe(19);
    expect(s.agent_failures).toBe(19);
    expect(s.store_refusals).toBe(0);
  });

  it('a breaker that opens on the last cycle stops the run like any other (not "completed")', async () => {
    const s = await run(shelfEmptyFor(19, 'outage'), { cycles: 1 });
    expect(s.cycles_completed).toBe(1);
    expect(s.breaker.state).toBe('open');
    expect(s.exit_reason).toBe('breaker');
  });
});
