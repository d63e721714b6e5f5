/**
 * The coordinator side of cohorts held elsewhere. `createRemoteExecutor(transport)` is a
 * CohortExecutor whose `cohort` is not the cohort machine but a stand-in actor logic: it speaks
 * the cohort protocol to the orchestrator and forwards it to a CohortTransport (worker threads,
 * a queue, a test's in-memory runners):
 *
 *   spawn / restore  → transport.open({ spec }) or transport.open({ id, snapshot })
 *   SET_WINDOW       → transport.setWindow(id, window)
 *   RUN_CYCLE        → transport.runCycle(id, { info, activeCount }) → CohortCycleResult; then the
 *                      result's event-log entries are added to the coordinator's log and its report
 *                      is sent to the orchestrator as COHORT_DONE (the last one is the barrier, where
 *                      reports are merged in cohort order and `settling` seals the digest from the
 *                      log, whose entries it sorts by agent index: arrival order never matters)
 *   persisted        → the cohort's snapshot as the worker last gave it (`gather()` at a barrier
 *                      fetches every one), so a checkpoint has the in-process tree's shape and a
 *                      run checkpointed with workers resumes in-process and vice versa.
 *
 * The transport's only contract is ordering per cohort (open, then windows and cycles in the order
 * asked) and one answer per runCycle.
 */
import type { ActorLogic, AnyActorRef } from 'xstate';
import type { CohortEvent, CohortInput, CohortReport } from '../../machines/cohort.machine.ts';
import type { CycleInfo } from '../model/calendar.ts';
import type { OfferCycleRequest } from '../model/types.ts';
import type { EventLog } from '../simulation/event-log.ts';
import type { ProvidedCohort } from '../simulation/provide-machines.ts';
import type { MockStoreState } from '../store/mock-store.ts';
import { createCohortRunner, mergeMockState, type CohortCycleResult, type CohortMockState, type CohortRunner, type CohortRunnerDeps, type CohortSource } from './cohort-runner.ts';
import type { CohortExecutor } from './executor.ts';

/** What a coordinator gathers at a barrier: every cohort's persisted snapshot, and the remote mock stores' state. */
export interface GatheredState {
  snapshots: Record<string, unknown>;
  /** Carts and redeemed coupons of the remote cohorts' agents (mock store only). */
  mockStates: CohortMockState[];
  /** Mock-store calls made remotely since the workers started (added to the coordinator's count). */
  mockCalls: number;
}

export interface CohortTransport {
  readonly name: string;
  open(source: CohortSource): void;
  /** Resolves when every cohort opened so far is built where it runs (see CohortExecutor.opened). */
  opened?(): Promise<void>;
  setWindow(id: string, window: number): void;
  runCycle(id: string, cycle: { info: CycleInfo; activeCount: number }): Promise<CohortCycleResult>;
  /** Tells every place holding cohorts that the coordinator started a new offer cycle. */
  offerCycleStarted(request: OfferCycleRequest): void;
  /** Between cycles: every cohort's persisted snapshot (and the mock stores' state). */
  gather(): Promise<GatheredState>;
  /** A fault the transport cannot recover from (a worker lost with no one to take its cohorts). */
  onFatal?(listener: (error: unknown) => void): void;
  close(): Promise<void>;
}

export interface RemoteExecutor extends CohortExecutor {
  /** The mock store's state for a checkpoint: the coordinator's offer cycle with the gathered carts, coupons and calls. */
  mockStoreState(coordinator: MockStoreState): MockStoreState;
  readonly transport: CohortTransport;
}

interface StandInSnapshot {
  status: 'active' | 'stopped';
  output: undefined;
  error: undefined;
  context: { id: string; baseIndex: number; source: CohortSource; running: number | null };
}

/** `xstate.stop`: what XState hands an actor's logic when its parent stops it. */
type StandInEvent = CohortEvent | { type: 'remote.done'; result: CohortCycleResult } | { type: 'remote.failed'; error: unknown } | { type: 'xstate.stop' };

export function createRemoteExecutor(transport: CohortTransport): RemoteExecutor {
  /** The last persisted snapshot of each cohort (from a restore, a gather or a cycle that sent one). */
  const persisted = new Map<string, unknown>();
  let gathered: GatheredState | null = null;
  const fatalListeners: ((error: unknown) => void)[] = [];
  const fatal = (error: unknown) => {
    for (const l of fatalListeners) l(error);
  };
  transport.onFatal?.(fatal);

  function standIn(log: EventLog): ActorLogic<StandInSnapshot, StandInEvent, CohortInput> {
    return {
      getInitialSnapshot: (scope, input) => {
        const id = scope.self.id;
        return { status: 'active', output: undefined, error: undefined, context: { id, baseIndex: input.baseIndex, source: { spec: { ...input, id } }, running: null } };
      },
      restoreSnapshot: (snapshot, scope) => {
        const id = scope.self.id;
        persisted.set(id, snapshot);
        const baseIndex = (snapshot as unknown as { context: { baseIndex: number } }).context.baseIndex;
        return { status: 'active', output: undefined, error: undefined, context: { id, baseIndex, source: { id, snapshot }, running: null } };
      },
      start: (snapshot) => {
        transport.open(snapshot.context.source);
      },
      transition: (snapshot, event, scope) => {
        const ctx = snapshot.context;
        switch (event.type) {
          case 'RUN_CYCLE': {
            const cycle = { info: event.info, activeCount: event.activeCount };
            scope.defer(() => {
              // A cohort stopped meanwhile (the run ended, e.g. failed with another worker's loss) takes no answer.
              const live = () => scope.self.getSnapshot().status === 'active';
              transport.runCycle(ctx.id, cycle).then(
                (result) => live() && scope.self.send({ type: 'remote.done', result }),
                (error: unknown) => live() && scope.self.send({ type: 'remote.failed', error }),
              );
            });
            // The snapshot the worker had is out of date from now on.
            persisted.delete(ctx.id);
            return { ...snapshot, context: { ...ctx, running: event.info.cycle } };
          }
          case 'SET_WINDOW':
            scope.defer(() => transport.setWindow(ctx.id, event.window));
            return snapshot;
          case 'remote.done': {
            const { result } = event;
            // Into the coordinator's log before the report: the last report makes the orchestrator seal the cycle.
            log.addEntries(result.entries);
            if (result.snapshot !== undefined) persisted.set(ctx.id, result.snapshot);
            const report: CohortReport = { type: 'COHORT_DONE', baseIndex: result.report.baseIndex, totals: result.report.totals };
            scope.defer(() => (scope.self as unknown as { _parent?: AnyActorRef })._parent?.send(report));
            return { ...snapshot, context: { ...ctx, running: null } };
          }
          case 'remote.failed':
            scope.defer(() => fatal(event.error));
            return snapshot;
          case 'xstate.stop':
            // Stopped by its parent: marked so, so that a cycle still running elsewhere is not answered to it.
            return { ...snapshot, status: 'stopped' };
          default:
            return snapshot;
        }
      },
      getPersistedSnapshot: (snapshot) => {
        const s = persisted.get(snapshot.context.id);
        if (s === undefined) throw new Error(`${transport.name}: no snapshot of ${snapshot.context.id} gathered at this barrier`);
        return s as never;
      },
    };
  }

  return {
    name: transport.name,
    transport,
    cohort: (_local, env) => standIn(env.log) as unknown as ProvidedCohort,
    offerCycleStarted: (request) => transport.offerCycleStarted(request),
    opened: () => transport.opened?.() ?? Promise.resolve(),
    async gather() {
      const g = await transport.gather();
      for (const [id, s] of Object.entries(g.snapshots)) persisted.set(id, s);
      gathered = g;
    },
    onFatal: (listener) => {
      fatalListeners.push(listener);
    },
    mockStoreState(coordinator) {
      if (!gathered) return coordinator;
      let state: MockStoreState = { ...coordinator, carts: [], redeemed: [] };
      for (const slice of gathered.mockStates) state = mergeMockState(state, slice);
      return { ...state, calls: coordinator.calls + gathered.mockCalls };
    },
    close: () => transport.close(),
  };
}

/**
 * A transport to cohort runners in this process: the reference for the contract, and the
 * tests' stand-in for workers. Cohort k goes to runner k mod places (each place with its own
 * edges, e.g. its own mock store); answers are delivered after `delayMs` (0: next macrotask),
 * so completion order differs from cohort order.
 */
export function createInMemoryTransport(places: CohortRunnerDeps[], options: { delayMs?: (id: string) => number } = {}): CohortTransport {
  const runners: CohortRunner[] = places.map((deps) => createCohortRunner(deps));
  const where = new Map<string, number>();
  const callsAtStart = places.map((p) => p.mockStore?.exportState().calls ?? 0);
  const runnerOf = (id: string) => runners[where.get(id) as number] as CohortRunner;
  return {
    name: 'in-memory',
    open(source) {
      const id = 'spec' in source ? source.spec.id : source.id;
      const place = where.size % runners.length;
      where.set(id, place);
      (runners[place] as CohortRunner).open(source);
    },
    setWindow: (id, window) => runnerOf(id).setWindow(id, window),
    async runCycle(id, cycle) {
      const r = await runnerOf(id).runCycle(id, cycle);
      await new Promise((resolve) => setTimeout(resolve, options.delayMs?.(id) ?? 0));
      return r;
    },
    offerCycleStarted(request) {
      for (const r of runners) void r.offerCycleStarted(request);
    },
    async gather() {
      const snapshots: Record<string, unknown> = {};
      const mockStates: CohortMockState[] = [];
      for (const [id] of where) {
        snapshots[id] = runnerOf(id).snapshot(id);
        const m = runnerOf(id).mockState(id);
        if (m) mockStates.push(m);
      }
      const mockCalls = places.reduce((n, p, i) => n + (p.mockStore ? p.mockStore.exportState().calls - (callsAtStart[i] as number) : 0), 0);
      return { snapshots, mockStates, mockCalls };
    },
    async close() {
      for (const r of runners) r.closeAll();
    },
  };
}
