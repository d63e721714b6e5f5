/**
 * A cohort owns a slice of the shoppers (≈500). It exists for scale: XState's spawnChild and
 * stop() are quadratic in a parent's children, and one parent relaying events to 100,000
 * children is slow. The orchestrator talks to a few hundred cohorts; each cohort sends the
 * cycle only to its active shoppers and folds their reports into one total.
 */
import { assign, enqueueActions, sendParent, setup, type ActorRefFrom } from 'xstate';
import type { CycleInfo } from '../src/model/calendar.ts';
import { hash32, seedRng } from '../src/model/rng.ts';
import { emptyTotals, foldResult } from '../src/model/totals.ts';
import type { CycleTotals, Persona, ShopperCycleResult } from '../src/model/types.ts';
import { shopperMachine } from './shopper.machine.ts';

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
  /** Shoppers of this cohort active in the running cycle, and the next one to start. */
  active: number;
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

export const cohortMachine = setup({
  types: {
    context: {} as CohortContext,
    input: {} as CohortInput,
    events: {} as CohortEvent,
  },
  actors: { shopper: shopperMachine },
  guards: {
    noneActive: ({ context, event }) => event.type === 'RUN_CYCLE' && activeIn(context, event.activeCount) === 0,
    isLastReport: ({ context }) => context.pending === 1,
  },
  actions: {
    reportEmpty: sendParent(({ context }): CohortReport => ({ type: 'COHORT_DONE', baseIndex: context.baseIndex, totals: emptyTotals() })),
    dispatchCycle: enqueueActions(({ context, event, enqueue }) => {
      if (event.type !== 'RUN_CYCLE') return;
      const n = activeIn(context, event.activeCount);
      const first = Math.min(n, context.window);
      enqueue.assign({ info: event.info, active: n, next: first, pending: n, totals: emptyTotals() });
      const cycleEvent = { type: 'CYCLE' as const, info: event.info };
      for (let i = 0; i < first; i++) enqueue.sendTo(context.shoppers[i] as ActorRefFrom<typeof shopperMachine>, cycleEvent);
    }),
    fold: assign(({ context, event }) => {
      if (event.type !== 'SHOPPER_DONE') return {};
      return { totals: foldResult(context.totals, event.result), pending: context.pending - 1 };
    }),
    /**
     * Folds the report and keeps the window full: one shopper done, the next one starts. One
     * action with one assign (the context is copied once per report, not twice); the fold is in
     * place (foldResult mutates the cycle's own totals).
     */
    foldAndStartNext: enqueueActions(({ context, event, enqueue }) => {
      if (event.type !== 'SHOPPER_DONE') return;
      const totals = foldResult(context.totals, event.result);
      if (context.next >= context.active) {
        enqueue.assign({ totals, pending: context.pending - 1 });
        return;
      }
      enqueue.sendTo(context.shoppers[context.next] as ActorRefFrom<typeof shopperMachine>, { type: 'CYCLE', info: context.info as CycleInfo });
      enqueue.assign({ totals, pending: context.pending - 1, next: context.next + 1 });
    }),
    endCycle: assign({ info: null }),
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
      description: 'The active shoppers are shopping, at most `window` at once; each report is folded into the cohort total and starts the next shopper.',
      on: {
        SHOPPER_DONE: [{ guard: 'isLastReport', target: 'idle', actions: ['fold', 'reportTotals', 'endCycle'] }, { actions: 'foldAndStartNext' }],
      },
    },
  },
});
