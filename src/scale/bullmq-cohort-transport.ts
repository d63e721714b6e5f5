/**
 * The CohortTransport (./remote-cohort.ts) of a distributed run: the stand-in cohorts' calls
 * become BullMQ flows through the coordinator (./bullmq-transport.ts).
 *
 *  - open(source): the cohort's base is written to Redis once (a new cohort's spec, or a restored
 *    snapshot), and its state before the next cycle (none yet, its agents' slice of the
 *    coordinator's mock store); every later call waits for those writes.
 *  - runCycle(id, …): the orchestrator sends RUN_CYCLE to every cohort in one transition; the
 *    calls of one cycle are gathered (until the next macrotask) into one flow, and each caller
 *    gets its cohort's result when the barrier is passed.
 *  - setWindow: remembered and sent with the cohort's next job.
 *  - offerCycleStarted: the offer cycle is sent with every later job; workers apply it to the
 *    cohort's mock-store slice (./cohort-processor.ts).
 *  - gather(): every cohort's snapshot as of the last completed cycle — rebuilt here from its base
 *    and its stored CohortState — and the mock-store slices and calls, for a checkpoint of the
 *    in-process shape.
 */
import { randomBytes } from 'node:crypto';
import type { CycleInfo } from '../model/calendar.ts';
import type { DbWriteMetrics, OfferCycleRequest } from '../model/types.ts';
import type { MockStore } from '../store/mock-store.ts';
import type { Coordinator } from './bullmq-transport.ts';
import { sliceMockState, type CohortCycleResult, type CohortMockState, type CohortSource } from './cohort-runner.ts';
import { createMockRecorder } from '../simulation/mock-recorder.ts';
import { createMockStore } from '../store/mock-store.ts';
import { createCohortRunner } from './cohort-runner.ts';
import type { CohortJobInput, CohortJobResult, OfferCycle, StoredBase, StoredState } from './cohort-processor.ts';
import type { CohortTransport, GatheredState } from './remote-cohort.ts';
import type { AnswerSink } from '../store/recording-store.ts';
import type { HttpMetrics } from '../store/http-store.ts';
import type { JobEdges } from './job-edges.ts';
import { countsOf } from './thread-pool.ts';
import { stateName } from '../simulation/occupancy.ts';
import { shopperMachine } from '../../machines/shopper.machine.ts';

export interface BullmqCohortTransportOptions {
  mockStore?: MockStore | null;
  /** The store and database each job reaches, asked at every cycle with its job count (./job-edges.ts); absent: mock store, no writes. */
  edges?: (jobs: number) => JobEdges;
  /** Where the jobs' recorded store answers go (the run's answers file), added at the barrier. */
  answers?: AnswerSink | null;
  /** Told at each barrier how the cycle's jobs wrote their sessions (counts of CohortJobResult.writes) and how many calls were served from a lost attempt's record. */
  onBarrier?: (cycle: number, jobs: { writes: Record<string, number>; served: number }) => void;
}

export interface BullmqCohortTransport extends CohortTransport {
  /** The latest figures of every worker thread's store client (a real store). */
  workerHttpMetrics(): HttpMetrics[];
  /** The latest write figures of every worker pool writing to the run's database directly. */
  workerDbWrites(): DbWriteMetrics[];
  /**
   * Shoppers by state over every cohort: a cohort whose cycle is in flight counts as its worker's
   * last beat says (`live`: cohort id → counts), if it says anything of it; any other as its last
   * job's result left it (before its first cycle: as it was opened).
   */
  occupancy(live: Record<string, Record<string, number>>): { counts: Record<string, number>; total: number };
}

/** 'cohort-0012' → 12: the cohort's number in the run (its order at the barrier). */
function cohortNumber(id: string): number {
  const m = /(\d+)$/.exec(id);
  if (!m) throw new Error(`distributed transport: cannot number cohort ${id}`);
  return Number(m[1]);
}

export function createBullmqCohortTransport(coordinator: Coordinator, options: BullmqCohortTransportOptions = {}): BullmqCohortTransport {
  const httpByClient = new Map<string, HttpMetrics>();
  const dbByClient = new Map<string, DbWriteMetrics>();
  const ids = new Map<number, string>();
  const opening = new Map<string, Promise<void>>();
  const windows = new Map<string, number>();
  /** Each cohort's shoppers by state after its last completed cycle (from its job's result), and the cohorts whose cycle is in flight. */
  const lastStates = new Map<string, Record<string, number>>();
  const inFlight = new Set<string>();
  /** The cycle whose end each cohort's stored snapshot is (0: its source as opened). */
  const storedAt = new Map<string, number>();
  let offerCycle: OfferCycle = options.mockStore?.exportState().offerCycle ?? null;
  let mockCalls = 0;
  /** A store no rebuilt cohort calls (gather only persists them). */
  const rebuildStore = createMockStore({ seed: 0, products: [], agentIds: [] });
  const fatal: ((e: unknown) => void)[] = [];
  let batch: { cycle: number; calls: { id: string; cycle: { info: CycleInfo; activeCount: number }; resolve: (r: CohortCycleResult) => void; reject: (e: unknown) => void }[] } | null = null;

  async function flush(b: NonNullable<typeof batch>): Promise<void> {
    const { cycle } = b;
    for (const c of b.calls) inFlight.add(c.id);
    try {
      await Promise.all(b.calls.map((c) => opening.get(c.id)));
      // A cohort opened from a checkpoint of cycle N has its snapshot stored as of N (= cycle - 1).
      for (const c of b.calls) {
        const at = storedAt.get(c.id) ?? 0;
        if (at !== cycle - 1) {
          const s = await coordinator.getSnapshot(cohortNumber(c.id), at);
          if (s === null) throw new Error(`distributed transport: cohort ${c.id} has no snapshot in Redis`);
          await coordinator.putSnapshot(cohortNumber(c.id), cycle - 1, s);
        }
      }
      const edges = options.edges?.(b.calls.length);
      const work = b.calls.map((c) => {
        const w = windows.get(c.id);
        windows.delete(c.id);
        const input: CohortJobInput = { info: c.cycle.info, activeCount: c.cycle.activeCount, ...(w !== undefined ? { window: w } : {}), offerCycle, ...(edges ? { edges } : {}) };
        return { cohort: cohortNumber(c.id), input };
      });
      const results = (await coordinator.runCycle(cycle, work)) as CohortJobResult[];
      const byCohort = new Map(work.map((w, i) => [w.cohort, results[i] as CohortJobResult]));
      if (options.onBarrier) {
        const writes: Record<string, number> = {};
        let served = 0;
        for (const r of results as CohortJobResult[]) {
          if (r.writes) writes[r.writes] = (writes[r.writes] ?? 0) + 1;
          served += r.served ?? 0;
        }
        options.onBarrier(cycle, { writes, served });
      }
      for (const c of b.calls) {
        const r = byCohort.get(cohortNumber(c.id)) as CohortJobResult;
        storedAt.set(c.id, cycle);
        mockCalls += r.mockCalls;
        if (r.answers && options.answers) for (const [ctx, entry] of r.answers) options.answers.add(ctx, entry);
        if (r.http) httpByClient.set(r.http.client, r.http.metrics);
        if (r.dbWrites) dbByClient.set(r.dbWrites.client, r.dbWrites.metrics);
        const states = countsOf(r.states);
        if (states) lastStates.set(c.id, states);
        inFlight.delete(c.id);
        c.resolve({ id: c.id, report: r.report, entries: r.entries, seconds: r.seconds, agentCycles: r.agentCycles });
      }
    } catch (err) {
      for (const c of b.calls) inFlight.delete(c.id);
      for (const c of b.calls) c.reject(err);
      for (const l of fatal) l(err);
    }
  }

  return {
    name: 'bullmq',
    workerHttpMetrics: () => [...httpByClient.values()],
    workerDbWrites: () => [...dbByClient.values()],
    occupancy(live) {
      const counts: Record<string, number> = {};
      let total = 0;
      for (const id of ids.values()) {
        const c = (inFlight.has(id) ? live[id] : undefined) ?? lastStates.get(id);
        if (!c) continue;
        for (const [state, n] of Object.entries(c)) {
          counts[state] = (counts[state] ?? 0) + n;
          total += n;
        }
      }
      return { counts, total };
    },
    open(source: CohortSource) {
      const id = 'spec' in source ? source.spec.id : source.id;
      ids.set(cohortNumber(id), id);
      let base: StoredBase;
      let mockState: CohortMockState | null = null;
      if ('spec' in source) base = { spec: source.spec };
      else {
        const agents = Object.keys((source.snapshot as { children?: Record<string, unknown> }).children ?? {});
        mockState = source.mockState ?? (options.mockStore ? sliceMockState(options.mockStore.exportState(), agents) : null);
        base = { id, snapshot: source.snapshot };
      }
      storedAt.set(id, 0);
      // Where its shoppers are before its first cycle here: a new cohort's in the shopper machine's
      // initial state, a restored one's as its snapshot holds them.
      if ('spec' in source) lastStates.set(id, { [String(shopperMachine.config.initial)]: source.spec.personas.length });
      else {
        const counts: Record<string, number> = {};
        for (const child of Object.values((source.snapshot as { children?: Record<string, { snapshot?: { value?: unknown } }> }).children ?? {})) {
          const state = stateName(child?.snapshot?.value);
          counts[state] = (counts[state] ?? 0) + 1;
        }
        lastStates.set(id, counts);
      }
      const first: StoredState = { id, state: null, mockState, offerCycle, token: null, baseToken: randomBytes(8).toString('hex') };
      const write = Promise.all([coordinator.putBase(cohortNumber(id), JSON.stringify(base)), coordinator.putSnapshot(cohortNumber(id), 0, JSON.stringify(first))]).then(() => {});
      write.catch(() => {});
      opening.set(id, write);
    },
    async opened() {
      await Promise.all(opening.values());
    },
    setWindow(id, window) {
      windows.set(id, window);
    },
    runCycle(id, cycle) {
      return new Promise<CohortCycleResult>((resolve, reject) => {
        if (!batch || batch.cycle !== cycle.info.cycle) {
          const b = { cycle: cycle.info.cycle, calls: [] as NonNullable<typeof batch>['calls'] };
          batch = b;
          setImmediate(() => {
            if (batch === b) batch = null;
            void flush(b);
          });
        }
        batch.calls.push({ id, cycle, resolve, reject });
      });
    },
    offerCycleStarted(request: OfferCycleRequest) {
      offerCycle = { number: request.offer_cycle, startsAt: request.starts_at, endsAt: request.ends_at };
    },
    async gather(): Promise<GatheredState> {
      const snapshots: Record<string, unknown> = {};
      const mockStates: CohortMockState[] = [];
      for (const [n, id] of [...ids].sort((a, b) => a[0] - b[0])) {
        const raw = await coordinator.getSnapshot(n, storedAt.get(id) ?? 0);
        const rawBase = await coordinator.getBase(n);
        if (raw === null || rawBase === null) throw new Error(`distributed transport: cohort ${id} has no state in Redis`);
        const stored = JSON.parse(raw) as StoredState;
        const base = JSON.parse(rawBase) as StoredBase;
        if (stored.state === null && 'spec' in base) throw new Error(`distributed transport: cohort ${id} has not run a cycle yet`);
        // The full snapshot: the base with the state over it, through a runner of this process's own.
        const runner = createCohortRunner({ store: rebuildStore, recorder: createMockRecorder() });
        const state = stored.state ? { state: stored.state } : {};
        runner.open('spec' in base ? { spec: base.spec, ...state } : { id: base.id, snapshot: base.snapshot, ...state });
        snapshots[id] = runner.snapshot(id);
        runner.close(id);
        if (stored.mockState) mockStates.push(stored.mockState);
      }
      return { snapshots, mockStates, mockCalls };
    },
    onFatal(listener) {
      fatal.push(listener);
    },
    async close() {
      await coordinator.close();
    },
  };
}
