/**
 * The executor seam: how the orchestrator's cohorts are run. The orchestrator spawns one actor
 * per cohort by the name `cohort` and speaks one protocol to it (machines/cohort.machine.ts):
 * RUN_CYCLE and SET_WINDOW in, one COHORT_DONE { baseIndex, totals } back per cycle. An
 * executor decides what answers that protocol — the local cohort machine (in-process, the
 * default and today's behaviour), or a stand-in that relays the cohort to a worker. Reports
 * may arrive in any order: the orchestrator merges them in cohort order at the barrier.
 * Machines stay free of I/O: executors are built here, in src/, and injected through
 * provideOrchestrator.
 */
import type { ProvidedCohort } from '../simulation/provide-machines.ts';

export interface CohortExecutor {
  /** Shown in the summary and logs: 'in-process', … */
  readonly name: string;
  /** The cohort actor logic the orchestrator spawns, given the locally provided cohort machine. */
  cohort(local: ProvidedCohort): ProvidedCohort;
}

/** Cohorts as child actors of the orchestrator in this process (their snapshots in the checkpoint). */
export const inProcessExecutor: CohortExecutor = {
  name: 'in-process',
  cohort: (local) => local,
};
