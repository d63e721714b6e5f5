/**
 * The store's rules, in one room: the mock store (src/store/mock-store.ts), the in-memory
 * backend (src/server/memory-backend.ts) and the PostgreSQL backend (src/db/store-repository.ts)
 * all decide with these functions, so the three cannot drift apart
 * (test/model/store-rules.test.ts runs one table of cases against all three).
 *
 * - PRODUCT_NOT_FOUND (404), INSUFFICIENT_STOCK (409): adding to the cart and checkout check stock.
 * - COUPON_INVALID (not assigned to this user), COUPON_USED, COUPON_NOT_YET_VALID,
 *   COUPON_EXPIRED (validity window against the caller's simulated time), COUPON_MIN_SPEND: 422.
 *   Checkout checks the coupon again, with its own time and the cart as it is then.
 * - The discount applies only while the subtotal meets the coupon's minimum spend.
 * - CART_EMPTY (409): an empty cart cannot be checked out.
 *
 * A rule answers with the refusal (a StoreRuleError) or null; the caller throws it, or, in the
 * mock store, turns it into the StoreCallError the HTTP client would have raised.
 * Pure: no I/O, no clock (times come from the caller).
 */
import { ShopsimError } from '../errors.ts';
import type { Cart, CartLine } from './types.ts';

/**
 * A request the store refuses: `storeCode` (COUPON_EXPIRED, CART_EMPTY…) is what the store
 * answers in `{ "error": { code, message, field } }`, sent with HTTP `status`; `field` is the
 * request field it is about, when there is one. `code` is E_STORE_RULE, as for every refusal.
 */
export class StoreRuleError extends ShopsimError {
  readonly status: number;
  readonly storeCode: string;
  readonly field: string | undefined;

  constructor(status: number, storeCode: string, message: string, field?: string) {
    super('E_STORE_RULE', message, { exitCode: 1 });
    this.name = 'StoreRuleError';
    this.status = status;
    this.storeCode = storeCode;
    this.field = field;
  }
}

export function isStoreRuleError(err: unknown): err is StoreRuleError {
  return err instanceof StoreRuleError;
}

/** The coupon applied to a cart, as much of its offer as the cart's totals need. */
export interface CouponState {
  code: string;
  discount_percent: number;
  min_spend_cents: number;
}

/** What the coupon rules need to know of an offer. */
export interface CouponTerms {
  code: string;
  valid_from: string;
  valid_until: string;
  min_spend_cents: number;
}

/** Totals of a cart: the discount applies only while the subtotal meets the minimum spend. */
export function cartView(userId: string, lines: readonly CartLine[], coupon: CouponState | null): Cart {
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

/**
 * Whether `code` may be used now, on applying it and again at checkout. `offer` is the user's
 * offer behind the code (absent: not assigned to this user), `redeemed` whether an earlier
 * order used it, `at` the caller's simulated time, `subtotalCents` the cart's subtotal.
 * The window is `[valid_from, valid_until)`, compared as instants (not as strings, which could
 * differ in format).
 */
export function couponRefusal(code: string, offer: CouponTerms | null | undefined, state: { redeemed: boolean; at: string; subtotalCents: number }): StoreRuleError | null {
  if (!offer) return new StoreRuleError(422, 'COUPON_INVALID', `coupon ${code} is not valid for this user`, 'code');
  if (state.redeemed) return new StoreRuleError(422, 'COUPON_USED', `coupon ${code} was already used`, 'code');
  const t = Date.parse(state.at);
  if (t < Date.parse(offer.valid_from)) return new StoreRuleError(422, 'COUPON_NOT_YET_VALID', `coupon ${code} is valid from ${offer.valid_from}`, 'code');
  if (t >= Date.parse(offer.valid_until)) return new StoreRuleError(422, 'COUPON_EXPIRED', `coupon ${code} expired at ${offer.valid_until}`, 'code');
  if (state.subtotalCents < offer.min_spend_cents) {
    return new StoreRuleError(422, 'COUPON_MIN_SPEND', `coupon ${code} needs a minimum spend of ${offer.min_spend_cents} cents, the cart has ${state.subtotalCents}`, 'code');
  }
  return null;
}

export function productNotFound(productId: string, field: string): StoreRuleError {
  return new StoreRuleError(404, 'PRODUCT_NOT_FOUND', `product ${productId} not found`, field);
}

/**
 * Stock against a cart line: on adding (`wanted` = the line's quantity after the add) and at
 * checkout (`wanted` = the line's quantity).
 */
export function stockRefusal(stage: 'add' | 'checkout', productId: string, wanted: number, stock: number): StoreRuleError | null {
  if (wanted <= stock) return null;
  return stage === 'add'
    ? new StoreRuleError(409, 'INSUFFICIENT_STOCK', `product ${productId}: ${wanted} wanted, ${stock} in stock`, 'quantity')
    : new StoreRuleError(409, 'INSUFFICIENT_STOCK', `product ${productId}: ${wanted} in the cart, ${stock} in stock`, 'items');
}

/** The refusal of a checkout whose cart has no lines. */
export function cartEmpty(): StoreRuleError {
  return new StoreRuleError(409, 'CART_EMPTY', 'cannot check out an empty cart');
}
