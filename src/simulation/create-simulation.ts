/**
 * createSimulation(config, deps): the driver. It provides the machines with the given store and
 * recorder, spawns (or restores) the actor tree, and drives cycles in real time (3600 s /
 * time-scale per cycle) or as fast as possible. It runs with no commander, no process.env and no
 * network: tests and benchmarks call it directly. Its contracts are in ./types.ts and
 * ../model/run.ts; what it reports is projected from the orchestrator's context by ./project.ts.
 */
import { EventEmitter } from 'node:events';
import { createActor, waitFor, type SnapshotFrom } from 'xstate';
import type { OrchestratorContext } from '../../machines/orchestrator.machine.ts';
import { DEFAULTS, simulationConfigOf } from '../config.ts';
import { cycleIntervalSeconds, simulatedTimeAfter } from '../model/calendar.ts';
import type { CheckpointTrigger, CycleReport, ExitReason, RunStatus, RunSummary, SimulationStats } from '../model/run.ts';
import { realClock } from './clock.ts';
import { EventLog } from './event-log.ts';
import { createGcPolicy } from './gc-policy.ts';
import { provideOrchestrator, type ProvidedOrchestrator } from './provide-machines.ts';
import { occupancyOf, shopperSnapshotOf } from './occupancy.ts';
import { statsOf, summaryOf } from './project.ts';
import type { Simulation, SimulationConfig, SimulationDeps, SimulationEvents } from './types.ts';

export type { Clock, Simulation, SimulationConfig, SimulationDeps, SimulationEvents } from './types.ts';
export type { CheckpointTrigger, CycleReport, ExitReason, RestoreState, RunStatus, RunSummary, SimulationStats } from '../model/run.ts';
export { realClock } from './clock.ts';

/** The defaults of `shopsim run` (src/config.ts), as a simulation config without a run id. */
export const DEFAULT_SIMULATION_CONFIG: Omit<SimulationConfig, 'runId'> = simulationConfigOf(DEFAULTS, { cycles: 24 });

type OrchestratorSnapshot = SnapshotFrom<ProvidedOrchestrator>;

/** Checkpoints in a row that could not be written before the run stops (exit reason checkpoint_failed, exit 4). */
export const CHECKPOINT_FAILURE_LIMIT = 3;

export function createSimulation(given: SimulationConfig, deps: SimulationDeps): Simulation {
  const config: SimulationConfig = { ...given, maxConcurrentAgents: given.maxConcurrentAgents ?? DEFAULTS.maxConcurrentAgents };
  const maxConcurrentAgents = config.maxConcurrentAgents as number;
  const clock = deps.clock ?? realClock;
  const log = new EventLog();
  const events = new EventEmitter<SimulationEvents>();
  const agentIds = deps.personas.map((p) => p.id);
  const machine = provideOrchestrator({ store: deps.store, recorder: deps.recorder, log, agentIds, executor: deps.executor });
  const gcPolicy = createGcPolicy();
  let gcSeconds = 0;

  let actor: ReturnType<typeof createActor<ProvidedOrchestrator>> | null = null;
  let failed = false;
  let startedAt = 0;
  const elapsedBefore = deps.restore?.realElapsedSeconds ?? 0;
  let lagNow = 0;
  let lagMax = 0;
  let lastCheckpoint: string | null = null;
  /** Aborted (and replaced) by every control call, to wake the driver from a pacing or pause sleep. */
  let wake = new AbortController();
  let checkpointWaiters: ((path: string | null) => void)[] = [];
  let checkpointFailures = 0;
  let checkpointFailuresInARow = 0;
  let cycleStartedAt = 0;

  function ctx(): OrchestratorContext {
    if (!actor) throw new Error('simulation not started');
    return actor.getSnapshot().context as OrchestratorContext;
  }

  function wakeDriver(): void {
    wake.abort();
    wake = new AbortController();
  }

  function statusOf(snap: OrchestratorSnapshot | undefined): RunStatus {
    if (failed || snap?.status === 'error') return 'failed';
    if (!snap) return 'starting';
    if (snap.matches({ control: 'stopped' })) return 'stopped';
    if (snap.matches({ control: 'stopping' })) return 'stopping';
    if (snap.matches({ breaker: 'open' })) return 'breaker_open';
    if (snap.matches({ control: 'paused' })) return 'paused';
    if (snap.matches({ cycle: 'done' })) return 'completed';
    return 'running';
  }

  function realElapsed(): number {
    return elapsedBefore + (startedAt ? (clock.now() - startedAt) / 1000 : 0);
  }

  function stats(): SimulationStats {
    const snap = actor?.getSnapshot();
    return statsOf(config, snap ? (snap.context as OrchestratorContext) : null, {
      status: statusOf(snap),
      breakerOpen: snap?.matches({ breaker: 'open' }) ?? false,
      totalAgents: deps.personas.length,
      realElapsedSeconds: realElapsed(),
      cycleLagSeconds: lagNow,
      cycleLagMaxSeconds: lagMax,
      lastCheckpoint,
      resumedFrom: deps.restore?.resumedFrom ?? null,
      metrics: deps.metrics?.() ?? {},
    });
  }

  function atCycleBoundary(): boolean {
    const snap = actor?.getSnapshot();
    return !!snap && (snap.matches({ cycle: 'waiting' }) || snap.matches({ cycle: 'done' }));
  }

  function persistedSnapshot(): unknown {
    if (!actor) throw new Error('simulation not started');
    if (!atCycleBoundary()) throw new Error('refusing to persist mid-cycle: store calls or writes are in flight');
    return actor.getPersistedSnapshot();
  }

  /**
   * Writes a checkpoint of the tree as it is now (a cycle boundary); null without a checkpointer
   * or when the write failed. A failed write (a full or read-only disk) is announced
   * ('checkpoint-failed') and retried at the next boundary; the checkpoints written before it
   * are untouched (atomic writes). The driver stops the run after CHECKPOINT_FAILURE_LIMIT in a row.
   */
  async function writeCheckpoint(trigger: CheckpointTrigger): Promise<string | null> {
    if (!deps.checkpointer) return null;
    // Mid-cycle is refused (thrown) as before, not counted as a failed write.
    if (!atCycleBoundary()) persistedSnapshot();
    try {
      // Cohorts held elsewhere send their snapshots first (src/scale/remote-cohort.ts); a gather
      // that fails (a worker lost meanwhile) is a failed checkpoint, retried at the next boundary.
      await deps.executor?.gather?.();
      const snapshot = persistedSnapshot();
      const path = await deps.checkpointer({ snapshot, stats: stats(), trigger });
      if (path) lastCheckpoint = path;
      checkpointFailuresInARow = 0;
      return path;
    } catch (err) {
      checkpointFailures++;
      checkpointFailuresInARow++;
      events.emit('checkpoint-failed', { trigger, cycle: ctx().cyclesCompleted, message: err instanceof Error ? err.message : String(err), inARow: checkpointFailuresInARow, limit: CHECKPOINT_FAILURE_LIMIT });
      return null;
    }
  }

  const sim: Simulation = {
    config,
    events,
    stats,
    atCycleBoundary,
    persistedSnapshot,

    occupancy(sample) {
      if (!actor) return null;
      const snap = actor.getSnapshot();
      const here = occupancyOf(snap.context, sample);
      // With workers the shoppers are theirs: their counts, as each last said (no sample ids).
      const remote = deps.executor?.occupancy?.();
      if (remote) {
        for (const [state, n] of Object.entries(remote.counts)) here.counts[state] = (here.counts[state] ?? 0) + n;
        here.total += remote.total;
      }
      return { ...here, orchestrator: snap.value };
    },

    shopper(id) {
      return actor ? shopperSnapshotOf(actor.getSnapshot().context, id) : null;
    },

    pause() {
      actor?.send({ type: 'PAUSE' });
      events.emit('control', 'paused');
      wakeDriver();
    },

    resume() {
      actor?.send({ type: 'RESUME' });
      events.emit('control', 'resumed');
      wakeDriver();
    },

    stop() {
      actor?.send({ type: 'STOP' });
      events.emit('control', 'stopping');
      wakeDriver();
    },

    checkpointNow() {
      return new Promise((resolve) => {
        checkpointWaiters.push(resolve);
        wakeDriver();
      });
    },

    async run(): Promise<RunSummary> {
      const t0 = clock.now();
      const inspect = deps.inspect ? { inspect: deps.inspect } : {};
      actor = deps.restore
        ? // XState still type-checks `input` with a snapshot; a restored actor does not use it.
          createActor(machine, { snapshot: deps.restore.snapshot as OrchestratorSnapshot, ...inspect } as never)
        : createActor(machine, {
            input: {
              runId: config.runId,
              seed: config.seed,
              personas: deps.personas,
              totalCycles: config.cycles,
              startMs: config.startMs,
              warmupCycles: config.warmupCycles,
              breakerPercent: config.breakerPercent,
              breakerOn: config.breakerOn ?? 'faults',
              cohortSize: config.cohortSize,
              maxConcurrentAgents,
              offerCycleDays: config.offerCycleDays,
            },
            ...inspect,
          });
      actor.start();
      const a = actor;
      // A fault the executor cannot recover from (a worker lost for good) ends the run: stopping
      // the tree wakes the driver's waitFor, which then fails with that fault.
      let executorFault: { error: unknown } | null = null;
      deps.executor?.onFatal?.((error) => {
        if (executorFault) return;
        executorFault = { error };
        a.stop();
      });
      // A restored tree runs again, with the options this invocation may change (the machine
      // recomputes the breaker threshold and the cohorts' windows from them).
      if (deps.restore) {
        a.send({ type: 'RUN_RESUMED', totalCycles: config.cycles, breakerPercent: config.breakerPercent, maxConcurrentAgents, breakerOn: config.breakerOn ?? 'faults' });
      }
      // Cohorts held elsewhere are built there (their shoppers spawned) before the run counts as started.
      if (deps.executor?.opened) await deps.executor.opened();
      startedAt = clock.now();
      events.emit('started', { startupSeconds: (startedAt - t0) / 1000 });
      let exitReason: ExitReason = 'completed';
      const interval = config.fast ? 0 : cycleIntervalSeconds(config.timeScale) * 1000;
      let anchor = clock.now();
      let cyclesThisProcess = 0;
      let lastSeen = ctx().cyclesCompleted;

      /** Answers checkpointNow() callers with one checkpoint. */
      const flushCheckpointWaiters = async () => {
        if (checkpointWaiters.length === 0) return;
        const waiters = checkpointWaiters;
        checkpointWaiters = [];
        const path = await writeCheckpoint('manual');
        for (const w of waiters) w(path);
      };

      /** A checkpoint the run takes itself (interval, stop, breaker), announced as an event. */
      const takeCheckpoint = async (trigger: CheckpointTrigger) => {
        const path = await writeCheckpoint(trigger);
        if (path) events.emit('checkpoint', { path, trigger, cycle: ctx().cyclesCompleted });
        return path;
      };

      try {
        for (;;) {
          const snap = await waitFor(a, (s) => s.matches({ cycle: 'waiting' }) || s.matches({ cycle: 'done' }) || s.status === 'error', { timeout: Infinity });
          if (snap.status === 'error') throw snap.error;
          const c = snap.context as OrchestratorContext;
          if (c.cyclesCompleted > lastSeen) {
            lastSeen = c.cyclesCompleted;
            // Writes whose answer was lost are settled before the cycle is reported or checkpointed.
            await deps.recorder.reconcile?.();
            const report: CycleReport = {
              cycle: c.cyclesCompleted,
              simulatedTime: simulatedTimeAfter(config.startMs, c.cyclesCompleted),
              active: c.lastCycle?.active ?? 0,
              totals: c.lastCycle?.totals ?? c.cycleTotals,
              runTotals: c.totals,
              threshold: c.threshold,
              breakerOpen: snap.matches({ breaker: 'open' }),
              lagSeconds: lagNow,
              durationSeconds: (clock.now() - cycleStartedAt) / 1000,
              digest: c.digest,
            };
            events.emit('cycle', report);
            // Due at the interval, and at every boundary after a failed one until one is written.
            const due = config.checkpointInterval > 0 && (c.cyclesCompleted % config.checkpointInterval === 0 || checkpointFailuresInARow > 0);
            if (due && c.cyclesCompleted < c.totalCycles) {
              await takeCheckpoint('interval');
              if (checkpointFailuresInARow >= CHECKPOINT_FAILURE_LIMIT) {
                exitReason = 'checkpoint_failed';
                break;
              }
            }
          }
          await flushCheckpointWaiters();
          const now = a.getSnapshot();
          // The breaker before 'done': a breaker that opens on the last cycle stops the run
          // like any other (exit 3), rather than ending it "completed" with the breaker open.
          if (now.matches({ breaker: 'open' })) {
            events.emit('breaker-open', stats());
            if (config.breakerAction === 'exit') {
              exitReason = 'breaker';
              break;
            }
          }
          if (now.matches({ cycle: 'done' })) break;
          if (now.matches({ control: 'stopped' })) {
            exitReason = 'stopped';
            break;
          }
          if (now.matches({ breaker: 'open' }) || now.matches({ control: 'paused' })) {
            const pausedAt = clock.now();
            await clock.sleep(60_000, wake.signal);
            // Pause freezes the schedule: the next cycle is due as soon as we run again.
            anchor += clock.now() - pausedAt;
            continue;
          }
          if (!config.fast) {
            const due = anchor + cyclesThisProcess * interval;
            const wait = due - clock.now();
            if (wait > 1) {
              await clock.sleep(wait, wake.signal);
              if (clock.now() < due - 1) continue; // woken early by a control call: re-check state
            }
            lagNow = Math.max(0, (clock.now() - due) / 1000);
            lagMax = Math.max(lagMax, lagNow);
          }
          // Let the event loop turn between cycles: with an in-process store a whole run could
          // otherwise be one long chain of microtasks, and signals, keys and timers would wait.
          await new Promise<void>((resolve) => setImmediate(resolve));
          if (!a.getSnapshot().matches({ control: 'running' }) || a.getSnapshot().matches({ breaker: 'open' })) continue;
          gcSeconds += gcPolicy.atCycleBoundary();
          cyclesThisProcess++;
          cycleStartedAt = clock.now();
          a.send({ type: 'NEXT_CYCLE' });
        }
        // After CHECKPOINT_FAILURE_LIMIT failed writes a last attempt is not made: the summary says where the run is.
        if (exitReason !== 'checkpoint_failed' && (exitReason !== 'completed' || ctx().cyclesCompleted < ctx().totalCycles)) {
          await takeCheckpoint(exitReason === 'breaker' ? 'breaker' : 'stop');
        }
        await flushCheckpointWaiters();
      } catch (err) {
        failed = true;
        throw executorFault ? (executorFault as { error: unknown }).error : err;
      }
      return summaryOf(stats(), {
        exitReason,
        wallSeconds: (clock.now() - t0) / 1000,
        seed: config.seed,
        timeScale: config.timeScale,
        agentIds,
        gcCollections: gcPolicy.collections,
        gcSeconds,
        checkpointFailures,
      });
    },
  };

  return sim;
}
