/**
 * The run's public contracts: what a simulation reports while it runs (stats, cycle reports),
 * what it returns at the end (the summary), and what a restore hands it. Monitors, checkpoints
 * and the CLI import these without importing the driver; the pure projections that build them
 * from the orchestrator's context are in src/simulation/project.ts.
 */
import type { CycleTotals } from './types.ts';

/** What a simulation runs: derived from the options by simulationConfigOf (src/config.ts). */
export interface SimulationConfig {
  runId: string;
  seed: number;
  /** Total cycles of the run (a resumed run stops where the uninterrupted one would). */
  cycles: number;
  startMs: number;
  timeScale: number;
  fast: boolean;
  warmupCycles: number;
  breakerPercent: number;
  /** What the breaker counts: 'faults' (store rule refusals left out) or 'all' failed sessions. Default faults. */
  breakerOn?: 'faults' | 'all';
  /** What to do when the breaker opens: wait for resume() or end the run. */
  breakerAction: 'wait' | 'exit';
  cohortSize: number;
  /** Most agents in a session at once (the seed's parallelization.max_concurrent_agents; default 10,000). */
  maxConcurrentAgents?: number;
  offerCycleDays: number;
  /** Checkpoint every N completed cycles (0 = never). Needs deps.checkpointer. */
  checkpointInterval: number;
}

/** The offer engine's state (snake_case: it is written to checkpoints as offer_engine_state as is). */
export interface OfferEngineState {
  current_offer_cycle: number;
  cycle_started_at: string | null;
  cycle_ends_at: string | null;
  offers_assigned: number;
  last_error: string | null;
}

/** The last completed cycle as the orchestrator keeps it. */
export interface LastCycle {
  cycle: number;
  active: number;
  totals: CycleTotals;
}

export type CheckpointTrigger = 'interval' | 'manual' | 'stop' | 'breaker';

export type RunStatus = 'starting' | 'running' | 'paused' | 'breaker_open' | 'stopping' | 'stopped' | 'completed' | 'failed';

/** checkpoint_failed: CHECKPOINT_FAILURE_LIMIT checkpoints in a row could not be written (exit 4). */
export type ExitReason = 'completed' | 'stopped' | 'breaker' | 'checkpoint_failed' | 'error';

export interface RestoreState {
  /** A persisted orchestrator snapshot (fresh object: restore mutates it). */
  snapshot: unknown;
  resumedFrom: string;
  realElapsedSeconds: number;
  /** Extra state of the edges (e.g. the mock store) is restored by the caller before run(). */
}

export interface CycleReport {
  cycle: number;
  simulatedTime: string;
  active: number;
  totals: CycleTotals;
  runTotals: CycleTotals;
  threshold: number;
  breakerOpen: boolean;
  lagSeconds: number;
  durationSeconds: number;
  digest: string;
}

export interface BreakerStats {
  state: 'closed' | 'open';
  threshold: number;
  percent: number;
  trips: number;
  /** The failures the breaker compared with its threshold in the last cycle (faults only by default). */
  lastCycleFailures: number;
  /** What it counts: faults or all failed sessions (--breaker-on). Default faults. */
  counts?: 'faults' | 'all';
}

export interface SimulationStats {
  runId: string;
  status: RunStatus;
  cyclesCompleted: number;
  totalCycles: number;
  simulatedStart: string;
  simulatedTime: string;
  realElapsedSeconds: number;
  activeAgents: number;
  totalAgents: number;
  totals: CycleTotals;
  lastCycle: LastCycle | null;
  breaker: BreakerStats;
  offer: OfferEngineState;
  digest: string;
  cycleLagSeconds: number;
  cycleLagMaxSeconds: number;
  lastCheckpoint: string | null;
  isReplay: boolean;
  resumedFrom: string | null;
  metrics: Record<string, unknown>;
}

/** The run's totals in the snake_case of the summary, the checkpoint's statistics and the runs table. */
export interface RunTotals {
  /** Sessions in the database: the agent-cycles whose commit failed are left out (sessions_not_written). */
  sessions_created: number;
  /** Agent-cycles whose commit failed and was rolled back (counted in agent_failures, not in the database). */
  sessions_not_written: number;
  checkouts_completed: number;
  sessions_abandoned: number;
  sessions_failed: number;
  idle_browses: number;
  carts_created: number;
  coupons_applied: number;
  events_created: number;
  offers_assigned: number;
  requests: number;
  revenue_cents: number;
}

export interface RunSummary extends RunTotals {
  run_id: string;
  exit_reason: ExitReason;
  agents: number;
  seed: number;
  time_scale: number;
  cycles_completed: number;
  cycles_total: number;
  simulated_start: string;
  simulated_end: string;
  /** Failed sessions that were faults (5xx, timeouts, bad answers, failed writes), store refusals left out. */
  agent_failures: number;
  /** Checkpoints that could not be written (a full or read-only disk); each was retried at the next cycle boundary. */
  checkpoint_failures: number;
  /** Failed sessions that ended on a store rule's answer (out of stock, coupon not valid…): outcomes, not faults. */
  store_refusals: number;
  breaker: { state: 'closed' | 'open'; threshold: number; percent: number; trips: number; last_cycle_failures: number; counts: 'faults' | 'all'; failure_samples: { agent_id: string; step: string; message: string }[] };
  digest: string;
  wall_seconds: number;
  real_elapsed_seconds: number;
  cycle_lag_max_s: number;
  is_replay: boolean;
  resumed_from: string | null;
  last_checkpoint: string | null;
  [extra: string]: unknown;
}

/** What the driver hands the checkpointer: data, never the simulation to call back into. */
export interface CheckpointRequest {
  /** The persisted snapshot of the whole actor tree, taken at a cycle boundary. */
  snapshot: unknown;
  stats: SimulationStats;
  trigger: CheckpointTrigger;
}

export type Checkpointer = (request: CheckpointRequest) => Promise<string | null>;

/** The offer engine before its first offer cycle. */
export function emptyOfferState(): OfferEngineState {
  return { current_offer_cycle: 0, cycle_started_at: null, cycle_ends_at: null, offers_assigned: 0, last_error: null };
}
