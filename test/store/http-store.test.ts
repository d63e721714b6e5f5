import { afterEach, describe, expect, it, vi } from 'vitest';
import { MockAgent } from 'undici';
import { createHttpStore, parseRetryAfter, type HttpStore } from '../../src/store/http-store.ts';
import { StoreCallError } from '../../src/store/store-error.ts';
import { createRateLimiter } from '../../src/store/rate-limiter.ts';
import type { CallContext } from '../../src/model/types.ts';
import { createFakeClock } from './fake-clock.ts';

const ORIGIN = 'http://store.test';
const ctx = (n = 1): CallContext => ({ agentId: 'agent_0001', agentIndex: 0, cycle: 3, at: '2024-01-01T10:00:00.000Z', callSeq: n });
const cart = { user_id: 'agent_0001', items: [], coupon_code: null, subtotal_cents: 0, discount_cents: 0, total_cents: 0 };
const order = { order_id: 'ord_1', user_id: 'agent_0001', total_cents: 1000, discount_cents: 0, items_count: 1, coupon_code: null };

let stores: HttpStore[] = [];
let agents: MockAgent[] = [];
afterEach(async () => {
  for (const s of stores) await s.close();
  for (const a of agents) await a.close();
  stores = [];
  agents = [];
});

function setup(opts: Parameters<typeof createHttpStore>[0] extends infer O ? Partial<O> : never = {}) {
  const agent = new MockAgent();
  agent.disableNetConnect();
  agents.push(agent);
  const store = createHttpStore({ baseUrl: ORIGIN, dispatcher: agent, rateLimit: 0, ...opts });
  stores.push(store);
  return { agent, pool: agent.get(ORIGIN), store };
}

/** Lets the mock dispatcher and the client's promise chains run (they need no timer). */
async function turns(n = 20): Promise<void> {
  for (let i = 0; i < n; i++) await new Promise<void>((r) => setImmediate(r));
}

async function rejection(p: Promise<unknown>): Promise<StoreCallError> {
  try {
    await p;
  } catch (err) {
    expect(err).toBeInstanceOf(StoreCallError);
    return err as StoreCallError;
  }
  throw new Error('expected a rejection');
}

describe('parseRetryAfter', () => {
  it('reads delta-seconds and HTTP dates', () => {
    expect(parseRetryAfter('2', 0)).toBe(2000);
    const now = Date.parse('2024-01-01T00:00:00Z');
    expect(parseRetryAfter('Mon, 01 Jan 2024 00:00:03 GMT', now)).toBe(3000);
    expect(parseRetryAfter('Mon, 01 Jan 2023 00:00:03 GMT', now)).toBe(0);
    expect(parseRetryAfter('soon', now)).toBeNull();
    expect(parseRetryAfter(undefined, now)).toBeNull();
  });
});

describe('createHttpStore', () => {
  it('sends the user, the simulated time and the idempotency key, and parses the order', async () => {
    const { pool, store } = setup();
    let seen: Record<string, string> = {};
    pool.intercept({ path: '/checkout', method: 'POST' }).reply(201, (opts) => {
      seen = opts.headers as Record<string, string>;
      return order;
    });
    await expect(store.checkout(ctx(), 'key-1')).resolves.toEqual(order);
    expect(seen['x-user-id']).toBe('agent_0001');
    expect(seen['x-sim-time']).toBe('2024-01-01T10:00:00.000Z');
    expect(seen['idempotency-key']).toBe('key-1');
  });

  it('maps a 4xx to rejected with the server code', async () => {
    const { pool, store } = setup();
    pool.intercept({ path: '/cart/coupon', method: 'POST' }).reply(422, { error: { code: 'COUPON_EXPIRED', message: 'expired' } });
    const err = await rejection(store.applyCoupon(ctx(), 'X'));
    expect(err.kind).toBe('rejected');
    expect(err.storeCode).toBe('COUPON_EXPIRED');
    expect(err.status).toBe(422);
    expect(store.metrics().http_errors).toEqual({ 422: 1 });
    expect(store.metrics().endpoints['POST /cart/coupon']?.rejected).toBe(1);
  });

  it('maps a 5xx to failed', async () => {
    const { pool, store } = setup();
    pool.intercept({ path: '/cart', method: 'GET' }).reply(503, { error: { code: 'INJECTED_FAILURE', message: 'boom' } });
    const err = await rejection(store.getCart(ctx()));
    expect(err.kind).toBe('failed');
    expect(err.storeCode).toBe('INJECTED_FAILURE');
    const m = store.metrics();
    expect(m.http_errors).toEqual({ 503: 1 });
    expect(m.errors).toBe(1);
    expect(m.endpoints['GET /cart']?.errors).toBe(1);
  });

  it('turns a timeout into failed', async () => {
    // The attempt timer and the mock's reply delay are timers: fake ones, so "it gave up at the
    // timeout, not when the late reply came" holds however slow the machine is.
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    try {
      const { pool, store } = setup({ requestTimeoutMs: 100, clock: createFakeClock() });
      pool.intercept({ path: '/cart', method: 'GET' }).reply(200, cart).delay(1000);
      let settled = false;
      const failed = rejection(store.getCart(ctx())).finally(() => (settled = true));
      await turns();
      await vi.advanceTimersByTimeAsync(99);
      await turns();
      expect(settled).toBe(false);
      await vi.advanceTimersByTimeAsync(1);
      await turns();
      expect(settled).toBe(true);
      const err = await failed;
      expect(err.kind).toBe('failed');
      expect(err.storeCode).toBe('TIMEOUT');
      expect(store.metrics().timeouts).toBe(1);
    } finally {
      vi.useRealTimers();
    }
  });

  it('turns a network error into failed', async () => {
    const { pool, store } = setup();
    pool.intercept({ path: '/cart', method: 'GET' }).replyWithError(new Error('socket hang up'));
    const err = await rejection(store.getCart(ctx()));
    expect(err.kind).toBe('failed');
    expect(store.metrics().network_errors).toBe(1);
  });

  it('on 429: that call waits its Retry-After, the others go on at a pace cut by the limiter', async () => {
    const clock = createFakeClock();
    const { pool, store } = setup({ rateLimit: 100, clock });
    const times: number[] = [];
    pool
      .intercept({ path: '/cart', method: 'GET' })
      .reply(() => {
        times.push(clock.now());
        return { statusCode: 429, data: { error: { code: 'RATE_LIMITED', message: 'slow down' } }, responseOptions: { headers: { 'retry-after': '1' } } };
      });
    pool
      .intercept({ path: '/cart', method: 'GET' })
      .reply(() => {
        times.push(clock.now());
        return { statusCode: 200, data: cart };
      })
      .times(5);
    let firstDone = false;
    const first = store.getCart(ctx(1)).then((c) => {
      firstDone = true;
      return c;
    });
    await turns();
    await clock.advance(50);
    // a second agent's calls are not held behind the first one's Retry-After
    const others = [store.getCart(ctx(2)), store.getCart(ctx(3))];
    await turns();
    await clock.advance(100);
    await Promise.all(others);
    expect(times.length).toBe(3);
    expect(firstDone).toBe(false);
    expect(store.metrics().effective_rate).toBeLessThan(100);
    await clock.advance(849);
    await turns();
    expect(firstDone).toBe(false);
    await clock.advance(100);
    await turns();
    await expect(first).resolves.toEqual(cart);
    expect(times.length).toBe(4);
    expect((times[3] as number) - (times[0] as number)).toBeGreaterThanOrEqual(1000);
    const m = store.metrics();
    expect(m.retries_429).toBe(1);
    expect(m.requests).toBe(4);
    expect(m.http_errors).toEqual({ 429: 1 });
    // latency from the intended start includes the Retry-After wait
    expect(m.endpoints['GET /cart']?.latency_ms_from_due.max).toBeGreaterThanOrEqual(1000);
  });

  it('honours a Retry-After HTTP date', async () => {
    const wall = Date.parse('2024-01-01T00:00:00Z');
    const clock = createFakeClock();
    const { pool, store } = setup({ wallNow: () => wall, clock });
    const times: number[] = [];
    pool.intercept({ path: '/offers', method: 'GET' }).reply(() => {
      times.push(clock.now());
      return { statusCode: 429, data: '', responseOptions: { headers: { 'retry-after': 'Mon, 01 Jan 2024 00:00:01 GMT' } } };
    });
    pool.intercept({ path: '/offers', method: 'GET' }).reply(() => {
      times.push(clock.now());
      return { statusCode: 200, data: { offer_cycle: 1, offers: [] } };
    });
    const offers = store.listOffers(ctx());
    await turns();
    await clock.advance(999);
    await turns();
    expect(times).toEqual([0]);
    await clock.advance(1);
    await turns();
    await expect(offers).resolves.toEqual([]);
    expect((times[1] as number) - (times[0] as number)).toBe(1000);
  });

  it('gives up after the bounded number of 429 retries', async () => {
    const { pool, store } = setup({ maxRetries429: 2, defaultRetryAfterMs: 10 });
    pool.intercept({ path: '/cart', method: 'GET' }).reply(429, { error: { code: 'RATE_LIMITED', message: 'no' } }).times(3);
    const err = await rejection(store.getCart(ctx()));
    expect(err.kind).toBe('failed');
    expect(err.status).toBe(429);
    const m = store.metrics();
    expect(m.retries_429).toBe(2);
    expect(m.requests).toBe(3);
  });

  it('retries a checkout with the same Idempotency-Key: the store makes one order', async () => {
    const { pool, store } = setup({ defaultRetryAfterMs: 10 });
    const orders = new Map<string, typeof order>();
    let created = 0;
    const keys: string[] = [];
    pool
      .intercept({ path: '/checkout', method: 'POST' })
      .reply((opts) => {
        const key = (opts.headers as Record<string, string>)['idempotency-key'] as string;
        keys.push(key);
        // the first attempt is committed, but its answer is lost behind a 429
        if (!orders.has(key)) {
          orders.set(key, { ...order, order_id: `ord_${++created}` });
          return { statusCode: 429, data: '' };
        }
        return { statusCode: 200, data: orders.get(key) };
      })
      .times(2);
    const o = await store.checkout(ctx(), 'agent_0001:3:checkout');
    expect(o.order_id).toBe('ord_1');
    expect(created).toBe(1);
    expect(keys).toEqual(['agent_0001:3:checkout', 'agent_0001:3:checkout']);
  });

  it('reports latency per endpoint and overall, from send and from due', async () => {
    const { pool, store } = setup({ rateLimit: 20, burst: 1 });
    pool.intercept({ path: /\/products\/.*/, method: 'GET' }).reply(200, { id: 'p', sku: 'P', name: 'p', category: 'c', price_cents: 100, stock: 1, rating: 4 }).times(5);
    await Promise.all([1, 2, 3, 4, 5].map((n) => store.getProduct(ctx(n), `prod_${n}`)));
    const m = store.metrics();
    expect(m.calls).toBe(5);
    expect(m.endpoints['GET /products/:id']?.count).toBe(5);
    // the fifth call was due 200 ms after the first: its wait is not latency from send…
    expect(m.latency_ms.max).toBeLessThan(100);
    // …nor from due (each call was sent at its slot)
    expect(m.latency_ms_from_due.max).toBeLessThan(100);
    expect(m.rate_limit).toEqual({ rate: 20, burst: 1 });
    expect(JSON.parse(JSON.stringify(m))).toEqual(m);
  });

  it('counts queueing for a connection in the latency from due', async () => {
    const { pool, store } = setup({ connections: 1 });
    pool.intercept({ path: '/cart', method: 'GET' }).reply(200, cart).delay(100).times(3);
    await Promise.all([1, 2, 3].map((n) => store.getCart(ctx(n))));
    const m = store.metrics();
    expect(m.latency_ms.max).toBeLessThan(190);
    expect(m.latency_ms_from_due.max).toBeGreaterThanOrEqual(290);
  });

  it('sends in FIFO order when all connections are busy, and fails calls still waiting at close', async () => {
    const { pool, store } = setup({ connections: 1 });
    pool.intercept({ path: '/cart', method: 'GET' }).reply(200, cart).delay(50).times(3);
    const order: number[] = [];
    const first = Promise.all([1, 2].map((n) => store.getCart(ctx(n)).then(() => order.push(n))));
    const third = store.getCart(ctx(3));
    expect(store.metrics().queued).toBe(2);
    await first;
    expect(order).toEqual([1, 2]);
    const fourth = store.getCart(ctx(4));
    await store.close();
    const e = await rejection(fourth);
    expect(e.storeCode).toBe('CLIENT_CLOSED');
    expect(e.message).toMatch(/^GET \/cart: /);
    await third.catch(() => {});
  });
});

describe('createHttpStore: when the store read each request', () => {
  it('reports each arrival to the limiter by its answer time (a store that read it late answers as fast), and a failed attempt by its failure', async () => {
    // A clock the mock store moves: each answer takes `took` ms of it.
    let t = 1000;
    let took = 5;
    const clock = { now: () => t, setTimer: (fn: () => void, ms: number) => setTimeout(fn, ms), clearTimer: (h: unknown) => clearTimeout(h as NodeJS.Timeout) };
    const reports: [number, number][] = [];
    const sent: number[] = [];
    const limiter = createRateLimiter({ rate: 100_000, clock });
    const arrivedBy = limiter.arrivedBy.bind(limiter);
    limiter.arrivedBy = (seq, at) => {
      reports.push([seq, at]);
      arrivedBy(seq, at);
    };
    const { pool, store } = setup({ limiter, clock });
    const product = { id: 'p', sku: 'P', name: 'p', category: 'c', price_cents: 100, stock: 1, rating: 4 };
    pool
      .intercept({ path: /\/products\/.*/, method: 'GET' })
      .reply(() => {
        sent.push(t);
        t += took;
        return { statusCode: 200, data: product };
      })
      .times(30);
    for (let n = 1; n <= 29; n++) await store.getProduct(ctx(n), `prod_${n}`);
    expect(reports[0]).toEqual([0, 1005]);
    // every one by its answer, however many fast answers came before it (never before the store had it)
    expect(reports.slice(0, 29).every(([, at], i) => at === (sent[i] as number) + 5)).toBe(true);
    // a request the store read 45 ms late (the answer took 50): counted from its answer
    took = 50;
    await store.getProduct(ctx(30), 'prod_30');
    expect(reports[29]).toEqual([29, (sent[29] as number) + 50]);
    // a failed attempt (the connection dropped) is reported too, by when it failed
    pool.intercept({ path: /\/products\/.*/, method: 'GET' }).replyWithError(new Error('socket hang up'));
    t += 7;
    const failedAt = t;
    await store.getProduct(ctx(31), 'prod_31').catch(() => undefined);
    expect(reports[30]?.[0]).toBe(30);
    expect(reports[30]?.[1]).toBe(failedAt);
    limiter.close();
  });
});
