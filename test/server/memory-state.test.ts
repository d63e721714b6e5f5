/**
 * The in-memory store's state through a checkpoint (src/server/memory-backend.ts exportState /
 * importState): a store rebuilt from an export answers as the original would have — the same
 * carts and stock, the current offers, a coupon already used refused, a checkout repeated with an
 * earlier Idempotency-Key answered with the same order (replayed), the next order id the one the
 * original makes — and exports the same state again.
 */
import { describe, expect, it } from 'vitest';
import { generateProducts } from '../../src/model/catalog.ts';
import { planOffers } from '../../src/model/offers.ts';
import type { OfferCycleRequest } from '../../src/model/types.ts';
import { createMemoryBackend, userIdsHash, type MemoryBackend } from '../../src/server/memory-backend.ts';

const products = generateProducts(12, 7);
const users = ['agent_000001', 'agent_000002', 'agent_000003', 'agent_000004', 'agent_000005', 'agent_000006', 'agent_000007', 'agent_000008'];
const SEED = 3;
const cycle = (n: number): OfferCycleRequest => ({ offer_cycle: n, starts_at: `2024-01-0${n}T00:00:00.000Z`, ends_at: `2024-01-0${n + 1}T00:00:00.000Z`, user_ids: users });
const at = (n: number) => `2024-01-0${n}T10:00:00.000Z`;
const plan = (req: OfferCycleRequest) => planOffers(SEED, req);

/** Two offer cycles, orders with and without a coupon, an abandoned cart with a coupon, and one without. */
async function busy(): Promise<MemoryBackend> {
  const b = createMemoryBackend({ products });
  await b.startOfferCycle(cycle(1), plan(cycle(1)));
  for (const u of users.slice(0, 5)) {
    await b.addToCart(u, products[0]!.id, 2);
    await b.addToCart(u, products[1]!.id, 1);
    const offers = (await b.listOffers(u)).offers;
    if (offers[0]) await b.applyCoupon(u, offers[0].code, at(1)).catch(() => {});
    await b.checkout(u, `run:${u}:1`, at(1));
  }
  await b.startOfferCycle(cycle(2), plan(cycle(2)));
  for (const u of users.slice(0, 3)) {
    await b.addToCart(u, products[2]!.id, 1);
    await b.checkout(u, `run:${u}:2`, at(2));
  }
  // Abandoned carts: kept by the store across cycles, one with a coupon of the current cycle.
  const offer = [...plan(cycle(2))].sort((x, y) => x.min_spend_cents - y.min_spend_cents)[0]!;
  const withCoupon = offer.user_id;
  await b.addToCart(withCoupon, products[1]!.id, 1);
  while ((await b.getCart(withCoupon)).subtotal_cents < offer.min_spend_cents) await b.addToCart(withCoupon, products[3]!.id, 1);
  await b.applyCoupon(withCoupon, offer.code, at(2));
  await b.addToCart(users[7]!, products[4]!.id, 1);
  return b;
}

describe('memory backend: exportState / importState', () => {
  it('a store rebuilt from its export answers as the original does, and exports the same state', async () => {
    const original = await busy();
    const state = original.exportState();
    expect(JSON.parse(JSON.stringify(state))).toEqual(state);
    expect(state.offer_cycle).toBe(2);
    expect(state.memory.offer_cycles.map((c) => c[0])).toEqual([1, 2]);
    expect(state.memory.offer_cycles[0]![3]).toBe(userIdsHash(users));
    expect(state.memory.orders).toHaveLength(8);
    expect(state.carts.length).toBeGreaterThanOrEqual(2);
    expect(state.carts.some((c) => c[2] !== null)).toBe(true);
    expect(state.memory.redeemed.length).toBeGreaterThan(0);

    const copy = createMemoryBackend({ products });
    copy.importState(JSON.parse(JSON.stringify(state)) as typeof state, plan, users);
    expect(copy.exportState()).toEqual(state);
    expect(await copy.stats()).toEqual(await original.stats());
    for (const u of users) {
      expect(await copy.getCart(u)).toEqual(await original.getCart(u));
      expect(await copy.listOffers(u)).toEqual(await original.listOffers(u));
    }
    for (const p of products) expect(await copy.getProduct(p.id)).toEqual(await original.getProduct(p.id));

    // A checkout again with an earlier key: the same order, replayed, on both.
    const u0 = users[0]!;
    const again = await copy.checkout(u0, `run:${u0}:1`, at(3));
    expect(again).toEqual(await original.checkout(u0, `run:${u0}:1`, at(3)));
    expect(again.replayed).toBe(true);
    // A redeemed coupon stays redeemed; an old cycle's code is known (expired), not unknown.
    const used = original.orders().find((o) => o.coupon_code !== null && o.coupon_code.startsWith('OC2-')) ?? original.orders().find((o) => o.coupon_code !== null);
    expect(used).toBeDefined();
    const refusal = async (b: MemoryBackend, code: string, when: string) => b.applyCoupon(used!.user_id, code, when).then(() => 'applied', (e: { storeCode?: string }) => e.storeCode);
    for (const [code, when] of [[used!.coupon_code as string, at(1)], [`OC1-${used!.user_id.toUpperCase()}-0`, at(2)], ['NO-SUCH-CODE', at(2)]] as const) {
      const answer = await refusal(original, code, when);
      expect(answer, code).not.toBe('applied');
      expect(await refusal(copy, code, when), code).toBe(answer);
    }
    // New orders: the same ids (the user's order number carries on) and the same stock after.
    for (const b of [original, copy]) {
      await b.addToCart(u0, products[5]!.id, 1);
      await b.addToCart(users[7]!, products[5]!.id, 1);
    }
    const next = await copy.checkout(u0, `run:${u0}:3`, at(3));
    expect(next).toEqual(await original.checkout(u0, `run:${u0}:3`, at(3)));
    expect(await copy.checkout(users[7]!, `run:${users[7]}:3`, at(3))).toEqual(await original.checkout(users[7]!, `run:${users[7]}:3`, at(3)));
    // A new offer cycle: the same restock and offers.
    expect(await copy.startOfferCycle(cycle(3), plan(cycle(3)))).toEqual(await original.startOfferCycle(cycle(3), plan(cycle(3))));
    expect(copy.exportState()).toEqual(original.exportState());
  });

  it('an empty store exports an empty state, and importing it empties a busy one', async () => {
    const empty = createMemoryBackend({ products }).exportState();
    expect(empty).toEqual({ carts: [], stock: products.map((p) => [p.id, p.stock]), offer_cycle: null, memory: { offer_cycles: [], redeemed: [], orders: [], order_items: 0 } });
    const b = await busy();
    b.importState(empty, plan, users);
    expect(b.exportState()).toEqual(empty);
    expect(await b.stats()).toEqual({ orders: 0, order_items: 0, revenue_cents: 0, carts_with_items: 0, offer_cycle: null });
  });
});
