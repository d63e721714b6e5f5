/**
 * One shopper. Each cycle the orchestrator (through the agent's cohort) sends CYCLE with the
 * simulated time; the shopper skips, browses only, or shops: browsing → carting → couponing →
 * deciding → checking out, ending checked out, abandoned or failed, then commits its session
 * (one write) and reports to its cohort (a skip is not reported: see visitsThisCycle). It imports no I/O: every store call and the write
 * are effects (actions) provided from src/simulation; each answers with its own typed done
 * event or STEP_FAILED (machines/shopper.types.ts). No `after:` delays, no clocks, no
 * Math.random: randomness is the agent's own generator, whose state is in context. Each cycle
 * gets one new context (an assign on CYCLE) that the cycle's later steps change in place; the
 * trade-off is written at the record* actions.
 */
import { assign, sendParent, setup } from 'xstate';
import type { CycleInfo } from '../src/model/calendar.ts';
import { Rng } from '../src/model/rng.ts';
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
  outcomeOf,
  resultOf,
  toRecord,
  writeFailed,
  type Session,
  type ShopStep,
} from '../src/model/shopper-logic.ts';
import type { Offer, Order, SessionRecord } from '../src/model/types.ts';
import type {
  BrowseInput,
  BrowseOutput,
  CartInput,
  CartOutput,
  CheckoutInput,
  CouponInput,
  CouponOutcome,
  ShopperContext,
  ShopperEvent,
  ShopperInput,
  ShopperReport,
  StepBase,
} from './shopper.types.ts';

export type { ShopperContext, ShopperEvent, ShopperInput, ShopperReport } from './shopper.types.ts';

function notProvided(name: string): never {
  throw new Error(`shopper effect "${name}" was not provided`);
}

function stepBase(ctx: ShopperContext): StepBase {
  const info = ctx.info as CycleInfo;
  return { agentId: ctx.agentId, agentIndex: ctx.agentIndex, cycle: info.cycle, at: info.at, callsBefore: ctx.session?.calls ?? 0 };
}

function errorOf(err: unknown): { message: string; name: string; calls: number; refusal: boolean } {
  if (err && typeof err === 'object') {
    const e = err as { message?: unknown; name?: unknown; calls?: unknown; refusal?: unknown };
    return {
      message: typeof e.message === 'string' ? e.message : String(err),
      name: typeof e.name === 'string' ? e.name : 'Error',
      calls: typeof e.calls === 'number' ? e.calls : 0,
      // A store rule's answer (StoreCallError.refusal), not a fault: the breaker may skip it.
      refusal: e.refusal === true,
    };
  }
  return { message: String(err), name: 'Error', calls: 0, refusal: false };
}

/**
 * Whether the shopper visits (shops or only browses) in this cycle: its first draw(s), peeked on
 * a copy of its generator. The shopper's guard asks it, and so does its cohort before sending
 * CYCLE: a shopper that skips does not report, the cohort counts it (machines/cohort.machine.ts).
 */
export function visitsThisCycle(ctx: Pick<ShopperContext, 'rng' | 'persona'>, info: CycleInfo): boolean {
  return decideCycle(new Rng(ctx.rng), ctx.persona, info) !== 'skip';
}

function sessionOf(ctx: ShopperContext): Session {
  return ctx.session as Session;
}

export const shopperMachine = setup({
  types: {
    context: {} as ShopperContext,
    input: {} as ShopperInput,
    events: {} as ShopperEvent,
  },
  actions: {
    // Effects: provided by src/simulation with `.provide({ actions })`. Each starts one call
    // and answers this actor with its done event (ShopperEffectMap) or STEP_FAILED; they are
    // the only way out of the machine.
    browseProducts: (_: unknown, _input: BrowseInput) => notProvided('browseProducts'),
    addToCart: (_: unknown, _input: CartInput) => notProvided('addToCart'),
    fetchOffers: (_: unknown, _input: StepBase) => notProvided('fetchOffers'),
    applyCoupon: (_: unknown, _input: CouponInput) => notProvided('applyCoupon'),
    submitCheckout: (_: unknown, _input: CheckoutInput) => notProvided('submitCheckout'),
    clearCart: (_: unknown, _input: StepBase) => notProvided('clearCart'),
    commitSession: (_: unknown, _input: SessionRecord) => notProvided('commitSession'),

    // Each record* action takes the answer as typed params, mapped from its done event in the
    // chart (`params: ({ event }) => event.output`), so what a step returns and what the action
    // reads are checked against one declaration (ShopperEffectMap).
    //
    // One context per cycle: the cycle's first action (openSession or skipCycle, on CYCLE) is an
    // assign, which makes a new context with a new generator state; every later step of that
    // cycle is a plain action that changes that context in place (the shopper-logic steps change
    // context.session and return the same object; a draw writes the generator's state back with
    // Rng.saveTo). Safe because no snapshot from before the cycle shares what is changed (a
    // snapshot persisted at the last boundary keeps its own context and generator state), a
    // snapshot is persisted only between cycles, and the inspector copies a context when it sends
    // it (src/inspect/trim.ts). An assign per step would copy the context and rebuild the snapshot
    // (state value, tags) for each; copies of the session cost peak memory at scale
    // (src/model/shopper-logic.ts).
    recordFailure: ({ context }, params: { step: ShopStep; error: unknown }) => {
      afterFailure(sessionOf(context), params.step, errorOf(params.error));
    },
    openSession: assign(({ context, event }) => {
      if (event.type !== 'CYCLE') return {};
      const rng = new Rng(context.rng);
      const decision = decideCycle(rng, context.persona, event.info);
      const session = openSession(rng, context.persona, event.info, decision === 'shop' ? 'shop' : 'browse');
      return { rng: rng.state(), info: event.info, session, shoppingThisCycle: decision === 'shop' };
    }),
    skipCycle: assign(({ context, event }) => {
      if (event.type !== 'CYCLE') return {};
      const rng = new Rng(context.rng);
      decideCycle(rng, context.persona, event.info);
      return { rng: rng.state(), info: null, session: null, shoppingThisCycle: false, lastCycle: event.info.cycle, lastAction: 'skip' as const };
    }),
    // In the cycle's context (see above), like every action below.
    recordBrowse: ({ context }, out: BrowseOutput) => {
      const rng = new Rng(context.rng);
      afterBrowse(rng, context.persona, sessionOf(context), out);
      rng.saveTo(context.rng);
    },
    recordCart: ({ context }, out: CartOutput) => {
      afterCart(sessionOf(context), out.cart, out.calls);
    },
    recordOffers: ({ context }, offers: Offer[]) => {
      const rng = new Rng(context.rng);
      afterOffers(rng, context.persona, sessionOf(context), offers);
      rng.saveTo(context.rng);
    },
    recordCoupon: ({ context }, out: CouponOutcome) => {
      if (out.applied) afterCouponApplied(sessionOf(context), out.cart);
      else afterCouponRejected(sessionOf(context), out.reason);
    },
    // decideCheckout adds its event (and an abandoned status) to the session itself.
    decideCheckout: ({ context }) => {
      const rng = new Rng(context.rng);
      decideCheckout(rng, context.persona, sessionOf(context));
      rng.saveTo(context.rng);
    },
    recordOrder: ({ context }, order: Order) => {
      afterCheckout(sessionOf(context), order);
    },
    countClearCall: ({ context }) => {
      sessionOf(context).calls += 1;
    },
    // The report is built when the action is resolved, before endCycle (after it in the chart) clears the session.
    reportCycle: sendParent(({ context }): ShopperReport => ({ type: 'SHOPPER_DONE', result: resultOf(context.agentIndex, context.session) })),
    reportWriteFailure: sendParent(({ context }, params: { error: unknown }): ShopperReport => ({
      type: 'SHOPPER_DONE',
      result: writeFailed(context.agentIndex, sessionOf(context), errorOf(params.error).message),
    })),
    endCycle: ({ context }) => {
      context.lastCycle = context.info?.cycle ?? context.lastCycle;
      context.lastAction = context.session ? outcomeOf(context.session) : 'skip';
      context.session = null;
      context.info = null;
    },
    endCycleFailed: ({ context }) => {
      context.lastCycle = context.info?.cycle ?? context.lastCycle;
      context.lastAction = 'failed';
      context.session = null;
      context.info = null;
    },
  },
  guards: {
    // Peeks at the decision on a copy of the generator; `openSession` or `skipCycle` then draws
    // it for real. Shopping and browsing only take the same transition, so one guard (one peek)
    // decides it.
    decidesToVisit: ({ context, event }) => event.type === 'CYCLE' && visitsThisCycle(context, event.info),
    sessionEnded: ({ context }) => context.session?.status != null,
    choseCoupon: ({ context }) => context.session?.coupon != null,
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
      description:
        'Between cycles. On CYCLE the shopper draws whether to shop (frequency × hour affinity × day affinity), only browse, or skip. A skip is not reported: the cohort peeked at the same draw (visitsThisCycle) and counted it.',
      on: {
        CYCLE: [
          { guard: 'decidesToVisit', target: 'browsing', actions: 'openSession' },
          { actions: 'skipCycle' },
        ],
      },
    },
    browsing: {
      description: 'Lists a page of a preferred category and opens one or more product pages.',
      entry: {
        type: 'browseProducts',
        params: ({ context }) => ({ ...stepBase(context), category: sessionOf(context).category, page: sessionOf(context).page, viewDraws: sessionOf(context).viewDraws }),
      },
      on: {
        BROWSED: { target: 'planning', actions: { type: 'recordBrowse', params: ({ event }) => event.output } },
        STEP_FAILED: { target: 'failing', actions: { type: 'recordFailure', params: ({ event }) => ({ step: 'browse', error: event.error }) } },
      },
    },
    planning: {
      description: 'A browse-only visit ends here; a shopper with nothing affordable abandons; otherwise on to the cart.',
      always: [{ guard: 'sessionEnded', target: 'committing' }, { target: 'carting' }],
    },
    carting: {
      description: 'Adds the planned items (1..n, within budget) to the cart, one call each.',
      entry: { type: 'addToCart', params: ({ context }) => ({ ...stepBase(context), items: sessionOf(context).planned }) },
      on: {
        CARTED: { target: 'couponing', actions: { type: 'recordCart', params: ({ event }) => event.output } },
        STEP_FAILED: { target: 'failing', actions: { type: 'recordFailure', params: ({ event }) => ({ step: 'add_to_cart', error: event.error }) } },
      },
    },
    couponing: {
      description: 'Views the offers assigned to this shopper in the current offer cycle and maybe picks the best one the cart qualifies for.',
      entry: { type: 'fetchOffers', params: ({ context }) => stepBase(context) },
      on: {
        OFFERS_LISTED: { target: 'choosingCoupon', actions: { type: 'recordOffers', params: ({ event }) => event.output } },
        STEP_FAILED: { target: 'failing', actions: { type: 'recordFailure', params: ({ event }) => ({ step: 'offers', error: event.error }) } },
      },
    },
    choosingCoupon: {
      description: 'Applies the chosen coupon, if any.',
      always: [{ guard: 'choseCoupon', target: 'applyingCoupon' }, { target: 'deciding' }],
    },
    applyingCoupon: {
      description: 'Applies a coupon to the cart; a refused coupon (invalid, expired, minimum spend) is recorded and shopping goes on.',
      entry: { type: 'applyCoupon', params: ({ context }) => ({ ...stepBase(context), code: sessionOf(context).coupon as string }) },
      on: {
        COUPON_ANSWERED: { target: 'deciding', actions: { type: 'recordCoupon', params: ({ event }) => event.output } },
        STEP_FAILED: { target: 'failing', actions: { type: 'recordFailure', params: ({ event }) => ({ step: 'coupon', error: event.error }) } },
      },
    },
    deciding: {
      description: 'Checks out or abandons: abandonment tendency, raised by price sensitivity on a cart near the budget, lowered by a coupon.',
      entry: 'decideCheckout',
      always: [{ guard: 'sessionEnded', target: 'committing' }, { target: 'checkingOut' }],
    },
    checkingOut: {
      description: 'Submits the checkout with an idempotency key (run, agent, cycle), so a retried call never makes a second order.',
      entry: {
        type: 'submitCheckout',
        params: ({ context }) => ({ ...stepBase(context), idempotencyKey: idempotencyKey(context.runId, context.agentId, (context.info as CycleInfo).cycle) }),
      },
      on: {
        CHECKED_OUT: { target: 'committing', actions: { type: 'recordOrder', params: ({ event }) => event.output } },
        STEP_FAILED: { target: 'failing', actions: { type: 'recordFailure', params: ({ event }) => ({ step: 'checkout', error: event.error }) } },
      },
    },
    failing: {
      description: 'Failure path: the failed step was recorded as <step>_failed; the cart and coupon are cleared (best effort) and the session ends failed. The agent starts fresh next cycle.',
      entry: { type: 'clearCart', params: ({ context }) => stepBase(context) },
      on: {
        CART_CLEARED: { target: 'committing', actions: 'countClearCall' },
        STEP_FAILED: { target: 'committing', actions: 'countClearCall' },
      },
    },
    committing: {
      description: 'Writes the session, its events and its final status in one transaction, then reports to the cohort. A failed write rolls the agent-cycle back and counts as a failure.',
      entry: { type: 'commitSession', params: ({ context }) => toRecord(context.runId, context.agentId, context.agentIndex, sessionOf(context)) },
      on: {
        SESSION_COMMITTED: { target: 'idle', actions: ['reportCycle', 'endCycle'] },
        STEP_FAILED: { target: 'idle', actions: [{ type: 'reportWriteFailure', params: ({ event }) => ({ error: event.error }) }, 'endCycleFailed'] },
      },
    },
  },
});
