/**
 * The deterministic in-process store behind `--mock-api`. Its answers depend only on the
 * seed, the catalog, the caller's own cart and the (agent, cycle, call number) of the
 * request — never on how concurrent agents interleave — so the run digest is reproducible.
 * It has no shared counters: stock is not decremented here (the reference server does that).
 * `exportState`/`importState` carry carts, redeemed coupons and the offer cycle into checkpoints.
 */
import { offerCount, offersForAgent } from '../model/offers.ts';
import { hash32, hashUnit } from '../model/rng.ts';
import type { Cart, CallContext, Offer, OfferCycleRequest, Order, Product, ProductQuery, StoreApi } from '../model/types.ts';
import { StoreCallError } from './store-error.ts';

interface CartState {
  lines: { product_id: string; quantity: number; unit_price_cents: number }[];
  coupon: { code: string; percent: number } | null;
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
  carts: [string, CartState][];
  redeemed: [string, string[]][];
  calls: number;
}

export interface MockStore extends StoreApi {
  exportState(): MockStoreState;
  importState(state: MockStoreState): void;
  readonly callCount: number;
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

  function view(agentId: string, c: CartState): Cart {
    let subtotal = 0;
    for (const l of c.lines) subtotal += l.unit_price_cents * l.quantity;
    const discount = c.coupon ? Math.floor((subtotal * c.coupon.percent) / 100) : 0;
    return {
      user_id: agentId,
      items: c.lines.map((l) => ({ ...l })),
      coupon_code: c.coupon?.code ?? null,
      subtotal_cents: subtotal,
      discount_cents: discount,
      total_cents: subtotal - discount,
    };
  }

  function offersFor(agentIndex: number, agentId: string): Offer[] {
    return offerCycle ? offersForAgent(seed, offerCycle, agentIndex, agentId) : [];
  }


  const store: MockStore = {
    get callCount() {
      return calls;
    },

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
      if (!p) throw new StoreCallError('rejected', `product ${productId} not found`, { status: 404, storeCode: 'PRODUCT_NOT_FOUND' });
      return p;
    },

    async getCart(ctx: CallContext): Promise<Cart> {
      maybeFail(ctx, 'GET /cart');
      return view(ctx.agentId, cartOf(ctx.agentId));
    },

    async addToCart(ctx: CallContext, productId: string, quantity: number): Promise<Cart> {
      maybeFail(ctx, 'POST /cart/items');
      const p = byId.get(productId);
      if (!p) throw new StoreCallError('rejected', `product ${productId} not found`, { status: 404, storeCode: 'PRODUCT_NOT_FOUND' });
      const c = cartOf(ctx.agentId);
      const line = c.lines.find((l) => l.product_id === productId);
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
      const offer = offersFor(ctx.agentIndex, ctx.agentId).find((o) => o.code === code);
      if (!offer) throw new StoreCallError('rejected', `coupon ${code} is not valid for this user`, { status: 422, storeCode: 'COUPON_INVALID' });
      if (redeemed.get(ctx.agentId)?.has(code)) throw new StoreCallError('rejected', `coupon ${code} was already used`, { status: 422, storeCode: 'COUPON_USED' });
      if (ctx.at < offer.valid_from || ctx.at >= offer.valid_until) {
        throw new StoreCallError('rejected', `coupon ${code} expired at ${offer.valid_until}`, { status: 422, storeCode: 'COUPON_EXPIRED' });
      }
      const c = cartOf(ctx.agentId);
      const current = view(ctx.agentId, c);
      if (current.subtotal_cents < offer.min_spend_cents) {
        throw new StoreCallError('rejected', `coupon ${code} needs a minimum spend of ${offer.min_spend_cents} cents`, { status: 422, storeCode: 'COUPON_MIN_SPEND' });
      }
      c.coupon = { code, percent: offer.discount_percent };
      return view(ctx.agentId, c);
    },

    async checkout(ctx: CallContext, key: string): Promise<Order> {
      maybeFail(ctx, 'POST /checkout');
      const c = cartOf(ctx.agentId);
      if (c.lastCheckout?.key === key) return c.lastCheckout.order;
      if (c.lines.length === 0) throw new StoreCallError('rejected', 'cannot check out an empty cart', { status: 409, storeCode: 'CART_EMPTY' });
      const v = view(ctx.agentId, c);
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
      const cartEntries: [string, CartState][] = [];
      for (const [id, c] of carts) {
        // Only what changes later answers: a cart with lines or a coupon. (Idempotency records
        // never cross a cycle boundary, where checkpoints are taken.)
        if (c.lines.length > 0 || c.coupon) cartEntries.push([id, { lines: c.lines, coupon: c.coupon, lastCheckout: null }]);
      }
      return {
        offerCycle,
        carts: cartEntries,
        redeemed: [...redeemed].map(([id, set]) => [id, [...set]]),
        calls,
      };
    },

    importState(state: MockStoreState): void {
      offerCycle = state.offerCycle;
      carts = new Map(state.carts.map(([id, c]) => [id, { lines: c.lines.map((l) => ({ ...l })), coupon: c.coupon, lastCheckout: null }]));
      redeemed = new Map(state.redeemed.map(([id, codes]) => [id, new Set(codes)]));
      calls = state.calls;
    },
  };
  return store;
}
