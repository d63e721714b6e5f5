/**
 * A whole simulation with its cohorts run by BullMQ workers (src/scale/bullmq-cohort-transport.ts
 * over the real Redis, TEST_REDIS_URL; the workers' cohort processor is the real one, in worker
 * threads): the same digest and counts as in-process, with offer cycles crossing the workers; a
 * checkpoint taken with the workers resumes in-process with the uninterrupted digest.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generatePersonas } from '../../src/model/personas.ts';
import type { CheckpointRequest } from '../../src/model/run.ts';
import { createBullmqCohortTransport } from '../../src/scale/bullmq-cohort-transport.ts';
import { openCoordinator, startCohortWorker, type CohortWorker } from '../../src/scale/bullmq-transport.ts';
import { createRemoteExecutor } from '../../src/scale/remote-cohort.ts';
import { createSimulation, DEFAULT_SIMULATION_CONFIG, type SimulationConfig } from '../../src/simulation/create-simulation.ts';
import { createMockRecorder } from '../../src/simulation/mock-recorder.ts';
import { createMockStore, type MockStoreState } from '../../src/store/mock-store.ts';
import { products, redisTestSpace, TEST_REDIS_URL, type RedisTestSpace } from '../helpers.ts';
import { figuresOf } from './figures.ts';

const personas = generatePersonas(500, 13);
const agentIds = personas.map((p) => p.id);
const CONFIG: SimulationConfig = {
  ...DEFAULT_SIMULATION_CONFIG, runId: 'bullmq-run', seed: 9, fast: true, cycles: 10, warmupCycles: 2, cohortSize: 100,
  offerCycleDays: 0.25, breakerAction: 'wait', breakerPercent: 100, checkpointInterval: 5,
};
const IDENTITY = { version: '9.9.9-test', fingerprint: 'sha256:test-data' };
const PROCESSOR = new URL('../../src/scale/cohort-processor.ts', import.meta.url).href;
const mockStore = (state?: MockStoreState | null) => {
  const s = createMockStore({ seed: CONFIG.seed, products, agentIds, failRate: 0.02 });
  if (state) s.importState(structuredClone(state));
  return s;
};

describe.skipIf(!TEST_REDIS_URL)('a run on BullMQ workers (real Redis)', () => {
  let space: RedisTestSpace;
  let dir: string;
  const workers: CohortWorker[] = [];
  beforeAll(async () => {
    space = await redisTestSpace();
    dir = mkdtempSync(join(tmpdir(), 'shopsim-bullmq-run-'));
    writeFileSync(join(dir, 'personas.json'), JSON.stringify(personas));
    writeFileSync(join(dir, 'products.json'), JSON.stringify(products));
  });
  afterAll(async () => {
    for (const w of workers) await w.close();
    await space.cleanup();
    rmSync(dir, { recursive: true, force: true });
  });

  interface Captured { snapshot: unknown; mock: MockStoreState }

  async function run(mode: 'in-process' | 'bullmq', opts: { restore?: Captured; runId?: string } = {}) {
    const store = mockStore(opts.restore?.mock);
    const runId = opts.runId ?? CONFIG.runId;
    let executor = null;
    let transport: ReturnType<typeof createBullmqCohortTransport> | null = null;
    if (mode === 'bullmq') {
      const coordinator = await openCoordinator({ url: space.url, prefix: space.prefix, runId, identity: IDENTITY, runConfig: { seed: CONFIG.seed, agents: null, mockFailRate: 0.02 } });
      if (workers.length === 0) {
        for (let i = 0; i < 2; i++) workers.push(await startCohortWorker({ url: space.url, prefix: space.prefix, identity: IDENTITY, processorUrl: PROCESSOR, concurrency: 1, local: { personas: join(dir, 'personas.json'), products: join(dir, 'products.json') } }));
      }
      await coordinator.waitForWorkers(2, 20_000);
      transport = createBullmqCohortTransport(coordinator, { mockStore: store });
      executor = createRemoteExecutor(transport);
    }
    const captured: Captured[] = [];
    const checkpointer = async (req: CheckpointRequest) => {
      captured.push({ snapshot: JSON.parse(JSON.stringify(req.snapshot)), mock: structuredClone(executor ? executor.mockStoreState(store.exportState()) : store.exportState()) });
      return `memory-${captured.length}`;
    };
    const sim = createSimulation({ ...CONFIG, runId }, {
      personas, products, store, recorder: createMockRecorder(), checkpointer,
      ...(executor ? { executor } : {}),
      ...(opts.restore ? { restore: { snapshot: structuredClone(opts.restore.snapshot), resumedFrom: 'memory', realElapsedSeconds: 0 } } : {}),
    });
    const s = await sim.run();
    // The web map's counts: in-process the walk of the tree; on the workers their results' (no beat counted here).
    const occupancy = transport ? transport.occupancy({}) : sim.occupancy(0);
    await executor?.close?.();
    return { figures: figuresOf(s), captured, occupancy: occupancy ? { counts: occupancy.counts, total: occupancy.total } : null };
  }

  it('gives the in-process digest and counts; its checkpoint resumes in-process, and an in-process checkpoint resumes on the workers', async () => {
    const inProcess = await run('in-process');
    const distributed = await run('bullmq');
    expect(inProcess.figures.sessions).toBeGreaterThan(0);
    expect(inProcess.figures.coupons).toBeGreaterThan(0);
    expect(distributed.figures).toEqual(inProcess.figures);
    expect(inProcess.occupancy).toEqual({ counts: { idle: 500 }, total: 500 });
    expect(distributed.occupancy).toEqual(inProcess.occupancy);
    expect(distributed.captured.length).toBe(1);
    const resumedInProcess = await run('in-process', { restore: distributed.captured[0] as Captured });
    expect(resumedInProcess.figures.digest).toBe(inProcess.figures.digest);
    const resumedDistributed = await run('bullmq', { restore: inProcess.captured[0] as Captured, runId: 'bullmq-run-resumed' });
    expect(resumedDistributed.figures.digest).toBe(inProcess.figures.digest);
    expect(resumedDistributed.occupancy).toEqual(inProcess.occupancy);
    // Nothing of the runs is left in Redis but what the workers keep while waiting for a run.
    expect((await space.keys()).filter((k) => k.includes(':snap:') || k.includes(':result:'))).toEqual([]);
  }, 120_000);
});
