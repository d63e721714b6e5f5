/**
 * The shopper wired as in production: provideShopper's effects over the real steps
 * (src/simulation/shopper-steps.ts) and a mock store with injected faults. The machine alone,
 * with stubbed effects, is in shopper.machine.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { persona, shopperHarness } from '../helpers.ts';
import type { StoreApi } from '../../src/model/types.ts';

const types = (h: ReturnType<typeof shopperHarness>) => h.records.at(-1)?.events.map((e) => e.type) ?? [];

describe('shopper machine paths (production wiring)', () => {
  it('skips without a session when it neither shops nor browses', async () => {
    const h = shopperHarness(persona({ shopping_frequency: 0, browse_propensity: 0 }));
    const r = await h.runCycle(10);
    expect(r.outcome).toBe('skip');
    expect(h.records).toHaveLength(0);
    expect(h.calls).toHaveLength(0);
    expect(h.shopper().getSnapshot().value).toBe('idle');
    expect(h.shopper().getSnapshot().context.lastAction).toBe('skip');
  });

  it('browses only: lists, views products, commits a completed browse session', async () => {
    const h = shopperHarness(persona({ shopping_frequency: 0, browse_propensity: 1 }));
    const r = await h.runCycle(10);
    expect(r.outcome).toBe('browse');
    expect(h.records[0]?.kind).toBe('browse');
    expect(h.records[0]?.status).toBe('completed');
    expect(types(h)[0]).toBe('session_started');
    expect(types(h)).toContain('products_listed');
    expect(types(h)).toContain('product_viewed');
    expect(h.calls).not.toContain('addToCart');
    expect(r.calls).toBe(h.calls.length);
  });

  it('shops to a completed checkout, applying a coupon', async () => {
    const h = shopperHarness(persona({ coupon_affinity: 1 }), { seed: 3 });
    let r = await h.runCycle(10);
    // Some cycles have no usable offer; run until a coupon was applied.
    for (let c = 11; c < 40 && !r.couponApplied; c++) r = await h.runCycle(c);
    expect(r.outcome).toBe('checkout');
    expect(r.couponApplied).toBe(true);
    const t = types(h);
    expect(t).toEqual(expect.arrayContaining(['cart_item_added', 'offers_viewed', 'coupon_applied', 'checkout_started', 'checkout_completed']));
    expect(h.records.at(-1)?.order?.totalCents).toBeGreaterThan(0);
    expect(r.revenueCents).toBe(h.records.at(-1)?.order?.totalCents);
  });

  it('records a refused coupon and still checks out', async () => {
    const h = shopperHarness(persona({ coupon_affinity: 1 }), { faults: { applyCoupon: 'rejected' } });
    let r = await h.runCycle(10);
    for (let c = 11; c < 40 && !types(h).includes('coupon_rejected'); c++) r = await h.runCycle(c);
    expect(types(h)).toContain('coupon_rejected');
    expect(r.outcome).toBe('checkout');
    expect(r.couponApplied).toBe(false);
  });

  it('abandons when the persona always walks away', async () => {
    const h = shopperHarness(persona({ abandonment_tendency: 1 }));
    const outcomes = [];
    for (let c = 1; c <= 10; c++) outcomes.push((await h.runCycle(c)).outcome);
    expect(outcomes.filter((o) => o === 'abandon').length).toBeGreaterThanOrEqual(8);
    for (const rec of h.records.filter((x) => x.status === 'abandoned')) {
      expect(rec.events.map((e) => e.type)).toContain('cart_abandoned');
      expect(rec.order).toBeNull();
    }
  });

  it('abandons at once when nothing is affordable', async () => {
    const h = shopperHarness(persona({ budget_cents: 1 }));
    const r = await h.runCycle(10);
    expect(r.outcome).toBe('abandon');
    expect(h.records[0]?.events.at(-1)?.payload).toMatchObject({ reason: 'nothing_affordable' });
    expect(h.calls).not.toContain('addToCart');
  });

  const failures: [keyof StoreApi, string, Partial<Parameters<typeof persona>[0]>][] = [
    ['listProducts', 'browse_failed', {}],
    ['getProduct', 'browse_failed', {}],
    ['addToCart', 'add_to_cart_failed', {}],
    ['listOffers', 'offers_failed', {}],
    ['checkout', 'checkout_failed', {}],
  ];
  for (const [method, event, overrides] of failures) {
    it(`fails through the failure path when ${method} fails: ${event}, cart cleared, session failed`, async () => {
      const h = shopperHarness(persona(overrides), { faults: { [method]: 'failed' } });
      const r = await h.runCycle(10);
      expect(r.outcome).toBe('failed');
      const rec = h.records[0];
      expect(rec?.status).toBe('failed');
      const failed = rec?.events.find((e) => e.type === event);
      expect(failed?.payload).toMatchObject({ error: expect.stringContaining('injected failed'), error_type: 'StoreFailedError' });
      expect(rec?.notes).toContain('injected failed');
      expect(h.calls.at(-1)).toBe('clearCart');
      expect(h.shopper().getSnapshot().context.session).toBeNull();
      // The agent starts fresh next cycle.
      const h2 = await h.runCycle(11);
      expect(h2.outcome).toBe('failed');
      expect(h.shopper().getSnapshot().value).toBe('idle');
    });
  }

  it('fails through the failure path when applying a coupon fails (5xx)', async () => {
    const h = shopperHarness(persona({ coupon_affinity: 1 }), { faults: { applyCoupon: 'failed' } });
    let r = await h.runCycle(10);
    for (let c = 11; c < 40 && r.outcome !== 'failed'; c++) r = await h.runCycle(c);
    expect(r.outcome).toBe('failed');
    expect(r.failure?.step).toBe('coupon');
    expect(h.records.at(-1)?.events.map((e) => e.type)).toContain('coupon_failed');
  });

  it('counts a failed write as the agent-cycle failing, and goes on next cycle', async () => {
    let fail = true;
    const recorder = {
      beginRun: async () => {},
      commitSession: async () => {
        if (fail) throw new Error('connection reset');
      },
      prepareResume: async () => ({ orphanedSessions: 0, discardedSessions: 0 }),
      endRun: async () => {},
      close: async () => {},
    };
    const h = shopperHarness(persona(), { recorder });
    const r = await h.runCycle(10);
    expect(r.outcome).toBe('failed');
    expect(r.failure).toEqual({ step: 'write', message: 'connection reset' });
    expect(r.revenueCents).toBe(0);
    fail = false;
    expect((await h.runCycle(11)).outcome).not.toBe('failed');
  });

  it('keeps its generator in context and draws the same numbers for the same seed', async () => {
    const a = shopperHarness(persona({ shopping_frequency: 0.5, browse_propensity: 0.5 }), { seed: 99 });
    const b = shopperHarness(persona({ shopping_frequency: 0.5, browse_propensity: 0.5 }), { seed: 99 });
    for (let c = 1; c <= 12; c++) {
      expect(await a.runCycle(c)).toEqual(await b.runCycle(c));
    }
    expect(a.shopper().getSnapshot().context.rng).toEqual(b.shopper().getSnapshot().context.rng);
  });
});
