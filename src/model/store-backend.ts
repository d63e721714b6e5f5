/**
 * What the reference store server needs from its storage. Two implementations: in memory
 * (src/server/memory-backend.ts: tests, `--mock-db`) and PostgreSQL (src/db/store-repository.ts).
 * Both enforce the rules of src/model/store-rules.ts (as does the mock store, src/store/mock-store.ts)
 * and throw its StoreRuleError.
 */
import type { AssignedOffer } from './offers.ts';
import type { Cart, Offer, OfferCycleRequest, Order, Product } from './types.ts';

export interface ProductPage {
  items: Product[];
  total: number;
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
  /** @throws StoreRuleError PRODUCT_NOT_FOUND, INSUFFICIENT_STOCK (the cart is left as it was). */
  addToCart(userId: string, productId: string, quantity: number): Promise<Cart>;
  /** Removing a product that is not in the cart is not an error; the coupon stays. */
  removeFromCart(userId: string, productId: string): Promise<Cart>;
  /** Empties the cart and drops its coupon. */
  clearCart(userId: string): Promise<void>;
  /** The user's offers of the current offer cycle that were not redeemed. */
  listOffers(userId: string): Promise<{ offer_cycle: number | null; offers: Offer[] }>;
  /** @throws StoreRuleError COUPON_* (see couponRefusal). */
  applyCoupon(userId: string, code: string, at: string): Promise<Cart>;
  /**
   * Idempotent per (user, key): a replay returns the first order.
   * @throws StoreRuleError CART_EMPTY, COUPON_* (the coupon is checked again), INSUFFICIENT_STOCK,
   * IDEMPOTENCY_CONFLICT (PostgreSQL: the key is held by a checkout that did not finish).
   */
  checkout(userId: string, idempotencyKey: string, at: string): Promise<{ order: Order; replayed: boolean }>;
  /**
   * Makes the cycle current with these offers, drops coupons applied to carts (their codes
   * belong to the old cycle), and restocks every product below its catalog stock level up to
   * it (the weekly delivery).
   */
  startOfferCycle(request: OfferCycleRequest, offers: AssignedOffer[]): Promise<{ offers_assigned: number; products_restocked: number }>;
  stats(): Promise<BackendStats>;
  close(): Promise<void>;
}
