import { afterEach, describe, expect, it } from 'vitest';
import { MockAgent } from 'undici';
import { basketApiRoutes, parseBasketApiError } from '../../src/store/adapter.ts';
import { createHttpStore, type HttpStore } from '../../src/store/http-store.ts';
import { StoreCallError } from '../../src/store/store-error.ts';
import type { CallContext } from '../../src/model/types.ts';

const ORIGIN = 'http://shop.test';
const ctx: CallContext = { agentId: 'agent_0007', agentIndex: 6, cycle: 12, at: '2024-01-01T11:00:00.000Z', callSeq: 1 };
const basket = { customer: 'agent_0007', lines: [{ sku: 'SKU-1', qty: 2, unit_price_cents: 1500 }], voucher: 'SPRING10', totals: { subtotal: 3000, discount: 300, total: 2700 } };

let closeables: { close(): Promise<void> }[] = [];
afterEach(async () => {
  for (const c of closeables) await c.close();
  closeables = [];
});

function setup(): { pool: ReturnType<MockAgent['get']>; store: HttpStore } {
  const agent = new MockAgent();
  agent.disableNetConnect();
  const store = createHttpStore({ baseUrl: ORIGIN, dispatcher: agent, rateLimit: 0, routes: basketApiRoutes, parseError: parseBasketApiError });
  closeables.push(store, agent);
  return { pool: agent.get(ORIGIN), store };
}

describe('an adapter to another store API (src/store/adapter.ts)', () => {
  it('maps paths, headers and bodies both ways, and keeps shopsim\'s metrics per endpoint', async () => {
    const { pool, store } = setup();
    let headers: Record<string, string> = {};
    let body: unknown;
    pool.intercept({ path: '/api/v2/catalog?page=1&per_page=12&cat=books', method: 'GET' }).reply(200, {
      data: [{ sku: 'SKU-1', title: 'Atlas', category: 'books', price: { amount_cents: 1500 }, stock: 9, stars: 4.5 }],
    });
    pool.intercept({ path: '/api/v2/basket/lines', method: 'POST' }).reply(200, (opts) => {
      headers = opts.headers as Record<string, string>;
      body = JSON.parse(String(opts.body));
      return basket;
    });
    pool.intercept({ path: '/api/v2/orders', method: 'POST' }).reply(201, (opts) => {
      headers = opts.headers as Record<string, string>;
      return { order: { id: 'o-1', customer: 'agent_0007', total_cents: 2700, discount_cents: 300, item_count: 2, voucher: 'SPRING10' } };
    });
    await expect(store.listProducts(ctx, { category: 'books', page: 1, pageSize: 12 })).resolves.toEqual([
      { id: 'SKU-1', sku: 'SKU-1', name: 'Atlas', category: 'books', price_cents: 1500, stock: 9, rating: 4.5 },
    ]);
    const c = await store.addToCart(ctx, 'SKU-1', 2);
    expect(body).toEqual({ sku: 'SKU-1', qty: 2 });
    expect(headers['authorization']).toBe('Bearer agent_0007');
    expect(headers['x-clock']).toBe('2024-01-01T11:00:00.000Z');
    expect(c).toMatchObject({ user_id: 'agent_0007', coupon_code: 'SPRING10', total_cents: 2700, items: [{ product_id: 'SKU-1', quantity: 2, unit_price_cents: 1500 }] });
    await expect(store.checkout(ctx, 'run:agent_0007:12')).resolves.toMatchObject({ order_id: 'o-1', items_count: 2, coupon_code: 'SPRING10' });
    expect(headers['idempotency-key']).toBe('run:agent_0007:12');
    const m = store.metrics();
    expect(m.requests).toBe(3);
    expect(Object.keys(m.endpoints).sort()).toEqual(['GET catalog', 'POST basket/lines', 'POST orders']);
  });

  it('turns the API\'s refusals into rejections with its code, and outages into failures', async () => {
    const { pool, store } = setup();
    pool.intercept({ path: '/api/v2/basket/voucher', method: 'POST' }).reply(422, { errorCode: 'VOUCHER_EXPIRED', detail: 'voucher SPRING10 ended' });
    pool.intercept({ path: '/api/v2/vouchers', method: 'GET' }).reply(503, 'down');
    const refused = await store.applyCoupon(ctx, 'SPRING10').catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(StoreCallError);
    expect(refused).toMatchObject({ kind: 'rejected', storeCode: 'VOUCHER_EXPIRED', status: 422 });
    expect((refused as Error).message).toContain('voucher SPRING10 ended');
    const failed = await store.listOffers(ctx).catch((e: unknown) => e);
    expect(failed).toMatchObject({ kind: 'failed', status: 503 });
  });
});
