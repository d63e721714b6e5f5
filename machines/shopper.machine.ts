/**
 * One shopper. Each cycle the orchestrator (through the agent's cohort) sends CYCLE with the
 * simulated time; the shopper skips, browses only, or shops: browsing → carting → couponing →
 * deciding → checking out, ending checked out, abandoned or failed, then commits its session
 * (one write) and reports to its cohort. It imports no I/O: every store call and the write
 * are actors provided from src/simulation. No `after:` delays, no clocks, no Math.random:
 * randomness is the agent's own generator, whose state is in context.
 */
import { assign, fromPromise, sendParent, setup } from 'xstate';
import type { CycleInfo } from '../src/model/calendar.ts';
import { Rng, type RngState } from '../src/model/rng.ts';
import {
  afterBrowse,
  afterCart,
  afterCheckout,
  afterCouponApplied,
  afterCouponRejected,
  afterFailure,
  afterOffers,
  decideCheckout,
  decideCycle,
  idempotencyKey,
  openSession,
  resultOf,
  toRecord,
  writeFailed,
  type BrowseOutput,
  type Session,
  type ShopStep,
} from '../src/model/shopper-logic.ts';
import type { Cart, CycleOutcome, Offer, Order, Persona, SessionRecord, ShopperCycleResult } from '../src/model/types.ts';
import type { BrowseInput, CartInput, CouponOutcome, StepBase } from '../src/store/steps.ts';

export interface ShopperContext {
  runId: string;
  agentIndex: number;
  agentId: string;
  persona: Persona;
  rng: RngState;
  lastCycle: number;
  lastAction: CycleOutcome | 'none';
  shoppingThisCycle: boolean;
  info: CycleInfo | null;
  session: Session | null;
}

export interface ShopperInput {
  runId: string;
  agentIndex: number;
  persona: Persona;
  rng: RngState;
}

export type ShopperEvent = { type: 'CYCLE'; info: CycleInfo };

export type ShopperReport = { type: 'SHOPPER_DONE'; result: ShopperCycleResult };

function notProvided(name: string): never {
  throw new Error(`shopper actor "${name}" was not provided`);
}

function stepBase(ctx: ShopperContext): StepBase {
  const info = ctx.info as CycleInfo;
  return { agentId: ctx.agentId, agentIndex: ctx.agentIndex, cycle: info.cycle, at: info.at, callsBefore: ctx.session?.calls ?? 0 };
}

function errorOf(err: unknown): { message: string; name: string; calls: number } {
  if (err && typeof err === 'object') {
    const e = err as { message?: unknown; name?: unknown; calls?: unknown };
    return {
      message: typeof e.message === 'string' ? e.message : String(err),
      name: typeof e.name === 'string' ? e.name : 'Error',
      calls: typeof e.calls === 'number' ? e.calls : 0,
    };
  }
  return { message: String(err), name: 'Error', calls: 0 };
}

/** Peeks at the decision without advancing the generator (the action that follows draws it for real). */
function peekDecision(ctx: ShopperContext, info: CycleInfo): 'skip' | 'browse' | 'shop' {
  return decideCycle(new Rng(ctx.rng), ctx.persona, info);
}

function failWith(step: ShopStep) {
  return { type: 'recordFailure', params: { step } } as const;
}

export const shopperMachine = setup({
  types: {
    context: {} as ShopperContext,
    input: {} as ShopperInput,
    events: {} as ShopperEvent,
  },
  actors: {
    browseProducts: fromPromise<BrowseOutput, BrowseInput>(async () => notProvided('browseProducts')),
    addToCart: fromPromise<{ cart: Cart; calls: number }, CartInput>(async () => notProvided('addToCart')),
    fetchOffers: fromPromise<Offer[], StepBase>(async () => notProvided('fetchOffers')),
    applyCoupon: fromPromise<CouponOutcome, StepBase & { code: string }>(async () => notProvided('applyCoupon')),
    submitCheckout: fromPromise<Order, StepBase & { idempotencyKey: string }>(async () => notProvided('submitCheckout')),
    clearCart: fromPromise<void, StepBase>(async () => notProvided('clearCart')),
    commitSession: fromPromise<void, SessionRecord>(async () => notProvided('commitSession')),
  },
  guards: {
    decidesToShop: ({ context, event }) => peekDecision(context, event.info) === 'shop',
    decidesToBrowse: ({ context, event }) => peekDecision(context, event.info) === 'browse',
    sessionEnded: ({ context }) => context.session?.status != null,
    choseCoupon: ({ context }) => context.session?.coupon != null,
  },
  actions: {
    recordFailure: assign(({ context, event }, params: { step: ShopStep }) => ({
      session: afterFailure(context.session as Session, params.step, errorOf((event as unknown as { error?: unknown }).error)),
    })),
    openSession: assign(({ context, event }) => {
      const rng = new Rng(context.rng);
      const decision = decideCycle(rng, context.persona, event.info);
      const session = openSession(rng, context.persona, event.info, decision === 'shop' ? 'shop' : 'browse');
      return { rng: rng.state(), info: event.info, session, shoppingThisCycle: decision === 'shop' };
    }),
    skipCycle: assign(({ context, event }) => {
      const rng = new Rng(context.rng);
      decideCycle(rng, context.persona, event.info);
      return { rng: rng.state(), info: event.info, session: null, shoppingThisCycle: false, lastCycle: event.info.cycle, lastAction: 'skip' as const };
    }),
    reportSkip: sendParent(({ context }): ShopperReport => ({ type: 'SHOPPER_DONE', result: resultOf(context.agentIndex, null) })),
    reportCycle: sendParent(({ context }): ShopperReport => ({ type: 'SHOPPER_DONE', result: resultOf(context.agentIndex, context.session) })),
    reportWriteFailure: sendParent(({ context, event }): ShopperReport => ({
      type: 'SHOPPER_DONE',
      result: writeFailed(context.agentIndex, context.session as Session, errorOf((event as { error?: unknown }).error).message),
    })),
    endCycle: assign(({ context }) => ({
      lastCycle: context.info?.cycle ?? context.lastCycle,
      lastAction: context.session ? resultOf(context.agentIndex, context.session).outcome : ('skip' as const),
      session: null,
      info: null,
    })),
    endCycleFailed: assign(({ context }) => ({ lastCycle: context.info?.cycle ?? context.lastCycle, lastAction: 'failed' as const, session: null, info: null })),
  },
}).createMachine({
  id: 'shopper',
  description: 'A persona-driven shopper: one session at most per simulated hour.',
  context: ({ input }) => ({
    runId: input.runId,
    agentIndex: input.agentIndex,
    agentId: input.persona.id,
    persona: input.persona,
    rng: input.rng,
    lastCycle: 0,
    lastAction: 'none',
    shoppingThisCycle: false,
    info: null,
    session: null,
  }),
  initial: 'idle',
  states: {
    idle: {
      description: 'Between cycles. On CYCLE the shopper draws whether to shop (frequency × hour affinity × day affinity), only browse, or skip.',
      on: {
        CYCLE: [
          { guard: 'decidesToShop', target: 'browsing', actions: 'openSession' },
          { guard: 'decidesToBrowse', target: 'browsing', actions: 'openSession' },
          { actions: ['skipCycle', 'reportSkip'] },
        ],
      },
    },
    browsing: {
      description: 'Lists a page of a preferred category and opens one or more product pages.',
      invoke: {
        src: 'browseProducts',
        input: ({ context }) => {
          const s = context.session as Session;
          return { ...stepBase(context), category: s.category, page: s.page, viewDraws: s.viewDraws };
        },
        onDone: {
          target: 'planning',
          actions: assign(({ context, event }) => {
            const rng = new Rng(context.rng);
            const session = afterBrowse(rng, context.persona, context.session as Session, event.output);
            return { rng: rng.state(), session };
          }),
        },
        onError: { target: 'failing', actions: failWith('browse') },
      },
    },
    planning: {
      description: 'A browse-only visit ends here; a shopper with nothing affordable abandons; otherwise on to the cart.',
      always: [{ guard: 'sessionEnded', target: 'committing' }, { target: 'carting' }],
    },
    carting: {
      description: 'Adds the planned items (1..n, within budget) to the cart, one call each.',
      invoke: {
        src: 'addToCart',
        input: ({ context }) => ({ ...stepBase(context), items: (context.session as Session).planned }),
        onDone: {
          target: 'couponing',
          actions: assign(({ context, event }) => ({ session: afterCart(context.session as Session, event.output.cart, event.output.calls) })),
        },
        onError: { target: 'failing', actions: failWith('add_to_cart') },
      },
    },
    couponing: {
      description: 'Views the offers assigned to this shopper in the current offer cycle and maybe picks the best one the cart qualifies for.',
      invoke: {
        src: 'fetchOffers',
        input: ({ context }) => stepBase(context),
        onDone: {
          target: 'choosingCoupon',
          actions: assign(({ context, event }) => {
            const rng = new Rng(context.rng);
            const session = afterOffers(rng, context.persona, context.session as Session, event.output);
            return { rng: rng.state(), session };
          }),
        },
        onError: { target: 'failing', actions: failWith('offers') },
      },
    },
    choosingCoupon: {
      description: 'Applies the chosen coupon, if any.',
      always: [{ guard: 'choseCoupon', target: 'applyingCoupon' }, { target: 'deciding' }],
    },
    applyingCoupon: {
      description: 'Applies a coupon to the cart; a refused coupon (invalid, expired, minimum spend) is recorded and shopping goes on.',
      invoke: {
        src: 'applyCoupon',
        input: ({ context }) => ({ ...stepBase(context), code: (context.session as Session).coupon as string }),
        onDone: {
          target: 'deciding',
          actions: assign(({ context, event }) => ({
            session: event.output.applied
              ? afterCouponApplied(context.session as Session, event.output.cart)
              : afterCouponRejected(context.session as Session, event.output.reason),
          })),
        },
        onError: { target: 'failing', actions: failWith('coupon') },
      },
    },
    deciding: {
      description: 'Checks out or abandons: abandonment tendency, raised by price sensitivity on a cart near the budget, lowered by a coupon.',
      entry: assign(({ context }) => {
        const rng = new Rng(context.rng);
        decideCheckout(rng, context.persona, context.session as Session);
        return { rng: rng.state() };
      }),
      always: [{ guard: 'sessionEnded', target: 'committing' }, { target: 'checkingOut' }],
    },
    checkingOut: {
      description: 'Submits the checkout with an idempotency key (run, agent, cycle), so a retried call never makes a second order.',
      invoke: {
        src: 'submitCheckout',
        input: ({ context }) => ({ ...stepBase(context), idempotencyKey: idempotencyKey(context.runId, context.agentId, (context.info as CycleInfo).cycle) }),
        onDone: {
          target: 'committing',
          actions: assign(({ context, event }) => ({ session: afterCheckout(context.session as Session, event.output) })),
        },
        onError: { target: 'failing', actions: failWith('checkout') },
      },
    },
    failing: {
      description: 'Failure path: the failed step was recorded as <step>_failed; the cart and coupon are cleared (best effort) and the session ends failed. The agent starts fresh next cycle.',
      invoke: {
        src: 'clearCart',
        input: ({ context }) => stepBase(context),
        onDone: { target: 'committing', actions: assign(({ context }) => ({ session: { ...(context.session as Session), calls: (context.session as Session).calls + 1 } })) },
        onError: { target: 'committing', actions: assign(({ context }) => ({ session: { ...(context.session as Session), calls: (context.session as Session).calls + 1 } })) },
      },
    },
    committing: {
      description: 'Writes the session, its events and its final status in one transaction, then reports to the cohort. A failed write rolls the agent-cycle back and counts as a failure.',
      invoke: {
        src: 'commitSession',
        input: ({ context }) => toRecord(context.runId, context.agentId, context.agentIndex, context.session as Session),
        onDone: { target: 'idle', actions: ['reportCycle', 'endCycle'] },
        onError: { target: 'idle', actions: ['reportWriteFailure', 'endCycleFailed'] },
      },
    },
  },
});
