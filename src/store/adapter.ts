/**
 * An adapter: shopsim against a store whose HTTP API is not shopsim's contract. It keeps
 * shopsim's transport (token bucket, keep-alive pool, 429/Retry-After, timeouts, latency per
 * endpoint) and only says how each StoreApi call maps onto the other API:
 *
 *   const store = createHttpStore({ baseUrl, routes: basketApiRoutes, parseError: parseBasketApiError });
 *
 * The API below ("basket API v2": bearer user, SKUs, vouchers, campaigns) is an example of the
 * shape a real shop has; copy this file and change the paths and field names for yours. Rules:
 * a business refusal must come back as a 4xx (a StoreCallError 'rejected': the shopper goes on),
 * an outage as 5xx / timeout ('failed': the failure path and the circuit breaker); send the
 * idempotency key with the checkout; take "now" from `ctx.at` (simulated time) if the store
 * checks validity windows.
 */
import type { Cart, CallContext, Offer, Order, Product } from '../model/types.ts';
import type { StoreRoutes } from './http-store.ts';

interface BasketProduct { sku: string; title: string; category: string; price: { amount_cents: number }; stock: number; stars: number }
interface BasketCart { customer: string; lines: { sku: string; qty: number; unit_price_cents: number }[]; voucher: string | null; totals: { subtotal: number; discount: number; total: number } }
interface BasketVoucher { id: string; code: string; percent_off: number; min_spend_cents: number; campaign: number; starts: string; ends: string }
interface BasketOrder { id: string; customer: string; total_cents: number; discount_cents: number; item_count: number; voucher: string | null }

const product = (p: BasketProduct): Product => ({ id: p.sku, sku: p.sku, name: p.title, category: p.category, price_cents: p.price.amount_cents, stock: p.stock, rating: p.stars });

const cart = (c: BasketCart): Cart => ({
  user_id: c.customer,
  items: c.lines.map((l) => ({ product_id: l.sku, quantity: l.qty, unit_price_cents: l.unit_price_cents })),
  coupon_code: c.voucher,
  subtotal_cents: c.totals.subtotal,
  discount_cents: c.totals.discount,
  total_cents: c.totals.total,
});

const offer = (v: BasketVoucher): Offer => ({
  offer_id: v.id,
  code: v.code,
  description: `${v.percent_off}% off`,
  discount_percent: v.percent_off,
  min_spend_cents: v.min_spend_cents,
  offer_cycle: v.campaign,
  valid_from: v.starts,
  valid_until: v.ends,
});

const order = (o: BasketOrder): Order => ({ order_id: o.id, user_id: o.customer, total_cents: o.total_cents, discount_cents: o.discount_cents, items_count: o.item_count, coupon_code: o.voucher });

/** Who is asking and when (simulated): this API wants a bearer token and an `X-Clock` header. */
const as = (ctx: CallContext) => ({ authorization: `Bearer ${ctx.agentId}`, 'x-clock': ctx.at });

export const basketApiRoutes: StoreRoutes = (call) => ({
  async listProducts(ctx, q) {
    const params = new URLSearchParams({ page: String(q.page), per_page: String(q.pageSize) });
    if (q.category) params.set('cat', q.category);
    if (q.search) params.set('q', q.search);
    const res = await call<{ data: BasketProduct[] }>({ endpoint: 'GET catalog', method: 'GET', path: `/api/v2/catalog?${params}`, ctx, headers: as(ctx) });
    return res.data.map(product);
  },
  async getProduct(ctx, id) {
    return product(await call<BasketProduct>({ endpoint: 'GET catalog/:sku', method: 'GET', path: `/api/v2/catalog/${encodeURIComponent(id)}`, ctx, headers: as(ctx) }));
  },
  async getCart(ctx) {
    return cart(await call<BasketCart>({ endpoint: 'GET basket', method: 'GET', path: '/api/v2/basket', ctx, headers: as(ctx) }));
  },
  async addToCart(ctx, id, qty) {
    return cart(await call<BasketCart>({ endpoint: 'POST basket/lines', method: 'POST', path: '/api/v2/basket/lines', ctx, headers: as(ctx), body: { sku: id, qty } }));
  },
  async removeFromCart(ctx, id) {
    return cart(await call<BasketCart>({ endpoint: 'DELETE basket/lines/:sku', method: 'DELETE', path: `/api/v2/basket/lines/${encodeURIComponent(id)}`, ctx, headers: as(ctx) }));
  },
  async clearCart(ctx) {
    await call<void>({ endpoint: 'DELETE basket', method: 'DELETE', path: '/api/v2/basket', ctx, headers: as(ctx) });
  },
  async listOffers(ctx) {
    const res = await call<{ vouchers: BasketVoucher[] }>({ endpoint: 'GET vouchers', method: 'GET', path: '/api/v2/vouchers', ctx, headers: as(ctx) });
    return res.vouchers.map(offer);
  },
  async applyCoupon(ctx, code) {
    return cart(await call<BasketCart>({ endpoint: 'POST basket/voucher', method: 'POST', path: '/api/v2/basket/voucher', ctx, headers: as(ctx), body: { code } }));
  },
  async checkout(ctx, key) {
    const res = await call<{ order: BasketOrder }>({ endpoint: 'POST orders', method: 'POST', path: '/api/v2/orders', ctx, headers: { ...as(ctx), 'idempotency-key': key }, body: {} });
    return order(res.order);
  },
  startOfferCycle(req) {
    return call<{ assigned: number }>({
      endpoint: 'POST campaigns',
      method: 'POST',
      path: '/api/v2/campaigns',
      body: { number: req.offer_cycle, starts: req.starts_at, ends: req.ends_at, customers: req.user_ids },
    }).then((r) => ({ offers_assigned: r.assigned }));
  },
});

/** This API's error body: `{ "errorCode": "VOUCHER_EXPIRED", "detail": "…" }`. */
export function parseBasketApiError(_status: number, body: string): { code?: string; message?: string } {
  try {
    const e = JSON.parse(body) as { errorCode?: unknown; detail?: unknown };
    return { ...(typeof e.errorCode === 'string' ? { code: e.errorCode } : {}), ...(typeof e.detail === 'string' ? { message: e.detail } : {}) };
  } catch {
    return {};
  }
}
