/**
 * The processor a `shopsim worker` runs in its worker threads (./thread-pool.ts): one cycle of one
 * cohort per job, from the snapshot the job names, through the cohort runner (./cohort-runner.ts)
 * with this worker's own edges — the mock store, seeded like the coordinator's, and a recorder that
 * writes nothing (a distributed run is --mock-api --mock-db for now: docs/scaling.md).
 *
 * What is stored in Redis per cohort (the "source"): `{ spec }` before its first cycle, then
 * `{ id, snapshot, mockState, offerCycle }` — the cohort's persisted snapshot and the mock
 * store's carts and redeemed coupons of its agents, with the offer cycle they belong to. A job
 * whose offer cycle is newer than the source's starts that offer cycle on the slice first (the
 * coordinator's store did it for every agent: coupons dropped, redeemed cleared), so the cohort
 * sees exactly what it would have seen in one process.
 */
import type { CycleInfo } from '../model/calendar.ts';
import { createMockRecorder } from '../simulation/mock-recorder.ts';
import { createMockStore, type MockStoreState } from '../store/mock-store.ts';
import { loadPersonas, loadProducts, selectAgents } from '../run/load-data.ts';
import { randomBytes } from 'node:crypto';
import { createCohortRunner, type CohortMockState, type CohortRunner, type CohortSource } from './cohort-runner.ts';
import type { ProcessorContext, ThreadOutput, ThreadWork } from './thread-pool.ts';
import type { Entry } from '../simulation/event-log.ts';
import type { CohortReport } from '../../machines/cohort.machine.ts';

/** The run settings a cohort job needs (published by the coordinator). */
export interface DistributedRunConfig {
  seed: number;
  agents: number | null;
  mockFailRate: number;
}

/** The worker's own data files (verified against the run by the fingerprint at join). */
export interface WorkerLocal {
  personas: string;
  products: string;
}

export type OfferCycle = MockStoreState['offerCycle'];

/** The cohort as stored between cycles. */
export type StoredSource =
  | { spec: Extract<CohortSource, { spec: unknown }>['spec']; mockState?: CohortMockState | null; offerCycle?: OfferCycle }
  /** `token`: written with the snapshot by the thread that made it; that thread still holds the cohort's actor in that state. */
  | { id: string; snapshot: unknown; mockState: CohortMockState | null; offerCycle: OfferCycle; token?: string };

/** Cohorts a thread keeps after their job (most recent last), to skip restoring them from the snapshot when their next job comes here. */
const KEEP = 32;

/** A job's input (small): the RUN_CYCLE, the window when it changed, the coordinator's offer cycle. */
export interface CohortJobInput {
  info: CycleInfo;
  activeCount: number;
  window?: number;
  offerCycle: OfferCycle;
}

/** A job's result, read back by the coordinator at the barrier. */
export interface CohortJobResult {
  report: CohortReport;
  entries: Entry[];
  /** Mock-store calls this job made. */
  mockCalls: number;
  seconds: number;
  agentCycles: number;
}

export function createProcessor(context: ProcessorContext) {
  const run = context.runConfig as DistributedRunConfig;
  const local = context.local as WorkerLocal;
  const products = loadProducts(local.products);
  const agentIds = selectAgents(loadPersonas(local.personas), run.agents, local.personas).map((p) => p.id);
  const mockStore = createMockStore({ seed: run.seed, products, agentIds, failRate: run.mockFailRate });
  const held = new Map<string, { token: string; runner: CohortRunner }>();
  return async (work: ThreadWork): Promise<ThreadOutput> => {
    const input = work.input as CohortJobInput;
    const stored = JSON.parse(work.snapshot) as StoredSource;
    const slice = stored.mockState ?? { carts: [], redeemed: [] };
    const before = stored.offerCycle ?? null;
    mockStore.importState({ offerCycle: before, carts: slice.carts, redeemed: slice.redeemed, calls: 0 });
    if (input.offerCycle && input.offerCycle.number !== before?.number) {
      await mockStore.startOfferCycle({ offer_cycle: input.offerCycle.number, starts_at: input.offerCycle.startsAt, ends_at: input.offerCycle.endsAt, user_ids: [] });
    }
    // The cohort's actor as this thread left it after the previous cycle (its token matches the
    // stored snapshot's), or restored from the snapshot. Actors are never stopped here: XState's
    // stop() is quadratic in children (~0.5 s for 500 shoppers) and an idle cohort holds no timers,
    // so a dropped one is simply collected.
    const id = 'spec' in stored ? stored.spec.id : stored.id;
    const kept = held.get(id);
    held.delete(id);
    let runner: CohortRunner;
    if (kept && 'token' in stored && stored.token === kept.token) runner = kept.runner;
    else {
      runner = createCohortRunner({ store: mockStore, recorder: createMockRecorder(), mockStore });
      runner.open('spec' in stored ? { spec: stored.spec } : { id: stored.id, snapshot: stored.snapshot });
    }
    if (input.window !== undefined) runner.setWindow(id, input.window);
    const r = await runner.runCycle(id, { info: input.info, activeCount: input.activeCount }, { snapshot: true });
    const token = randomBytes(8).toString('hex');
    held.set(id, { token, runner });
    while (held.size > KEEP) held.delete(held.keys().next().value as string);
    const after: StoredSource = { id: r.id, snapshot: r.snapshot, mockState: r.mockState ?? null, offerCycle: input.offerCycle, token };
    const result: CohortJobResult = { report: r.report, entries: r.entries, mockCalls: mockStore.exportState().calls, seconds: r.seconds, agentCycles: r.agentCycles };
    return { snapshot: JSON.stringify(after), result };
  };
}
