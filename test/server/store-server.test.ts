import { afterEach, describe, expect, it } from 'vitest';
import { generateProducts } from '../../src/model/catalog.ts';
import { createMemoryBackend } from '../../src/server/memory-backend.ts';
import { createStoreServer, type StoreServer } from '../../src/server/create-store-server.ts';

const products = generateProducts(40, 42);
const P = products[0]!;
const user = { 'x-user-id': 'agent_0001', 'x-sim-time': '2024-01-02T10:00:00Z' };
let servers: StoreServer[] = [];
afterEach(async () => {
  for (const s of servers) await s.close();
  servers = [];
});

function make(opts: Partial<Parameters<typeof createStoreServer>[0]> = {}) {
  const backend = createMemoryBackend({ products });
  const server = createStoreServer({ backend, port: 0, ...opts });
  servers.push(server);
  return { server, backend, app: server.app };
}

async function startCycle(app: StoreServer['app'], cycle = 1, users = ['agent_0001', 'agent_0002', 'agent_0003', 'agent_0004', 'agent_0005', 'agent_0006']) {
  const res = await app.inject({ method: 'POST', url: '/offer-cycles', payload: { offer_cycle: cycle, starts_at: '2024-01-01T00:00:00Z', ends_at: '2024-01-08T00:00:00Z', user_ids: users } });
  expect(res.statusCode).toBe(201);
  return res.json() as { offers_assigned: number };
}

describe('store server: validation', () => {
  it.each([
    ['POST', '/cart/items', { product_id: P.id, quantity: 0 }, user, 'quantity'],
    ['POST', '/cart/items', { product_id: P.id, quantity: 1.5 }, user, 'quantity'],
    ['POST', '/cart/items', { product_id: P.id, quantity: '2' }, user, 'quantity'],
    ['POST', '/cart/items', { quantity: 2 }, user, 'product_id'],
    ['POST', '/cart/items', { product_id: P.id, quantity: 1, colour: 'red' }, user, 'colour'],
    ['POST', '/cart/items', { product_id: P.id, quantity: 1 }, {}, 'X-User-Id'],
    ['POST', '/cart/items', { product_id: P.id, quantity: 1 }, { 'x-user-id': 'a b' }, 'X-User-Id'],
    ['POST', '/cart/coupon', { code: 'X' }, { ...user, 'x-sim-time': 'yesterday' }, 'X-Sim-Time'],
    ['POST', '/cart/coupon', {}, user, 'code'],
    ['POST', '/checkout', undefined, user, 'Idempotency-Key'],
    ['GET', '/products?page=0', undefined, {}, 'page'],
    ['GET', '/products?page_size=500', undefined, {}, 'page_size'],
    ['GET', '/products?sort=price', undefined, {}, 'sort'],
    ['POST', '/offer-cycles', { offer_cycle: 1, starts_at: 'x', ends_at: '2024-01-08T00:00:00Z', user_ids: [] }, {}, 'starts_at'],
    ['POST', '/offer-cycles', { offer_cycle: 1, starts_at: '2024-01-08T00:00:00Z', ends_at: '2024-01-01T00:00:00Z', user_ids: [] }, {}, 'ends_at'],
  ] as const)('%s %s → 400 naming %s', async (method, url, payload, headers, field) => {
    const { app } = make();
    const res = await app.inject({ method, url, headers, ...(payload === undefined ? {} : { payload }) });
    expect(res.statusCode).toBe(400);
    const body = res.json() as { error: { code: string; message: string; field: string } };
    expect(body.error.field).toBe(field);
    expect(body.error.code).toMatch(/^[A-Z_]+$/);
    expect(body.error.message.length).toBeGreaterThan(0);
  });

  it('answers malformed JSON and unknown routes with JSON errors', async () => {
    const { app } = make();
    const bad = await app.inject({ method: 'POST', url: '/cart/items', headers: { ...user, 'content-type': 'application/json' }, payload: '{"product_id":' });
    expect(bad.statusCode).toBe(400);
    expect(bad.json().error.code).toBe('INVALID_JSON');
    const nf = await app.inject({ method: 'GET', url: '/nope' });
    expect(nf.statusCode).toBe(404);
    expect(nf.json().error.code).toBe('NOT_FOUND');
  });
});

describe('store server: rules', () => {
  it('lists, searches and pages products', async () => {
    const { app } = make();
    const res = await app.inject({ url: `/products?category=${P.category}&page=1&page_size=2` });
    const body = res.json() as { items: { category: string }[]; total: number; page_size: number };
    expect(body.items).toHaveLength(2);
    expect(body.items.every((p) => p.category === P.category)).toBe(true);
    expect(body.total).toBe(4);
    expect((await app.inject({ url: `/products/${P.id}` })).json().id).toBe(P.id);
    expect((await app.inject({ url: '/products/nope' })).json().error.code).toBe('PRODUCT_NOT_FOUND');
  });

  it('refuses to check out an empty cart', async () => {
    const { app } = make();
    const res = await app.inject({ method: 'POST', url: '/checkout', headers: { ...user, 'idempotency-key': 'k1' } });
    expect(res.statusCode).toBe(409);
    expect(res.json().error.code).toBe('CART_EMPTY');
  });

  it('checks out once per idempotency key and decrements stock', async () => {
    const { app, backend } = make();
    await app.inject({ method: 'POST', url: '/cart/items', headers: user, payload: { product_id: P.id, quantity: 2 } });
    const h = { ...user, 'idempotency-key': 'agent_0001:1' };
    const first = await app.inject({ method: 'POST', url: '/checkout', headers: h });
    expect(first.statusCode).toBe(201);
    const again = await app.inject({ method: 'POST', url: '/checkout', headers: h, payload: {} });
    expect(again.statusCode).toBe(200);
    expect(again.headers['idempotent-replayed']).toBe('true');
    expect(again.json()).toEqual(first.json());
    expect((await backend.stats()).orders).toBe(1);
    expect((await app.inject({ url: `/products/${P.id}` })).json().stock).toBe(P.stock - 2);
    expect((await app.inject({ url: '/cart', headers: user })).json().items).toEqual([]);
  });

  it('a replayed checkout empties the cart a re-run cycle filled again, and places nothing new', async () => {
    const { app, backend } = make();
    const h = { ...user, 'idempotency-key': 'run-1:agent_0001:9' };
    await app.inject({ method: 'POST', url: '/cart/items', headers: user, payload: { product_id: P.id, quantity: 2 } });
    const first = await app.inject({ method: 'POST', url: '/checkout', headers: h });
    expect(first.statusCode).toBe(201);
    // The resumed run runs cycle 9 again: the same items, the same key.
    await app.inject({ method: 'POST', url: '/cart/items', headers: user, payload: { product_id: P.id, quantity: 2 } });
    const again = await app.inject({ method: 'POST', url: '/checkout', headers: h });
    expect(again.statusCode).toBe(200);
    expect(again.json()).toEqual(first.json());
    expect((await backend.stats()).orders).toBe(1);
    expect((await app.inject({ url: `/products/${P.id}` })).json().stock).toBe(P.stock - 2);
    expect((await app.inject({ url: '/cart', headers: user })).json().items).toEqual([]);
  });

  it('refuses more than the stock', async () => {
    const { app } = make();
    // A product whose stock is below the largest quantity one request may ask for (99).
    const L = products.find((p) => p.stock < 99)!;
    expect(L).toBeDefined();
    const res = await app.inject({ method: 'POST', url: '/cart/items', headers: user, payload: { product_id: L.id, quantity: L.stock + 1 } });
    expect(res.statusCode).toBe(409);
    expect(res.json().error.code).toBe('INSUFFICIENT_STOCK');
  });

  it('restocks products below their catalog level at a new offer cycle (the weekly delivery)', async () => {
    const { app } = make();
    const [P, Q] = products.filter((p) => p.stock <= 99) as [typeof products[0], typeof products[0]];
    expect(Q).toBeDefined();
    expect(await startCycle(app)).toMatchObject({ products_restocked: 0 });
    for (const [p, quantity] of [[P, P.stock], [Q, 1]] as const) {
      expect((await app.inject({ method: 'POST', url: '/cart/items', headers: user, payload: { product_id: p.id, quantity } })).statusCode).toBe(200);
    }
    expect((await app.inject({ method: 'POST', url: '/checkout', headers: { ...user, 'idempotency-key': 'all' } })).statusCode).toBe(201);
    expect((await app.inject({ url: `/products/${P.id}` })).json().stock).toBe(0);
    const sold = await app.inject({ method: 'POST', url: '/cart/items', headers: user, payload: { product_id: P.id, quantity: 1 } });
    expect(sold.json().error.code).toBe('INSUFFICIENT_STOCK');
    expect(await startCycle(app, 2)).toMatchObject({ products_restocked: 2 });
    expect((await app.inject({ url: `/products/${P.id}` })).json().stock).toBe(P.stock);
    expect((await app.inject({ url: `/products/${Q.id}` })).json().stock).toBe(Q.stock);
    expect(await startCycle(app, 3)).toMatchObject({ products_restocked: 0 });
  });

  it('applies coupon rules: invalid, min spend, window, used', async () => {
    const { app } = make();
    await startCycle(app);
    // find a user with an offer that has a minimum spend
    let target: { user: string; code: string; min: number; percent: number } | null = null;
    for (const u of ['agent_0001', 'agent_0002', 'agent_0003', 'agent_0004', 'agent_0005', 'agent_0006']) {
      const offers = (await app.inject({ url: '/offers', headers: { 'x-user-id': u } })).json().offers as { code: string; min_spend_cents: number; discount_percent: number }[];
      const o = offers.find((x) => x.min_spend_cents > 0) ?? offers[0];
      if (o) {
        target = { user: u, code: o.code, min: o.min_spend_cents, percent: o.discount_percent };
        if (o.min_spend_cents > 0) break;
      }
    }
    expect(target).not.toBeNull();
    const t = target!;
    const h = { 'x-user-id': t.user, 'x-sim-time': '2024-01-03T00:00:00Z' };
    const coupon = (code: string, headers = h) => app.inject({ method: 'POST', url: '/cart/coupon', headers, payload: { code } });

    expect((await coupon('NOPE')).json().error.code).toBe('COUPON_INVALID');
    expect((await coupon(t.code, { ...h, 'x-user-id': 'agent_0099' })).json().error.code).toBe('COUPON_INVALID');
    if (t.min > 0) expect((await coupon(t.code)).json().error).toMatchObject({ code: 'COUPON_MIN_SPEND', field: 'code' });
    expect((await coupon(t.code, { ...h, 'x-sim-time': '2024-01-08T00:00:00Z' })).json().error.code).toBe('COUPON_EXPIRED');
    expect((await coupon(t.code, { ...h, 'x-sim-time': '2023-12-31T23:59:59Z' })).json().error.code).toBe('COUPON_NOT_YET_VALID');

    const expensive = [...products].sort((a, b) => b.price_cents - a.price_cents)[0]!;
    await app.inject({ method: 'POST', url: '/cart/items', headers: h, payload: { product_id: expensive.id, quantity: Math.max(1, Math.ceil(t.min / expensive.price_cents)) } });
    const applied = await coupon(t.code);
    expect(applied.statusCode).toBe(200);
    const cart = applied.json() as { coupon_code: string; subtotal_cents: number; discount_cents: number; total_cents: number };
    expect(cart.coupon_code).toBe(t.code);
    expect(cart.discount_cents).toBe(Math.floor((cart.subtotal_cents * t.percent) / 100));
    const order = (await app.inject({ method: 'POST', url: '/checkout', headers: { ...h, 'idempotency-key': 'k' } })).json();
    expect(order.coupon_code).toBe(t.code);
    expect(order.total_cents).toBe(cart.total_cents);
    // used: gone from the offers, refused when applied again
    const offers = (await app.inject({ url: '/offers', headers: h })).json().offers as { code: string }[];
    expect(offers.map((o) => o.code)).not.toContain(t.code);
    await app.inject({ method: 'POST', url: '/cart/items', headers: h, payload: { product_id: expensive.id, quantity: 1 } });
    expect((await coupon(t.code)).json().error.code).toBe('COUPON_USED');
  });

  it('assigns the same offers for the same seed', async () => {
    const a = make({ seed: 7 });
    const b = make({ seed: 7 });
    expect(await startCycle(a.app, 3)).toEqual(await startCycle(b.app, 3));
    const h = { 'x-user-id': 'agent_0002' };
    expect((await a.app.inject({ url: '/offers', headers: h })).json()).toEqual((await b.app.inject({ url: '/offers', headers: h })).json());
  });

  it('answers /health', async () => {
    const { server } = make();
    const { url } = await server.listen();
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const res = await fetch(`${url}/health`);
    expect(await res.json()).toMatchObject({ status: 'ok', backend: 'memory' });
  });
});
