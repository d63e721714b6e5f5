/**
 * A StoreApi around another one that hands every call — what was asked and what the decisions
 * read of the answer (src/store/answer-format.ts) — to a sink, keyed by (cycle, agent index,
 * call number) from the call's own context, so what is recorded never depends on the order in
 * which agents' calls complete. The answer (or error) is passed on unchanged.
 */
import type { CallContext, StoreApi } from '../model/types.ts';
import { encodeAnswer, encodeError, METHODS, type Args, type Entry, type MethodName } from './answer-format.ts';

export interface AnswerSink {
  /** One finished call. `ctx` is null for the offer-cycle start (the orchestrator's, not an agent's). */
  add(ctx: CallContext | null, entry: Entry): void;
}

/** The recorded arguments of an agent's call, as the recording keeps them (the replay compares them). */
export function callArgs(method: Exclude<MethodName, 'startOfferCycle'>, rest: unknown[]): Args {
  switch (method) {
    case 'listProducts': {
      const q = rest[0] as { category?: string; search?: string; page: number; pageSize: number };
      return [q.category ?? null, q.search ?? null, q.page, q.pageSize];
    }
    case 'getProduct':
    case 'removeFromCart':
    case 'applyCoupon':
    case 'checkout':
      return [rest[0] as string];
    case 'addToCart':
      return [rest[0] as string, rest[1] as number];
    case 'getCart':
    case 'clearCart':
    case 'listOffers':
      return [];
  }
}

export function createRecordingStore(inner: StoreApi, sink: AnswerSink): StoreApi {
  function wrap<T>(method: MethodName, ctx: CallContext | null, seq: number, args: Args, call: Promise<T>): Promise<T> {
    const code = METHODS[method];
    return call.then(
      (value) => {
        sink.add(ctx, [seq, code, args, 1, encodeAnswer(method, value)]);
        return value;
      },
      (err: unknown) => {
        sink.add(ctx, [seq, code, args, 0, encodeError(err)]);
        throw err;
      },
    );
  }
  return {
    listProducts: (ctx, q) => wrap('listProducts', ctx, ctx.callSeq, [q.category ?? null, q.search ?? null, q.page, q.pageSize], inner.listProducts(ctx, q)),
    getProduct: (ctx, id) => wrap('getProduct', ctx, ctx.callSeq, [id], inner.getProduct(ctx, id)),
    getCart: (ctx) => wrap('getCart', ctx, ctx.callSeq, [], inner.getCart(ctx)),
    addToCart: (ctx, id, qty) => wrap('addToCart', ctx, ctx.callSeq, [id, qty], inner.addToCart(ctx, id, qty)),
    removeFromCart: (ctx, id) => wrap('removeFromCart', ctx, ctx.callSeq, [id], inner.removeFromCart(ctx, id)),
    clearCart: (ctx) => wrap('clearCart', ctx, ctx.callSeq, [], inner.clearCart(ctx)),
    listOffers: (ctx) => wrap('listOffers', ctx, ctx.callSeq, [], inner.listOffers(ctx)),
    applyCoupon: (ctx, code) => wrap('applyCoupon', ctx, ctx.callSeq, [code], inner.applyCoupon(ctx, code)),
    checkout: (ctx, key) => wrap('checkout', ctx, ctx.callSeq, [key], inner.checkout(ctx, key)),
    startOfferCycle: (req) => wrap('startOfferCycle', null, req.offer_cycle, [req.offer_cycle, req.starts_at, req.ends_at], inner.startOfferCycle(req)),
  };
}
