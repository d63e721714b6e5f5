/**
 * What the reference store server needs from its storage. Two implementations: in memory
 * (src/server/memory-backend.ts: tests, `--mock-db`) and PostgreSQL (src/db/store-repository.ts).
 * Both enforce the same rules and throw StoreRuleError with the same codes:
 *
 * - PRODUCT_NOT_FOUND (404), INSUFFICIENT_STOCK (409): add to cart and checkout check stock;
 *   checkout decrements it.
 * - COUPON_INVALID (not assigned to this user), COUPON_USED, COUPON_NOT_YET_VALID,
 *   COUPON_EXPIRED (validity window against the caller's simulated time), COUPON_MIN_SPEND: 422.
 * - CART_EMPTY (409): an empty cart cannot be checked out.
 * - Checkout is idempotent per (user, Idempotency-Key): a replay returns the first order.
 * - A new offer cycle drops coupons applied to carts (their codes belong to the old cycle).
 */
import { offersForAgent } from '../model/offers.ts';
import type { Cart, Offer, OfferCycleRequest, Order, Product } from '../model/types.ts';

export interface ProductPage {
  items: Product[];
  total: number;
}

export interface AssignedOffer extends Offer {
  user_id: string;
}

export interface BackendStats {
  orders: number;
  order_items: number;
  revenue_cents: number;
  carts_with_items: number;
  offer_cycle: number | null;
}

export interface StoreBackend {
  readonly kind: 'memory' | 'postgres';
  listProducts(query: { category?: string; search?: string; page: number; pageSize: number }): Promise<ProductPage>;
  getProduct(productId: string): Promise<Product | null>;
  getCart(userId: string): Promise<Cart>;
  addToCart(userId: string, productId: string, quantity: number): Promise<Cart>;
  /** Removing a product that is not in the cart is not an error. */
  removeFromCart(userId: string, productId: string): Promise<Cart>;
  /** Empties the cart and drops its coupon. */
  clearCart(userId: string): Promise<void>;
  /** The user's offers of the current offer cycle that were not redeemed. */
  listOffers(userId: string): Promise<{ offer_cycle: number | null; offers: Offer[] }>;
  applyCoupon(userId: string, code: string, at: string): Promise<Cart>;
  checkout(userId: string, idempotencyKey: string, at: string): Promise<{ order: Order; replayed: boolean }>;
  /**
   * Makes the cycle current with these offers, drops coupons applied to carts, and restocks every
   * product below its catalog stock level up to it (the weekly delivery).
   */
  startOfferCycle(request: OfferCycleRequest, offers: AssignedOffer[]): Promise<{ offers_assigned: number; products_restocked: number }>;
  stats(): Promise<BackendStats>;
  close(): Promise<void>;
}


/**
 * The offers of a cycle: 0–3 per user, 5–30% off, minimum spend 0–50 €, valid for the whole
 * cycle. Same seed and users, same offers — and the same as the mock store's (by user position).
 */
export function planOffers(seed: number, req: OfferCycleRequest): AssignedOffer[] {
  const window = { number: req.offer_cycle, startsAt: req.starts_at, endsAt: req.ends_at };
  return req.user_ids.flatMap((userId, i) => offersForAgent(seed, window, i, userId).map((o) => ({ user_id: userId, ...o })));
}

export interface CartLineState {
  product_id: string;
  quantity: number;
  unit_price_cents: number;
}

export interface CouponState {
  code: string;
  discount_percent: number;
  min_spend_cents: number;
}

/** Totals of a cart: the discount applies only while the subtotal meets the minimum spend. */
export function cartView(userId: string, lines: CartLineState[], coupon: CouponState | null): Cart {
  let subtotal = 0;
  for (const l of lines) subtotal += l.unit_price_cents * l.quantity;
  const discount = coupon && subtotal >= coupon.min_spend_cents ? Math.floor((subtotal * coupon.discount_percent) / 100) : 0;
  return {
    user_id: userId,
    items: lines.map((l) => ({ product_id: l.product_id, quantity: l.quantity, unit_price_cents: l.unit_price_cents })),
    coupon_code: coupon?.code ?? null,
    subtotal_cents: subtotal,
    discount_cents: discount,
    total_cents: subtotal - discount,
  };
}

/** ISO strings of the same format compare as instants; parse to be safe with offsets. */
export function couponWindowError(offer: { code: string; valid_from: string; valid_until: string }, at: string): { code: string; message: string } | null {
  const t = Date.parse(at);
  if (t < Date.parse(offer.valid_from)) return { code: 'COUPON_NOT_YET_VALID', message: `coupon ${offer.code} is valid from ${offer.valid_from}` };
  if (t >= Date.parse(offer.valid_until)) return { code: 'COUPON_EXPIRED', message: `coupon ${offer.code} expired at ${offer.valid_until}` };
  return null;
}
