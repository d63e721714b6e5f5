/**
 * The run log's record of a simulation: subscribes to its events and writes one pino record
 * per start, cycle (plus one error record when agents failed), breaker opening and checkpoint.
 * Writes to the logger it is given and nowhere else, so the same records come out with or
 * without a terminal.
 */
import type { CycleReport, SimulationStats } from '../model/run.ts';
import type { Simulation } from '../simulation/types.ts';
import type { Logger } from './logger.ts';
import type { MemoryReading } from './memory.ts';

export interface LogEventsOptions {
  /** RSS for the cycle record; null when it cannot be read. */
  readMemory?: () => MemoryReading | null;
}

/** Starts logging; the returned function stops it. */
export function logSimulationEvents(sim: Pick<Simulation, 'events' | 'config'>, logger: Logger, options: LogEventsOptions = {}): () => void {
  const readMemory = options.readMemory ?? (() => null);
  // The simulation emits 'breaker-open' again while the breaker stays open; one record per trip.
  let lastBreakerTrips = -1;

  const onStarted = (info: { startupSeconds: number }) => {
    logger.info({ event: 'started', ...info, config: sim.config }, 'simulation started');
  };
  const onCycle = (r: CycleReport) => {
    const memory = readMemory();
    logger.info(
      {
        event: 'cycle',
        cycle: r.cycle,
        simulatedTime: r.simulatedTime,
        active: r.active,
        sessions: r.totals.sessions,
        checkouts: r.totals.checkouts,
        abandoned: r.totals.abandoned,
        failed: r.totals.failed,
        threshold: r.threshold,
        events: r.totals.events,
        durationSeconds: r.durationSeconds,
        lagSeconds: r.lagSeconds,
        rssMb: memory?.rssMb,
        digest: r.digest,
      },
      'cycle complete',
    );
    if (r.totals.failed > 0) {
      logger.error({ event: 'agent-failures', cycle: r.cycle, failed: r.totals.failed, threshold: r.threshold, samples: r.totals.failureSamples }, `${r.totals.failed} agents failed in cycle ${r.cycle}`);
    }
  };
  const onBreaker = (stats: SimulationStats) => {
    if (stats.breaker.trips === lastBreakerTrips) return;
    lastBreakerTrips = stats.breaker.trips;
    logger.error(
      { event: 'breaker-open', cycle: stats.cyclesCompleted, failures: stats.breaker.lastCycleFailures, threshold: stats.breaker.threshold, samples: stats.lastCycle?.totals.failureSamples ?? [] },
      'circuit breaker open',
    );
  };
  const onCheckpoint = (c: { path: string; trigger: string; cycle: number }) => {
    logger.info({ event: 'checkpoint', ...c }, 'checkpoint written');
  };

  sim.events.on('started', onStarted);
  sim.events.on('cycle', onCycle);
  sim.events.on('breaker-open', onBreaker);
  const onCheckpointFailed = (f: { trigger: string; cycle: number; message: string; inARow: number; limit: number }) => {
    logger.error({ event: 'checkpoint-failed', ...f }, 'checkpoint could not be written');
  };
  sim.events.on('checkpoint', onCheckpoint);
  sim.events.on('checkpoint-failed', onCheckpointFailed);
  return () => {
    sim.events.off('checkpoint-failed', onCheckpointFailed);
    sim.events.off('started', onStarted);
    sim.events.off('cycle', onCycle);
    sim.events.off('breaker-open', onBreaker);
    sim.events.off('checkpoint', onCheckpoint);
  };
}
