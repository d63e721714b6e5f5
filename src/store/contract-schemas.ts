/**
 * The store contract's answers (docs/store-api.yaml, components.schemas) as zod schemas, and
 * the one function that checks an answer against them. A store is outside the process: what it
 * answers is checked before anything reads it, so a body of the wrong shape is that agent's
 * store failure (BAD_RESPONSE, naming the endpoint and the first wrong field), never a crash
 * and never a success. The mock store's answers pass the same schemas (test/store/contract-schemas.test.ts).
 */
import { z } from 'zod';
import { StoreCallError } from './store-error.ts';

const int = z.number().int();
const nonNegInt = int.min(0);

export const productSchema = z.object({
  id: z.string().min(1),
  sku: z.string(),
  name: z.string(),
  category: z.string(),
  price_cents: nonNegInt,
  stock: int,
  rating: z.number().min(0).max(5),
});

/** shopsim reads only `items`; page, page_size and total are required by the contract, so checked too. */
export const productPageSchema = z.object({
  items: z.array(productSchema),
  page: int.min(1),
  page_size: int.min(1).max(100),
  total: nonNegInt,
});

export const cartLineSchema = z.object({ product_id: z.string().min(1), quantity: int.min(1), unit_price_cents: nonNegInt });

export const cartSchema = z.object({
  user_id: z.string(),
  items: z.array(cartLineSchema),
  coupon_code: z.string().nullable(),
  subtotal_cents: int,
  discount_cents: int,
  total_cents: int,
});

export const offerSchema = z.object({
  offer_id: z.string(),
  code: z.string().min(1),
  description: z.string(),
  discount_percent: int.min(0).max(100),
  min_spend_cents: nonNegInt,
  offer_cycle: int,
  valid_from: z.string().datetime({ offset: true }),
  valid_until: z.string().datetime({ offset: true }),
});

export const offerListSchema = z.object({ offer_cycle: int.nullable(), offers: z.array(offerSchema) });

/** A completed checkout names its order: an answer without an order id is a failure, never revenue. */
export const orderSchema = z.object({
  order_id: z.string().min(1),
  user_id: z.string(),
  total_cents: int,
  discount_cents: int,
  items_count: int.min(1),
  coupon_code: z.string().nullable(),
});

export const offerCycleAnswerSchema = z.object({ offers_assigned: nonNegInt });

/** `items.3.price_cents: Expected number, received string` — the first issue zod reports. */
export function firstIssue(error: z.ZodError): string {
  const issue = error.issues[0];
  if (!issue) return 'does not match';
  const where = issue.path.length > 0 ? issue.path.join('.') : '(body)';
  return `${where}: ${issue.message}`;
}

/**
 * Returns `value` as the schema's type, or throws StoreCallError 'failed' with code
 * BAD_RESPONSE: "GET /products: the answer does not match the store contract: items: Expected array, received string".
 */
export function checkAnswer<S extends z.ZodTypeAny>(endpoint: string, schema: S, value: unknown): z.output<S> {
  const r = schema.safeParse(value);
  if (r.success) return r.data as z.output<S>;
  throw new StoreCallError('failed', `${endpoint}: the answer does not match the store contract: ${firstIssue(r.error).slice(0, 200)}`, { storeCode: 'BAD_RESPONSE' });
}
