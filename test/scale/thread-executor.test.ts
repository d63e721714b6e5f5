/**
 * `--workers N` in mock mode: cohorts on worker threads give the in-process digest and counts
 * (2,000 agents × 6 cycles, cohorts of 250, with 2 and 4 workers); a run checkpointed with 2
 * workers resumes in-process with the uninterrupted digest; a worker thread terminated mid-run
 * has its cohorts re-run on the other from their last cycle's snapshot, same digest.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { generatePersonas } from '../../src/model/personas.ts';
import type { CheckpointRequest } from '../../src/model/run.ts';
import { startThreadExecutor, type ThreadExecutor } from '../../src/scale/thread-executor.ts';
import { createSimulation, DEFAULT_SIMULATION_CONFIG, type SimulationConfig } from '../../src/simulation/create-simulation.ts';
import { createMockRecorder } from '../../src/simulation/mock-recorder.ts';
import { createMockStore, type MockStoreState } from '../../src/store/mock-store.ts';
import { products } from '../helpers.ts';
import { figuresOf } from './figures.ts';

const personas = generatePersonas(2000, 21);
const agentIds = personas.map((p) => p.id);
const CONFIG: SimulationConfig = {
  ...DEFAULT_SIMULATION_CONFIG, runId: 'thread-executor-run', seed: 9, fast: true, startMs: Date.parse('2024-01-06T10:00:00Z'), cycles: 6, warmupCycles: 1, cohortSize: 250,
  offerCycleDays: 0.125, breakerAction: 'wait', breakerPercent: 100, checkpointInterval: 3,
};
const FAIL_RATE = 0.02;
const executors: ThreadExecutor[] = [];
afterAll(async () => {
  for (const e of executors) await e.close?.();
});

interface Captured { snapshot: unknown; mock: MockStoreState }

async function run(workers: number, opts: { restore?: Captured; exitOnCycle?: (number | undefined)[] } = {}) {
  const store = createMockStore({ seed: CONFIG.seed, products, agentIds, failRate: FAIL_RATE });
  if (opts.restore) store.importState(structuredClone(opts.restore.mock));
  const executor = workers > 0
    ? startThreadExecutor({ workers, recorder: null, keepSnapshots: true, ...(opts.exitOnCycle ? { exitOnCycle: opts.exitOnCycle } : {}), store: { kind: 'mock', seed: CONFIG.seed, products, agentIds, failRate: FAIL_RATE, state: opts.restore?.mock ?? null } })
    : null;
  if (executor) executors.push(executor);
  const captured: Captured[] = [];
  const checkpointer = async (req: CheckpointRequest) => {
    captured.push({ snapshot: JSON.parse(JSON.stringify(req.snapshot)), mock: structuredClone(executor ? executor.mockStoreState(store.exportState()) : store.exportState()) });
    return `memory-${captured.length}`;
  };
  const sim = createSimulation(CONFIG, {
    personas, products, store, recorder: createMockRecorder(), checkpointer,
    ...(executor ? { executor } : {}),
    ...(opts.restore ? { restore: { snapshot: structuredClone(opts.restore.snapshot), resumedFrom: 'memory', realElapsedSeconds: 0 } } : {}),
  });
  const s = await sim.run();
  const stats = executor?.workerStats() ?? [];
  const recoveries = executor?.recoveries() ?? null;
  await executor?.close?.();
  return { figures: figuresOf(s), captured, stats, recoveries };
}

describe('--workers N (worker threads, mock store)', () => {
  it('in-process, 2 and 4 workers: the same digest and counts; a 2-worker checkpoint resumes in-process', async () => {
    const inProcess = await run(0);
    const two = await run(2);
    const four = await run(4);
    expect(inProcess.figures.sessions).toBeGreaterThan(1000);
    expect(two.figures).toEqual(inProcess.figures);
    expect(four.figures).toEqual(inProcess.figures);
    // The cohorts were shared out: 8 cohorts, every worker ran agent-cycles.
    expect(two.stats.map((w) => w.cohorts)).toEqual([4, 4]);
    expect(four.stats.every((w) => w.agentCycles > 0)).toBe(true);
    // Checkpoint at cycle 3 with 2 workers → resume in-process: the uninterrupted digest.
    expect(two.captured.length).toBe(1);
    const resumed = await run(0, { restore: two.captured[0] as Captured });
    expect(resumed.figures.digest).toBe(inProcess.figures.digest);
    // And an in-process checkpoint resumes on 4 workers.
    const resumedOnFour = await run(4, { restore: inProcess.captured[0] as Captured });
    expect(resumedOnFour.figures.digest).toBe(inProcess.figures.digest);
  }, 120_000);

  it('a worker thread lost mid-cycle: its cohorts move to the other and run that cycle again, same digest', async () => {
    const inProcess = await run(0);
    // Worker 1 exits when it is asked to run cycle 3 (its 4 cohorts' cycle in flight); a real crash, injected.
    const crashed = await run(2, { exitOnCycle: [undefined, 3] });
    expect(crashed.stats[1]).toMatchObject({ alive: false, exitCode: 1 });
    expect(crashed.stats[0]?.cohorts).toBe(8);
    expect(crashed.recoveries).toEqual({ cohortsMoved: 4, cyclesRerun: 4 });
    expect(crashed.figures).toEqual(inProcess.figures);
    // Lost as cycle 4 starts a new offer cycle: the moved cohorts' coupons are cleared as everyone's were.
    const atOffer = await run(2, { exitOnCycle: [4, undefined] });
    expect(atOffer.recoveries).toEqual({ cohortsMoved: 4, cyclesRerun: 4 });
    expect(atOffer.figures).toEqual(inProcess.figures);
    // Without kept snapshots the run fails with the loss, instead of waiting at the barrier.
    const store = createMockStore({ seed: CONFIG.seed, products, agentIds, failRate: FAIL_RATE });
    const executor = startThreadExecutor({ workers: 2, recorder: null, exitOnCycle: [undefined, 2], store: { kind: 'mock', seed: CONFIG.seed, products, agentIds, failRate: FAIL_RATE, state: null } });
    executors.push(executor);
    const sim = createSimulation(CONFIG, { personas, products, store, recorder: createMockRecorder(), executor });
    await expect(sim.run()).rejects.toThrow(/worker thread 1 exited \(code 1\)/);
  }, 120_000);
});
