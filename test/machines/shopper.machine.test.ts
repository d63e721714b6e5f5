/**
 * The shopper machine alone: every effect is a stub given with `.provide({ actions })`, which
 * records what the machine asked for and answers with the effect's typed done event (or
 * STEP_FAILED) on a later microtask, as a real call would. Progress is awaited with `waitFor`.
 * The same machine wired to the real steps and the mock store is in shopper-wiring.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { assign, createActor, setup, waitFor, type ActorRefFrom } from 'xstate';
import { shopperMachine, visitsThisCycle } from '../../machines/shopper.machine.ts';
import {
  EFFECT_DONE,
  type EffectDoneEvent,
  type EffectInput,
  type EffectOutput,
  type ShopperEffect,
  type ShopperReport,
  type StepFailedEvent,
} from '../../machines/shopper.types.ts';
import { cycleInfo } from '../../src/model/calendar.ts';
import { Rng, seedRng } from '../../src/model/rng.ts';
import { decideCycle, resultOf } from '../../src/model/shopper-logic.ts';
import type { Cart, Offer, Order, Persona, Product, SessionRecord, ShopperCycleResult } from '../../src/model/types.ts';
import { persona, products, START_MS } from '../helpers.ts';

type Answer<K extends ShopperEffect> = (input: EffectInput<K>) => EffectOutput<K> | Error | Promise<EffectOutput<K> | Error>;
type Answers = { [K in ShopperEffect]: Answer<K> };
type Started = { [K in ShopperEffect]: { effect: K; input: EffectInput<K> } }[ShopperEffect];

const listed: Product[] = products.filter((p) => p.stock > 0).slice(0, 12);
const cart = (subtotal: number, discount = 0): Cart => ({
  user_id: 'agent_test',
  items: [],
  coupon_code: discount ? 'SAVE10' : null,
  subtotal_cents: subtotal,
  discount_cents: discount,
  total_cents: subtotal - discount,
});
const offer: Offer = {
  offer_id: 'o-1',
  code: 'SAVE10',
  description: '10 % off',
  discount_percent: 10,
  min_spend_cents: 0,
  offer_cycle: 1,
  valid_from: new Date(START_MS).toISOString(),
  valid_until: new Date(START_MS + 7 * 86_400_000).toISOString(),
};
const order: Order = { order_id: 'ord-1', user_id: 'agent_test', total_cents: 4_500, discount_cents: 500, items_count: 2, coupon_code: 'SAVE10' };

/** Answers that take every step of a shopping session successfully. */
function happyAnswers(): Answers {
  return {
    browseProducts: (input) => ({ products: listed, viewed: input.viewDraws.map((d) => listed[Math.floor(d * listed.length)] as Product), calls: 1 + input.viewDraws.length }),
    addToCart: (input) => ({ cart: cart(5_000), calls: input.items.length }),
    fetchOffers: () => [offer],
    applyCoupon: () => ({ applied: true, cart: cart(5_000, 500) }),
    submitCheckout: () => order,
    clearCart: () => undefined,
    commitSession: () => undefined,
  };
}

function stub<K extends ShopperEffect>(name: K, answers: Answers, started: Started[]) {
  return ({ self }: { self: { send: (event: EffectDoneEvent<K> | StepFailedEvent) => void } }, input: EffectInput<K>): void => {
    started.push({ effect: name, input } as Started);
    const answer = answers[name] as Answer<K>;
    void Promise.resolve()
      .then(() => answer(input))
      .then((out) => self.send(out instanceof Error ? { type: 'STEP_FAILED', error: out } : { type: EFFECT_DONE[name], output: out }));
  };
}

/** One stubbed shopper under a tiny parent that keeps its reports. */
function stubbedShopper(p: Persona, overrides: Partial<Answers> = {}, seed = 7) {
  const answers: Answers = { ...happyAnswers(), ...overrides };
  const started: Started[] = [];
  const shopper = shopperMachine.provide({
    actions: {
      browseProducts: stub('browseProducts', answers, started),
      addToCart: stub('addToCart', answers, started),
      fetchOffers: stub('fetchOffers', answers, started),
      applyCoupon: stub('applyCoupon', answers, started),
      submitCheckout: stub('submitCheckout', answers, started),
      clearCart: stub('clearCart', answers, started),
      commitSession: stub('commitSession', answers, started),
    },
  });
  const parent = setup({
    types: { context: {} as { ref: ActorRefFrom<typeof shopper>; reports: ShopperCycleResult[] }, events: {} as ShopperReport },
    actors: { shopper },
  }).createMachine({
    context: ({ spawn }) => ({ ref: spawn('shopper', { id: p.id, input: { runId: 'test-run', agentIndex: 0, persona: p, rng: seedRng(seed) } }), reports: [] }),
    on: { SHOPPER_DONE: { actions: assign({ reports: ({ context, event }) => [...context.reports, event.result] }) } },
  });
  const actor = createActor(parent).start();
  const ref = () => actor.getSnapshot().context.ref;
  return {
    started,
    ref,
    effects: () => started.map((s) => s.effect),
    committed: () => started.filter((s) => s.effect === 'commitSession').map((s) => s.input as SessionRecord),
    /** Sends CYCLE and resolves with the shopper's report for it. */
    async runCycle(cycle: number): Promise<ShopperCycleResult> {
      const before = actor.getSnapshot().context.reports.length;
      const info = cycleInfo(START_MS, cycle);
      // A skip is not reported (its cohort peeks at it, as here, and counts it).
      if (!visitsThisCycle(ref().getSnapshot().context, info)) {
        ref().send({ type: 'CYCLE', info });
        expect(actor.getSnapshot().context.reports).toHaveLength(before);
        return resultOf(0, null);
      }
      ref().send({ type: 'CYCLE', info });
      const s = await waitFor(actor, (snap) => snap.context.reports.length > before, { timeout: 2_000 });
      return s.context.reports.at(-1) as ShopperCycleResult;
    },
  };
}

const eventTypes = (r: SessionRecord | undefined) => r?.events.map((e) => e.type) ?? [];
const shopper = (o: Partial<Persona> = {}) => persona({ coupon_affinity: 1, ...o });

describe('shopper machine (stubbed effects)', () => {
  it('skips: starts no effect, sends no report, and draws the decision exactly once', async () => {
    const p = persona({ shopping_frequency: 0, browse_propensity: 0 });
    const s = stubbedShopper(p);
    const r = await s.runCycle(10);
    expect(r.outcome).toBe('skip');
    expect(s.started).toHaveLength(0);
    expect(s.ref().getSnapshot().value).toBe('idle');
    expect(s.ref().getSnapshot().context.lastAction).toBe('skip');
    expect(s.ref().getSnapshot().context.lastCycle).toBe(10);
    const reference = new Rng(seedRng(7));
    decideCycle(reference, p, cycleInfo(START_MS, 10));
    expect(s.ref().getSnapshot().context.rng).toEqual(reference.state());
  });

  it('browses only: one browse, then the commit of a completed browse session', async () => {
    const s = stubbedShopper(persona({ shopping_frequency: 0, browse_propensity: 1 }));
    const r = await s.runCycle(10);
    expect(s.effects()).toEqual(['browseProducts', 'commitSession']);
    const browse = s.started[0] as { effect: 'browseProducts'; input: EffectInput<'browseProducts'> };
    expect(browse.input).toMatchObject({ agentId: 'agent_test', agentIndex: 0, cycle: 10, callsBefore: 0, category: 'books' });
    expect(browse.input.viewDraws.length).toBeGreaterThanOrEqual(2);
    const rec = s.committed()[0];
    expect(rec).toMatchObject({ kind: 'browse', status: 'completed', cycle: 10, runId: 'test-run' });
    expect(eventTypes(rec)).toEqual(['session_started', 'products_listed', ...browse.input.viewDraws.map(() => 'product_viewed')]);
    expect(r).toMatchObject({ outcome: 'browse', calls: 1 + browse.input.viewDraws.length, carted: false });
  });

  it('shops to a checkout with a coupon, numbering each step from the calls made before it', async () => {
    const s = stubbedShopper(shopper());
    const r = await s.runCycle(10);
    expect(s.effects()).toEqual(['browseProducts', 'addToCart', 'fetchOffers', 'applyCoupon', 'submitCheckout', 'commitSession']);
    const [browse, add, offers, coupon, checkout] = s.started.map((x) => x.input as EffectInput<'browseProducts'> & EffectInput<'addToCart'> & EffectInput<'applyCoupon'> & EffectInput<'submitCheckout'>);
    const browseCalls = 1 + (browse?.viewDraws.length ?? 0);
    expect(add?.callsBefore).toBe(browseCalls);
    expect(add?.items).toHaveLength(2);
    expect(offers?.callsBefore).toBe(browseCalls + 2);
    expect(coupon?.callsBefore).toBe(browseCalls + 3);
    expect(coupon?.code).toBe('SAVE10');
    expect(checkout?.callsBefore).toBe(browseCalls + 4);
    expect(checkout?.idempotencyKey).toBe('test-run:agent_test:10');
    const rec = s.committed()[0];
    expect(eventTypes(rec)).toEqual(expect.arrayContaining(['cart_item_added', 'offers_viewed', 'coupon_applied', 'checkout_started', 'checkout_completed']));
    expect(rec?.order).toEqual({ orderId: 'ord-1', totalCents: 4_500, itemsCount: 2 });
    expect(r).toMatchObject({ outcome: 'checkout', couponApplied: true, carted: true, revenueCents: 4_500, calls: browseCalls + 5, failure: null });
    expect(s.ref().getSnapshot().context.session).toBeNull();
    expect(s.ref().getSnapshot().context.lastAction).toBe('checkout');
  });

  it('records a refused coupon as an answer and still checks out', async () => {
    const s = stubbedShopper(shopper(), { applyCoupon: () => ({ applied: false, reason: 'COUPON_EXPIRED: expired' }) });
    const r = await s.runCycle(10);
    expect(s.effects()).toContain('submitCheckout');
    const rec = s.committed()[0];
    expect(rec?.events.find((e) => e.type === 'coupon_rejected')?.payload).toEqual({ code: 'SAVE10', reason: 'COUPON_EXPIRED: expired' });
    expect(r).toMatchObject({ outcome: 'checkout', couponApplied: false });
  });

  it('goes straight to deciding when no offer is usable', async () => {
    const s = stubbedShopper(shopper(), { fetchOffers: () => [{ ...offer, min_spend_cents: 1_000_000 }] });
    await s.runCycle(10);
    expect(s.effects()).toEqual(['browseProducts', 'addToCart', 'fetchOffers', 'submitCheckout', 'commitSession']);
  });

  it('abandons at once when nothing listed is affordable', async () => {
    const s = stubbedShopper(shopper({ budget_cents: 1 }));
    const r = await s.runCycle(10);
    expect(s.effects()).toEqual(['browseProducts', 'commitSession']);
    expect(s.committed()[0]?.events.at(-1)?.payload).toMatchObject({ reason: 'nothing_affordable' });
    expect(r.outcome).toBe('abandon');
  });

  it('abandons at the decision when the persona always walks away', async () => {
    const s = stubbedShopper(shopper({ abandonment_tendency: 1, coupon_affinity: 0 }));
    const r = await s.runCycle(10);
    expect(s.effects()).not.toContain('submitCheckout');
    expect(s.effects().at(-1)).toBe('commitSession');
    expect(s.committed()[0]?.events.at(-1)).toMatchObject({ type: 'cart_abandoned', payload: { reason: 'changed_mind' } });
    expect(r.outcome).toBe('abandon');
  });

  const steps: [ShopperEffect, string, string][] = [
    ['browseProducts', 'browse', 'browse_failed'],
    ['addToCart', 'add_to_cart', 'add_to_cart_failed'],
    ['fetchOffers', 'offers', 'offers_failed'],
    ['applyCoupon', 'coupon', 'coupon_failed'],
    ['submitCheckout', 'checkout', 'checkout_failed'],
  ];
  for (const [effect, step, event] of steps) {
    it(`on STEP_FAILED from ${effect}: records ${event}, clears the cart, commits a failed session`, async () => {
      const error = Object.assign(new Error(`boom in ${effect}`), { name: 'StoreFailedError', calls: 2 });
      const s = stubbedShopper(shopper(), { [effect]: () => error });
      const r = await s.runCycle(10);
      expect(s.effects().slice(-2)).toEqual(['clearCart', 'commitSession']);
      const rec = s.committed()[0];
      expect(rec?.status).toBe('failed');
      expect(rec?.notes).toBe(`boom in ${effect}`);
      expect(rec?.events.find((e) => e.type === event)?.payload).toEqual({ error: `boom in ${effect}`, error_type: 'StoreFailedError' });
      expect(r.outcome).toBe('failed');
      expect(r.failure).toEqual({ step, message: `boom in ${effect}` });
      expect(s.ref().getSnapshot().context.lastAction).toBe('failed');
      // The agent starts fresh next cycle.
      expect((await s.runCycle(11)).outcome).toBe('failed');
      expect(s.ref().getSnapshot().value).toBe('idle');
    });
  }

  it('counts the failed call, and the clear-cart call even when clearing fails', async () => {
    const s = stubbedShopper(shopper(), { browseProducts: () => Object.assign(new Error('down'), { calls: 3 }), clearCart: () => new Error('also down') });
    const r = await s.runCycle(10);
    expect(s.effects()).toEqual(['browseProducts', 'clearCart', 'commitSession']);
    expect(r.calls).toBe(4);
  });

  it('counts a failed write as the agent-cycle failing, and goes on next cycle', async () => {
    let fail = true;
    const s = stubbedShopper(shopper(), { commitSession: () => (fail ? new Error('connection reset') : undefined) });
    const r = await s.runCycle(10);
    expect(r).toMatchObject({ outcome: 'failed', failure: { step: 'write', message: 'connection reset' }, revenueCents: 0 });
    expect(s.ref().getSnapshot().context.lastAction).toBe('failed');
    expect(s.ref().getSnapshot().context.session).toBeNull();
    fail = false;
    expect((await s.runCycle(11)).outcome).toBe('checkout');
  });

  it('draws the same numbers for the same seed', async () => {
    const p = persona({ shopping_frequency: 0.5, browse_propensity: 0.5, coupon_affinity: 0.5, abandonment_tendency: 0.3 });
    const a = stubbedShopper(p, {}, 99);
    const b = stubbedShopper(p, {}, 99);
    for (let c = 1; c <= 12; c++) expect(await a.runCycle(c)).toEqual(await b.runCycle(c));
    expect(a.committed()).toEqual(b.committed());
    expect(a.ref().getSnapshot().context.rng).toEqual(b.ref().getSnapshot().context.rng);
  });
});
