/**
 * The PostgreSQL StoreBackend on the embedded database (and on TEST_DATABASE_URL when set):
 * the same rules as the in-memory backend, plus concurrency of checkouts.
 */
import { sql } from 'slonik';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Database } from '../../src/db/connection.ts';
import { embeddedTarget, postgresTarget, TEST_DATABASE_URL } from '../db/helpers.ts';
import { createPgStoreBackend, seedProducts } from '../../src/db/store-repository.ts';
import { generateProducts } from '../../src/model/catalog.ts';
import { createStoreServer, type StoreServer } from '../../src/server/create-store-server.ts';

const products = generateProducts(40, 42);
// A schema of its own on the real server (stock and orders must not leak between runs).
const target = TEST_DATABASE_URL ? postgresTarget() : embeddedTarget();
let db: Database;
let server: StoreServer;
const run = `t${Date.now().toString(36)}`;
const u = (n: number) => `${run}_u${n}`;
const h = (n: number, extra: Record<string, string> = {}) => ({ 'x-user-id': u(n), 'x-sim-time': '2024-01-02T10:00:00Z', ...extra });

beforeAll(async () => {
  await target.setup();
  db = await target.open();
  await seedProducts(db.pool, products);
  server = createStoreServer({ backend: createPgStoreBackend(db.pool), port: 0 });
}, 60_000);

afterAll(async () => {
  await server?.close();
  await db?.close();
  await target.teardown();
});

describe('PostgreSQL store backend', () => {
  it('lists and pages products', async () => {
    const res = (await server.app.inject({ url: `/products?category=${products[0]!.category}&page=2&page_size=3` })).json();
    expect(res.total).toBe(4);
    expect(res.items).toHaveLength(1);
    expect((await server.app.inject({ url: `/products/${products[1]!.id}` })).json()).toEqual(products[1]);
    expect((await server.app.inject({ url: '/products?search=zzzz&page=3' })).json()).toMatchObject({ items: [], total: 0 });
  });

  it('keeps an existing stock when seeding again', async () => {
    expect(await seedProducts(db.pool, products)).toBe(0);
  });

  it('checks out once per key, decrements stock, refuses an empty cart', async () => {
    const p = products[2]!;
    const app = server.app;
    expect((await app.inject({ method: 'POST', url: '/checkout', headers: h(1, { 'idempotency-key': 'e' }) })).json().error.code).toBe('CART_EMPTY');
    const cart = (await app.inject({ method: 'POST', url: '/cart/items', headers: h(1), payload: { product_id: p.id, quantity: 2 } })).json();
    expect(cart.subtotal_cents).toBe(2 * p.price_cents);
    const before = (await db.pool.oneFirst(sqlCount('orders'))) as number;
    const [a, b] = await Promise.all([
      app.inject({ method: 'POST', url: '/checkout', headers: h(1, { 'idempotency-key': 'k1' }) }),
      app.inject({ method: 'POST', url: '/checkout', headers: h(1, { 'idempotency-key': 'k1' }) }),
    ]);
    expect([a.statusCode, b.statusCode].sort()).toEqual([200, 201]);
    expect(a.json()).toEqual(b.json());
    expect((await db.pool.oneFirst(sqlCount('orders'))) as number).toBe(before + 1);
    expect((await app.inject({ url: `/products/${p.id}` })).json().stock).toBe(p.stock - 2);
    expect((await app.inject({ url: '/cart', headers: h(1) })).json().items).toEqual([]);
  });

  it('a replayed checkout empties the cart a re-run cycle filled again, and places nothing new', async () => {
    const p = products[4]!;
    const app = server.app;
    await app.inject({ method: 'POST', url: '/cart/items', headers: h(3), payload: { product_id: p.id, quantity: 1 } });
    const first = await app.inject({ method: 'POST', url: '/checkout', headers: h(3, { 'idempotency-key': 'run-1:a3:9' }) });
    expect(first.statusCode).toBe(201);
    const before = (await db.pool.oneFirst(sqlCount('orders'))) as number;
    await app.inject({ method: 'POST', url: '/cart/items', headers: h(3), payload: { product_id: p.id, quantity: 1 } });
    const again = await app.inject({ method: 'POST', url: '/checkout', headers: h(3, { 'idempotency-key': 'run-1:a3:9' }) });
    expect(again.statusCode).toBe(200);
    expect(again.json()).toEqual(first.json());
    expect((await db.pool.oneFirst(sqlCount('orders'))) as number).toBe(before);
    expect((await app.inject({ url: '/cart', headers: h(3) })).json().items).toEqual([]);
  });

  it('refuses a checkout beyond the stock and leaves everything as it was', async () => {
    const p = products[3]!;
    const app = server.app;
    await app.inject({ method: 'POST', url: '/cart/items', headers: h(2), payload: { product_id: p.id, quantity: Math.min(99, p.stock) } });
    await app.inject({ method: 'POST', url: '/cart/items', headers: h(3), payload: { product_id: p.id, quantity: Math.min(99, p.stock) } });
    // drain the stock by hand so the second checkout cannot be served
    await db.pool.query(rawUpdate(p.id, Math.min(99, p.stock)));
    const ok = await app.inject({ method: 'POST', url: '/checkout', headers: h(2, { 'idempotency-key': 'k' }) });
    expect(ok.statusCode).toBe(201);
    const no = await app.inject({ method: 'POST', url: '/checkout', headers: h(3, { 'idempotency-key': 'k' }) });
    expect(no.statusCode).toBe(409);
    expect(no.json().error.code).toBe('INSUFFICIENT_STOCK');
    expect((await app.inject({ url: '/cart', headers: h(3) })).json().items).toHaveLength(1);
    // the failed checkout released its idempotency key: a later retry can succeed
    await db.pool.query(rawUpdate(p.id, 500));
    expect((await app.inject({ method: 'POST', url: '/checkout', headers: h(3, { 'idempotency-key': 'k' }) })).statusCode).toBe(201);
  });

  it('applies the coupon rules', async () => {
    const app = server.app;
    const users = Array.from({ length: 12 }, (_, i) => u(100 + i));
    const res = await app.inject({ method: 'POST', url: '/offer-cycles', payload: { offer_cycle: 1, starts_at: '2024-01-01T00:00:00.000Z', ends_at: '2024-01-08T00:00:00.000Z', user_ids: users } });
    expect(res.statusCode).toBe(201);
    let found: { n: number; code: string; min: number } | null = null;
    for (let i = 0; i < users.length && !found; i++) {
      const offers = (await app.inject({ url: '/offers', headers: h(100 + i) })).json();
      expect(offers.offer_cycle).toBe(1);
      const o = offers.offers.find((x: { min_spend_cents: number }) => x.min_spend_cents > 0);
      if (o) {
        expect(o.valid_from).toBe('2024-01-01T00:00:00.000Z');
        found = { n: 100 + i, code: o.code, min: o.min_spend_cents };
      }
    }
    expect(found).not.toBeNull();
    const f = found!;
    const apply = (code: string, extra: Record<string, string> = {}) => app.inject({ method: 'POST', url: '/cart/coupon', headers: h(f.n, extra), payload: { code } });
    expect((await apply('NOPE')).json().error.code).toBe('COUPON_INVALID');
    expect((await apply(f.code)).json().error.code).toBe('COUPON_MIN_SPEND');
    expect((await apply(f.code, { 'x-sim-time': '2024-01-09T00:00:00Z' })).json().error.code).toBe('COUPON_EXPIRED');
    const big = [...products].sort((a, b) => b.price_cents - a.price_cents)[0]!;
    await app.inject({ method: 'POST', url: '/cart/items', headers: h(f.n), payload: { product_id: big.id, quantity: Math.max(1, Math.ceil(f.min / big.price_cents)) } });
    const cart = (await apply(f.code)).json();
    expect(cart.coupon_code).toBe(f.code);
    expect(cart.discount_cents).toBeGreaterThan(0);
    const order = (await app.inject({ method: 'POST', url: '/checkout', headers: h(f.n, { 'idempotency-key': 'c' }) })).json();
    expect(order.coupon_code).toBe(f.code);
    await app.inject({ method: 'POST', url: '/cart/items', headers: h(f.n), payload: { product_id: big.id, quantity: 1 } });
    expect((await apply(f.code)).json().error.code).toBe('COUPON_USED');
    expect((await app.inject({ url: '/offers', headers: h(f.n) })).json().offers.map((o: { code: string }) => o.code)).not.toContain(f.code);
  });

  it('serves many concurrent checkouts without losing stock', async () => {
    const p = products[5]!;
    const app = server.app;
    await db.pool.query(rawUpdate(p.id, 1000));
    const n = 30;
    for (let i = 0; i < n; i++) await app.inject({ method: 'POST', url: '/cart/items', headers: h(200 + i), payload: { product_id: p.id, quantity: 1 } });
    const res = await Promise.all(Array.from({ length: n }, (_, i) => app.inject({ method: 'POST', url: '/checkout', headers: h(200 + i, { 'idempotency-key': 'x' }) })));
    expect(res.every((r) => r.statusCode === 201)).toBe(true);
    expect((await app.inject({ url: `/products/${p.id}` })).json().stock).toBe(1000 - n);
  });

  it('restocks products below their catalog level at a new offer cycle, and only those', async () => {
    const [low, high] = [products[7]!, products[8]!];
    await db.pool.query(rawUpdate(low.id, 0));
    await db.pool.query(rawUpdate(high.id, high.stock + 10));
    const backend = createPgStoreBackend(db.pool, { catalog: products });
    const req = { offer_cycle: 9, starts_at: '2024-03-01T00:00:00.000Z', ends_at: '2024-03-08T00:00:00.000Z', user_ids: [] };
    const first = await backend.startOfferCycle(req, []);
    expect(first.products_restocked).toBeGreaterThanOrEqual(1);
    const stock = async (id: string) => (await backend.getProduct(id))?.stock;
    expect(await stock(low.id)).toBe(low.stock);
    expect(await stock(high.id)).toBe(high.stock + 10);
    for (const p of products) expect(await stock(p.id)).toBeGreaterThanOrEqual(p.stock);
    expect(await backend.startOfferCycle({ ...req, offer_cycle: 10 }, [])).toEqual({ offers_assigned: 0, products_restocked: 0 });
    // Without a catalog (an external seeding), stock only goes down.
    await db.pool.query(rawUpdate(low.id, 0));
    expect((await createPgStoreBackend(db.pool).startOfferCycle({ ...req, offer_cycle: 11 }, [])).products_restocked).toBe(0);
    expect(await stock(low.id)).toBe(0);
  });
});

function sqlCount(table: 'orders') {
  return sql.unsafe`SELECT count(*)::int FROM ${sql.identifier([table])}`;
}
function rawUpdate(id: string, stock: number) {
  return sql.unsafe`UPDATE products SET stock = ${stock} WHERE id = ${id}`;
}
