/**
 * The whole simulation over real HTTP: createSimulation with the undici client against the
 * in-process reference store (memory backend), 372 agents × 6 cycles, fast.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { generateProducts } from '../../src/model/catalog.ts';
import { generatePersonas } from '../../src/model/personas.ts';
import { createStoreServer, type StoreServer } from '../../src/server/create-store-server.ts';
import { createMemoryBackend, type MemoryBackend } from '../../src/server/memory-backend.ts';
import { createSimulation, DEFAULT_SIMULATION_CONFIG } from '../../src/simulation/create-simulation.ts';
import { createMockRecorder } from '../../src/simulation/mock-recorder.ts';
import { createHttpStore, type HttpStore } from '../../src/store/http-store.ts';

const personas = generatePersonas(372, 42);
const products = generateProducts(240, 42);

let cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanup.reverse()) await c();
  cleanup = [];
});

async function stack(faults: { failRate?: number } = {}): Promise<{ backend: MemoryBackend; server: StoreServer; store: HttpStore }> {
  const backend = createMemoryBackend({ products });
  const server = createStoreServer({ backend, port: 0, seed: 42, ...faults });
  const { url } = await server.listen();
  const store = createHttpStore({ baseUrl: url, rateLimit: 0, connections: 50, requestTimeoutMs: 10_000 });
  cleanup.push(() => server.close(), () => store.close());
  return { backend, server, store };
}

describe('simulation over HTTP against the reference store', () => {
  it('372 agents × 6 cycles: orders in the store equal checkouts_completed', async () => {
    const { backend, store } = await stack();
    const sim = createSimulation(
      { ...DEFAULT_SIMULATION_CONFIG, runId: 'e2e', fast: true, cycles: 6, breakerAction: 'exit' },
      { personas, products, store, recorder: createMockRecorder(), metrics: () => ({ ...store.metrics() }) },
    );
    const summary = await sim.run();
    expect(summary.exit_reason).toBe('completed');
    expect(summary.checkouts_completed).toBeGreaterThan(0);
    const stats = await backend.stats();
    expect(stats.orders).toBe(summary.checkouts_completed);
    expect(summary.sessions_failed).toBe(0);
    const m = store.metrics();
    expect(summary['requests']).toBe(m.requests);
    expect(m.requests).toBeGreaterThan(100);
    expect(m.http_errors['500'] ?? 0).toBe(0);
    expect(Object.keys(m.endpoints)).toContain('POST /checkout');
    expect(m.endpoints['POST /checkout']?.count).toBeGreaterThanOrEqual(summary.checkouts_completed);
    expect(summary['latency_ms']).toMatchObject({ p50: expect.any(Number), p95: expect.any(Number), p99: expect.any(Number) });
  }, 120_000);

  it('with --fail-rate 0.5 the breaker opens and the run exits', async () => {
    const { store } = await stack({ failRate: 0.5 });
    const sim = createSimulation(
      { ...DEFAULT_SIMULATION_CONFIG, runId: 'e2e-fail', fast: true, cycles: 6, breakerAction: 'exit' },
      { personas, products, store, recorder: createMockRecorder(), metrics: () => ({ ...store.metrics() }) },
    );
    const summary = await sim.run();
    expect(summary.exit_reason).toBe('breaker');
    expect(summary.breaker.state).toBe('open');
    expect(summary.sessions_failed).toBeGreaterThan(0);
    expect((summary['http_errors'] as Record<string, number>)['503']).toBeGreaterThan(0);
  }, 120_000);
});
