/**
 * Cohorts held outside the orchestrator (src/scale/remote-cohort.ts over cohort runners through
 * an in-memory transport, answers delayed so they complete out of cohort order) give the
 * in-process digest and counts; a checkpoint taken with them is the in-process checkpoint, and
 * resumes in-process (and the other way round) with the uninterrupted digest.
 */
import { describe, expect, it } from 'vitest';
import { generatePersonas } from '../../src/model/personas.ts';
import type { CheckpointRequest } from '../../src/model/run.ts';
import { createCohortRunner, runCohortCycle, type CohortState } from '../../src/scale/cohort-runner.ts';
import { createInMemoryTransport, createRemoteExecutor } from '../../src/scale/remote-cohort.ts';
import { createSimulation, DEFAULT_SIMULATION_CONFIG, type SimulationConfig } from '../../src/simulation/create-simulation.ts';
import { createMockRecorder } from '../../src/simulation/mock-recorder.ts';
import { createMockStore, type MockStoreState } from '../../src/store/mock-store.ts';
import { cycleInfo } from '../../src/model/calendar.ts';
import { products } from '../helpers.ts';
import { figuresOf } from './figures.ts';

const personas = generatePersonas(600, 11);
const agentIds = personas.map((p) => p.id);
const CONFIG: SimulationConfig = {
  ...DEFAULT_SIMULATION_CONFIG, runId: 'remote-cohort-run', seed: 5, fast: true, cycles: 12, warmupCycles: 2, cohortSize: 100,
  // An offer cycle every 6 simulated hours: the workers' mock stores must follow the coordinator's.
  offerCycleDays: 0.25, breakerAction: 'wait', breakerPercent: 100, checkpointInterval: 6,
};
const mockStore = (state?: MockStoreState | null) => {
  const s = createMockStore({ seed: CONFIG.seed, products, agentIds, failRate: 0.02 });
  if (state) s.importState(structuredClone(state));
  return s;
};

interface Captured { snapshot: unknown; mock: MockStoreState }

async function run(mode: 'in-process' | 'remote', opts: { restore?: Captured; cycles?: number } = {}) {
  const store = mockStore(opts.restore?.mock);
  const executor = mode === 'remote'
    ? createRemoteExecutor(createInMemoryTransport(
        [0, 1].map(() => ({ store: null as never, recorder: createMockRecorder() })).map((d) => {
          const ms = mockStore(opts.restore?.mock);
          return { ...d, store: ms, mockStore: ms };
        }),
        // Later cohorts answer first.
        { delayMs: (id) => 12 - Number(id.slice(-4)) * 2 },
      ))
    : null;
  const captured: Captured[] = [];
  const checkpointer = async (req: CheckpointRequest) => {
    captured.push({ snapshot: JSON.parse(JSON.stringify(req.snapshot)), mock: structuredClone(executor ? executor.mockStoreState(store.exportState()) : store.exportState()) });
    return `memory-${captured.length}`;
  };
  const sim = createSimulation({ ...CONFIG, cycles: opts.cycles ?? CONFIG.cycles }, {
    personas, products, store, recorder: createMockRecorder(), checkpointer,
    ...(executor ? { executor } : {}),
    ...(opts.restore ? { restore: { snapshot: structuredClone(opts.restore.snapshot), resumedFrom: 'memory', realElapsedSeconds: 0 } } : {}),
  });
  const s = await sim.run();
  await executor?.close?.();
  return { figures: figuresOf(s), captured };
}

describe('remote cohorts (in-memory transport)', () => {
  it('give the in-process digest, counts and checkpoint; checkpoints resume across executors', async () => {
    const inProcess = await run('in-process');
    const remote = await run('remote');
    expect(inProcess.figures.sessions).toBeGreaterThan(0);
    expect(inProcess.figures.coupons).toBeGreaterThan(0);
    expect(remote.figures).toEqual(inProcess.figures);
    // The checkpoint at cycle 6 is the in-process one: the same tree and the same mock-store state.
    expect(remote.captured.length).toBe(1);
    // (Carts and coupons are keyed by agent: their order in the file is first-use order, which differs.)
    const byAgent = (c: Captured) => ({ ...c, mock: { ...c.mock, carts: [...c.mock.carts].sort((x, y) => x[0].localeCompare(y[0])), redeemed: [...c.mock.redeemed].sort((x, y) => x[0].localeCompare(y[0])) } });
    expect(byAgent(remote.captured[0] as Captured)).toEqual(byAgent(inProcess.captured[0] as Captured));
    expect((remote.captured[0] as Captured).mock.redeemed.length).toBeGreaterThan(0);
    // Checkpointed remote → resumed in-process, and checkpointed in-process → resumed remote.
    const resumedInProcess = await run('in-process', { restore: remote.captured[0] as Captured });
    const resumedRemote = await run('remote', { restore: inProcess.captured[0] as Captured });
    expect(resumedInProcess.figures.digest).toBe(inProcess.figures.digest);
    expect(resumedRemote.figures.digest).toBe(inProcess.figures.digest);
  });

  it('runCohortCycle: one stateless cycle from a spec, then from its snapshot', async () => {
    const store = mockStore();
    const deps = { store, recorder: createMockRecorder(), mockStore: store };
    const spec = { id: 'cohort-0000', runId: 'r', seed: CONFIG.seed, baseIndex: 0, personas: personas.slice(0, 50), window: 50 };
    const first = await runCohortCycle({ cohort: { spec }, info: cycleInfo(CONFIG.startMs, 1), activeCount: 600, deps });
    const second = await runCohortCycle({ cohort: { id: spec.id, snapshot: first.snapshot }, info: cycleInfo(CONFIG.startMs, 2), activeCount: 600, deps });
    // The same two cycles on one held cohort.
    const held = createCohortRunner({ store: mockStore(), recorder: createMockRecorder() });
    held.open({ spec });
    const a = await held.runCycle(spec.id, { info: cycleInfo(CONFIG.startMs, 1), activeCount: 600 });
    const b = await held.runCycle(spec.id, { info: cycleInfo(CONFIG.startMs, 2), activeCount: 600 });
    expect(first.report.totals.sessions + second.report.totals.sessions).toBeGreaterThan(0);
    expect([first.report, second.report]).toEqual([a.report, b.report]);
    expect([first.entries, second.entries]).toEqual([a.entries, b.entries]);
    expect(second.agentCycles).toBe(50);
    // Kept as a CohortState instead: the same second cycle.
    const ms3 = mockStore();
    const deps3 = { store: ms3, recorder: createMockRecorder(), mockStore: ms3 };
    const lean = await runCohortCycle({ cohort: { spec }, info: cycleInfo(CONFIG.startMs, 1), activeCount: 600, deps: deps3, keep: 'state' });
    expect(lean.snapshot).toBeUndefined();
    const lean2 = await runCohortCycle({ cohort: { spec, state: lean.state as CohortState, mockState: lean.mockState ?? null }, info: cycleInfo(CONFIG.startMs, 2), activeCount: 600, deps: deps3 });
    expect(lean2.report).toEqual(second.report);
    expect(lean2.entries).toEqual(second.entries);
  });

  it('a CohortState put over the spec rebuilds the cohort as it was after its cycle', async () => {
    const spec = { id: 'cohort-0001', runId: 'r', seed: CONFIG.seed, baseIndex: 50, personas: personas.slice(50, 100), window: 7 };
    const info = (c: number) => cycleInfo(Date.parse('2024-01-06T10:00:00Z'), c);
    const ms = mockStore();
    const held = createCohortRunner({ store: ms, recorder: createMockRecorder(), mockStore: ms });
    held.open({ spec });
    const r1 = await held.runCycle(spec.id, { info: info(1), activeCount: 600 }, { state: true });
    const r2 = await held.runCycle(spec.id, { info: info(2), activeCount: 600 });
    // Rebuilt elsewhere from the spec, the state and the mock-store slice after cycle 1.
    const ms2 = mockStore();
    const other = createCohortRunner({ store: ms2, recorder: createMockRecorder(), mockStore: ms2 });
    other.open({ spec, state: r1.state as CohortState, mockState: r1.mockState ?? null });
    const again = await other.runCycle(spec.id, { info: info(2), activeCount: 600 });
    expect(r1.report.totals.sessions).toBeGreaterThan(0);
    expect(again.report).toEqual(r2.report);
    expect(again.entries).toEqual(r2.entries);
    expect(other.snapshot(spec.id)).toEqual(held.snapshot(spec.id));
    // The state is small beside the snapshot.
    expect(JSON.stringify(r1.state).length * 4).toBeLessThan(JSON.stringify(held.snapshot(spec.id)).length);
  });
});
