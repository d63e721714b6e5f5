/**
 * The simulation's own contracts: what it is given (deps), what it offers (Simulation) and the
 * events it emits. Its configuration and the run's data contracts (stats, reports, summary,
 * restore state) are in src/model/run.ts.
 */
import type { CohortExecutor } from '../scale/executor.ts';
import type { EventEmitter } from 'node:events';
import type { InspectionEvent } from 'xstate';
import type { Checkpointer, CheckpointTrigger, CycleReport, RestoreState, RunSummary, SimulationConfig, SimulationStats } from '../model/run.ts';

export type { SimulationConfig } from '../model/run.ts';
import type { Persona, Product, Recorder, StoreApi } from '../model/types.ts';
import type { Occupancy } from './occupancy.ts';

export interface Clock {
  /** Real milliseconds (monotonic enough for pacing). */
  now(): number;
  sleep(ms: number, signal: AbortSignal): Promise<void>;
}

export interface SimulationDeps {
  personas: Persona[];
  products: Product[];
  store: StoreApi;
  recorder: Recorder;
  clock?: Clock;
  restore?: RestoreState;
  /** Writes a checkpoint of the data it is handed (taken at a cycle boundary); returns its path. */
  checkpointer?: Checkpointer;
  /** Attached to the actor tree (e.g. the Stately inspector). */
  inspect?: (event: InspectionEvent) => void;
  /** Extra figures to fold into stats() and the summary (HTTP latency, memory…). */
  metrics?: () => Record<string, unknown>;
  /** How the cohorts are run (src/scale/executor.ts); in-process when absent. */
  executor?: CohortExecutor;
}

/** What the simulation emits, by name, with each listener's arguments. */
export interface SimulationEvents {
  /** The actor tree is up (created or restored). */
  started: [{ startupSeconds: number }];
  /** A cycle completed. */
  cycle: [CycleReport];
  /** A checkpoint was written (interval, stop or breaker; manual ones resolve checkpointNow()). */
  checkpoint: [{ path: string; trigger: CheckpointTrigger; cycle: number }];
  /** A checkpoint could not be written (retried at the next cycle boundary; `limit` in a row stop the run). */
  'checkpoint-failed': [{ trigger: CheckpointTrigger; cycle: number; message: string; inARow: number; limit: number }];
  /** pause(), resume() or stop() was called. */
  control: ['paused' | 'resumed' | 'stopping'];
  /** The breaker is open at a cycle boundary. */
  'breaker-open': [SimulationStats];
}

export interface Simulation {
  readonly config: SimulationConfig;
  readonly events: EventEmitter<SimulationEvents>;
  /** Runs until the last cycle, a stop, or (breakerAction 'exit') an open breaker. */
  run(): Promise<RunSummary>;
  pause(): void;
  resume(): void;
  /** Graceful stop: the running cycle finishes, then run() resolves. */
  stop(): void;
  /** Asks for a checkpoint at the next cycle boundary (now, if between cycles); resolves with its path. */
  checkpointNow(): Promise<string | null>;
  stats(): SimulationStats;
  /** The persisted snapshot of the whole actor tree. Only valid between cycles. */
  persistedSnapshot(): unknown;
  /** True between cycles: nothing in flight, safe to persist. */
  atCycleBoundary(): boolean;
  /** Shoppers per state right now (a read-only walk of the tree; null before start). */
  occupancy(sample?: number): Occupancy | null;
  /** One shopper's state and context right now, or null. */
  shopper(id: string): { value: unknown; context: Record<string, unknown> } | null;
}
