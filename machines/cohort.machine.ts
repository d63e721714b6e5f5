/**
 * A cohort owns a slice of the shoppers (≈500). It exists for scale: XState's spawnChild and
 * stop() are quadratic in a parent's children, and one parent relaying events to 100,000
 * children is slow. The orchestrator talks to a few hundred cohorts; each cohort sends the
 * cycle only to its active shoppers and folds their reports into one total.
 *
 * Most agent-cycles are skips (about 3 in 4 over a day). Before sending CYCLE the cohort peeks at
 * each active shopper's decision (visitsThisCycle, the shopper's own guard, on a copy of its
 * generator read from its snapshot): a shopper that skips gets CYCLE (it draws and records the
 * skip) but sends no report, and the cohort folds its skip itself. Only visitors report and only
 * they count against the concurrency window, so a skip costs one event, not two.
 */
import { assign, enqueueActions, sendParent, sendTo, setup, type ActorRefFrom } from 'xstate';
import type { CycleInfo } from '../src/model/calendar.ts';
import { hash32, seedRng } from '../src/model/rng.ts';
import { resultOf } from '../src/model/shopper-logic.ts';
import { emptyTotals, foldResult } from '../src/model/totals.ts';
import type { CycleTotals, Persona, ShopperCycleResult } from '../src/model/types.ts';
import { shopperMachine, visitsThisCycle } from './shopper.machine.ts';

export interface CohortInput {
  runId: string;
  seed: number;
  /** Index of the cohort's first shopper in the run. */
  baseIndex: number;
  personas: Persona[];
  /** Most shoppers of this cohort in a session at once (the run's --max-concurrent-agents, shared out). */
  window: number;
}

export interface CohortContext {
  baseIndex: number;
  shoppers: ActorRefFrom<typeof shopperMachine>[];
  window: number;
  /** The running cycle (null between cycles). */
  info: CycleInfo | null;
  /** Shoppers of this cohort active in the running cycle. */
  active: number;
  /**
   * Positions (in `shoppers`) of the active shoppers who visit in the running cycle, in order;
   * `next` indexes the next one to start, `pending` counts those not yet reported. Empty between
   * cycles (and absent in a snapshot written before it existed: dispatchCycle sets it).
   */
  visitors?: number[];
  next: number;
  pending: number;
  totals: CycleTotals;
}

export type CohortEvent =
  | { type: 'RUN_CYCLE'; info: CycleInfo; activeCount: number }
  | { type: 'SHOPPER_DONE'; result: ShopperCycleResult }
  /** A resumed run's concurrency window (between cycles). */
  | { type: 'SET_WINDOW'; window: number };

export type CohortReport = { type: 'COHORT_DONE'; baseIndex: number; totals: CycleTotals };

/** The generator seed of agent i: independent of how many agents the run has. */
export function agentSeed(seed: number, agentIndex: number): number {
  return hash32(seed >>> 0, Math.floor(seed / 4294967296), agentIndex, 0x5a6e7);
}

function activeIn(ctx: CohortContext, activeCount: number): number {
  return Math.max(0, Math.min(ctx.shoppers.length, activeCount - ctx.baseIndex));
}

type ShopperRef = ActorRefFrom<typeof shopperMachine>;

/** What a skip adds to the totals (foldResult reads neither the index nor anything else of it). */
const SKIP_RESULT: ShopperCycleResult = Object.freeze(resultOf(-1, null)) as ShopperCycleResult;

export const cohortMachine = setup({
  types: {
    context: {} as CohortContext,
    input: {} as CohortInput,
    events: {} as CohortEvent,
  },
  actors: { shopper: shopperMachine },
  guards: {
    noneActive: ({ context, event }) => event.type === 'RUN_CYCLE' && activeIn(context, event.activeCount) === 0,
    allReported: ({ context }) => context.pending === 0,
    hasWaitingVisitor: ({ context }) => context.next < (context.visitors?.length ?? 0),
  },
  actions: {
    reportEmpty: sendParent(({ context }): CohortReport => ({ type: 'COHORT_DONE', baseIndex: context.baseIndex, totals: emptyTotals() })),
    /**
     * Peeks at each active shopper's decision, folds the skips, and sends CYCLE to every active
     * shopper that skips and to the first `window` visitors. The one assign of the cycle: it makes
     * the context (and totals) the cycle's reports then change in place.
     */
    dispatchCycle: enqueueActions(({ context, event, enqueue }) => {
      if (event.type !== 'RUN_CYCLE') return;
      const n = activeIn(context, event.activeCount);
      const totals = emptyTotals();
      const visitors: number[] = [];
      const cycleEvent = { type: 'CYCLE' as const, info: event.info };
      for (let i = 0; i < n; i++) {
        const shopper = context.shoppers[i] as ShopperRef;
        if (visitsThisCycle(shopper.getSnapshot().context, event.info)) {
          visitors.push(i);
        } else {
          foldResult(totals, SKIP_RESULT);
          enqueue.sendTo(shopper, cycleEvent);
        }
      }
      const first = Math.min(visitors.length, context.window);
      for (let k = 0; k < first; k++) enqueue.sendTo(context.shoppers[visitors[k] as number] as ShopperRef, cycleEvent);
      enqueue.assign({ info: event.info, active: n, visitors, next: first, pending: visitors.length, totals });
    }),
    /**
     * Folds a visitor's report, in place: into the cycle's own totals and counters (made by
     * dispatchCycle's assign, shared by no snapshot from before the cycle; snapshots are
     * persisted only between cycles). An assign per report would copy the context and rebuild
     * the snapshot for each.
     */
    fold: ({ context, event }) => {
      if (event.type !== 'SHOPPER_DONE') return;
      foldResult(context.totals, event.result);
      context.pending -= 1;
    },
    /** Keeps the window full: one visitor done, the next one starts (then `next` moves on). */
    startNext: sendTo(
      ({ context }) => context.shoppers[(context.visitors as number[])[context.next] as number] as ShopperRef,
      ({ context }) => ({ type: 'CYCLE' as const, info: context.info as CycleInfo }),
    ),
    countStarted: ({ context }) => {
      context.next += 1;
    },
    endCycle: assign({ info: null, visitors: () => [] }),
    reportTotals: sendParent(({ context }): CohortReport => ({ type: 'COHORT_DONE', baseIndex: context.baseIndex, totals: context.totals })),
  },
}).createMachine({
  id: 'cohort',
  description: 'A slice of the shoppers; relays the cycle to its active shoppers and reports their totals.',
  context: ({ input, spawn }) => ({
    baseIndex: input.baseIndex,
    shoppers: input.personas.map((persona, i) =>
      spawn('shopper', {
        id: persona.id,
        input: { runId: input.runId, agentIndex: input.baseIndex + i, persona, rng: seedRng(agentSeed(input.seed, input.baseIndex + i)) },
      }),
    ),
    window: Math.max(1, input.window),
    info: null,
    active: 0,
    visitors: [],
    next: 0,
    pending: 0,
    totals: emptyTotals(),
  }),
  initial: 'idle',
  states: {
    idle: {
      description: 'Waiting for the orchestrator to start a cycle.',
      on: {
        RUN_CYCLE: [{ guard: 'noneActive', actions: 'reportEmpty' }, { target: 'running', actions: 'dispatchCycle' }],
        SET_WINDOW: { actions: assign(({ event }) => ({ window: Math.max(1, event.window) })) },
      },
    },
    running: {
      description:
        'The visiting shoppers are shopping, at most `window` at once (those who skip were counted at dispatch); each report is folded into the cohort total and starts the next visitor. When all have reported (at once if none visits), the total goes to the orchestrator.',
      always: { guard: 'allReported', target: 'idle', actions: ['reportTotals', 'endCycle'] },
      on: {
        SHOPPER_DONE: [{ guard: 'hasWaitingVisitor', actions: ['fold', 'startNext', 'countStarted'] }, { actions: 'fold' }],
      },
    },
  },
});
