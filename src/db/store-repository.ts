/**
 * The reference store's StoreBackend on PostgreSQL (migration 002_store.sql; products from
 * 001_core). Each request is one transaction on one connection — nothing inside a transaction
 * waits on another connection (the embedded database has a pool of one). Checkout locks the
 * cart's product rows in id order (no deadlocks between concurrent checkouts), checks and
 * decrements stock, writes the order and its items, redeems the coupon and empties the cart;
 * its idempotency row is inserted first, so a concurrent retry with the same key waits and then
 * returns the same order.
 */
import { sql, type DatabasePool, type DatabaseTransactionConnection } from 'slonik';
import { z } from 'zod';
import type { AssignedOffer } from '../model/offers.ts';
import { orderIdFor } from '../model/order-id.ts';
import type { BackendStats, StoreBackend } from '../model/store-backend.ts';
import { cartEmpty, cartView, couponRefusal, isStoreRuleError, productNotFound, stockRefusal, StoreRuleError } from '../model/store-rules.ts';
import type { Cart, Offer, OfferCycleRequest, Order, Product } from '../model/types.ts';

type Tx = DatabaseTransactionConnection;

const productRow = z.object({
  id: z.string(),
  sku: z.string(),
  name: z.string(),
  category: z.string(),
  price_cents: z.number(),
  stock: z.number(),
  rating: z.coerce.number(),
  total: z.number().optional(),
});
const lineRow = z.object({ product_id: z.string(), quantity: z.number(), unit_price_cents: z.number() });
const couponRow = z.object({ code: z.string(), discount_percent: z.number(), min_spend_cents: z.number() });
const offerRow = z.object({
  offer_id: z.string(),
  code: z.string(),
  description: z.string(),
  discount_percent: z.number(),
  min_spend_cents: z.number(),
  offer_cycle: z.number(),
  valid_from_ms: z.number(),
  valid_until_ms: z.number(),
  redeemed: z.boolean().optional(),
});
const orderRow = z.object({
  id: z.string(),
  user_id: z.string(),
  total_cents: z.number(),
  discount_cents: z.number(),
  items_count: z.number(),
  coupon_code: z.string().nullable(),
});
const countRow = z.object({ n: z.number() });
const idRow = z.object({ id: z.string() });
const stockRow = z.object({ id: z.string(), stock: z.number() });
const statsRow = z.object({ orders: z.number(), order_items: z.number(), revenue_cents: z.number(), carts_with_items: z.number(), offer_cycle: z.number().nullable() });
const keyRow = z.object({ order_id: z.string().nullable() });

const PRODUCT_COLUMNS = sql.fragment`id, sku, name, category, price_cents, stock, rating::float8 AS rating`;

function toProduct(r: z.infer<typeof productRow>): Product {
  return { id: r.id, sku: r.sku, name: r.name, category: r.category, price_cents: r.price_cents, stock: r.stock, rating: r.rating };
}

function toOffer(r: z.infer<typeof offerRow>): Offer {
  return {
    offer_id: r.offer_id,
    code: r.code,
    description: r.description,
    discount_percent: r.discount_percent,
    min_spend_cents: r.min_spend_cents,
    offer_cycle: r.offer_cycle,
    valid_from: new Date(r.valid_from_ms).toISOString(),
    valid_until: new Date(r.valid_until_ms).toISOString(),
  };
}

function toOrder(r: z.infer<typeof orderRow>): Order {
  return { order_id: r.id, user_id: r.user_id, total_cents: r.total_cents, discount_cents: r.discount_cents, items_count: r.items_count, coupon_code: r.coupon_code };
}

async function cartOf(q: Tx | DatabasePool, userId: string): Promise<Cart> {
  const lines = await q.any(sql.type(lineRow)`
    SELECT product_id, quantity, unit_price_cents FROM cart_items WHERE user_id = ${userId} ORDER BY added_at, product_id`);
  const coupon = await q.maybeOne(sql.type(couponRow)`SELECT code, discount_percent, min_spend_cents FROM cart_coupons WHERE user_id = ${userId}`);
  return cartView(userId, [...lines], coupon);
}

/** The offer behind a code for this user, checked against the rules. @throws StoreRuleError COUPON_* */
async function checkCoupon(tx: Tx, userId: string, code: string, at: string, subtotal: number): Promise<z.infer<typeof offerRow>> {
  const offer = await tx.maybeOne(sql.type(offerRow)`
    SELECT o.offer_id, o.code, o.description, o.discount_percent, o.min_spend_cents, o.offer_cycle,
           (extract(epoch FROM o.valid_from) * 1000)::float8 AS valid_from_ms,
           (extract(epoch FROM o.valid_until) * 1000)::float8 AS valid_until_ms,
           (a.redeemed_at IS NOT NULL) AS redeemed
    FROM offer_assignments a JOIN offers o ON o.offer_id = a.offer_id
    WHERE a.user_id = ${userId} AND a.code = ${code}`);
  const terms = offer && { code, valid_from: new Date(offer.valid_from_ms).toISOString(), valid_until: new Date(offer.valid_until_ms).toISOString(), min_spend_cents: offer.min_spend_cents };
  const refusal = couponRefusal(code, terms, { redeemed: offer?.redeemed === true, at, subtotalCents: subtotal });
  if (refusal) throw refusal;
  return offer as z.infer<typeof offerRow>;
}

/** Inserts the products that are not in the table yet (an existing store keeps its stock). */
export async function seedProducts(pool: DatabasePool, products: Product[]): Promise<number> {
  if (products.length === 0) return 0;
  const rows = products.map((p) => [p.id, p.sku, p.name, p.category, p.price_cents, p.stock, p.rating]);
  const inserted = await pool.any(sql.type(idRow)`
    INSERT INTO products (id, sku, name, category, price_cents, stock, rating)
    SELECT * FROM ${sql.unnest(rows, ['text', 'text', 'text', 'text', 'int4', 'int4', 'numeric'])}
    ON CONFLICT (id) DO NOTHING
    RETURNING id`);
  return inserted.length;
}

/**
 * A known store state for a new run: empties the store's carts, coupons, offers, orders and
 * idempotency keys and sets the products to exactly the catalog (stock included), in one
 * transaction. Only the bundled store of a run does this (src/server/in-process-store.ts); the
 * simulation's own tables (runs, sessions, events) are not touched.
 */
export async function resetStore(pool: DatabasePool, products: Product[]): Promise<void> {
  await pool.transaction(async (tx) => {
    await tx.query(sql.unsafe`DELETE FROM cart_coupons`);
    await tx.query(sql.unsafe`DELETE FROM cart_items`);
    await tx.query(sql.unsafe`DELETE FROM carts`);
    await tx.query(sql.unsafe`DELETE FROM offer_assignments`);
    await tx.query(sql.unsafe`DELETE FROM offers`);
    await tx.query(sql.unsafe`DELETE FROM offer_cycles`);
    await tx.query(sql.unsafe`DELETE FROM idempotency_keys`);
    await tx.query(sql.unsafe`DELETE FROM order_items`);
    await tx.query(sql.unsafe`DELETE FROM orders`);
    const ids = products.map((p) => p.id);
    await tx.query(sql.unsafe`DELETE FROM products WHERE NOT (id = ANY (${sql.array(ids, 'text')}))`);
    if (products.length === 0) return;
    const rows = products.map((p) => [p.id, p.sku, p.name, p.category, p.price_cents, p.stock, p.rating]);
    await tx.query(sql.unsafe`
      INSERT INTO products (id, sku, name, category, price_cents, stock, rating)
      SELECT * FROM ${sql.unnest(rows, ['text', 'text', 'text', 'text', 'int4', 'int4', 'numeric'])}
      ON CONFLICT (id) DO UPDATE SET sku = EXCLUDED.sku, name = EXCLUDED.name, category = EXCLUDED.category,
        price_cents = EXCLUDED.price_cents, stock = EXCLUDED.stock, rating = EXCLUDED.rating, updated_at = now()`);
  });
}

export interface PgStoreBackendOptions {
  /**
   * The catalog the store was seeded from: a new offer cycle restocks every product whose stock
   * fell below its catalog level back up to it (the weekly delivery). Without it, stock only
   * goes down.
   */
  catalog?: Product[];
  /**
   * Longest one store operation may wait on the database, ms (default STORE_QUERY_TIMEOUT_MS).
   * Beyond it — or when the connection is refused or dies — the request is answered 503
   * `DATABASE_UNAVAILABLE` instead of waiting; every transaction also carries it to the server
   * as `SET LOCAL statement_timeout` (transaction-scoped, so a transaction-mode pooler is fine).
   */
  queryTimeoutMs?: number;
  /**
   * Replaces the pool's connections (src/db/connection.ts Database.renewPool), called after a
   * timeout or a lost connection: a slonik pool whose connections died can leave its queued
   * queries pending forever (slonik#631), so the store would stay down after the server is back.
   */
  renewPool?: () => Promise<void>;
  /**
   * When the database last answered anyone on this pool (Database.lastAnswerAt). At the bound, an
   * operation whose database answered others within the last second is only queued behind them
   * (a busy pool of one connection, say): it waits on, up to 6 times the bound, instead of
   * failing a healthy store. Without it the bound is strict.
   */
  lastAnswerAt?: () => number;
  /** Database.onPoolReplaced: an operation waiting on a pool that was replaced is sent again on the new one (or answered 503). */
  onPoolReplaced?: (f: () => void) => () => void;
  /**
   * Send the server-side bound with every transaction (`SET LOCAL`, one more round trip). Default
   * true; false when every connection already carries a `statement_timeout` (a startup parameter:
   * Database.statementTimeoutOnConnections), as the run's and `serve`'s pools do unless behind a
   * transaction-mode pooler.
   */
  timeoutPerTransaction?: boolean;
}

/** The bound of one reference-store operation on its database, ms (PgStoreBackendOptions.queryTimeoutMs). */
export const STORE_QUERY_TIMEOUT_MS = 5_000;

const FAULT_NAMES = new Set(['ConnectionError', 'BackendTerminatedError', 'BackendTerminatedUnexpectedlyError', 'StatementTimeoutError', 'StatementCancelledError']);
const FAULT_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN']);

class QueryTimeoutError extends Error {}
class PoolReplacedError extends Error {}

/**
 * Why an error means the database could not be reached or did not answer in time (not an SQL
 * error of the statement): the reason, or null. Connection classes 08 and 57P, a statement
 * timeout (57014), a socket error, slonik's connection errors, a driver's "connection terminated".
 */
export function databaseFault(err: unknown): string | null {
  let e: unknown = err;
  for (let i = 0; i < 8 && e; i++) {
    if (e instanceof QueryTimeoutError || e instanceof PoolReplacedError) return e.message;
    const code = (e as { code?: unknown }).code;
    const name = (e as { name?: unknown }).name;
    const message = e instanceof Error ? e.message : String(e);
    if (typeof code === 'string' && (/^(08|57P)/.test(code) || code === '57014')) return code === '57014' ? 'statement timeout' : `connection lost (${code})`;
    if (typeof code === 'string' && FAULT_CODES.has(code)) return `connection failed (${code})`;
    if (typeof name === 'string' && FAULT_NAMES.has(name)) return name === 'StatementTimeoutError' ? 'statement timeout' : 'connection lost';
    if (/connection terminated|connection error|timeout exceeded when trying to connect|socket|ECONNREFUSED|ECONNRESET/i.test(message)) return 'connection lost';
    e = (e as { cause?: unknown }).cause;
  }
  return null;
}

const pause = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export function createPgStoreBackend(pool: DatabasePool, options: PgStoreBackendOptions = {}): StoreBackend {
  const restockRows = (options.catalog ?? []).map((p) => [p.id, p.stock]);
  const timeoutMs = options.queryTimeoutMs ?? STORE_QUERY_TIMEOUT_MS;
  // Starting an offer cycle writes every user's assignments in one transaction: a longer bound.
  const offerCycleMs = timeoutMs * 12;
  const perTransaction = options.timeoutPerTransaction !== false;

  /**
   * One store operation under the bound: it settles within timeoutMs, whatever the database
   * does. A fault (timeout, refused or lost connection) renews the pool and — for operations
   * that are safe to repeat (reads, and checkout, idempotent by its key) — is retried while the
   * time lasts; then it is a 503 `DATABASE_UNAVAILABLE` (the client counts it as a failed call).
   * Store rule refusals and SQL errors pass through unchanged.
   */
  async function bounded<T>(what: string, work: () => Promise<T>, retry: boolean, ms = timeoutMs): Promise<T> {
    const started = performance.now();
    const deadline = started + ms;
    const hardDeadline = started + ms * 6;
    let backoff = 50;
    for (;;) {
      let timer: NodeJS.Timeout | undefined;
      let off: (() => void) | undefined;
      const left = Math.max(1, deadline - performance.now());
      const attempt = work();
      attempt.catch(() => {}); // settled late or never: already answered as a timeout
      try {
        return await Promise.race([
          attempt,
          new Promise<never>((_, reject) => {
            const expire = () => {
              // Queued behind a database that is answering others: not an outage; wait on (capped).
              const now = performance.now();
              if (options.lastAnswerAt && now - options.lastAnswerAt() < 1000 && now < hardDeadline) {
                timer = setTimeout(expire, Math.min(1000, hardDeadline - now));
                return;
              }
              reject(new QueryTimeoutError(`no answer within ${Math.round(now - started)} ms`));
            };
            timer = setTimeout(expire, left);
            off = options.onPoolReplaced?.(() => reject(new PoolReplacedError('the pool was replaced while it waited')));
          }),
        ]);
      } catch (err) {
        if (isStoreRuleError(err)) throw err;
        const fault = databaseFault(err);
        if (fault === null) throw err;
        if (!(err instanceof PoolReplacedError)) void options.renewPool?.();
        if (retry && fault !== 'statement timeout' && !(err instanceof QueryTimeoutError) && deadline - performance.now() > backoff * 2) {
          await pause(backoff);
          backoff = Math.min(backoff * 2, 1000);
          continue;
        }
        throw new StoreRuleError(503, 'DATABASE_UNAVAILABLE', `the store's database is unavailable (${what}: ${fault})`);
      } finally {
        clearTimeout(timer);
        off?.();
      }
    }
  }
  /** A transaction whose statements the server cancels after 6 × the bound, the most `bounded` waits (SET LOCAL: this transaction only). */
  const transaction = <T>(handler: (tx: Tx) => Promise<T>, ms = timeoutMs): Promise<T> =>
    pool.transaction(async (tx) => {
      if (perTransaction) await tx.query(sql.unsafe`SELECT set_config('statement_timeout', ${String(Math.max(1, Math.round(ms * 6)))}, true)`);
      return handler(tx);
    });

  const backend: StoreBackend = {
    kind: 'postgres',

    async listProducts(q) {
      const where = [sql.fragment`TRUE`];
      if (q.category) where.push(sql.fragment`category = ${q.category}`);
      if (q.search) where.push(sql.fragment`position(lower(${q.search}) IN lower(name)) > 0`);
      const cond = sql.join(where, sql.fragment` AND `);
      const rows = await pool.any(sql.type(productRow)`
        SELECT ${PRODUCT_COLUMNS}, (count(*) OVER ())::int AS total FROM products WHERE ${cond}
        ORDER BY id LIMIT ${q.pageSize} OFFSET ${(q.page - 1) * q.pageSize}`);
      let total = rows[0]?.total;
      if (total === undefined) total = (await pool.one(sql.type(countRow)`SELECT count(*)::int AS n FROM products WHERE ${cond}`)).n;
      return { items: rows.map(toProduct), total };
    },

    async getProduct(productId) {
      const r = await pool.maybeOne(sql.type(productRow)`SELECT ${PRODUCT_COLUMNS} FROM products WHERE id = ${productId}`);
      return r ? toProduct(r) : null;
    },

    getCart: (userId) => cartOf(pool, userId),

    addToCart(userId, productId, quantity) {
      return transaction(async (tx) => {
        const p = await tx.maybeOne(sql.type(stockRow)`SELECT id, stock FROM products WHERE id = ${productId}`);
        if (!p) throw productNotFound(productId, 'product_id');
        await tx.query(sql.unsafe`INSERT INTO carts (user_id) VALUES (${userId}) ON CONFLICT (user_id) DO UPDATE SET updated_at = now()`);
        const line = await tx.one(sql.type(z.object({ quantity: z.number() }))`
          INSERT INTO cart_items (user_id, product_id, quantity, unit_price_cents)
          SELECT ${userId}, id, ${quantity}, price_cents FROM products WHERE id = ${productId}
          ON CONFLICT (user_id, product_id) DO UPDATE SET quantity = cart_items.quantity + EXCLUDED.quantity
          RETURNING quantity`);
        const short = stockRefusal('add', productId, line.quantity, p.stock);
        if (short) throw short;
        return cartOf(tx, userId);
      });
    },

    removeFromCart(userId, productId) {
      return transaction(async (tx) => {
        await tx.query(sql.unsafe`DELETE FROM cart_items WHERE user_id = ${userId} AND product_id = ${productId}`);
        return cartOf(tx, userId);
      });
    },

    async clearCart(userId) {
      await transaction(async (tx) => {
        await tx.query(sql.unsafe`DELETE FROM cart_items WHERE user_id = ${userId}`);
        await tx.query(sql.unsafe`DELETE FROM cart_coupons WHERE user_id = ${userId}`);
      });
    },

    async listOffers(userId) {
      return transaction(async (tx) => {
        const cycle = await tx.maybeOne(sql.type(z.object({ offer_cycle: z.number() }))`
          SELECT offer_cycle FROM offer_cycles ORDER BY started_at DESC, offer_cycle DESC LIMIT 1`);
        if (!cycle) return { offer_cycle: null, offers: [] };
        const rows = await tx.any(sql.type(offerRow)`
          SELECT o.offer_id, o.code, o.description, o.discount_percent, o.min_spend_cents, o.offer_cycle,
                 (extract(epoch FROM o.valid_from) * 1000)::float8 AS valid_from_ms,
                 (extract(epoch FROM o.valid_until) * 1000)::float8 AS valid_until_ms
          FROM offer_assignments a JOIN offers o ON o.offer_id = a.offer_id
          WHERE a.offer_cycle = ${cycle.offer_cycle} AND a.user_id = ${userId} AND a.redeemed_at IS NULL
          ORDER BY o.offer_id`);
        return { offer_cycle: cycle.offer_cycle, offers: rows.map(toOffer) };
      });
    },

    applyCoupon(userId, code, at) {
      return transaction(async (tx) => {
        await tx.query(sql.unsafe`INSERT INTO carts (user_id) VALUES (${userId}) ON CONFLICT (user_id) DO NOTHING`);
        const cart = await cartOf(tx, userId);
        const offer = await checkCoupon(tx, userId, code, at, cart.subtotal_cents);
        await tx.query(sql.unsafe`
          INSERT INTO cart_coupons (user_id, code, discount_percent, min_spend_cents)
          VALUES (${userId}, ${code}, ${offer.discount_percent}, ${offer.min_spend_cents})
          ON CONFLICT (user_id) DO UPDATE SET code = EXCLUDED.code, discount_percent = EXCLUDED.discount_percent,
            min_spend_cents = EXCLUDED.min_spend_cents, applied_at = now()`);
        return cartOf(tx, userId);
      });
    },

    checkout(userId, idempotencyKey, at) {
      return transaction(async (tx) => {
        const fresh = await tx.maybeOne(sql.type(z.object({ user_id: z.string() }))`
          INSERT INTO idempotency_keys (user_id, key) VALUES (${userId}, ${idempotencyKey})
          ON CONFLICT (user_id, key) DO NOTHING RETURNING user_id`);
        if (!fresh) {
          const k = await tx.one(sql.type(keyRow)`SELECT order_id FROM idempotency_keys WHERE user_id = ${userId} AND key = ${idempotencyKey}`);
          const o = k.order_id ? await tx.maybeOne(sql.type(orderRow)`SELECT id, user_id, total_cents::int AS total_cents, discount_cents::int AS discount_cents, items_count, coupon_code FROM orders WHERE id = ${k.order_id}`) : null;
          if (!o) throw new StoreRuleError(409, 'IDEMPOTENCY_CONFLICT', `Idempotency-Key ${idempotencyKey} is held by a checkout that did not finish`, 'Idempotency-Key');
          // The state the first checkout left: an empty cart (a re-run cycle of a resumed run may
          // have filled it again; a plain retry finds it empty already).
          await tx.query(sql.unsafe`DELETE FROM cart_items WHERE user_id = ${userId}`);
          await tx.query(sql.unsafe`DELETE FROM cart_coupons WHERE user_id = ${userId}`);
          return { order: toOrder(o), replayed: true };
        }
        const lines = await tx.any(sql.type(lineRow)`
          SELECT product_id, quantity, unit_price_cents FROM cart_items WHERE user_id = ${userId} ORDER BY product_id FOR UPDATE`);
        if (lines.length === 0) throw cartEmpty();
        const coupon = await tx.maybeOne(sql.type(couponRow)`SELECT code, discount_percent, min_spend_cents FROM cart_coupons WHERE user_id = ${userId}`);
        const view = cartView(userId, [...lines], coupon);
        if (coupon) await checkCoupon(tx, userId, coupon.code, at, view.subtotal_cents);
        const ids = lines.map((l) => l.product_id);
        const stock = await tx.any(sql.type(stockRow)`SELECT id, stock FROM products WHERE id = ANY (${sql.array(ids, 'text')}) ORDER BY id FOR UPDATE`);
        const have = new Map(stock.map((s) => [s.id, s.stock]));
        for (const l of lines) {
          const short = stockRefusal('checkout', l.product_id, l.quantity, have.get(l.product_id) ?? 0);
          if (short) throw short;
        }
        const qty = lines.map((l) => [l.product_id, l.quantity, l.unit_price_cents]);
        await tx.query(sql.unsafe`
          UPDATE products p SET stock = p.stock - t.quantity, updated_at = now()
          FROM ${sql.unnest(qty, ['text', 'int4', 'int4'])} AS t (product_id, quantity, unit_price_cents)
          WHERE p.id = t.product_id`);
        // The order's id follows from the request (user, their order number, simulated time):
        // the same run makes the same ids (the cart rows locked above serialize a user's checkouts).
        const previous = await tx.one(sql.type(countRow)`SELECT count(*)::int AS n FROM orders WHERE user_id = ${userId}`);
        const order: Order = {
          order_id: orderIdFor(userId, previous.n + 1, at),
          user_id: userId,
          total_cents: view.total_cents,
          discount_cents: view.discount_cents,
          items_count: lines.reduce((n, l) => n + l.quantity, 0),
          coupon_code: view.coupon_code,
        };
        await tx.query(sql.unsafe`
          INSERT INTO orders (id, user_id, subtotal_cents, discount_cents, total_cents, items_count, coupon_code, simulated_at)
          VALUES (${order.order_id}, ${userId}, ${view.subtotal_cents}, ${order.discount_cents}, ${order.total_cents}, ${order.items_count}, ${order.coupon_code}, ${at}::timestamptz)`);
        await tx.query(sql.unsafe`
          INSERT INTO order_items (order_id, product_id, quantity, unit_price_cents)
          SELECT ${order.order_id}, t.product_id, t.quantity, t.unit_price_cents
          FROM ${sql.unnest(qty, ['text', 'int4', 'int4'])} AS t (product_id, quantity, unit_price_cents)`);
        if (coupon) {
          await tx.query(sql.unsafe`
            UPDATE offer_assignments SET redeemed_at = now(), order_id = ${order.order_id}
            WHERE user_id = ${userId} AND code = ${coupon.code}`);
        }
        await tx.query(sql.unsafe`DELETE FROM cart_items WHERE user_id = ${userId}`);
        await tx.query(sql.unsafe`DELETE FROM cart_coupons WHERE user_id = ${userId}`);
        await tx.query(sql.unsafe`UPDATE idempotency_keys SET order_id = ${order.order_id} WHERE user_id = ${userId} AND key = ${idempotencyKey}`);
        return { order, replayed: false };
      });
    },

    startOfferCycle(req: OfferCycleRequest, offers: AssignedOffer[]) {
      return transaction(async (tx) => {
        // Restarting a cycle (a resumed or repeated run) assigns its offers afresh, like the mock store.
        await tx.query(sql.unsafe`DELETE FROM offer_cycles WHERE offer_cycle = ${req.offer_cycle}`);
        await tx.query(sql.unsafe`
          INSERT INTO offer_cycles (offer_cycle, starts_at, ends_at) VALUES (${req.offer_cycle}, ${req.starts_at}::timestamptz, ${req.ends_at}::timestamptz)`);
        if (offers.length > 0) {
          const rows = offers.map((o) => [o.offer_id, o.offer_cycle, o.code, o.description, o.discount_percent, o.min_spend_cents, o.valid_from, o.valid_until]);
          await tx.query(sql.unsafe`
            INSERT INTO offers (offer_id, offer_cycle, code, description, discount_percent, min_spend_cents, valid_from, valid_until)
            SELECT t.offer_id, t.offer_cycle, t.code, t.description, t.discount_percent, t.min_spend_cents, t.valid_from::timestamptz, t.valid_until::timestamptz
            FROM ${sql.unnest(rows, ['text', 'int4', 'text', 'text', 'int4', 'int4', 'text', 'text'])}
              AS t (offer_id, offer_cycle, code, description, discount_percent, min_spend_cents, valid_from, valid_until)
            ON CONFLICT (offer_id) DO UPDATE SET offer_cycle = EXCLUDED.offer_cycle, code = EXCLUDED.code, description = EXCLUDED.description,
              discount_percent = EXCLUDED.discount_percent, min_spend_cents = EXCLUDED.min_spend_cents,
              valid_from = EXCLUDED.valid_from, valid_until = EXCLUDED.valid_until`);
          const assign = offers.map((o) => [o.user_id, o.code, o.offer_id, o.offer_cycle]);
          await tx.query(sql.unsafe`
            INSERT INTO offer_assignments (user_id, code, offer_id, offer_cycle)
            SELECT * FROM ${sql.unnest(assign, ['text', 'text', 'text', 'int4'])}
            ON CONFLICT (user_id, code) DO UPDATE SET offer_id = EXCLUDED.offer_id, offer_cycle = EXCLUDED.offer_cycle, redeemed_at = NULL, order_id = NULL`);
        }
        await tx.query(sql.unsafe`DELETE FROM cart_coupons`);
        let restocked = 0;
        if (restockRows.length > 0) {
          const rows = await tx.any(sql.type(idRow)`
            UPDATE products p SET stock = t.stock, updated_at = now()
            FROM ${sql.unnest(restockRows, ['text', 'int4'])} AS t (id, stock)
            WHERE p.id = t.id AND p.stock < t.stock
            RETURNING p.id`);
          restocked = rows.length;
        }
        return { offers_assigned: offers.length, products_restocked: restocked };
      }, offerCycleMs);
    },

    async stats(): Promise<BackendStats> {
      return pool.one(sql.type(statsRow)`
        SELECT (SELECT count(*) FROM orders)::int AS orders,
               (SELECT count(*) FROM order_items)::int AS order_items,
               (SELECT coalesce(sum(total_cents), 0) FROM orders)::float8 AS revenue_cents,
               (SELECT count(DISTINCT user_id) FROM cart_items)::int AS carts_with_items,
               (SELECT offer_cycle FROM offer_cycles ORDER BY started_at DESC, offer_cycle DESC LIMIT 1) AS offer_cycle`);
    },

    async close() {},
  };
  return {
    kind: backend.kind,
    listProducts: (q) => bounded('listProducts', () => backend.listProducts(q), true),
    getProduct: (id) => bounded('getProduct', () => backend.getProduct(id), true),
    getCart: (userId) => bounded('getCart', () => backend.getCart(userId), true),
    // Not repeated: a lost answer may have added the quantity already.
    addToCart: (userId, id, qty) => bounded('addToCart', () => backend.addToCart(userId, id, qty), false),
    removeFromCart: (userId, id) => bounded('removeFromCart', () => backend.removeFromCart(userId, id), true),
    clearCart: (userId) => bounded('clearCart', () => backend.clearCart(userId), true),
    listOffers: (userId) => bounded('listOffers', () => backend.listOffers(userId), true),
    applyCoupon: (userId, code, at) => bounded('applyCoupon', () => backend.applyCoupon(userId, code, at), true),
    // Repeated with the same key: a checkout that had committed is found and returned (replayed).
    checkout: (userId, key, at) => bounded('checkout', () => backend.checkout(userId, key, at), true),
    startOfferCycle: (req, offers) => bounded('startOfferCycle', () => backend.startOfferCycle(req, offers), true, offerCycleMs),
    stats: () => bounded('stats', () => backend.stats(), true),
    close: () => backend.close(),
  };
}

/**
 * The bundled store's state as a checkpoint records it (`store_state`, src/checkpoint/format.ts),
 * read at a cycle boundary, when no store call is in flight: the carts of the run's shoppers
 * (per user with a line or a coupon: its lines in the order the store lists them, and its coupon;
 * an abandoned session keeps its cart), every product's stock, and the current offer cycle. A
 * resume puts it back (restoreStoreState) after its clean-up, so the re-run cycles start from the
 * store as the uninterrupted run had it at that boundary, even when the killed run had gone on
 * past a weekly restock and a new offer cycle.
 */
export type CheckpointCart = [userId: string, lines: [productId: string, quantity: number, unitPriceCents: number][], coupon: [code: string, discountPercent: number, minSpendCents: number] | null];

export interface CheckpointStoreState {
  carts: CheckpointCart[];
  stock: [productId: string, stock: number][];
  offer_cycle: number | null;
}

const cartLineRow = z.object({ user_id: z.string(), product_id: z.string(), quantity: z.number(), unit_price_cents: z.number() });
const cartCouponRow = z.object({ user_id: z.string(), code: z.string(), discount_percent: z.number(), min_spend_cents: z.number() });

export async function exportStoreState(pool: DatabasePool, userIds: string[]): Promise<CheckpointStoreState> {
  const ids = sql.array(userIds, 'text');
  return pool.transaction(async (tx) => {
    const lines = await tx.any(sql.type(cartLineRow)`
      SELECT user_id, product_id, quantity, unit_price_cents FROM cart_items WHERE user_id = ANY (${ids}) ORDER BY user_id, added_at, product_id`);
    const coupons = await tx.any(sql.type(cartCouponRow)`
      SELECT user_id, code, discount_percent, min_spend_cents FROM cart_coupons WHERE user_id = ANY (${ids}) ORDER BY user_id`);
    const stock = await tx.any(sql.type(stockRow)`SELECT id, stock FROM products ORDER BY id`);
    const cycle = await tx.maybeOne(sql.type(z.object({ offer_cycle: z.number() }))`
      SELECT offer_cycle FROM offer_cycles ORDER BY started_at DESC, offer_cycle DESC LIMIT 1`);
    const byUser = new Map<string, CheckpointCart>();
    const entry = (u: string): CheckpointCart => {
      let e = byUser.get(u);
      if (!e) byUser.set(u, (e = [u, [], null]));
      return e;
    };
    for (const l of lines) entry(l.user_id)[1].push([l.product_id, l.quantity, l.unit_price_cents]);
    for (const c of coupons) entry(c.user_id)[2] = [c.code, c.discount_percent, c.min_spend_cents];
    return {
      carts: [...byUser.values()].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0)),
      stock: stock.map((r): [string, number] => [r.id, r.stock]),
      offer_cycle: cycle?.offer_cycle ?? null,
    };
  });
}

/**
 * A resume's store, in one transaction: the offer cycles started after the checkpoint dropped
 * (their offers and assignments go with them), the stock set to the checkpoint's, the carts of
 * `userIds` emptied and the checkpoint's put back, lines in their recorded order.
 */
export async function restoreStoreState(pool: DatabasePool, userIds: string[], state: CheckpointStoreState): Promise<void> {
  await pool.transaction(async (tx) => {
    if (state.offer_cycle === null) await tx.query(sql.unsafe`DELETE FROM offer_cycles`);
    else await tx.query(sql.unsafe`DELETE FROM offer_cycles WHERE offer_cycle > ${state.offer_cycle}`);
    if (state.stock.length > 0) {
      await tx.query(sql.unsafe`
        UPDATE products p SET stock = t.stock, updated_at = now()
        FROM ${sql.unnest(state.stock, ['text', 'int4'])} AS t (id, stock)
        WHERE p.id = t.id AND p.stock <> t.stock`);
    }
    if (userIds.length > 0) {
      const ids = sql.array(userIds, 'text');
      await tx.query(sql.unsafe`DELETE FROM cart_items WHERE user_id = ANY (${ids})`);
      await tx.query(sql.unsafe`DELETE FROM cart_coupons WHERE user_id = ANY (${ids})`);
    }
    const carts = state.carts;
    if (carts.length === 0) return;
    await tx.query(sql.unsafe`
      INSERT INTO carts (user_id) SELECT * FROM ${sql.unnest(carts.map((c) => [c[0]]), ['text'])} ON CONFLICT (user_id) DO NOTHING`);
    const lines = carts.flatMap(([u, ls]) => ls.map(([p, q, price], i) => [u, p, q, price, i]));
    if (lines.length > 0) {
      await tx.query(sql.unsafe`
        INSERT INTO cart_items (user_id, product_id, quantity, unit_price_cents, added_at)
        SELECT t.user_id, t.product_id, t.quantity, t.unit_price_cents, clock_timestamp() + make_interval(secs => t.n / 1000.0)
        FROM ${sql.unnest(lines, ['text', 'text', 'int4', 'int4', 'int4'])} AS t (user_id, product_id, quantity, unit_price_cents, n)`);
    }
    const coupons = carts.filter((c) => c[2] !== null).map(([u, , c]) => [u, ...(c as [string, number, number])]);
    if (coupons.length > 0) {
      await tx.query(sql.unsafe`
        INSERT INTO cart_coupons (user_id, code, discount_percent, min_spend_cents)
        SELECT * FROM ${sql.unnest(coupons, ['text', 'text', 'int4', 'int4'])}`);
    }
  });
}
