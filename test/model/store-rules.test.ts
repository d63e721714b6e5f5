/**
 * The store rules (src/model/store-rules.ts): one table of cases, run against each store that
 * decides with them — the mock store (`--mock-api`), the in-memory backend (`--mock-db`) and the
 * PostgreSQL backend (embedded PGlite in a temporary directory; TEST_DATABASE_URL's server, in a
 * schema of its own, when set). The expectations are written once, so a store that drifts from
 * the others fails here. Each case has users of its own.
 *
 * Not in the table: what needs a shared store — stock taken by other users' orders, the weekly
 * restock, concurrent checkouts. The mock store keeps no shared counters on purpose (its answers
 * must not depend on how agents interleave); test/server/pg-backend.test.ts covers those.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import type { Database } from '../../src/db/connection.ts';
import { createPgStoreBackend, seedProducts } from '../../src/db/store-repository.ts';
import { planOffers } from '../../src/model/offers.ts';
import type { StoreBackend } from '../../src/model/store-backend.ts';
import { StoreRuleError } from '../../src/model/store-rules.ts';
import type { Cart, Offer, OfferCycleRequest, Order, Product } from '../../src/model/types.ts';
import { createMemoryBackend } from '../../src/server/memory-backend.ts';
import { createMockStore } from '../../src/store/mock-store.ts';
import { StoreCallError } from '../../src/store/store-error.ts';
import { embeddedTarget, postgresTarget, TEST_DATABASE_URL, useDatabase } from '../db/helpers.ts';

const SEED = 42;
const INSIDE = '2024-01-02T10:00:00.000Z';
const BEFORE = '2023-12-31T23:59:59.000Z';
/** valid_until is exclusive: at that instant the coupon has expired. */
const AT_END = '2024-01-08T00:00:00.000Z';
const USERS = Array.from({ length: 64 }, (_, i) => `rules_u${String(i).padStart(2, '0')}`);
const CYCLE_1: OfferCycleRequest = { offer_cycle: 1, starts_at: '2024-01-01T00:00:00.000Z', ends_at: AT_END, user_ids: USERS };
const CYCLE_2: OfferCycleRequest = { offer_cycle: 2, starts_at: AT_END, ends_at: '2024-01-15T00:00:00.000Z', user_ids: USERS };

const CHEAP = 'p-cheap';
const BIG = 'p-big';
const SCARCE = 'p-scarce';
const products: Product[] = [
  { id: CHEAP, sku: 'SKU-C', name: 'Cheap thing', category: 'books', price_cents: 1000, stock: 50, rating: 4 },
  { id: BIG, sku: 'SKU-B', name: 'Big thing', category: 'books', price_cents: 6000, stock: 50, rating: 4 },
  { id: SCARCE, sku: 'SKU-S', name: 'Scarce thing', category: 'books', price_cents: 500, stock: 2, rating: 4 },
];

type Totals = Pick<Cart, 'subtotal_cents' | 'discount_cents' | 'total_cents' | 'coupon_code'>;
type Expect = { refused: string; status: number } | { cart: Totals } | { order: Totals & { items_count: number } } | { replayOfPreviousOrder: true };
type Step =
  | { do: 'add'; product: string; quantity: number; expect: Expect }
  | { do: 'remove'; product: string; expect: Expect }
  | { do: 'cart'; expect: Expect }
  | { do: 'coupon'; code?: string; at: string; expect: Expect }
  | { do: 'checkout'; key: string; at: string; expect: Expect }
  | { do: 'new-offer-cycle' };

const totals = (subtotal: number, discount: number, coupon: string | null): Totals => ({ subtotal_cents: subtotal, discount_cents: discount, total_cents: subtotal - discount, coupon_code: coupon });
const off = (o: Offer, subtotal: number) => Math.floor((subtotal * o.discount_percent) / 100);
const refused = (code: string, status: number): Expect => ({ refused: code, status });

/**
 * Each case gets a user with an offer whose minimum spend lies above the cheap product's price and
 * below the big one's (`coupon` without a code applies that offer). The case that starts a new
 * offer cycle must stay last: it ends cycle 1 for everyone.
 */
const CASES: { name: string; steps: (o: Offer) => Step[] }[] = [
  { name: 'an unknown coupon is invalid', steps: () => [{ do: 'coupon', code: 'NOPE', at: INSIDE, expect: refused('COUPON_INVALID', 422) }] },
  {
    name: 'a coupon before its window is not yet valid',
    steps: () => [
      { do: 'add', product: BIG, quantity: 1, expect: { cart: totals(6000, 0, null) } },
      { do: 'coupon', at: BEFORE, expect: refused('COUPON_NOT_YET_VALID', 422) },
    ],
  },
  {
    name: 'a coupon at the end of its window has expired',
    steps: () => [
      { do: 'add', product: BIG, quantity: 1, expect: { cart: totals(6000, 0, null) } },
      { do: 'coupon', at: AT_END, expect: refused('COUPON_EXPIRED', 422) },
    ],
  },
  {
    name: 'a cart below the minimum spend cannot take the coupon',
    steps: () => [
      { do: 'add', product: CHEAP, quantity: 1, expect: { cart: totals(1000, 0, null) } },
      { do: 'coupon', at: INSIDE, expect: refused('COUPON_MIN_SPEND', 422) },
      { do: 'cart', expect: { cart: totals(1000, 0, null) } },
    ],
  },
  {
    name: 'a coupon within its window discounts the cart and the order',
    steps: (o) => [
      { do: 'add', product: BIG, quantity: 1, expect: { cart: totals(6000, 0, null) } },
      { do: 'coupon', at: INSIDE, expect: { cart: totals(6000, off(o, 6000), o.code) } },
      { do: 'checkout', key: 'k1', at: INSIDE, expect: { order: { ...totals(6000, off(o, 6000), o.code), items_count: 1 } } },
      { do: 'cart', expect: { cart: totals(0, 0, null) } },
    ],
  },
  {
    name: 'the cart view drops the discount while the subtotal is below the minimum spend',
    steps: (o) => [
      { do: 'add', product: BIG, quantity: 1, expect: { cart: totals(6000, 0, null) } },
      { do: 'add', product: CHEAP, quantity: 1, expect: { cart: totals(7000, 0, null) } },
      { do: 'coupon', at: INSIDE, expect: { cart: totals(7000, off(o, 7000), o.code) } },
      { do: 'remove', product: BIG, expect: { cart: totals(1000, 0, o.code) } },
      { do: 'cart', expect: { cart: totals(1000, 0, o.code) } },
      { do: 'add', product: BIG, quantity: 1, expect: { cart: totals(7000, off(o, 7000), o.code) } },
    ],
  },
  {
    name: 'checkout checks the minimum spend again and keeps the cart',
    steps: (o) => [
      { do: 'add', product: BIG, quantity: 1, expect: { cart: totals(6000, 0, null) } },
      { do: 'add', product: CHEAP, quantity: 1, expect: { cart: totals(7000, 0, null) } },
      { do: 'coupon', at: INSIDE, expect: { cart: totals(7000, off(o, 7000), o.code) } },
      { do: 'remove', product: BIG, expect: { cart: totals(1000, 0, o.code) } },
      { do: 'checkout', key: 'k1', at: INSIDE, expect: refused('COUPON_MIN_SPEND', 422) },
      { do: 'cart', expect: { cart: totals(1000, 0, o.code) } },
    ],
  },
  {
    name: 'checkout checks the window again and keeps the cart',
    steps: (o) => [
      { do: 'add', product: BIG, quantity: 1, expect: { cart: totals(6000, 0, null) } },
      { do: 'coupon', at: INSIDE, expect: { cart: totals(6000, off(o, 6000), o.code) } },
      { do: 'checkout', key: 'k1', at: AT_END, expect: refused('COUPON_EXPIRED', 422) },
      { do: 'cart', expect: { cart: totals(6000, off(o, 6000), o.code) } },
    ],
  },
  {
    name: 'a redeemed coupon is used',
    steps: (o) => [
      { do: 'add', product: BIG, quantity: 1, expect: { cart: totals(6000, 0, null) } },
      { do: 'coupon', at: INSIDE, expect: { cart: totals(6000, off(o, 6000), o.code) } },
      { do: 'checkout', key: 'k1', at: INSIDE, expect: { order: { ...totals(6000, off(o, 6000), o.code), items_count: 1 } } },
      { do: 'add', product: BIG, quantity: 1, expect: { cart: totals(6000, 0, null) } },
      { do: 'coupon', at: INSIDE, expect: refused('COUPON_USED', 422) },
    ],
  },
  { name: 'an empty cart cannot be checked out', steps: () => [{ do: 'checkout', key: 'k1', at: INSIDE, expect: refused('CART_EMPTY', 409) }] },
  { name: 'an unknown product is not found', steps: () => [{ do: 'add', product: 'p-nope', quantity: 1, expect: refused('PRODUCT_NOT_FOUND', 404) }] },
  {
    name: 'adding beyond the stock is refused and leaves the cart as it was',
    steps: () => [
      { do: 'add', product: SCARCE, quantity: 2, expect: { cart: totals(1000, 0, null) } },
      { do: 'add', product: SCARCE, quantity: 1, expect: refused('INSUFFICIENT_STOCK', 409) },
      { do: 'cart', expect: { cart: totals(1000, 0, null) } },
    ],
  },
  {
    name: 'a checkout retried with its key returns the first order',
    steps: () => [
      { do: 'add', product: CHEAP, quantity: 2, expect: { cart: totals(2000, 0, null) } },
      { do: 'checkout', key: 'k1', at: INSIDE, expect: { order: { ...totals(2000, 0, null), items_count: 2 } } },
      { do: 'checkout', key: 'k1', at: INSIDE, expect: { replayOfPreviousOrder: true } },
    ],
  },
  {
    name: 'a new offer cycle drops the coupon applied to a cart',
    steps: (o) => [
      { do: 'add', product: BIG, quantity: 1, expect: { cart: totals(6000, 0, null) } },
      { do: 'coupon', at: INSIDE, expect: { cart: totals(6000, off(o, 6000), o.code) } },
      { do: 'new-offer-cycle' },
      { do: 'cart', expect: { cart: totals(6000, 0, null) } },
    ],
  },
];

/** One offer per case, each of another user: minimum spend above CHEAP's price, below BIG's. */
const assigned = (() => {
  const offers = planOffers(SEED, CYCLE_1);
  const out: { user: string; offer: Offer }[] = [];
  for (const user of USERS) {
    const o = offers.find((x) => x.user_id === user && x.min_spend_cents > 1000 && x.min_spend_cents <= 5000);
    if (o && out.length < CASES.length) out.push({ user, offer: o });
  }
  if (out.length < CASES.length) throw new Error(`expected ${CASES.length} users with a fitting offer, got ${out.length}`);
  return out;
})();

/** The calls the cases make, over a StoreApi (the mock) or a StoreBackend. */
interface Shop {
  startOfferCycle(req: OfferCycleRequest): Promise<void>;
  addToCart(user: string, productId: string, quantity: number): Promise<Cart>;
  removeFromCart(user: string, productId: string): Promise<Cart>;
  getCart(user: string): Promise<Cart>;
  applyCoupon(user: string, code: string, at: string): Promise<Cart>;
  checkout(user: string, key: string, at: string): Promise<Order>;
}

function mockShop(): Shop {
  const store = createMockStore({ seed: SEED, products, agentIds: USERS });
  let seq = 0;
  const ctx = (user: string, at = INSIDE) => ({ agentId: user, agentIndex: USERS.indexOf(user), cycle: 1, at, callSeq: ++seq });
  return {
    startOfferCycle: async (req) => void (await store.startOfferCycle(req)),
    addToCart: (user, productId, quantity) => store.addToCart(ctx(user), productId, quantity),
    removeFromCart: (user, productId) => store.removeFromCart(ctx(user), productId),
    getCart: (user) => store.getCart(ctx(user)),
    applyCoupon: (user, code, at) => store.applyCoupon(ctx(user, at), code),
    checkout: (user, key, at) => store.checkout(ctx(user, at), key),
  };
}

function backendShop(backend: StoreBackend): Shop {
  return {
    startOfferCycle: async (req) => void (await backend.startOfferCycle(req, planOffers(SEED, req))),
    addToCart: (user, productId, quantity) => backend.addToCart(user, productId, quantity),
    removeFromCart: (user, productId) => backend.removeFromCart(user, productId),
    getCart: (user) => backend.getCart(user),
    applyCoupon: (user, code, at) => backend.applyCoupon(user, code, at),
    checkout: async (user, key, at) => (await backend.checkout(user, key, at)).order,
  };
}

/** A refusal as the shopper sees it: the store's code and HTTP status. */
function refusalOf(err: unknown): { refused: string; status: number | null } {
  if (err instanceof StoreRuleError) return { refused: err.storeCode, status: err.status };
  // The mock answers as the HTTP client would: a 4xx is a StoreCallError of kind 'rejected'.
  if (err instanceof StoreCallError && err.kind === 'rejected') return { refused: err.storeCode, status: err.status };
  throw err;
}

const totalsOf = (c: Cart | Order): Totals => ('subtotal_cents' in c ? { subtotal_cents: c.subtotal_cents, discount_cents: c.discount_cents, total_cents: c.total_cents, coupon_code: c.coupon_code } : ({} as Totals));

async function play(shop: Shop, user: string, offer: Offer, steps: Step[]): Promise<void> {
  let lastOrder: Order | null = null;
  for (const [i, step] of steps.entries()) {
    if (step.do === 'new-offer-cycle') {
      await shop.startOfferCycle(CYCLE_2);
      continue;
    }
    let got: Cart | Order | { refused: string; status: number | null };
    try {
      if (step.do === 'add') got = await shop.addToCart(user, step.product, step.quantity);
      else if (step.do === 'remove') got = await shop.removeFromCart(user, step.product);
      else if (step.do === 'cart') got = await shop.getCart(user);
      else if (step.do === 'coupon') got = await shop.applyCoupon(user, step.code ?? offer.code, step.at);
      else got = await shop.checkout(user, step.key, step.at);
    } catch (err) {
      got = refusalOf(err);
    }
    const where = `step ${i + 1} (${step.do})`;
    const e = step.expect;
    if ('refused' in e) expect(got, where).toEqual(e);
    else if ('cart' in e) expect(totalsOf(got as Cart), where).toEqual(e.cart);
    else if ('order' in e) {
      const order = got as Order;
      expect({ total_cents: order.total_cents, discount_cents: order.discount_cents, items_count: order.items_count, coupon_code: order.coupon_code, user_id: order.user_id }, where).toEqual({
        total_cents: e.order.total_cents,
        discount_cents: e.order.discount_cents,
        items_count: e.order.items_count,
        coupon_code: e.order.coupon_code,
        user_id: user,
      });
      lastOrder = order;
    } else {
      expect(lastOrder, where).not.toBeNull();
      expect(got, where).toEqual(lastOrder);
    }
  }
}

/** Registers the table for one store; `provide` registers the hooks that open it. */
function rulesSuite(name: string, provide: (use: (shop: Shop) => void) => void): void {
  describe(name, () => {
    let shop: Shop | undefined;
    provide((s) => (shop = s));
    beforeAll(async () => {
      await (shop as Shop).startOfferCycle(CYCLE_1);
    });
    it.each(CASES.map((c, i) => ({ ...c, ...(assigned[i] as { user: string; offer: Offer }) })))('$name', async ({ steps, user, offer }) => {
      await play(shop as Shop, user, offer, steps(offer));
    });
  });
}

rulesSuite('mock store', (use) => beforeAll(() => use(mockShop())));

rulesSuite('in-memory backend', (use) => beforeAll(() => use(backendShop(createMemoryBackend({ products })))));

const target = TEST_DATABASE_URL ? postgresTarget() : embeddedTarget();
rulesSuite(`PostgreSQL backend (${target.name})`, (use) => {
  let db: Database | undefined;
  useDatabase(target, (opened) => (db = opened));
  beforeAll(async () => {
    const pool = (db as Database).pool;
    await seedProducts(pool, products);
    use(backendShop(createPgStoreBackend(pool, { catalog: products })));
  });
});
