/**
 * The in-memory StoreBackend: tests, benchmarks and `shopsim serve --mock-db`. Every method
 * runs synchronously to completion inside one promise, so each request is atomic.
 */
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
  /** Orders in creation order (tests). */
  orders(): Order[];
}

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

  const key = (userId: string, s: string) => `${userId}\u0000${s}`;

  function cartOf(userId: string): CartState {
    let c = carts.get(userId);
    if (!c) carts.set(userId, (c = { lines: new Map(), coupon: null }));
    return c;
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
      c.lines.clear();
      c.coupon = null;
      return { order: { ...order }, replayed: false };
    },

    async startOfferCycle(req: OfferCycleRequest, offers: AssignedOffer[]) {
      offerCycle = req.offer_cycle;
      offersByUser.clear();
      for (const o of offers) {
        const { user_id, ...offer } = o;
        let list = offersByUser.get(user_id);
        if (!list) offersByUser.set(user_id, (list = []));
        list.push(offer);
        offerByCode.set(key(user_id, o.code), o);
      }
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

    async close() {},
  };
}
