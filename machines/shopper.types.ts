/**
 * The shopper's contract with whoever provides its effects: its context, input and events, and,
 * for each effect, what it is given and what it answers. The machine reads each answer from a
 * done event typed by this map, and src/simulation builds those events from the same map, so a
 * step returning something other than what the machine reads is a compile error, not a cast.
 */
import type { CycleInfo } from '../src/model/calendar.ts';
import type { RngState } from '../src/model/rng.ts';
import type { BrowseOutput, Session } from '../src/model/shopper-logic.ts';
import type { Cart, CycleOutcome, Offer, Order, Persona, SessionRecord, ShopperCycleResult } from '../src/model/types.ts';

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

/** What every store step is given: who calls, in which cycle, and how many calls came before. */
export interface StepBase {
  agentId: string;
  agentIndex: number;
  cycle: number;
  at: string;
  /** Calls made before this step in the agent's cycle. */
  callsBefore: number;
}

export interface BrowseInput extends StepBase {
  category: string;
  page: number;
  viewDraws: number[];
}

export interface CartInput extends StepBase {
  items: { productId: string; quantity: number }[];
}

export interface CouponInput extends StepBase {
  code: string;
}

export interface CheckoutInput extends StepBase {
  idempotencyKey: string;
}

export interface CartOutput {
  cart: Cart;
  calls: number;
}

/** A refused coupon (invalid, expired, minimum spend) is an answer, not a failure. */
export type CouponOutcome = { applied: true; cart: Cart } | { applied: false; reason: string };

export type { BrowseOutput };

/** Each effect: what it is given and what it answers with. */
export interface ShopperEffectMap {
  browseProducts: { input: BrowseInput; output: BrowseOutput };
  addToCart: { input: CartInput; output: CartOutput };
  fetchOffers: { input: StepBase; output: Offer[] };
  applyCoupon: { input: CouponInput; output: CouponOutcome };
  submitCheckout: { input: CheckoutInput; output: Order };
  clearCart: { input: StepBase; output: void };
  commitSession: { input: SessionRecord; output: void };
}

/**
 * The event each effect answers with when it succeeds. One failure event (STEP_FAILED) serves
 * them all: the state that started the effect says which one failed.
 */
export const EFFECT_DONE = {
  browseProducts: 'BROWSED',
  addToCart: 'CARTED',
  fetchOffers: 'OFFERS_LISTED',
  applyCoupon: 'COUPON_ANSWERED',
  submitCheckout: 'CHECKED_OUT',
  clearCart: 'CART_CLEARED',
  commitSession: 'SESSION_COMMITTED',
} as const satisfies Record<keyof ShopperEffectMap, string>;

export type ShopperEffect = keyof ShopperEffectMap;
export type EffectInput<K extends ShopperEffect> = ShopperEffectMap[K]['input'];
export type EffectOutput<K extends ShopperEffect> = ShopperEffectMap[K]['output'];
export type EffectDoneEvent<K extends ShopperEffect> = { type: (typeof EFFECT_DONE)[K]; output: EffectOutput<K> };
/** Every effect's done event, one union member per effect. */
type AnyEffectDoneEvent<K extends ShopperEffect = ShopperEffect> = K extends ShopperEffect ? EffectDoneEvent<K> : never;

export type StepFailedEvent = { type: 'STEP_FAILED'; error: unknown };

/** CYCLE comes from the cohort; the rest answer the effect the current state started (one at a time). */
export type ShopperEvent = { type: 'CYCLE'; info: CycleInfo } | AnyEffectDoneEvent | StepFailedEvent;

export type ShopperReport = { type: 'SHOPPER_DONE'; result: ShopperCycleResult };
