/**
 * The orchestrator: spawns the cohorts (and through them one shopper per persona, actor id =
 * persona id) and owns three parallel regions the inspector shows:
 *  - cycle:   waiting → planning → (startingOffers) → executing → settling → waiting … done
 *  - control: running ⇄ paused, stopping → stopped
 *  - breaker: closed ⇄ open (opens when a cycle's failures exceed floor(agents × percent / 100),
 *    or when every session of a cycle failed and at least 3 have failed in a row: breakerOpens)
 * Time enters as events: the driver in src/simulation sends NEXT_CYCLE when a cycle is due.
 * A restored tree is told it resumes by RUN_RESUMED: the run runs again (control running, breaker
 * closed), and the options a resume may change (length, breaker percent, concurrency window) are
 * applied here, where the threshold and the cohorts' windows are derived from them.
 */
import { and, assign, enqueueActions, fromPromise, or, raise, setup, stateIn, type ActorRefFrom } from 'xstate';
import { cycleInfo, HOUR_MS, type CycleInfo } from '../src/model/calendar.ts';
import { breakerFailures, emptyTotals, mergeTotals, type BreakerCounts } from '../src/model/totals.ts';
import type { LastCycle, OfferEngineState } from '../src/model/run.ts';
import { emptyOfferState } from '../src/model/run.ts';
import type { CycleTotals, Persona } from '../src/model/types.ts';
import { activeAgentCount, breakerOpens, breakerThreshold, failedInARowAfter } from '../src/model/warmup.ts';
import { cohortMachine, type CohortReport } from './cohort.machine.ts';

export interface OrchestratorInput {
  runId: string;
  seed: number;
  personas: Persona[];
  totalCycles: number;
  startMs: number;
  warmupCycles: number;
  breakerPercent: number;
  /** What the breaker counts: faults (default) or every failed session. */
  breakerOn?: BreakerCounts;
  cohortSize: number;
  /** Most agents in a session at once across the run (shared out evenly over the cohorts). */
  maxConcurrentAgents: number;
  offerCycleDays: number;
}

export type { OfferEngineState };

export interface OrchestratorContext {
  totalAgents: number;
  totalCycles: number;
  startMs: number;
  warmupCycles: number;
  breakerPercent: number;
  /** Most failures in one cycle before the breaker opens: floor(agents × breakerPercent / 100). */
  threshold: number;
  /** Absent in a snapshot written before it existed: faults. */
  breakerOn?: BreakerCounts;
  /** Most agents in a session at once across the run (each cohort gets an even share). */
  maxConcurrentAgents: number;
  offerCycleDays: number;
  cohorts: ActorRefFrom<typeof cohortMachine>[];
  /** Cycles completed so far. */
  cyclesCompleted: number;
  current: CycleInfo | null;
  activeCount: number;
  pendingCohorts: number;
  /**
   * The running cycle's cohort reports in arrival order, merged into cycleTotals in cohort order
   * (by first agent index) at the barrier (the last report), never in completion order: cohorts
   * run on an executor (in-process, worker threads, other machines) and may finish in any order.
   * Appended in place (see addReport), not copied per report. Reset by planCycle; between cycles
   * (where checkpoints are taken) empty. A snapshot written before this shape holds `{}` here
   * (a record by first agent index, also empty between cycles): planCycle replaces it.
   */
  cohortReports?: CohortReports;
  cycleTotals: CycleTotals;
  lastCycle: LastCycle | null;
  totals: CycleTotals;
  breakerTrips: number;
  /**
   * Sessions failed in a row, none succeeding in between, across cycles (breaker rule (b) in
   * src/model/warmup.ts); reset when the breaker opens. Absent in older checkpoints: 0.
   */
  failedInARow?: number;
  offer: OfferEngineState;
  digest: string;
}

export type OrchestratorEvent =
  | { type: 'NEXT_CYCLE' }
  | { type: 'PAUSE' }
  | { type: 'RESUME' }
  | { type: 'STOP' }
  | { type: 'BREAKER_TRIP' }
  /** Sent once to a restored tree before its first cycle. */
  | { type: 'RUN_RESUMED'; totalCycles: number; breakerPercent: number; maxConcurrentAgents: number; breakerOn?: BreakerCounts }
  | CohortReport;

/**
 * The reports of the running cycle: `items[0..count)` are this snapshot's. A report is appended
 * in place when this snapshot is the array's latest (count === items.length), so a cycle's
 * reports cost O(cohorts) rather than a copy of the whole set per report (quadratic: 2,000
 * cohorts of 500 at 1,000,000 agents); a transition from an older snapshot (a pure `transition`
 * branching) copies its prefix first, so every snapshot keeps the reports it had.
 */
export interface CohortReports {
  items: { baseIndex: number; totals: CycleTotals }[];
  count: number;
}

const noReports = (): CohortReports => ({ items: [], count: 0 });

/** `reports` with one more; an older snapshot's (or the pre-array `{}`) is copied or started afresh. */
export function addReport(reports: CohortReports | undefined, baseIndex: number, totals: CycleTotals): CohortReports {
  const r = reports && Array.isArray(reports.items) ? reports : noReports();
  const items = r.items.length === r.count ? r.items : r.items.slice(0, r.count);
  items.push({ baseIndex, totals });
  return { items, count: r.count + 1 };
}

/** The cycle's totals: the reports merged in cohort order (first agent index), whatever their arrival order. */
export function mergeReports(reports: CohortReports | undefined): CycleTotals {
  const r = reports && Array.isArray(reports.items) ? reports.items.slice(0, reports.count) : [];
  r.sort((a, b) => a.baseIndex - b.baseIndex);
  let cycleTotals = emptyTotals();
  for (const { totals } of r) cycleTotals = mergeTotals(cycleTotals, totals);
  return cycleTotals;
}

/** The cycle's sessions and the failures the breaker counts. */
function faultsOf(ctx: OrchestratorContext): { sessions: number; failed: number } {
  return { sessions: ctx.cycleTotals.sessions, failed: breakerFailures(ctx.cycleTotals, ctx.breakerOn) };
}

/** The share of the run's concurrency window each cohort gets. */
export function cohortWindow(maxConcurrentAgents: number, cohortCount: number): number {
  return Math.ceil(maxConcurrentAgents / Math.max(1, cohortCount));
}

/** The offer cycle that starts in the running cycle: its number and window. */
function nextOfferWindow(ctx: OrchestratorContext): { offer_cycle: number; starts_at: string; ends_at: string } {
  const info = ctx.current as CycleInfo;
  return { offer_cycle: ctx.offer.current_offer_cycle + 1, starts_at: info.at, ends_at: new Date(info.atMs + ctx.offerCycleDays * 24 * HOUR_MS).toISOString() };
}

export const GENESIS_DIGEST = 'sha256:0000000000000000000000000000000000000000000000000000000000000000';

function offerCycleDue(ctx: OrchestratorContext): boolean {
  const info = ctx.current;
  if (!info) return false;
  if (ctx.offer.cycle_ends_at === null) return true;
  return info.atMs >= Date.parse(ctx.offer.cycle_ends_at);
}

export const orchestratorMachine = setup({
  types: {
    context: {} as OrchestratorContext,
    input: {} as OrchestratorInput,
    events: {} as OrchestratorEvent,
  },
  actors: {
    cohort: cohortMachine,
    startOfferCycle: fromPromise<{ offers_assigned: number }, { offer_cycle: number; starts_at: string; ends_at: string }>(async () => {
      throw new Error('orchestrator actor "startOfferCycle" was not provided');
    }),
    settleCycle: fromPromise<{ digest: string }, { cycle: number; previousDigest: string; totals: CycleTotals }>(async () => {
      throw new Error('orchestrator actor "settleCycle" was not provided');
    }),
  },
  guards: {
    hasCyclesLeft: ({ context }) => context.cyclesCompleted < context.totalCycles,
    isRunning: stateIn({ control: 'running' }),
    breakerClosed: stateIn({ breaker: 'closed' }),
    offerCycleDue: ({ context }) => offerCycleDue(context),
    isLastCohort: ({ context }) => context.pendingCohorts === 1,
    // The breaker counts faults (store rule refusals are outcomes, unless --breaker-on all).
    breakerShouldOpen: ({ context }) => {
      const faults = faultsOf(context);
      return breakerOpens(faults, context.threshold, failedInARowAfter(context.failedInARow ?? 0, faults), context.breakerPercent);
    },
    allCyclesDone: ({ context }) => context.cyclesCompleted >= context.totalCycles,
  },
  actions: {
    planCycle: assign(({ context }) => {
      const cycle = context.cyclesCompleted + 1;
      return {
        current: cycleInfo(context.startMs, cycle),
        activeCount: activeAgentCount(cycle, context.totalAgents, context.warmupCycles),
        pendingCohorts: context.cohorts.length,
        cohortReports: noReports(),
        cycleTotals: emptyTotals(),
      };
    }),
    dispatchCycle: enqueueActions(({ context, enqueue }) => {
      const event = { type: 'RUN_CYCLE' as const, info: context.current as CycleInfo, activeCount: context.activeCount };
      for (const cohort of context.cohorts) enqueue.sendTo(cohort, event);
    }),
    foldCohort: assign(({ context, event }) => {
      if (event.type !== 'COHORT_DONE') return {};
      return { cohortReports: addReport(context.cohortReports, event.baseIndex, event.totals), pendingCohorts: context.pendingCohorts - 1 };
    }),
    /** The barrier: every cohort has reported; their totals are merged in cohort order. */
    mergeCohorts: assign(({ context }) => ({ cycleTotals: mergeReports(context.cohortReports), cohortReports: noReports() })),
    countTrip: assign(({ context }) => ({ breakerTrips: context.breakerTrips + 1, failedInARow: 0 })),
    applyResume: enqueueActions(({ context, event, enqueue }) => {
      if (event.type !== 'RUN_RESUMED') return;
      enqueue.assign({
        totalCycles: event.totalCycles,
        breakerPercent: event.breakerPercent,
        threshold: breakerThreshold(context.totalAgents, event.breakerPercent),
        maxConcurrentAgents: event.maxConcurrentAgents,
        breakerOn: event.breakerOn ?? context.breakerOn ?? 'faults',
      });
      const setWindow = { type: 'SET_WINDOW' as const, window: cohortWindow(event.maxConcurrentAgents, context.cohorts.length) };
      for (const cohort of context.cohorts) enqueue.sendTo(cohort, setWindow);
    }),
  },
}).createMachine({
  id: 'orchestrator',
  description: 'Owns the simulated clock, the warm-up ramp, the offer engine, pause/resume and the circuit breaker.',
  type: 'parallel',
  context: ({ input, spawn }) => {
    const cohorts: ActorRefFrom<typeof cohortMachine>[] = [];
    const window = cohortWindow(input.maxConcurrentAgents, Math.ceil(input.personas.length / input.cohortSize));
    for (let base = 0; base < input.personas.length; base += input.cohortSize) {
      cohorts.push(
        spawn('cohort', {
          id: `cohort-${String(base / input.cohortSize).padStart(4, '0')}`,
          input: { runId: input.runId, seed: input.seed, baseIndex: base, personas: input.personas.slice(base, base + input.cohortSize), window },
        }),
      );
    }
    return {
      totalAgents: input.personas.length,
      totalCycles: input.totalCycles,
      startMs: input.startMs,
      warmupCycles: input.warmupCycles,
      breakerPercent: input.breakerPercent,
      threshold: breakerThreshold(input.personas.length, input.breakerPercent),
      breakerOn: input.breakerOn ?? 'faults',
      maxConcurrentAgents: input.maxConcurrentAgents,
      offerCycleDays: input.offerCycleDays,
      cohorts,
      cyclesCompleted: 0,
      current: null,
      activeCount: 0,
      pendingCohorts: 0,
      cohortReports: noReports(),
      cycleTotals: emptyTotals(),
      lastCycle: null,
      totals: emptyTotals(),
      breakerTrips: 0,
      failedInARow: 0,
      offer: emptyOfferState(),
      digest: GENESIS_DIGEST,
    };
  },
  states: {
    cycle: {
      description: 'One cycle = one simulated hour.',
      initial: 'waiting',
      states: {
        waiting: {
          description: 'Between cycles: the driver sends NEXT_CYCLE when the next one is due (at once with --fast). Checkpoints are taken here, with nothing in flight.',
          always: [{ guard: 'allCyclesDone', target: 'done' }],
          on: {
            NEXT_CYCLE: {
              guard: and(['hasCyclesLeft', 'isRunning', 'breakerClosed']),
              target: 'planning',
              actions: 'planCycle',
            },
          },
        },
        planning: {
          description: 'Works out the cycle: simulated time, active agents (warm-up ramp), whether a new offer cycle starts.',
          always: [{ guard: 'offerCycleDue', target: 'startingOffers' }, { target: 'executing' }],
        },
        startingOffers: {
          description: 'A new offer cycle (every N simulated days): the store assigns offers (coupons) to the agents.',
          invoke: {
            src: 'startOfferCycle',
            input: ({ context }) => nextOfferWindow(context),
            onDone: {
              target: 'executing',
              actions: assign(({ context, event }) => {
                const w = nextOfferWindow(context);
                return {
                  offer: {
                    current_offer_cycle: w.offer_cycle,
                    cycle_started_at: w.starts_at,
                    cycle_ends_at: w.ends_at,
                    offers_assigned: context.offer.offers_assigned + event.output.offers_assigned,
                    last_error: null,
                  },
                };
              }),
            },
            onError: {
              target: 'executing',
              actions: assign(({ context, event }) => {
                const w = nextOfferWindow(context);
                return {
                  offer: {
                    ...context.offer,
                    current_offer_cycle: w.offer_cycle,
                    cycle_started_at: w.starts_at,
                    cycle_ends_at: w.ends_at,
                    last_error: event.error instanceof Error ? event.error.message : String(event.error),
                  },
                };
              }),
            },
          },
        },
        executing: {
          description: 'All active agents shop concurrently; an agent failure never stops the others.',
          entry: 'dispatchCycle',
          on: {
            COHORT_DONE: [{ guard: 'isLastCohort', target: 'settling', actions: ['foldCohort', 'mergeCohorts'] }, { actions: 'foldCohort' }],
          },
        },
        settling: {
          description: 'Seals the cycle: folds its totals into the run, extends the event-log digest, checks the breaker.',
          invoke: {
            src: 'settleCycle',
            input: ({ context }) => ({ cycle: (context.current as CycleInfo).cycle, previousDigest: context.digest, totals: context.cycleTotals }),
            onDone: [
              {
                guard: 'breakerShouldOpen',
                target: 'waiting',
                actions: [
                  assign(({ context, event }) => settle(context, event.output.digest)),
                  raise({ type: 'BREAKER_TRIP' }),
                ],
              },
              { target: 'waiting', actions: assign(({ context, event }) => settle(context, event.output.digest)) },
            ],
          },
        },
        done: {
          description: 'All cycles of the run are complete; a resume that asks for more cycles goes on.',
          on: { RUN_RESUMED: { guard: ({ context, event }) => event.totalCycles > context.cyclesCompleted, target: 'waiting' } },
        },
      },
    },
    control: {
      description: 'Pause freezes the simulated clock: the running cycle finishes, no new one starts.',
      initial: 'running',
      // A checkpoint written on stop or while paused records that state; the user asked to go on.
      on: { RUN_RESUMED: { target: '.running', actions: 'applyResume' } },
      states: {
        running: { on: { PAUSE: 'paused', STOP: 'stopping' } },
        paused: { on: { RESUME: 'running', STOP: 'stopping' } },
        stopping: {
          description: 'A graceful stop was asked for: the running cycle finishes, then the run stops.',
          always: [{ guard: or([stateIn({ cycle: 'waiting' }), stateIn({ cycle: 'done' })]), target: 'stopped' }],
        },
        stopped: { description: 'Stopped; the driver writes the final checkpoint.' },
      },
    },
    breaker: {
      description: 'Circuit breaker: opens when more than floor(agents × percent / 100) agents fail in one cycle, or when every session of a cycle failed and at least 3 have failed in a row.',
      initial: 'closed',
      // Resuming is the manual decision to go on: it closes an open breaker, as RESUME does.
      on: { RUN_RESUMED: { target: '.closed' } },
      states: {
        closed: { on: { BREAKER_TRIP: { target: 'open', actions: 'countTrip' } } },
        open: {
          description: 'The run is paused until a manual RESUME, which closes the breaker.',
          on: { RESUME: 'closed' },
        },
      },
    },
  },
});

function settle(context: OrchestratorContext, digest: string): Partial<OrchestratorContext> {
  const totals = mergeTotals({ ...context.totals, failureSamples: [] }, { ...context.cycleTotals, failureSamples: [] });
  const cycle = (context.current as CycleInfo).cycle;
  return {
    cyclesCompleted: cycle,
    digest,
    totals,
    lastCycle: { cycle, active: context.activeCount, totals: context.cycleTotals },
    failedInARow: failedInARowAfter(context.failedInARow ?? 0, faultsOf(context)),
  };
}
