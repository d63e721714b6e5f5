/**
 * A cohort job run again (its worker was lost mid-cycle) against a real store must not make its
 * calls twice: the first attempt's carts, coupons and orders are already in the store. So every
 * answer a worker thread gets is sent to the coordinator (the commit relay's /answers, ./job-edges.ts)
 * before the shopper reads it, and a job first asks for the answers recorded for its (cycle,
 * cohort): a call already answered — same agent, call number, method and arguments — is served
 * from the record; the others go to the store. A call whose answer was in flight when the worker
 * died is the one that can go to the store twice (its answer never reached the coordinator).
 */
import type { CallContext, Product, StoreApi } from '../model/types.ts';
import { decodeAnswer, errorOf, checkErrorData, METHODS, sameArgs, type Entry, type MethodName } from '../store/answer-format.ts';
import { callArgs, createRecordingStore } from '../store/recording-store.ts';

type AgentMethod = Exclude<MethodName, 'startOfferCycle'>;
const AGENT_METHODS: AgentMethod[] = ['listProducts', 'getProduct', 'getCart', 'addToCart', 'removeFromCart', 'clearCart', 'listOffers', 'applyCoupon', 'checkout'];

/** A call's key in the record: cycle, agent index, call number (a record of one cycle never answers another's calls). */
export const answerKey = (ctx: Pick<CallContext, 'cycle' | 'agentIndex' | 'callSeq'>) => `${ctx.cycle}:${ctx.agentIndex}:${ctx.callSeq}`;

/**
 * `inner` with the recorded answers served first and every answer handed to `post` (awaited)
 * before it is returned. `served` counts the calls answered from the record.
 */
export function servedFirstStore(inner: StoreApi, recorded: Map<string, Entry>, options: { catalog: ReadonlyMap<string, Product>; post: (ctx: CallContext, entry: Entry) => Promise<unknown> }): StoreApi & { served(): number } {
  let served = 0;
  const serving = {} as StoreApi;
  for (const m of AGENT_METHODS) {
    (serving as unknown as Record<string, unknown>)[m] = (ctx: CallContext, ...rest: unknown[]) => {
      const entry = recorded.get(answerKey(ctx));
      if (entry && entry[1] === METHODS[m] && sameArgs(callArgs(m, rest), entry[2])) {
        recorded.delete(answerKey(ctx));
        served++;
        if (entry[3] === 0) return Promise.reject(errorOf(checkErrorData(entry[4])));
        return Promise.resolve(decodeAnswer(m, entry[4], { agentId: ctx.agentId, catalog: options.catalog }));
      }
      return (inner[m] as (...a: unknown[]) => Promise<unknown>)(ctx, ...rest);
    };
  }
  serving.startOfferCycle = (req) => inner.startOfferCycle(req);
  const posting = new Map<string, Promise<unknown>>();
  const recording = createRecordingStore(serving, {
    add(ctx, entry) {
      if (ctx) posting.set(answerKey(ctx), options.post(ctx, entry).catch(() => undefined));
    },
  });
  const out = { served: () => served } as StoreApi & { served(): number };
  for (const m of AGENT_METHODS) {
    (out as unknown as Record<string, unknown>)[m] = async (ctx: CallContext, ...rest: unknown[]) => {
      try {
        return await (recording[m] as (...a: unknown[]) => Promise<unknown>)(ctx, ...rest);
      } finally {
        const k = answerKey(ctx);
        const p = posting.get(k);
        posting.delete(k);
        await p;
      }
    };
  }
  out.startOfferCycle = (req) => inner.startOfferCycle(req);
  return out;
}
