/**
 * Cart changes sent with an Idempotency-Key (src/server/create-store-server.ts, docs/store-api.md):
 * the same call sent again is answered as the first time and applied once — what keeps a cohort
 * re-run after a lost worker from adding to a cart twice the call whose answer the worker lost.
 */
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
