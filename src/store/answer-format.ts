/**
 * The recorded store answers' format (docs/checkpoints.md, "Recorded store answers"): what one
 * store call asked and what the shopper's decisions read of its answer, as a compact JSON array,
 * and back. Only the fields the decision functions (src/model/shopper-logic.ts) and the session
 * events read are kept; everything else of an answer is filled in on decoding (from the catalog
 * where it has it, else empty), so a replayed decision sees exactly what the recorded one saw.
 *
 *   entry  = [callSeq, method, args, ok, data]      ok 1: data is the answer; ok 0: an error
 *   error  = [kind ('rejected'|'failed'), httpStatus|null, storeCode, message]
 */
import type { Cart, Offer, Order, Product } from '../model/types.ts';
import { StoreCallError } from './store-error.ts';

export const ANSWERS_VERSION = 1;

/** Short method names (they are on every line). */
export const METHODS = {
  listProducts: 'lp',
  getProduct: 'gp',
  getCart: 'gc',
  addToCart: 'ac',
  removeFromCart: 'rc',
  clearCart: 'cc',
  listOffers: 'lo',
  applyCoupon: 'cp',
  checkout: 'co',
  startOfferCycle: 'oc',
} as const;

export type MethodName = keyof typeof METHODS;
export type MethodCode = (typeof METHODS)[MethodName];
const NAME_OF = Object.fromEntries(Object.entries(METHODS).map(([k, v]) => [v, k])) as Record<MethodCode, MethodName>;

export type Args = (string | number | null)[];
export type ErrorData = [kind: 'rejected' | 'failed', status: number | null, storeCode: string, message: string];
export type Entry = [seq: number, method: MethodCode, args: Args, ok: 0 | 1, data: unknown];

export function methodName(code: string): MethodName | null {
  return (NAME_OF as Record<string, MethodName | undefined>)[code] ?? null;
}

type P = [id: string, price: number, stock: number, rating: number];
type C = [subtotal: number, discount: number, total: number, coupon: string | null];
type O = [code: string, percent: number, minSpend: number];
type R = [orderId: string, total: number, items: number];

const product = (p: Product): P => [p.id, p.price_cents, p.stock, p.rating];
const cart = (c: Cart): C => [c.subtotal_cents, c.discount_cents, c.total_cents, c.coupon_code ?? null];

/** What decisions read of an answer, by method. */
export function encodeAnswer(method: MethodName, value: unknown): unknown {
  switch (method) {
    case 'listProducts':
      return (value as Product[]).map(product);
    case 'getProduct':
      return product(value as Product);
    case 'getCart':
    case 'addToCart':
    case 'removeFromCart':
    case 'applyCoupon':
      return cart(value as Cart);
    case 'listOffers':
      return (value as Offer[]).map((o): O => [o.code, o.discount_percent, o.min_spend_cents]);
    case 'checkout': {
      const o = value as Order;
      return [o.order_id, o.total_cents, o.items_count] satisfies R;
    }
    case 'clearCart':
      return 0;
    case 'startOfferCycle':
      return (value as { offers_assigned: number }).offers_assigned;
  }
}

export function encodeError(err: unknown): ErrorData {
  if (err instanceof StoreCallError) return [err.kind, err.status, err.storeCode, err.message];
  return ['failed', null, 'STORE_FAILED', err instanceof Error ? err.message : String(err)];
}

export function errorOf(data: ErrorData): StoreCallError {
  return new StoreCallError(data[0], data[3], { status: data[1], storeCode: data[2] });
}

const isStr = (x: unknown): x is string => typeof x === 'string';
const isNum = (x: unknown): x is number => typeof x === 'number' && Number.isFinite(x);
const isTuple = (x: unknown, n: number): x is unknown[] => Array.isArray(x) && x.length === n;

/** Throws a message naming what is malformed (the file is outside the process). */
function checkProduct(x: unknown): P {
  if (!isTuple(x, 4) || !isStr(x[0]) || !isNum(x[1]) || !isNum(x[2]) || !isNum(x[3])) throw new Error('malformed product');
  return x as P;
}

function checkCart(x: unknown): C {
  if (!isTuple(x, 4) || !isNum(x[0]) || !isNum(x[1]) || !isNum(x[2]) || !(x[3] === null || isStr(x[3]))) throw new Error('malformed cart');
  return x as C;
}

export interface DecodeContext {
  agentId: string;
  catalog: ReadonlyMap<string, Product>;
}

/** The answer a store method returns, from its recorded data; throws on malformed data. */
export function decodeAnswer(method: MethodName, data: unknown, ctx: DecodeContext): unknown {
  const toProduct = (x: unknown): Product => {
    const [id, price_cents, stock, rating] = checkProduct(x);
    const known = ctx.catalog.get(id);
    return { id, sku: known?.sku ?? id, name: known?.name ?? '', category: known?.category ?? '', price_cents, stock, rating };
  };
  const toCart = (x: unknown): Cart => {
    const [subtotal_cents, discount_cents, total_cents, coupon_code] = checkCart(x);
    return { user_id: ctx.agentId, items: [], coupon_code, subtotal_cents, discount_cents, total_cents };
  };
  switch (method) {
    case 'listProducts':
      if (!Array.isArray(data)) throw new Error('malformed product list');
      return data.map(toProduct);
    case 'getProduct':
      return toProduct(data);
    case 'getCart':
    case 'addToCart':
    case 'removeFromCart':
    case 'applyCoupon':
      return toCart(data);
    case 'listOffers':
      if (!Array.isArray(data)) throw new Error('malformed offer list');
      return data.map((x): Offer => {
        if (!isTuple(x, 3) || !isStr(x[0]) || !isNum(x[1]) || !isNum(x[2])) throw new Error('malformed offer');
        return { offer_id: x[0], code: x[0], description: '', discount_percent: x[1], min_spend_cents: x[2], offer_cycle: 0, valid_from: '', valid_until: '' };
      });
    case 'checkout': {
      if (!isTuple(data, 3) || !isStr(data[0]) || !isNum(data[1]) || !isNum(data[2])) throw new Error('malformed order');
      return { order_id: data[0], user_id: ctx.agentId, total_cents: data[1], discount_cents: 0, items_count: data[2], coupon_code: null } satisfies Order;
    }
    case 'clearCart':
      return undefined;
    case 'startOfferCycle':
      if (!isNum(data)) throw new Error('malformed offer count');
      return { offers_assigned: data };
  }
}

export function checkErrorData(x: unknown): ErrorData {
  if (!isTuple(x, 4) || (x[0] !== 'rejected' && x[0] !== 'failed') || !(x[1] === null || isNum(x[1])) || !isStr(x[2]) || !isStr(x[3])) throw new Error('malformed error');
  return x as ErrorData;
}

/** `getProduct("p-12")`: a request as people read it. */
export function describeRequest(method: string, args: Args): string {
  return `${methodName(method) ?? method}(${args.map((a) => JSON.stringify(a)).join(', ')})`;
}

export function sameArgs(a: Args, b: unknown): boolean {
  if (!Array.isArray(b) || a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** `answers_<run-id>.jsonl`, beside the run's checkpoints. */
export function answersFileName(runId: string): string {
  return `answers_${runId}.jsonl`;
}
