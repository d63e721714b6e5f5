/**
 * The executor seam: how the orchestrator's cohorts are run. The orchestrator spawns one actor
 * per cohort by the name `cohort` and speaks one protocol to it (machines/cohort.machine.ts):
 * RUN_CYCLE and SET_WINDOW in, one COHORT_DONE { baseIndex, totals } back per cycle. An
 * executor decides what answers that protocol — the local cohort machine (in-process, the
 * default and today's behaviour), or a stand-in that relays the cohort to a worker
 * (./remote-cohort.ts). Reports may arrive in any order: the orchestrator merges them in cohort
 * order at the barrier. Machines stay free of I/O: executors are built here, in src/, and
 * injected through provideOrchestrator.
 */
import type { OfferCycleRequest } from '../model/types.ts';
import type { EventLog } from '../simulation/event-log.ts';
import type { ProvidedCohort } from '../simulation/provide-machines.ts';

/** What the coordinator hands an executor besides the local cohort machine. */
export interface ExecutorEnv {
  /** The coordinator's event log: a remote cohort's entries are added to it before its report is delivered. */
  log: EventLog;
}

export interface CohortExecutor {
  /** Shown in the summary and logs: 'in-process', 'worker-threads', … */
  readonly name: string;
  /** The cohort actor logic the orchestrator spawns, given the locally provided cohort machine. */
  cohort(local: ProvidedCohort, env: ExecutorEnv): ProvidedCohort;
  /**
   * Resolves when every cohort spawned so far is built where it runs (a worker spawns its
   * shoppers when it is told to open a cohort): the driver waits for it before the run's
   * start-up ends, so the first cycle's time is the cycle's alone. Rejects on a fatal fault.
   */
  opened?(): Promise<void>;
  /** A new offer cycle was started on the coordinator's store (before the cycle's RUN_CYCLE). */
  offerCycleStarted?(request: OfferCycleRequest): void;
  /**
   * Called by the driver at a barrier (cycle.waiting) before the tree is persisted: a remote
   * executor fetches every cohort's persisted snapshot, so the checkpoint has the in-process shape.
   */
  gather?(): Promise<void>;
  /** Registers the listener told of a fault the executor cannot recover from (the run then fails). */
  onFatal?(listener: (error: unknown) => void): void;
  /**
   * The shoppers held elsewhere (workers) by state, as they last said: added to the counts of the
   * walk of this process's tree (src/simulation/occupancy.ts), which finds none of theirs.
   */
  occupancy?(): { counts: Record<string, number>; total: number };
  /** Ends what the executor started (worker threads, connections). */
  close?(): Promise<void>;
}

/** Cohorts as child actors of the orchestrator in this process (their snapshots in the checkpoint). */
export const inProcessExecutor: CohortExecutor = {
  name: 'in-process',
  cohort: (local) => local,
};
