/**
 * What only the mock store has: its checkpoint state. (Its rules are tested with the other
 * stores' in test/model/store-rules.test.ts.)
 */
import { describe, expect, it } from 'vitest';
import { offersForAgent } from '../../src/model/offers.ts';
import type { Product } from '../../src/model/types.ts';
import { createMockStore } from '../../src/store/mock-store.ts';

const products: Product[] = [
  { id: 'p-cheap', sku: 'SKU-C', name: 'Cheap thing', category: 'books', price_cents: 1000, stock: 50, rating: 4 },
  { id: 'p-big', sku: 'SKU-B', name: 'Big thing', category: 'books', price_cents: 6000, stock: 50, rating: 4 },
];
const agentIds = Array.from({ length: 32 }, (_, i) => `agent_${i}`);
const cycle = { offer_cycle: 1, starts_at: '2024-01-01T00:00:00.000Z', ends_at: '2024-01-08T00:00:00.000Z', user_ids: agentIds };
const window = { number: 1, startsAt: cycle.starts_at, endsAt: cycle.ends_at };

describe('mock store checkpoint state', () => {
  it('carries a coupon as code and percent, and a restored cart still applies its minimum spend', async () => {
    const agentIndex = agentIds.findIndex((id, i) => offersForAgent(42, window, i, id).some((o) => o.min_spend_cents > 1000));
    const agentId = agentIds[agentIndex] as string;
    const offer = offersForAgent(42, window, agentIndex, agentId).find((o) => o.min_spend_cents > 1000)!;
    const ctx = { agentId, agentIndex, cycle: 1, at: '2024-01-02T10:00:00.000Z', callSeq: 1 };

    const before = createMockStore({ seed: 42, products, agentIds });
    await before.startOfferCycle(cycle);
    await before.addToCart(ctx, 'p-big', 1);
    await before.applyCoupon(ctx, offer.code);
    const state = before.exportState();
    // The checkpoint format is unchanged: the minimum spend is not written, it is drawn again.
    expect(state.carts).toEqual([[agentId, { lines: [{ product_id: 'p-big', quantity: 1, unit_price_cents: 6000 }], coupon: { code: offer.code, percent: offer.discount_percent }, lastCheckout: null }]]);

    const after = createMockStore({ seed: 42, products, agentIds });
    after.importState(JSON.parse(JSON.stringify(state)));
    const discount = Math.floor((6000 * offer.discount_percent) / 100);
    expect((await after.getCart(ctx)).discount_cents).toBe(discount);
    await after.addToCart(ctx, 'p-cheap', 1);
    const below = await after.removeFromCart(ctx, 'p-big');
    expect(below).toMatchObject({ subtotal_cents: 1000, discount_cents: 0, coupon_code: offer.code });
    await expect(after.checkout(ctx, 'k')).rejects.toMatchObject({ kind: 'rejected', storeCode: 'COUPON_MIN_SPEND', status: 422 });
  });
});
