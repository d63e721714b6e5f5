/**
 * createSimulation(config, deps): the library entry point. It provides the machines with the
 * given store and recorder, spawns (or restores) the actor tree, and drives cycles in real
 * time (3600 s / time-scale per cycle) or as fast as possible. It runs with no commander,
 * no process.env and no network: tests and benchmarks call it directly.
 */
import { EventEmitter } from 'node:events';
import { createActor, waitFor, type InspectionEvent, type SnapshotFrom } from 'xstate';
import type { OrchestratorContext } from '../../machines/orchestrator.machine.ts';
import { cycleIntervalSeconds, simulatedTimeAfter } from '../model/calendar.ts';
import type { CycleTotals, Persona, Product, Recorder, StoreApi } from '../model/types.ts';
import { EventLog } from './event-log.ts';
import { createGcPolicy } from './gc-policy.ts';
import { provideOrchestrator, type ProvidedOrchestrator } from './provide-machines.ts';

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
  /** What to do when the breaker opens: wait for resume() (library default) or end the run. */
  breakerAction: 'wait' | 'exit';
  cohortSize: number;
  /** Most agents in a session at once (the seed's parallelization.max_concurrent_agents; default 10,000). */
  maxConcurrentAgents?: number;
  offerCycleDays: number;
  /** Checkpoint every N completed cycles (0 = never). Needs deps.checkpointer. */
  checkpointInterval: number;
}

export const DEFAULT_SIMULATION_CONFIG: Omit<SimulationConfig, 'runId'> = {
  seed: 42,
  cycles: 24,
  startMs: Date.parse('2024-01-01T00:00:00Z'),
  timeScale: 24,
  fast: false,
  warmupCycles: 0,
  breakerPercent: 5,
  breakerAction: 'wait',
  cohortSize: 500,
  maxConcurrentAgents: 10_000,
  offerCycleDays: 7,
  checkpointInterval: 0,
};

export interface Clock {
  /** Real milliseconds (monotonic enough for pacing). */
  now(): number;
  sleep(ms: number, signal: AbortSignal): Promise<void>;
}

export const realClock: Clock = {
  now: () => performance.now(),
  sleep: (ms, signal) =>
    new Promise<void>((resolve) => {
      if (signal.aborted) return resolve();
      const t = setTimeout(done, ms);
      function done() {
        clearTimeout(t);
        signal.removeEventListener('abort', done);
        resolve();
      }
      signal.addEventListener('abort', done, { once: true });
    }),
};

export type CheckpointTrigger = 'interval' | 'manual' | 'stop' | 'breaker';

export interface RestoreState {
  /** A persisted orchestrator snapshot (fresh object: restore mutates it). */
  snapshot: unknown;
  resumedFrom: string;
  realElapsedSeconds: number;
  /** Extra state of the edges (e.g. the mock store) is restored by the caller before run(). */
}

export interface SimulationDeps {
  personas: Persona[];
  products: Product[];
  store: StoreApi;
  recorder: Recorder;
  clock?: Clock;
  restore?: RestoreState;
  /** Writes a checkpoint of the simulation as it is now (at a cycle boundary); returns its path. */
  checkpointer?: (sim: Simulation, trigger: CheckpointTrigger) => Promise<string | null>;
  /** Attached to the actor tree (e.g. the Stately inspector). */
  inspect?: (event: InspectionEvent) => void;
  /** Extra figures to fold into stats() and the summary (HTTP latency, memory…). */
  metrics?: () => Record<string, unknown>;
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

export type RunStatus = 'starting' | 'running' | 'paused' | 'breaker_open' | 'stopping' | 'stopped' | 'completed' | 'failed';

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
  lastCycle: OrchestratorContext['lastCycle'];
  breaker: { state: 'closed' | 'open'; threshold: number; percent: number; trips: number; lastCycleFailures: number };
  offer: OrchestratorContext['offer'];
  digest: string;
  cycleLagSeconds: number;
  cycleLagMaxSeconds: number;
  lastCheckpoint: string | null;
  isReplay: boolean;
  resumedFrom: string | null;
  metrics: Record<string, unknown>;
}

export type ExitReason = 'completed' | 'stopped' | 'breaker' | 'error';

export interface RunSummary {
  run_id: string;
  exit_reason: ExitReason;
  agents: number;
  seed: number;
  time_scale: number;
  cycles_completed: number;
  cycles_total: number;
  simulated_start: string;
  simulated_end: string;
  sessions_created: number;
  checkouts_completed: number;
  sessions_abandoned: number;
  sessions_failed: number;
  idle_browses: number;
  carts_created: number;
  coupons_applied: number;
  events_created: number;
  offers_assigned: number;
  agent_failures: number;
  requests: number;
  revenue_cents: number;
  breaker: { state: 'closed' | 'open'; threshold: number; percent: number; trips: number; last_cycle_failures: number; failure_samples: { agent_id: string; step: string; message: string }[] };
  digest: string;
  wall_seconds: number;
  real_elapsed_seconds: number;
  cycle_lag_max_s: number;
  is_replay: boolean;
  resumed_from: string | null;
  last_checkpoint: string | null;
  [extra: string]: unknown;
}

export interface Simulation {
  readonly config: SimulationConfig;
  readonly events: EventEmitter;
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
}

type OrchestratorSnapshot = SnapshotFrom<ProvidedOrchestrator>;

export function createSimulation(config: SimulationConfig, deps: SimulationDeps): Simulation {
  const clock = deps.clock ?? realClock;
  const log = new EventLog();
  const events = new EventEmitter();
  const agentIds = deps.personas.map((p) => p.id);
  const machine = provideOrchestrator({ store: deps.store, recorder: deps.recorder, log, agentIds });
  const gcPolicy = createGcPolicy();
  let gcSeconds = 0;

  let actor: ReturnType<typeof createActor<ProvidedOrchestrator>> | null = null;
  let status: RunStatus = 'starting';
  let startedAt = 0;
  const elapsedBefore = deps.restore?.realElapsedSeconds ?? 0;
  let lagNow = 0;
  let lagMax = 0;
  let lastCheckpoint: string | null = null;
  const wake = new AbortController();
  let wakeCtl = wake;
  let checkpointWaiters: ((path: string | null) => void)[] = [];
  let cycleStartedAt = 0;

  function ctx(): OrchestratorContext {
    if (!actor) throw new Error('simulation not started');
    return actor.getSnapshot().context as OrchestratorContext;
  }

  function poke(): void {
    wakeCtl.abort();
    wakeCtl = new AbortController();
  }

  function currentStatus(snap: OrchestratorSnapshot): RunStatus {
    if (snap.status === 'error') return 'failed';
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

  const sim: Simulation = {
    config,
    events,

    stats(): SimulationStats {
      const c = actor ? ctx() : null;
      const snap = actor?.getSnapshot();
      return {
        runId: config.runId,
        status: snap ? currentStatus(snap) : status,
        cyclesCompleted: c?.cyclesCompleted ?? 0,
        totalCycles: config.cycles,
        simulatedStart: new Date(config.startMs).toISOString(),
        simulatedTime: simulatedTimeAfter(config.startMs, c?.cyclesCompleted ?? 0),
        realElapsedSeconds: realElapsed(),
        activeAgents: c?.activeCount ?? 0,
        totalAgents: deps.personas.length,
        totals: c?.totals ?? { agents: 0, sessions: 0, idleBrowses: 0, carts: 0, couponsApplied: 0, checkouts: 0, abandoned: 0, failed: 0, events: 0, calls: 0, revenueCents: 0, failureSamples: [] },
        lastCycle: c?.lastCycle ?? null,
        breaker: {
          state: snap?.matches({ breaker: 'open' }) ? 'open' : 'closed',
          threshold: c?.threshold ?? 0,
          percent: config.breakerPercent,
          trips: c?.breakerTrips ?? 0,
          lastCycleFailures: c?.lastCycle?.totals.failed ?? 0,
        },
        offer: c?.offer ?? { current_offer_cycle: 0, cycle_started_at: null, cycle_ends_at: null, offers_assigned: 0, last_error: null },
        digest: c?.digest ?? '',
        cycleLagSeconds: lagNow,
        cycleLagMaxSeconds: lagMax,
        lastCheckpoint,
        isReplay: deps.restore !== undefined,
        resumedFrom: deps.restore?.resumedFrom ?? null,
        metrics: deps.metrics?.() ?? {},
      };
    },

    pause() {
      actor?.send({ type: 'PAUSE' });
      events.emit('control', 'paused');
      poke();
    },

    resume() {
      actor?.send({ type: 'RESUME' });
      events.emit('control', 'resumed');
      poke();
    },

    stop() {
      actor?.send({ type: 'STOP' });
      events.emit('control', 'stopping');
      poke();
    },

    checkpointNow() {
      return new Promise((resolve) => {
        checkpointWaiters.push(resolve);
        poke();
      });
    },

    atCycleBoundary() {
      const snap = actor?.getSnapshot();
      return !!snap && (snap.matches({ cycle: 'waiting' }) || snap.matches({ cycle: 'done' }));
    },

    persistedSnapshot() {
      if (!actor) throw new Error('simulation not started');
      if (!sim.atCycleBoundary()) throw new Error('refusing to persist mid-cycle: store calls or writes are in flight');
      return actor.getPersistedSnapshot();
    },

    async run(): Promise<RunSummary> {
      const t0 = clock.now();
      actor = deps.restore
        ? // XState still type-checks `input` with a snapshot; a restored actor does not use it.
          createActor(machine, { snapshot: deps.restore.snapshot as OrchestratorSnapshot, ...(deps.inspect ? { inspect: deps.inspect } : {}) } as never)
        : createActor(machine, {
            input: {
              runId: config.runId,
              seed: config.seed,
              personas: deps.personas,
              totalCycles: config.cycles,
              startMs: config.startMs,
              warmupCycles: config.warmupCycles,
              breakerPercent: config.breakerPercent,
              cohortSize: config.cohortSize,
              maxConcurrentAgents: config.maxConcurrentAgents ?? 10_000,
              offerCycleDays: config.offerCycleDays,
            },
            ...(deps.inspect ? { inspect: deps.inspect } : {}),
          });
      actor.start();
      const a = actor;
      // A restored tree keeps its configured totals; the run length of this invocation wins.
      if (deps.restore) a.getSnapshot().context.totalCycles = config.cycles;
      startedAt = clock.now();
      events.emit('started', { startupSeconds: (startedAt - t0) / 1000 });
      let exitReason: ExitReason = 'completed';
      const interval = config.fast ? 0 : cycleIntervalSeconds(config.timeScale) * 1000;
      let anchor = clock.now();
      let cyclesThisProcess = 0;
      let lastSeen = ctx().cyclesCompleted;

      const flushCheckpointWaiters = async (trigger: CheckpointTrigger) => {
        if (checkpointWaiters.length === 0) return;
        const waiters = checkpointWaiters;
        checkpointWaiters = [];
        const path = deps.checkpointer ? await deps.checkpointer(sim, trigger) : null;
        if (path) lastCheckpoint = path;
        for (const w of waiters) w(path);
      };

      const takeCheckpoint = async (trigger: CheckpointTrigger) => {
        if (!deps.checkpointer) return null;
        const path = await deps.checkpointer(sim, trigger);
        if (path) {
          lastCheckpoint = path;
          events.emit('checkpoint', { path, trigger, cycle: ctx().cyclesCompleted });
        }
        return path;
      };

      try {
        for (;;) {
          const snap = await waitFor(a, (s) => s.matches({ cycle: 'waiting' }) || s.matches({ cycle: 'done' }) || s.status === 'error', { timeout: Infinity });
          if (snap.status === 'error') throw snap.error;
          const c = snap.context as OrchestratorContext;
          if (c.cyclesCompleted > lastSeen) {
            lastSeen = c.cyclesCompleted;
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
            if (config.checkpointInterval > 0 && c.cyclesCompleted % config.checkpointInterval === 0 && c.cyclesCompleted < config.cycles) {
              await takeCheckpoint('interval');
            }
          }
          await flushCheckpointWaiters('manual');
          const now = a.getSnapshot();
          if (now.matches({ cycle: 'done' })) break;
          if (now.matches({ control: 'stopped' })) {
            exitReason = 'stopped';
            break;
          }
          if (now.matches({ breaker: 'open' })) {
            events.emit('breaker-open', sim.stats());
            if (config.breakerAction === 'exit') {
              exitReason = 'breaker';
              break;
            }
          }
          if (now.matches({ breaker: 'open' }) || now.matches({ control: 'paused' })) {
            status = 'paused';
            const pausedAt = clock.now();
            await clock.sleep(60_000, wakeCtl.signal);
            // Pause freezes the schedule: the next cycle is due as soon as we run again.
            anchor += clock.now() - pausedAt;
            continue;
          }
          if (!config.fast) {
            const due = anchor + cyclesThisProcess * interval;
            const wait = due - clock.now();
            if (wait > 1) {
              await clock.sleep(wait, wakeCtl.signal);
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
        if (exitReason !== 'completed' || ctx().cyclesCompleted < config.cycles) {
          await takeCheckpoint(exitReason === 'breaker' ? 'breaker' : 'stop');
        }
        await flushCheckpointWaiters('manual');
      } catch (err) {
        exitReason = 'error';
        status = 'failed';
        throw err;
      }
      status = exitReason === 'completed' ? 'completed' : 'stopped';
      return summarize(exitReason, (clock.now() - t0) / 1000);
    },
  };

  function summarize(exitReason: ExitReason, wallSeconds: number): RunSummary {
    const s = sim.stats();
    const c = ctx();
    return {
      run_id: config.runId,
      exit_reason: exitReason,
      agents: deps.personas.length,
      seed: config.seed,
      time_scale: config.timeScale,
      cycles_completed: c.cyclesCompleted,
      cycles_total: config.cycles,
      simulated_start: s.simulatedStart,
      simulated_end: s.simulatedTime,
      sessions_created: c.totals.sessions,
      checkouts_completed: c.totals.checkouts,
      sessions_abandoned: c.totals.abandoned,
      sessions_failed: c.totals.failed,
      idle_browses: c.totals.idleBrowses,
      carts_created: c.totals.carts,
      coupons_applied: c.totals.couponsApplied,
      events_created: c.totals.events,
      offers_assigned: c.offer.offers_assigned,
      agent_failures: c.totals.failed,
      requests: c.totals.calls,
      revenue_cents: c.totals.revenueCents,
      breaker: {
        state: s.breaker.state,
        threshold: c.threshold,
        percent: config.breakerPercent,
        trips: c.breakerTrips,
        last_cycle_failures: c.lastCycle?.totals.failed ?? 0,
        failure_samples: (c.lastCycle?.totals.failureSamples ?? []).slice(0, 5).map((f) => ({
          agent_id: deps.personas[f.agentIndex]?.id ?? String(f.agentIndex),
          step: f.step,
          message: f.message,
        })),
      },
      digest: c.digest,
      wall_seconds: Math.round(wallSeconds * 1000) / 1000,
      real_elapsed_seconds: Math.round(s.realElapsedSeconds * 1000) / 1000,
      cycle_lag_max_s: Math.round(lagMax * 1000) / 1000,
      gc_collections: gcPolicy.collections,
      gc_seconds: Math.round(gcSeconds * 1000) / 1000,
      is_replay: s.isReplay,
      resumed_from: s.resumedFrom,
      last_checkpoint: lastCheckpoint,
      ...s.metrics,
    };
  }

  return sim;
}
