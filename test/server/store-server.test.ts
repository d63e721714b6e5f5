import { afterEach, describe, expect, it } from 'vitest';
import { MockAgent } from 'undici';
import { generateProducts } from '../../src/model/catalog.ts';
import { createMemoryBackend } from '../../src/server/memory-backend.ts';
import { createStoreServer, type StoreServer } from '../../src/server/create-store-server.ts';
import { createHttpStore } from '../../src/store/http-store.ts';

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

// Cart changes sent with an Idempotency-Key (docs/store-api.md, "Cart changes, keyed"): the same
// call sent again is answered as the first time and applied once — what keeps a cohort re-run
// after a lost worker from adding to a cart twice the call whose answer the worker lost.
const add = (app: StoreServer['app'], key: string | null, productId = P.id, quantity = 2, who = user) =>
  app.inject({ method: 'POST', url: '/cart/items', headers: { ...who, ...(key === null ? {} : { 'idempotency-key': key }) }, payload: { product_id: productId, quantity } });

const quantityOf = async (app: StoreServer['app'], productId = P.id, who = user) =>
  ((await app.inject({ method: 'GET', url: '/cart', headers: who })).json() as { items: { product_id: string; quantity: number }[] }).items.find((i) => i.product_id === productId)?.quantity ?? 0;

describe('keyed cart changes', () => {
  it('the same add sent twice with its key is applied once, and the copy gets the first answer', async () => {
    const { app, server } = make();
    const first = await add(app, 'run-1:ab:agent_0001:3:4');
    const again = await add(app, 'run-1:ab:agent_0001:3:4');
    expect(first.statusCode).toBe(200);
    expect(again.statusCode).toBe(200);
    expect(again.headers['idempotent-replayed']).toBe('true');
    expect(first.headers['idempotent-replayed']).toBeUndefined();
    expect(again.json()).toEqual(first.json());
    expect(await quantityOf(app)).toBe(2);
    expect(server.idempotentReplays()).toBe(1);
    // Another key is another call: applied.
    await add(app, 'run-1:ab:agent_0001:3:5');
    expect(await quantityOf(app)).toBe(4);
  });

  it('without a key, or with the keeping turned off, every call is applied', async () => {
    const { app } = make();
    await add(app, null);
    await add(app, null);
    expect(await quantityOf(app)).toBe(4);
    const off = make({ idempotentAnswers: 0 }).app;
    await add(off, 'k');
    await add(off, 'k');
    expect(await quantityOf(off)).toBe(4);
  });

  it('a refusal is kept too: the refused coupon sent again gets the same refusal, marked replayed', async () => {
    const { app } = make();
    await add(app, 'a1');
    const apply = () => app.inject({ method: 'POST', url: '/cart/coupon', headers: { ...user, 'idempotency-key': 'c-9' }, payload: { code: 'NOPE10' } });
    const refused = await apply();
    expect(refused.statusCode).toBeGreaterThanOrEqual(400);
    expect(refused.statusCode).toBeLessThan(500);
    const again = await apply();
    expect(again.statusCode).toBe(refused.statusCode);
    expect(again.headers['idempotent-replayed']).toBe('true');
    expect(again.json()).toEqual(refused.json());
  });

  it('keys are per user, and a key sent with another call is refused with 409 naming it', async () => {
    const { app } = make();
    await add(app, 'k');
    await add(app, 'k', P.id, 2, { ...user, 'x-user-id': 'agent_0002' });
    expect(await quantityOf(app, P.id, { ...user, 'x-user-id': 'agent_0002' })).toBe(2);
    const reused = await add(app, 'k', P.id, 3);
    expect(reused.statusCode).toBe(409);
    expect(reused.json().error).toMatchObject({ code: 'IDEMPOTENCY_KEY_REUSED', field: 'Idempotency-Key' });
    expect(await quantityOf(app)).toBe(2);
    const long = await add(app, 'x'.repeat(201));
    expect(long.statusCode).toBe(400);
    expect(long.json().error.field).toBe('Idempotency-Key');
  });

  it('remove, coupon and clear are keyed the same way; a copy sent while the first runs waits for its answer', async () => {
    const { app } = make();
    await add(app, 'a1');
    const [r1, r2] = await Promise.all([
      app.inject({ method: 'DELETE', url: `/cart/items/${P.id}`, headers: { ...user, 'idempotency-key': 'r1' } }),
      app.inject({ method: 'DELETE', url: `/cart/items/${P.id}`, headers: { ...user, 'idempotency-key': 'r1' } }),
    ]);
    expect(r1.statusCode).toBe(200);
    expect(r2.json()).toEqual(r1.json());
    await add(app, 'a2');
    const c1 = await app.inject({ method: 'DELETE', url: '/cart', headers: { ...user, 'idempotency-key': 'c1' } });
    expect(c1.statusCode).toBe(204);
    await add(app, 'a3');
    // The clear sent again changes nothing: the item added after it stays.
    const c2 = await app.inject({ method: 'DELETE', url: '/cart', headers: { ...user, 'idempotency-key': 'c1' } });
    expect(c2.statusCode).toBe(204);
    expect(c2.headers['idempotent-replayed']).toBe('true');
    expect(await quantityOf(app)).toBe(2);
  });

  it('only the newest answers are kept (the oldest dropped first)', async () => {
    const { app } = make({ idempotentAnswers: 2 });
    await add(app, 'k1');
    await add(app, 'k2');
    await add(app, 'k3');
    await add(app, 'k1'); // dropped: applied again
    await add(app, 'k3'); // kept: not applied
    expect(await quantityOf(app)).toBe(8);
  });
});

describe('the store client keys its cart changes', () => {
  it('with callKeyPrefix: a key per call on POST and DELETE, none on GET; the checkout keeps its own', async () => {
    const agent = new MockAgent();
    agent.disableNetConnect();
    const pool = agent.get('http://store.test');
    const seen: { method: string; path: string; key: string | undefined }[] = [];
    const cart = { user_id: 'agent_000001', items: [], coupon_code: null, subtotal_cents: 0, discount_cents: 0, total_cents: 0 };
    const order = { order_id: 'o1', user_id: 'agent_000001', total_cents: 1, discount_cents: 0, items_count: 1, coupon_code: null };
    pool
      .intercept({ path: () => true, method: () => true })
      .reply((o) => {
        const h = o.headers as Record<string, string>;
        seen.push({ method: o.method, path: o.path, key: h['idempotency-key'] });
        return { statusCode: 200, data: JSON.stringify(o.path === '/checkout' ? order : cart), responseOptions: { headers: { 'content-type': 'application/json' } } };
      })
      .persist();
    const store = createHttpStore({ baseUrl: 'http://store.test', dispatcher: pool, rateLimit: 0, callKeyPrefix: 'run-9:0badf00d' });
    const ctx = (callSeq: number) => ({ agentId: 'agent_000001', agentIndex: 0, cycle: 7, callSeq, at: '2024-01-02T10:00:00.000Z' });
    await store.getCart(ctx(1));
    await store.addToCart(ctx(2), P.id, 1);
    await store.removeFromCart(ctx(3), P.id);
    await store.applyCoupon(ctx(4), 'SAVE10');
    await store.checkout(ctx(5), 'run-9:agent_000001:7');
    await store.close();
    expect(seen).toEqual([
      { method: 'GET', path: '/cart', key: undefined },
      { method: 'POST', path: '/cart/items', key: 'run-9:0badf00d:agent_000001:7:2' },
      { method: 'DELETE', path: `/cart/items/${P.id}`, key: 'run-9:0badf00d:agent_000001:7:3' },
      { method: 'POST', path: '/cart/coupon', key: 'run-9:0badf00d:agent_000001:7:4' },
      { method: 'POST', path: '/checkout', key: 'run-9:agent_000001:7' },
    ]);
  });
});
