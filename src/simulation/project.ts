/**
 * Pure projections of the orchestrator's context: the live stats, the end-of-run summary, and the
 * run totals in snake_case (one mapping, shared by the summary and the checkpoint's statistics).
 */
import type { OrchestratorContext } from '../../machines/orchestrator.machine.ts';
import { simulatedTimeAfter } from '../model/calendar.ts';
import { breakerFailures, emptyTotals, writtenOf } from '../model/totals.ts';
import { emptyOfferState, type ExitReason, type RunStatus, type RunSummary, type RunTotals, type SimulationStats } from '../model/run.ts';
import type { SimulationConfig } from './types.ts';

/** What the driver knows besides the orchestrator's context. */
export interface DriverState {
  status: RunStatus;
  breakerOpen: boolean;
  totalAgents: number;
  realElapsedSeconds: number;
  cycleLagSeconds: number;
  cycleLagMaxSeconds: number;
  lastCheckpoint: string | null;
  resumedFrom: string | null;
  metrics: Record<string, unknown>;
}

/** The live stats of a run: `context` is null before the actor tree exists. */
export function statsOf(config: SimulationConfig, context: OrchestratorContext | null, driver: DriverState): SimulationStats {
  const cyclesCompleted = context?.cyclesCompleted ?? 0;
  return {
    runId: config.runId,
    status: driver.status,
    cyclesCompleted,
    totalCycles: context?.totalCycles ?? config.cycles,
    simulatedStart: new Date(config.startMs).toISOString(),
    simulatedTime: simulatedTimeAfter(config.startMs, cyclesCompleted),
    realElapsedSeconds: driver.realElapsedSeconds,
    activeAgents: context?.activeCount ?? 0,
    totalAgents: driver.totalAgents,
    totals: context?.totals ?? emptyTotals(),
    lastCycle: context?.lastCycle ?? null,
    breaker: {
      state: driver.breakerOpen ? 'open' : 'closed',
      threshold: context?.threshold ?? 0,
      // The orchestrator's own percent: on resume it may differ from the one the run started with.
      percent: context?.breakerPercent ?? config.breakerPercent,
      trips: context?.breakerTrips ?? 0,
      lastCycleFailures: context?.lastCycle ? breakerFailures(context.lastCycle.totals, context.breakerOn) : 0,
      counts: context?.breakerOn ?? config.breakerOn ?? 'faults',
    },
    offer: context?.offer ?? emptyOfferState(),
    digest: context?.digest ?? '',
    cycleLagSeconds: driver.cycleLagSeconds,
    cycleLagMaxSeconds: driver.cycleLagMaxSeconds,
    lastCheckpoint: driver.lastCheckpoint,
    isReplay: driver.resumedFrom !== null,
    resumedFrom: driver.resumedFrom,
    metrics: driver.metrics,
  };
}

/** The run totals in the snake_case of the summary, the checkpoint's statistics and the runs table. */
export function runTotalsOf(stats: SimulationStats): RunTotals {
  const t = stats.totals;
  const written = writtenOf(t);
  return {
    sessions_created: written.sessions,
    sessions_not_written: written.unwritten,
    checkouts_completed: t.checkouts,
    sessions_abandoned: t.abandoned,
    sessions_failed: written.failed,
    idle_browses: t.idleBrowses,
    carts_created: t.carts,
    coupons_applied: t.couponsApplied,
    events_created: written.events,
    offers_assigned: stats.offer.offers_assigned,
    requests: t.calls,
    revenue_cents: t.revenueCents,
  };
}

export interface SummaryExtras {
  exitReason: ExitReason;
  wallSeconds: number;
  seed: number;
  timeScale: number;
  /** Agent ids by index, to name the agents of the failure samples. */
  agentIds: readonly string[];
  gcCollections: number;
  gcSeconds: number;
  checkpointFailures?: number;
}

const ms3 = (s: number) => Math.round(s * 1000) / 1000;

/** The end-of-run summary, from the run's final stats. */
export function summaryOf(stats: SimulationStats, extras: SummaryExtras): RunSummary {
  const totals = runTotalsOf(stats);
  return {
    run_id: stats.runId,
    exit_reason: extras.exitReason,
    agents: stats.totalAgents,
    seed: extras.seed,
    time_scale: extras.timeScale,
    cycles_completed: stats.cyclesCompleted,
    cycles_total: stats.totalCycles,
    simulated_start: stats.simulatedStart,
    simulated_end: stats.simulatedTime,
    ...totals,
    agent_failures: stats.totals.failed - (stats.totals.refusals ?? 0),
    store_refusals: stats.totals.refusals ?? 0,
    checkpoint_failures: extras.checkpointFailures ?? 0,
    breaker: {
      state: stats.breaker.state,
      threshold: stats.breaker.threshold,
      percent: stats.breaker.percent,
      trips: stats.breaker.trips,
      last_cycle_failures: stats.breaker.lastCycleFailures,
      counts: stats.breaker.counts ?? 'faults',
      failure_samples: (stats.lastCycle?.totals.failureSamples ?? []).slice(0, 5).map((f) => ({
        agent_id: extras.agentIds[f.agentIndex] ?? String(f.agentIndex),
        step: f.step,
        message: f.message,
      })),
    },
    digest: stats.digest,
    wall_seconds: ms3(extras.wallSeconds),
    real_elapsed_seconds: ms3(stats.realElapsedSeconds),
    cycle_lag_max_s: ms3(stats.cycleLagMaxSeconds),
    gc_collections: extras.gcCollections,
    gc_seconds: ms3(extras.gcSeconds),
    is_replay: stats.isReplay,
    resumed_from: stats.resumedFrom,
    last_checkpoint: stats.lastCheckpoint,
    ...stats.metrics,
  };
}
