/**
 * The store contract's answers (docs/store-api.yaml, components.schemas) as zod schemas, and
 * the one function that checks an answer against them. A store is outside the process: what it
 * answers is checked before anything reads it, so a body of the wrong shape is that agent's
 * store failure (BAD_RESPONSE, naming the endpoint and the first wrong field), never a crash
 * and never a success. The mock store's answers pass the same schemas (test/store/contract-schemas.test.ts).
 */
// zod's v4 engine (shipped inside the pinned zod 3.25 as `zod/v4`): it checks a page of 20
// products in about a third of v3's time, and these checks run on every store answer — zod was
// 5.5 % of the client's CPU in the BENCH=e2e profile. Its messages are put back into v3's words
// below, so what a user reads (and docs/ quotes) does not change.
import { z } from 'zod/v4';
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

type Issue = z.core.$ZodIssue;

/** One issue in the words zod 3 used (the v4 engine words them differently). */
function issueMessage(issue: Issue): string {
  switch (issue.code) {
    case 'invalid_type': {
      // v4 leaves `input` out when it was undefined: a missing field.
      if (!('input' in issue) || issue.input === undefined) return 'Required';
      const received = /received (\w+)$/.exec(issue.message)?.[1] ?? typeof issue.input;
      if (issue.expected === 'int') return `Expected integer, received ${received === 'number' ? 'float' : received}`;
      return `Expected ${issue.expected}, received ${received}`;
    }
    case 'too_small': {
      const min = String(issue.minimum);
      if (issue.origin === 'string') return `String must contain at least ${min} character(s)`;
      if (issue.origin === 'array') return `Array must contain at least ${min} element(s)`;
      return `Number must be greater than ${issue.inclusive ? 'or equal to ' : ''}${min}`;
    }
    case 'too_big': {
      const max = String(issue.maximum);
      if (issue.origin === 'string') return `String must contain at most ${max} character(s)`;
      if (issue.origin === 'array') return `Array must contain at most ${max} element(s)`;
      return `Number must be less than ${issue.inclusive ? 'or equal to ' : ''}${max}`;
    }
    case 'invalid_format':
      return issue.format === 'datetime' ? 'Invalid datetime' : `Invalid ${issue.format}`;
    default:
      return issue.message;
  }
}

/** `items.3.price_cents: Expected number, received string` — the first issue zod reports. */
export function firstIssue(error: z.ZodError): string {
  const issue = error.issues[0];
  if (!issue) return 'does not match';
  const where = issue.path.length > 0 ? issue.path.map(String).join('.') : '(body)';
  return `${where}: ${issueMessage(issue)}`;
}

/**
 * Returns `value` as the schema's type, or throws StoreCallError 'failed' with code
 * BAD_RESPONSE: "GET /products: the answer does not match the store contract: items: Expected array, received string".
 */
export function checkAnswer<S extends z.ZodType>(endpoint: string, schema: S, value: unknown): z.output<S> {
  const r = schema.safeParse(value, { reportInput: true });
  if (r.success) return r.data as z.output<S>;
  throw new StoreCallError('failed', `${endpoint}: the answer does not match the store contract: ${firstIssue(r.error).slice(0, 200)}`, { storeCode: 'BAD_RESPONSE' });
}
