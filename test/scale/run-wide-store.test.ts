/**
 * The pieces that make a real store run-wide across workers (docs/scaling.md, "Store, database
 * and rate limit on the workers"): the rate split over the threads busy at once on BullMQ (thread
 * workers share one schedule: test/store/rate-limiter-shared.test.ts), a 429's Retry-After told by one client and held by
 * another (the coordinator's relay hands it out with the next answer; threads: a `hold` message),
 * and a job run again served its lost attempt's answers before anything goes to the store.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { MockAgent } from 'undici';
import type { CallContext, Recorder, SessionRecord, StoreApi } from '../../src/model/types.ts';
import { createMockRecorder } from '../../src/simulation/mock-recorder.ts';
import { createHttpStore, type HttpStore } from '../../src/store/http-store.ts';
import type { Entry } from '../../src/store/answer-format.ts';
import { relayRecorder, startCommitRelay, type CommitRelay } from '../../src/scale/job-edges.ts';
import { threadRate } from '../../src/scale/rate-shares.ts';
import { loopbackOnlyOf } from '../../src/scale/distributed-run.ts';
import { servedFirstStore } from '../../src/scale/served-answers.ts';
import { createFakeClock } from '../store/fake-clock.ts';

const ctx = (agentIndex: number, callSeq: number): CallContext => ({ agentId: `agent_${agentIndex}`, agentIndex, cycle: 2, at: '2024-01-01T10:00:00.000Z', callSeq });
const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of closers.splice(0)) await c();
});

describe('the run-wide rate limit, split', () => {
  it('BullMQ workers: over the threads busy at once — no more than the cycle’s jobs', () => {
    expect(threadRate(1000, 4, 40)).toBe(250);
    expect(threadRate(1000, 4, 2)).toBe(500);
    expect(threadRate(1000, 0, 3)).toBe(1000 / 1);
    expect(threadRate(0, 4, 4)).toBe(0);
  });
});

describe("a 429's Retry-After, held by every client", () => {
  it('a client answered 429 tells it (onRetryAfter); another told to hold sends nothing until then', async () => {
    const agent = new MockAgent();
    agent.disableNetConnect();
    closers.push(() => agent.close());
    const pool = agent.get('http://store.test');
    const told: number[] = [];
    const clock = createFakeClock();
    const a = createHttpStore({ baseUrl: 'http://store.test', dispatcher: agent, rateLimit: 0, clock, onRetryAfter: (ms) => told.push(ms) });
    const b: HttpStore = createHttpStore({ baseUrl: 'http://store.test', dispatcher: agent, rateLimit: 0, clock });
    closers.push(() => a.close(), () => b.close());
    pool.intercept({ path: '/cart', method: 'GET' }).reply(429, { error: { code: 'RATE_LIMITED', message: 'slow down' } }, { headers: { 'retry-after': '2' } });
    pool.intercept({ path: '/cart', method: 'GET' }).reply(200, { user_id: 'agent_1', items: [], coupon_code: null, subtotal_cents: 0, discount_cents: 0, total_cents: 0 }).times(2);
    const first = a.getCart(ctx(1, 1));
    for (let i = 0; i < 20; i++) await new Promise<void>((r) => setImmediate(r));
    expect(told).toEqual([2000]);
    // The coordinator hands it to b: b's next call waits for it.
    b.holdFor(told[0] as number);
    let bDone = false;
    const second = b.getCart(ctx(2, 1)).then(() => (bDone = true));
    for (let i = 0; i < 20; i++) await new Promise<void>((r) => setImmediate(r));
    await clock.advance(1999);
    for (let i = 0; i < 20; i++) await new Promise<void>((r) => setImmediate(r));
    expect(bDone).toBe(false);
    await clock.advance(1);
    for (let i = 0; i < 20; i++) await new Promise<void>((r) => setImmediate(r));
    await second;
    await first;
    expect(bDone).toBe(true);
  });

  it("the coordinator's relay: a hold broadcast by one worker comes back with another's next answer", async () => {
    const relay: CommitRelay = await startCommitRelay(null);
    closers.push(() => relay.close());
    const one = relayRecorder(relay.edge);
    const two = relayRecorder(relay.edge);
    closers.push(() => one.closeRelay(), () => two.closeRelay());
    expect(await two.postAnswer(2, 0, ctx(1, 1), [1, 'gc', [], 1, [0, 0, 0, null]])).toBe(0);
    await one.broadcastHold(5000);
    const hold = await two.postAnswer(2, 0, ctx(1, 2), [2, 'gc', [], 1, [0, 0, 0, null]]);
    expect(hold).toBeGreaterThan(0);
    expect(hold).toBeLessThanOrEqual(5000);
    expect(relay.holds()).toBe(1);
  });
});

describe('the relay', () => {
  it('writes sessions through the run’s recorder (a failed write is the worker’s error); refuses a wrong token', async () => {
    const written: SessionRecord[] = [];
    const recorder: Recorder = {
      ...createMockRecorder(),
      async commitSession(r) {
        if (r.agentIndex === 9) throw new Error('disk full');
        written.push(r);
      },
    };
    const relay = await startCommitRelay(recorder);
    closers.push(() => relay.close());
    const w = relayRecorder(relay.edge);
    closers.push(() => w.closeRelay());
    const rec = (agentIndex: number): SessionRecord => ({ runId: 'r', sessionId: `s${agentIndex}`, agentId: `a${agentIndex}`, agentIndex, cycle: 1, kind: 'browse', status: 'completed', simStart: '2024-01-01T00:00:00Z', simEnd: '2024-01-01T00:10:00Z', notes: null, events: [], order: null }) as SessionRecord;
    await w.commitSession(rec(1));
    await expect(w.commitSession(rec(9))).rejects.toThrow('disk full');
    expect(written.map((r) => r.agentIndex)).toEqual([1]);
    const wrong = relayRecorder({ ...relay.edge, token: 'nope' });
    closers.push(() => wrong.closeRelay());
    await expect(wrong.commitSession(rec(2))).rejects.toThrow(/401/);
    expect(relay.written()).toBe(1);
  });
});

describe('a job run again is served its lost attempt’s answers', () => {
  it('calls already answered (same agent, call, method and arguments) come from the record; the rest go to the store; every answer is held before it is returned', async () => {
    const relay = await startCommitRelay(null);
    closers.push(() => relay.close());
    const log = relayRecorder(relay.edge);
    closers.push(() => log.closeRelay());
    const sent: string[] = [];
    const cart = (total: number) => ({ user_id: 'x', items: [], coupon_code: null, subtotal_cents: total, discount_cents: 0, total_cents: total });
    const inner = {
      getCart: async (c: CallContext) => (sent.push(`getCart ${c.agentIndex}:${c.callSeq}`), cart(100)),
      addToCart: async (c: CallContext, id: string, qty: number) => (sent.push(`addToCart ${c.agentIndex}:${c.callSeq} ${id}×${qty}`), cart(200)),
      startOfferCycle: async () => ({ offers_assigned: 0 }),
    } as unknown as StoreApi;
    const first = servedFirstStore(inner, await log.recordedAnswers(2, 7), { catalog: new Map(), post: (c, e) => log.postAnswer(2, 7, c, e) });
    await first.addToCart(ctx(3, 1), 'p1', 2);
    await first.getCart(ctx(3, 2));
    // The worker is lost here; the job runs again: its two calls are served, the third goes to the store.
    const recorded = await log.recordedAnswers(2, 7);
    expect([...recorded.keys()].sort()).toEqual(['2:3:1', '2:3:2']);
    const again = servedFirstStore(inner, recorded, { catalog: new Map(), post: (c, e) => log.postAnswer(2, 7, c, e) });
    expect((await again.addToCart(ctx(3, 1), 'p1', 2)).total_cents).toBe(200);
    expect((await again.getCart(ctx(3, 2))).total_cents).toBe(100);
    await again.addToCart(ctx(3, 3), 'p2', 1);
    expect(again.served()).toBe(2);
    expect(sent).toEqual(['addToCart 3:1 p1×2', 'getCart 3:2', 'addToCart 3:3 p2×1']);
    // Other arguments than recorded: sent (a diverging retry is not answered from another call's record).
    const other = servedFirstStore(inner, new Map([['2:4:1', [1, 'ac', ['p1', 2], 1, [200, 0, 200, null]] as Entry]]), { catalog: new Map(), post: async () => 0 });
    await other.addToCart(ctx(4, 1), 'p9', 1);
    expect(other.served()).toBe(0);
    // At the barrier the cycle's answers are dropped.
    relay.forget(2);
    expect((await log.recordedAnswers(2, 7)).size).toBe(0);
  });
});

describe("what of a distributed run only the coordinator's machine reaches", () => {
  const base = { mockApi: false, apiUrl: null as string | null, mockDb: false, databaseUrl: null as string | null };
  it('names the bundled store, a loopback store URL and the embedded database; nothing when every edge is reachable or mock', () => {
    expect(loopbackOnlyOf(base)).toBe('bundled store (in the coordinator) and the embedded database (written through the coordinator)');
    expect(loopbackOnlyOf({ ...base, apiUrl: 'http://127.0.0.1:8787', databaseUrl: 'postgres://db.example/x' })).toBe('store http://127.0.0.1:8787');
    expect(loopbackOnlyOf({ ...base, apiUrl: 'http://localhost:8787', mockDb: true })).toBe('store http://localhost:8787');
    expect(loopbackOnlyOf({ ...base, apiUrl: 'http://store.example:8787', databaseUrl: 'postgres://db.example/x' })).toBeNull();
    expect(loopbackOnlyOf({ ...base, mockApi: true, mockDb: true })).toBeNull();
    expect(loopbackOnlyOf({ ...base, mockApi: true, databaseUrl: 'postgres://u:secret@db.example/x' })).toBeNull();
  });
});
