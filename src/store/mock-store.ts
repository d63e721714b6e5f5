/**
 * The deterministic in-process store behind `--mock-api`. Its answers depend only on the
 * seed, the catalog, the caller's own cart and the (agent, cycle, call number) of the
 * request — never on how concurrent agents interleave — so the run digest is reproducible.
 * It decides with the reference store's rules (src/model/store-rules.ts) and refuses with the
 * StoreCallError the HTTP client would raise for the same answer. It has no shared counters:
 * stock is checked against the catalog but not decremented (the reference server does that).
 * `exportState`/`importState` carry carts, redeemed coupons and the offer cycle into checkpoints.
 */
import { offerCount, offersForAgent } from '../model/offers.ts';
import { hash32, hashUnit } from '../model/rng.ts';
import { cartEmpty, cartView, couponRefusal, productNotFound, stockRefusal, type CouponState, type StoreRuleError } from '../model/store-rules.ts';
import type { Cart, CartLine, CallContext, Offer, OfferCycleRequest, Order, Product, ProductQuery, StoreApi } from '../model/types.ts';
import { StoreCallError } from './store-error.ts';

/** A cart as checkpoints carry it (the shape is part of the checkpoint format). */
interface SavedCart {
  lines: CartLine[];
  coupon: { code: string; percent: number } | null;
  lastCheckout: { key: string; order: Order } | null;
}

interface CartState {
  lines: CartLine[];
  coupon: CouponState | null;
  lastCheckout: { key: string; order: Order } | null;
}

export interface MockStoreOptions {
  seed: number;
  products: Product[];
  /** Agent ids in run order; offers are assigned by agent index. */
  agentIds: string[];
  /** Probability that a call fails with an injected 503. */
  failRate?: number;
}

export interface MockStoreState {
  offerCycle: { number: number; startsAt: string; endsAt: string } | null;
  carts: [string, SavedCart][];
  redeemed: [string, string[]][];
  calls: number;
}

export interface MockStore extends StoreApi {
  exportState(): MockStoreState;
  /** exportState's carts and redeemed coupons of these agents only (a cohort's, on a worker). */
  exportAgents(agentIds: readonly string[]): Pick<MockStoreState, 'carts' | 'redeemed'>;
  importState(state: MockStoreState): void;
}

const FAIL_SALT = 0xfa11;

export function createMockStore(options: MockStoreOptions): MockStore {
  const { seed, products } = options;
  const failRate = options.failRate ?? 0;
  const byId = new Map(products.map((p) => [p.id, p]));
  const byCategory = new Map<string, Product[]>();
  for (const p of products) {
    let list = byCategory.get(p.category);
    if (!list) byCategory.set(p.category, (list = []));
    list.push(p);
  }
  const indexOf = new Map(options.agentIds.map((id, i) => [id, i]));
  let carts = new Map<string, CartState>();
  let redeemed = new Map<string, Set<string>>();
  let offerCycle: MockStoreState['offerCycle'] = null;
  let calls = 0;

  function maybeFail(ctx: CallContext, endpoint: string): void {
    calls++;
    if (failRate > 0 && hashUnit(seed, ctx.agentIndex, ctx.cycle, ctx.callSeq, FAIL_SALT) < failRate) {
      throw new StoreCallError('failed', `mock store: injected 503 Service Unavailable on ${endpoint}`, { status: 503, storeCode: 'INJECTED_FAILURE' });
    }
  }

  function cartOf(agentId: string): CartState {
    let c = carts.get(agentId);
    if (!c) carts.set(agentId, (c = { lines: [], coupon: null, lastCheckout: null }));
    return c;
  }

  const view = (agentId: string, c: CartState): Cart => cartView(agentId, c.lines, c.coupon);
  const savedCart = (c: CartState): SavedCart => ({ lines: c.lines, coupon: c.coupon && { code: c.coupon.code, percent: c.coupon.discount_percent }, lastCheckout: null });

  function offersFor(agentIndex: number, agentId: string): Offer[] {
    return offerCycle ? offersForAgent(seed, offerCycle, agentIndex, agentId) : [];
  }

  /** The refusal as the HTTP client reports the reference store's answer: kind 'rejected'. */
  function refuse(refusal: StoreRuleError): never {
    throw new StoreCallError('rejected', refusal.message, { status: refusal.status, storeCode: refusal.storeCode, cause: refusal });
  }

  function checkCoupon(ctx: CallContext, code: string, subtotalCents: number): Offer {
    const offer = offersFor(ctx.agentIndex, ctx.agentId).find((o) => o.code === code);
    const refusal = couponRefusal(code, offer, { redeemed: redeemed.get(ctx.agentId)?.has(code) === true, at: ctx.at, subtotalCents });
    if (refusal) refuse(refusal);
    return offer as Offer;
  }

  /**
   * Checkpoints carry a coupon as code and percent; its minimum spend is the offer's, drawn
   * again (the offer cycle is restored first, and a new cycle drops applied coupons).
   */
  function restoredCoupon(agentId: string, saved: { code: string; percent: number }): CouponState {
    const i = indexOf.get(agentId);
    const offer = i === undefined ? undefined : offersFor(i, agentId).find((o) => o.code === saved.code);
    return { code: saved.code, discount_percent: saved.percent, min_spend_cents: offer?.min_spend_cents ?? 0 };
  }

  const store: MockStore = {
    async listProducts(ctx: CallContext, q: ProductQuery): Promise<Product[]> {
      maybeFail(ctx, 'GET /products');
      let list = q.category ? (byCategory.get(q.category) ?? []) : products;
      if (q.search) {
        const needle = q.search.toLowerCase();
        list = list.filter((p) => p.name.toLowerCase().includes(needle));
      }
      const start = (q.page - 1) * q.pageSize;
      return list.slice(start, start + q.pageSize);
    },

    async getProduct(ctx: CallContext, productId: string): Promise<Product> {
      maybeFail(ctx, 'GET /products/:id');
      const p = byId.get(productId);
      if (!p) refuse(productNotFound(productId, 'id'));
      return p;
    },

    async getCart(ctx: CallContext): Promise<Cart> {
      maybeFail(ctx, 'GET /cart');
      return view(ctx.agentId, cartOf(ctx.agentId));
    },

    async addToCart(ctx: CallContext, productId: string, quantity: number): Promise<Cart> {
      maybeFail(ctx, 'POST /cart/items');
      const p = byId.get(productId);
      if (!p) refuse(productNotFound(productId, 'product_id'));
      const c = cartOf(ctx.agentId);
      const line = c.lines.find((l) => l.product_id === productId);
      const short = stockRefusal('add', productId, (line?.quantity ?? 0) + quantity, p.stock);
      if (short) refuse(short);
      if (line) line.quantity += quantity;
      else c.lines.push({ product_id: productId, quantity, unit_price_cents: p.price_cents });
      return view(ctx.agentId, c);
    },

    async removeFromCart(ctx: CallContext, productId: string): Promise<Cart> {
      maybeFail(ctx, 'DELETE /cart/items/:id');
      const c = cartOf(ctx.agentId);
      c.lines = c.lines.filter((l) => l.product_id !== productId);
      return view(ctx.agentId, c);
    },

    async clearCart(ctx: CallContext): Promise<void> {
      maybeFail(ctx, 'DELETE /cart');
      const c = carts.get(ctx.agentId);
      if (c) {
        c.lines = [];
        c.coupon = null;
      }
    },

    async listOffers(ctx: CallContext): Promise<Offer[]> {
      maybeFail(ctx, 'GET /offers');
      const used = redeemed.get(ctx.agentId);
      const all = offersFor(ctx.agentIndex, ctx.agentId);
      return used ? all.filter((o) => !used.has(o.code)) : all;
    },

    async applyCoupon(ctx: CallContext, code: string): Promise<Cart> {
      maybeFail(ctx, 'POST /cart/coupon');
      const c = cartOf(ctx.agentId);
      const offer = checkCoupon(ctx, code, view(ctx.agentId, c).subtotal_cents);
      c.coupon = { code, discount_percent: offer.discount_percent, min_spend_cents: offer.min_spend_cents };
      return view(ctx.agentId, c);
    },

    async checkout(ctx: CallContext, key: string): Promise<Order> {
      maybeFail(ctx, 'POST /checkout');
      const c = cartOf(ctx.agentId);
      if (c.lastCheckout?.key === key) return c.lastCheckout.order;
      if (c.lines.length === 0) refuse(cartEmpty());
      const v = view(ctx.agentId, c);
      // Checked again, like the reference store: the time and the cart may have moved on.
      if (c.coupon) checkCoupon(ctx, c.coupon.code, v.subtotal_cents);
      for (const l of c.lines) {
        const short = stockRefusal('checkout', l.product_id, l.quantity, byId.get(l.product_id)?.stock ?? 0);
        if (short) refuse(short);
      }
      const order: Order = {
        order_id: `ord_${hash32(seed, ctx.agentIndex, ctx.cycle, 0x0bde).toString(16).padStart(8, '0')}_${ctx.agentIndex}_${ctx.cycle}`,
        user_id: ctx.agentId,
        total_cents: v.total_cents,
        discount_cents: v.discount_cents,
        items_count: c.lines.reduce((n, l) => n + l.quantity, 0),
        coupon_code: v.coupon_code,
      };
      if (c.coupon) {
        let used = redeemed.get(ctx.agentId);
        if (!used) redeemed.set(ctx.agentId, (used = new Set()));
        used.add(c.coupon.code);
      }
      c.lines = [];
      c.coupon = null;
      c.lastCheckout = { key, order };
      return order;
    },

    async startOfferCycle(req: OfferCycleRequest): Promise<{ offers_assigned: number }> {
      offerCycle = { number: req.offer_cycle, startsAt: req.starts_at, endsAt: req.ends_at };
      redeemed = new Map();
      for (const c of carts.values()) c.coupon = null;
      let assigned = 0;
      for (const id of req.user_ids) {
        const i = indexOf.get(id);
        if (i !== undefined) assigned += offerCount(seed, req.offer_cycle, i);
      }
      return { offers_assigned: assigned };
    },

    exportState(): MockStoreState {
      const cartEntries: [string, SavedCart][] = [];
      for (const [id, c] of carts) {
        // Only what changes later answers: a cart with lines or a coupon. (Idempotency records
        // never cross a cycle boundary, where checkpoints are taken.)
        if (c.lines.length > 0 || c.coupon) cartEntries.push([id, savedCart(c)]);
      }
      return {
        offerCycle,
        carts: cartEntries,
        redeemed: [...redeemed].map(([id, set]) => [id, [...set]]),
        calls,
      };
    },

    exportAgents(agentIds) {
      const cartEntries: [string, SavedCart][] = [];
      const used: [string, string[]][] = [];
      for (const id of agentIds) {
        const c = carts.get(id);
        if (c && (c.lines.length > 0 || c.coupon)) cartEntries.push([id, savedCart(c)]);
        const r = redeemed.get(id);
        if (r) used.push([id, [...r]]);
      }
      return { carts: cartEntries, redeemed: used };
    },

    importState(state: MockStoreState): void {
      offerCycle = state.offerCycle;
      carts = new Map(state.carts.map(([id, c]) => [id, { lines: c.lines.map((l) => ({ ...l })), coupon: c.coupon && restoredCoupon(id, c.coupon), lastCheckout: null }]));
      redeemed = new Map(state.redeemed.map(([id, codes]) => [id, new Set(codes)]));
      calls = state.calls;
    },
  };
  return store;
}
