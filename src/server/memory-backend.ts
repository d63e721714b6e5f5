/**
 * The in-memory StoreBackend: tests, benchmarks, `shopsim serve --mock-db` and the bundled store
 * of `shopsim run --mock-db`. Every method runs synchronously to completion inside one promise, so
 * each request is atomic. A run's checkpoints carry its whole state (exportState: carts, stock,
 * offer cycles, orders with their idempotency keys, coupon redemptions) and a resume imports it
 * (importState), so the re-run cycles get the answers the uninterrupted run got.
 */
import { createHash } from 'node:crypto';
import type { MemoryStoreSection, StoreStateSection } from '../checkpoint/format.ts';
import type { AssignedOffer } from '../model/offers.ts';
import type { BackendStats, StoreBackend } from '../model/store-backend.ts';
import { orderIdFor } from '../model/order-id.ts';
import { cartEmpty, cartView, couponRefusal, productNotFound, stockRefusal, type CouponState } from '../model/store-rules.ts';
import type { Cart, CartLine, Offer, OfferCycleRequest, Order, Product } from '../model/types.ts';

interface CartState {
  lines: Map<string, CartLine>;
  coupon: CouponState | null;
}

export interface MemoryBackend extends StoreBackend {
  /** Orders in creation order (tests; after importState: per user, users by id). */
  orders(): Order[];
  /**
   * The store's state at a cycle boundary (no request in flight), as a checkpoint's `store_state`
   * with its `memory` part: every cart with a line or a coupon (by user; lines in the order the
   * store lists them), every product's stock, the current offer cycle, every offer cycle started
   * (its offers are not written: they follow from the run's seed), coupon redemptions, and every
   * order with its idempotency key. The same store state gives the same text.
   */
  exportState(): StoreStateSection & { memory: MemoryStoreSection };
  /**
   * Puts an exported state back, replacing everything the store holds. `planOffers` gives the
   * offers of a recorded offer cycle (the server's planOffers with the run's seed and shoppers);
   * a checkpoint's state is checked before (src/run/start-run.ts), so nothing here refuses.
   */
  importState(state: StoreStateSection & { memory: MemoryStoreSection }, planOffers: (request: OfferCycleRequest) => AssignedOffer[], userIds: string[]): void;
}

/** What a checkpoint records of an offer cycle request's user ids: 16 hex digits of their sha256. */
export function userIdsHash(userIds: readonly string[]): string {
  return createHash('sha256').update(userIds.join('\n')).digest('hex').slice(0, 16);
}

const byFirst = <T extends [string, ...unknown[]]>(a: T, b: T): number => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0);

export function createMemoryBackend(options: { products: Product[] }): MemoryBackend {
  const products = options.products.map((p) => ({ ...p }));
  const byId = new Map(products.map((p) => [p.id, p]));
  /** Catalog stock levels: a new offer cycle restocks every product below its level up to it. */
  const catalogStock = new Map(options.products.map((p) => [p.id, p.stock]));
  const carts = new Map<string, CartState>();
  const offersByUser = new Map<string, Offer[]>();
  const offerByCode = new Map<string, AssignedOffer>();
  const redeemed = new Set<string>();
  const idempotency = new Map<string, Order>();
  const orders: Order[] = [];
  const ordersByUser = new Map<string, number>();
  let orderItems = 0;
  let revenue = 0;
  let offerCycle: number | null = null;
  /** Every offer cycle started, for checkpoints: [number, starts_at, ends_at, users hash]. */
  const offerCycles: [number, string, string, string][] = [];
  /** The idempotency key of each order, for checkpoints. */
  const keyOfOrder = new Map<Order, string>();

  const key = (userId: string, s: string) => `${userId}\u0000${s}`;

  function cartOf(userId: string): CartState {
    let c = carts.get(userId);
    if (!c) carts.set(userId, (c = { lines: new Map(), coupon: null }));
    return c;
  }

  /** The offers of the cycle just started: the current ones, and their codes known from now on. */
  function assignOffers(offers: AssignedOffer[]): void {
    offersByUser.clear();
    for (const o of offers) {
      const { user_id, ...offer } = o;
      let list = offersByUser.get(user_id);
      if (!list) offersByUser.set(user_id, (list = []));
      list.push(offer);
      offerByCode.set(key(user_id, o.code), o);
    }
  }

  const view = (userId: string, c: CartState | undefined): Cart => cartView(userId, c ? [...c.lines.values()] : [], c?.coupon ?? null);

  /** @throws StoreRuleError COUPON_* */
  function checkCoupon(userId: string, code: string, at: string, subtotal: number): AssignedOffer {
    const offer = offerByCode.get(key(userId, code));
    const refusal = couponRefusal(code, offer, { redeemed: redeemed.has(key(userId, code)), at, subtotalCents: subtotal });
    if (refusal) throw refusal;
    return offer as AssignedOffer;
  }

  return {
    kind: 'memory',

    async listProducts(q) {
      let list: Product[] = products;
      if (q.category) list = list.filter((p) => p.category === q.category);
      if (q.search) {
        const needle = q.search.toLowerCase();
        list = list.filter((p) => p.name.toLowerCase().includes(needle));
      }
      const start = (q.page - 1) * q.pageSize;
      return { items: list.slice(start, start + q.pageSize).map((p) => ({ ...p })), total: list.length };
    },

    async getProduct(productId) {
      const p = byId.get(productId);
      return p ? { ...p } : null;
    },

    async getCart(userId) {
      return view(userId, carts.get(userId));
    },

    async addToCart(userId, productId, quantity) {
      const p = byId.get(productId);
      if (!p) throw productNotFound(productId, 'product_id');
      const c = cartOf(userId);
      const line = c.lines.get(productId);
      const wanted = (line?.quantity ?? 0) + quantity;
      const short = stockRefusal('add', productId, wanted, p.stock);
      if (short) throw short;
      if (line) line.quantity = wanted;
      else c.lines.set(productId, { product_id: productId, quantity, unit_price_cents: p.price_cents });
      return view(userId, c);
    },

    async removeFromCart(userId, productId) {
      const c = carts.get(userId);
      c?.lines.delete(productId);
      return view(userId, c);
    },

    async clearCart(userId) {
      const c = carts.get(userId);
      if (c) {
        c.lines.clear();
        c.coupon = null;
      }
    },

    async listOffers(userId) {
      const all = offersByUser.get(userId) ?? [];
      return { offer_cycle: offerCycle, offers: all.filter((o) => !redeemed.has(key(userId, o.code))).map(({ ...o }) => o) };
    },

    async applyCoupon(userId, code, at) {
      const c = cartOf(userId);
      const offer = checkCoupon(userId, code, at, view(userId, c).subtotal_cents);
      c.coupon = { code, discount_percent: offer.discount_percent, min_spend_cents: offer.min_spend_cents };
      return view(userId, c);
    },

    async checkout(userId, idempotencyKey, at) {
      const done = idempotency.get(key(userId, idempotencyKey));
      if (done) {
        // The state the first checkout left: an empty cart (a re-run cycle may have filled it again).
        const c = carts.get(userId);
        c?.lines.clear();
        if (c) c.coupon = null;
        return { order: { ...done }, replayed: true };
      }
      const c = carts.get(userId);
      if (!c || c.lines.size === 0) throw cartEmpty();
      const v = view(userId, c);
      if (c.coupon) checkCoupon(userId, c.coupon.code, at, v.subtotal_cents);
      for (const l of c.lines.values()) {
        const p = byId.get(l.product_id) as Product;
        const short = stockRefusal('checkout', l.product_id, l.quantity, p.stock);
        if (short) throw short;
      }
      for (const l of c.lines.values()) (byId.get(l.product_id) as Product).stock -= l.quantity;
      const order: Order = {
        order_id: orderIdFor(userId, (ordersByUser.get(userId) ?? 0) + 1, at),
        user_id: userId,
        total_cents: v.total_cents,
        discount_cents: v.discount_cents,
        items_count: v.items.reduce((n, l) => n + l.quantity, 0),
        coupon_code: v.coupon_code,
      };
      if (c.coupon) redeemed.add(key(userId, c.coupon.code));
      orders.push(order);
      ordersByUser.set(userId, (ordersByUser.get(userId) ?? 0) + 1);
      orderItems += c.lines.size;
      revenue += order.total_cents;
      idempotency.set(key(userId, idempotencyKey), order);
      keyOfOrder.set(order, idempotencyKey);
      c.lines.clear();
      c.coupon = null;
      return { order: { ...order }, replayed: false };
    },

    async startOfferCycle(req: OfferCycleRequest, offers: AssignedOffer[]) {
      offerCycle = req.offer_cycle;
      // Started again (a retried request): the later start is the one that counts.
      if (offerCycles[offerCycles.length - 1]?.[0] === req.offer_cycle) offerCycles.pop();
      offerCycles.push([req.offer_cycle, req.starts_at, req.ends_at, userIdsHash(req.user_ids)]);
      assignOffers(offers);
      for (const c of carts.values()) c.coupon = null;
      let restocked = 0;
      for (const p of products) {
        const level = catalogStock.get(p.id) ?? p.stock;
        if (p.stock < level) {
          p.stock = level;
          restocked++;
        }
      }
      return { offers_assigned: offers.length, products_restocked: restocked };
    },

    async stats(): Promise<BackendStats> {
      let withItems = 0;
      for (const c of carts.values()) if (c.lines.size > 0) withItems++;
      return { orders: orders.length, order_items: orderItems, revenue_cents: revenue, carts_with_items: withItems, offer_cycle: offerCycle };
    },

    orders: () => orders.map((o) => ({ ...o })),

    exportState() {
      const cartList: StoreStateSection['carts'] = [];
      for (const [userId, c] of carts) {
        if (c.lines.size === 0 && !c.coupon) continue;
        const lines = [...c.lines.values()].map((l): [string, number, number] => [l.product_id, l.quantity, l.unit_price_cents]);
        cartList.push([userId, lines, c.coupon ? [c.coupon.code, c.coupon.discount_percent, c.coupon.min_spend_cents] : null]);
      }
      const byUser = new Map<string, string[]>();
      for (const k of redeemed) {
        const at = k.indexOf('\u0000');
        const u = k.slice(0, at);
        let codes = byUser.get(u);
        if (!codes) byUser.set(u, (codes = []));
        codes.push(k.slice(at + 1));
      }
      // Per user in the order placed (a user's checkouts are one after another); users by id, so
      // the text does not depend on which shopper of a cycle checked out first.
      const orderRows = orders.map((o): MemoryStoreSection['orders'][number] => [o.user_id, keyOfOrder.get(o) ?? '', o.order_id, o.total_cents, o.discount_cents, o.items_count, o.coupon_code]);
      const sortedOrders = orderRows.map((r, i) => [r, i] as const).sort((a, b) => byFirst(a[0], b[0]) || a[1] - b[1]).map(([r]) => r);
      return {
        carts: cartList.sort(byFirst),
        stock: products.map((p): [string, number] => [p.id, p.stock]),
        offer_cycle: offerCycle,
        memory: {
          offer_cycles: offerCycles.map((w): [number, string, string, string] => [...w]),
          redeemed: [...byUser].map(([u, codes]): [string, string[]] => [u, codes.sort()]).sort(byFirst),
          orders: sortedOrders,
          order_items: orderItems,
        },
      };
    },

    importState(state, plan, userIds) {
      carts.clear();
      offersByUser.clear();
      offerByCode.clear();
      redeemed.clear();
      idempotency.clear();
      keyOfOrder.clear();
      orders.length = 0;
      ordersByUser.clear();
      offerCycles.length = 0;
      revenue = 0;
      for (const p of products) p.stock = catalogStock.get(p.id) ?? p.stock;
      for (const [id, stock] of state.stock) {
        const p = byId.get(id);
        if (p) p.stock = stock;
      }
      for (const [userId, lines, coupon] of state.carts) {
        const c: CartState = { lines: new Map(), coupon: coupon ? { code: coupon[0], discount_percent: coupon[1], min_spend_cents: coupon[2] } : null };
        for (const [productId, quantity, price] of lines) c.lines.set(productId, { product_id: productId, quantity, unit_price_cents: price });
        carts.set(userId, c);
      }
      // The offer cycles again, in order: every code ever assigned is known (an old one is
      // refused as expired, not unknown) and the last cycle's offers are the current ones.
      for (const [number, startsAt, endsAt, users] of state.memory.offer_cycles) {
        offerCycles.push([number, startsAt, endsAt, users]);
        assignOffers(plan({ offer_cycle: number, starts_at: startsAt, ends_at: endsAt, user_ids: userIds }));
      }
      offerCycle = state.offer_cycle;
      for (const [userId, codes] of state.memory.redeemed) for (const code of codes) redeemed.add(key(userId, code));
      for (const [userId, idempotencyKey, orderId, total, discount, items, coupon] of state.memory.orders) {
        const order: Order = { order_id: orderId, user_id: userId, total_cents: total, discount_cents: discount, items_count: items, coupon_code: coupon };
        orders.push(order);
        ordersByUser.set(userId, (ordersByUser.get(userId) ?? 0) + 1);
        idempotency.set(key(userId, idempotencyKey), order);
        keyOfOrder.set(order, idempotencyKey);
        revenue += total;
      }
      orderItems = state.memory.order_items;
    },

    async close() {},
  };
}
