import { afterEach, describe, expect, it, vi } from 'vitest';
import { MockAgent } from 'undici';
import { checkedApi, createHttpStore, type HttpStore } from '../../src/store/http-store.ts';
import { StoreCallError } from '../../src/store/store-error.ts';
import type { CallContext, Persona, Recorder, SessionRecord, StoreApi } from '../../src/model/types.ts';
import { createSimulation, DEFAULT_SIMULATION_CONFIG, type SimulationConfig } from '../../src/simulation/create-simulation.ts';
import { createMockRecorder } from '../../src/simulation/mock-recorder.ts';
import { createMockStore } from '../../src/store/mock-store.ts';
import { personas372, products } from '../helpers.ts';
import { createFakeClock } from './fake-clock.ts';

const ORIGIN = 'http://store.test';
const ctx = (n = 1): CallContext => ({ agentId: 'agent_0001', agentIndex: 0, cycle: 3, at: '2024-01-01T10:00:00.000Z', callSeq: n });

let stores: HttpStore[] = [];
let agents: MockAgent[] = [];
afterEach(async () => {
  for (const s of stores) await s.close();
  for (const a of agents) await a.close();
  stores = [];
  agents = [];
});

function setup(opts: Partial<Parameters<typeof createHttpStore>[0]> = {}) {
  const agent = new MockAgent();
  agent.disableNetConnect();
  agents.push(agent);
  const store = createHttpStore({ baseUrl: ORIGIN, dispatcher: agent, rateLimit: 0, ...opts });
  stores.push(store);
  return { pool: agent.get(ORIGIN), store };
}

async function badResponse(p: Promise<unknown>): Promise<StoreCallError> {
  try {
    await p;
  } catch (err) {
    expect(err).toBeInstanceOf(StoreCallError);
    const e = err as StoreCallError;
    expect(e.kind).toBe('failed');
    expect(e.storeCode).toBe('BAD_RESPONSE');
    return e;
  }
  throw new Error('expected a BAD_RESPONSE failure');
}

const json = (body: string) => ({ statusCode: 200, data: body, responseOptions: { headers: { 'content-type': 'application/json' } } });

describe('store answers are checked against the contract', () => {
  it.each([
    ['{"items":"not-a-list"}', 'items: Expected array, received string'],
    ['null', '(body): Expected object, received null'],
    ['{}', 'items: Required'],
    ['', '(body): Required'],
    ['{"items":[{"id":"p1"}],"page":1,"page_size":20,"total":1}', 'items.0.sku: Required'],
    ['{"items":[],"page":1,"page_size":20,"total":"1"}', 'total: Expected number, received string'],
  ])('GET /products answering %s is BAD_RESPONSE naming the endpoint and %s', async (body, field) => {
    const { pool, store } = setup();
    pool.intercept({ path: /\/products\?.*/, method: 'GET' }).reply(() => json(body));
    const e = await badResponse(store.listProducts(ctx(), { category: 'books', page: 1, pageSize: 20 }));
    expect(e.message).toBe(`GET /products: the answer does not match the store contract: ${field}`);
  });

  it('an offers answer of {} and offers of the wrong shape are BAD_RESPONSE', async () => {
    const { pool, store } = setup();
    pool.intercept({ path: '/offers', method: 'GET' }).reply(() => json('{}'));
    pool.intercept({ path: '/offers', method: 'GET' }).reply(() => json('{"offer_cycle":1,"offers":[{"offer_id":"o","code":"C","description":"d","discount_percent":150,"min_spend_cents":0,"offer_cycle":1,"valid_from":"2024-01-01T00:00:00Z","valid_until":"2024-01-08T00:00:00Z"}]}'));
    expect((await badResponse(store.listOffers(ctx()))).message).toMatch(/^GET \/offers: .*: offer_cycle: Required$/);
    expect((await badResponse(store.listOffers(ctx()))).message).toMatch(/offers\.0\.discount_percent: Number must be less than or equal to 100$/);
  });

  it('a completed checkout without an order id is a failure, never an order', async () => {
    const { pool, store } = setup();
    pool.intercept({ path: '/checkout', method: 'POST' }).reply(() => ({ statusCode: 201, data: '{}' }));
    pool.intercept({ path: '/checkout', method: 'POST' }).reply(() => ({ statusCode: 201, data: '{"order_id":"","user_id":"a","total_cents":5,"discount_cents":0,"items_count":1,"coupon_code":null}' }));
    expect((await badResponse(store.checkout(ctx(), 'k'))).message).toMatch(/POST \/checkout: .*: order_id: Required$/);
    expect((await badResponse(store.checkout(ctx(), 'k'))).message).toMatch(/order_id: String must contain at least 1 character/);
  });

  it('a cart of the wrong shape is BAD_RESPONSE for add, coupon and get', async () => {
    const { pool, store } = setup();
    pool.intercept({ path: '/cart/items', method: 'POST' }).reply(() => json('{"user_id":"a","items":{},"coupon_code":null,"subtotal_cents":0,"discount_cents":0,"total_cents":0}'));
    pool.intercept({ path: '/cart/coupon', method: 'POST' }).reply(() => json('{"user_id":"a","items":[],"coupon_code":7,"subtotal_cents":0,"discount_cents":0,"total_cents":0}'));
    pool.intercept({ path: '/cart', method: 'GET' }).reply(() => json('[]'));
    expect((await badResponse(store.addToCart(ctx(), 'p', 1))).message).toMatch(/^POST \/cart\/items: .*: items: Expected array, received object$/);
    expect((await badResponse(store.applyCoupon(ctx(), 'C'))).message).toMatch(/coupon_code: Expected string, received number$/);
    expect((await badResponse(store.getCart(ctx()))).message).toMatch(/^GET \/cart: .*\(body\): Expected object, received array$/);
  });

  it('a well-formed answer passes unchanged', async () => {
    const { pool, store } = setup();
    const order = { order_id: 'ord_1', user_id: 'agent_0001', total_cents: 1000, discount_cents: 0, items_count: 1, coupon_code: null };
    pool.intercept({ path: '/checkout', method: 'POST' }).reply(201, order);
    await expect(store.checkout(ctx(), 'k')).resolves.toEqual(order);
  });

  it("an adapter's answers (other routes) are checked too", async () => {
    const mock = createMockStore({ seed: 1, products, agentIds: ['agent_0001'] });
    const broken = checkedApi({ ...mock, listProducts: async () => [{ id: 'x' }] as never });
    const e = await badResponse(broken.listProducts(ctx(), { category: 'books', page: 1, pageSize: 20 }));
    expect(e.message).toMatch(/^listProducts: .*: 0\.sku: Required$/);
  });

  it('a timeout counts in errors (the summary figure), not only in timeouts', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    try {
      const cart = { user_id: 'agent_0001', items: [], coupon_code: null, subtotal_cents: 0, discount_cents: 0, total_cents: 0 };
      const { pool, store } = setup({ requestTimeoutMs: 100, clock: createFakeClock() });
      pool.intercept({ path: '/cart', method: 'GET' }).reply(200, cart).delay(1000);
      const failed = store.getCart(ctx()).catch((e: unknown) => e);
      await vi.advanceTimersByTimeAsync(150);
      expect(await failed).toMatchObject({ storeCode: 'TIMEOUT' });
      const m = store.metrics();
      expect(m.timeouts).toBe(1);
      expect(m.errors).toBe(1);
      expect(m.endpoints['GET /cart']?.errors).toBe(1);
    } finally {
      vi.useRealTimers();
    }
  });
});

function config(over: Partial<SimulationConfig> = {}): SimulationConfig {
  return { ...DEFAULT_SIMULATION_CONFIG, runId: 'test-run', fast: true, cycles: 12, breakerAction: 'exit', breakerPercent: 100, ...over };
}

function collecting(): { recorder: Recorder; records: SessionRecord[] } {
  const base = createMockRecorder();
  const records: SessionRecord[] = [];
  return { records, recorder: { ...base, commitSession: async (r) => { await base.commitSession(r); records.push(r); } } };
}

describe('a whole run with bad answers', () => {
  const ps: Persona[] = personas372;

  it("the mock store's answers pass the same schemas: checked, the run is the same run", async () => {
    const plain = await createSimulation(config(), { personas: ps, products, store: createMockStore({ seed: 42, products, agentIds: ps.map((p) => p.id) }), recorder: createMockRecorder() }).run();
    const checked = await createSimulation(config(), { personas: ps, products, store: checkedApi(createMockStore({ seed: 42, products, agentIds: ps.map((p) => p.id) })), recorder: createMockRecorder() }).run();
    expect(checked.sessions_failed).toBe(0);
    expect(checked.checkouts_completed).toBeGreaterThan(0);
    expect(checked.digest).toBe(plain.digest);
  });

  it('{} for 1 in 5 checkouts: those are failed sessions with the endpoint and field in the notes, never revenue', async () => {
    const mock = createMockStore({ seed: 42, products, agentIds: ps.map((p) => p.id) });
    let n = 0;
    let good = 0;
    let goodRevenue = 0;
    const store: StoreApi = checkedApi({
      ...mock,
      checkout: async (c, key) => {
        const order = await mock.checkout(c, key);
        if (++n % 5 === 0) return {} as never;
        good++;
        goodRevenue += order.total_cents;
        return order;
      },
    });
    const { recorder, records } = collecting();
    const summary = await createSimulation(config(), { personas: ps, products, store, recorder }).run();
    expect(n).toBeGreaterThan(20);
    expect(summary.exit_reason).toBe('completed');
    expect(summary.checkouts_completed).toBe(good);
    expect(summary.revenue_cents).toBe(goodRevenue);
    const bad = records.filter((r) => r.status === 'failed');
    expect(bad.length).toBe(Math.floor(n / 5));
    for (const r of bad) expect(r.notes).toMatch(/^checkout: the answer does not match the store contract: order_id: Required$/);
  });

  it('a store whose answer makes a step throw (a TypeError, not a StoreCallError) fails that agent, not the run', async () => {
    const mock = createMockStore({ seed: 42, products, agentIds: ps.map((p) => p.id) });
    const store: StoreApi = {
      ...mock,
      listOffers: (c) => {
        if (c.agentIndex % 7 === 0) throw new TypeError("Cannot read properties of null (reading 'offers')"); // synchronous, as a broken adapter would
        return mock.listOffers(c);
      },
    };
    const { recorder, records } = collecting();
    const summary = await createSimulation(config(), { personas: ps, products, store, recorder }).run();
    expect(summary.exit_reason).toBe('completed');
    expect(summary.sessions_failed).toBeGreaterThan(0);
    expect(records.filter((r) => r.status === 'failed').every((r) => /Cannot read properties of null/.test(r.notes ?? ''))).toBe(true);
  });
});
