/**
 * The store calls of each shopper step, over any StoreApi (mock or HTTP). They answer the
 * shopper machine's effects (provided as actions in src/simulation/provide-machines.ts), and
 * the plain-loop baseline in test/bench awaits the same functions. Each step numbers its
 * calls from the `callsBefore` of its input, so the n-th call of an agent's cycle has the
 * same number in every run. Inputs and answers are the machine's (machines/shopper.types.ts).
 */
import type {
  BrowseInput,
  BrowseOutput,
  CartInput,
  CartOutput,
  CheckoutInput,
  CouponInput,
  CouponOutcome,
  StepBase,
} from '../../machines/shopper.types.ts';
import type { Cart, CallContext, Offer, Order, Product, StoreApi } from '../model/types.ts';
import { PAGE_SIZE } from '../model/shopper-logic.ts';
import { StoreCallError } from '../store/store-error.ts';

function ctxFor(base: StepBase, n: number): CallContext {
  return { agentId: base.agentId, agentIndex: base.agentIndex, cycle: base.cycle, at: base.at, callSeq: base.callsBefore + n };
}

/** The error a step fails with: the call's own, carrying the step's count of calls made. */
function annotate(err: unknown, calls: number): never {
  if (err instanceof StoreCallError) {
    throw new StoreCallError(err.kind, err.message, { status: err.status, storeCode: err.storeCode, calls, cause: err.cause });
  }
  throw new StoreCallError('failed', err instanceof Error ? err.message : String(err), { calls, cause: err });
}

/**
 * List a category page, then open the detail page of one listed product per view draw. Which
 * product a draw opens is the shopper's choice (a draw in [0, 1) scaled over the listed page),
 * made here because it needs the store's answer and the draws were taken when the session opened.
 */
export async function browseStep(store: StoreApi, input: BrowseInput): Promise<BrowseOutput> {
  let calls = 0;
  try {
    calls++;
    const products = await store.listProducts(ctxFor(input, calls), { category: input.category, page: input.page, pageSize: PAGE_SIZE });
    const viewed: Product[] = [];
    if (products.length > 0) {
      for (const draw of input.viewDraws) {
        const pick = products[Math.floor(draw * products.length)] as Product;
        calls++;
        viewed.push(await store.getProduct(ctxFor(input, calls), pick.id));
      }
    }
    return { products, viewed, calls };
  } catch (err) {
    return annotate(err, calls);
  }
}

export async function addToCartStep(store: StoreApi, input: CartInput): Promise<CartOutput> {
  let calls = 0;
  try {
    let cart: Cart | null = null;
    for (const item of input.items) {
      calls++;
      cart = await store.addToCart(ctxFor(input, calls), item.productId, item.quantity);
    }
    if (!cart) throw new StoreCallError('failed', 'no items to add', { calls });
    return { cart, calls };
  } catch (err) {
    return annotate(err, calls);
  }
}

export async function offersStep(store: StoreApi, input: StepBase): Promise<Offer[]> {
  try {
    return await store.listOffers(ctxFor(input, 1));
  } catch (err) {
    return annotate(err, 1);
  }
}

/** Apply a coupon; a refusal (invalid, expired, minimum spend) is an outcome, not a failure. */
export async function couponStep(store: StoreApi, input: CouponInput): Promise<CouponOutcome> {
  try {
    return { applied: true, cart: await store.applyCoupon(ctxFor(input, 1), input.code) };
  } catch (err) {
    if (err instanceof StoreCallError && err.kind === 'rejected') return { applied: false, reason: err.message };
    return annotate(err, 1);
  }
}

export async function checkoutStep(store: StoreApi, input: CheckoutInput): Promise<Order> {
  try {
    return await store.checkout(ctxFor(input, 1), input.idempotencyKey);
  } catch (err) {
    return annotate(err, 1);
  }
}

/** Best effort: the failure path clears the cart; a failure to clear is ignored (the store's orphan clean-up catches it). */
export async function clearCartStep(store: StoreApi, input: StepBase): Promise<void> {
  try {
    await store.clearCart(ctxFor(input, 1));
  } catch {
    // ignored on purpose
  }
}
