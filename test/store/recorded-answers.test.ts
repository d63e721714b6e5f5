/**
 * The recorded store answers, in process: the recording does not depend on the order in which
 * agents' calls complete; a resumed writer truncates to the checkpoint's position; the replay
 * store serves what was recorded (answers and errors alike) and names divergences by
 * (cycle, agent, call), the first by agent index whatever order they happen in.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { generateProducts } from '../../src/model/catalog.ts';
import type { CallContext, Cart, StoreApi } from '../../src/model/types.ts';
import { createAnswersWriter, type AnswersPosition } from '../../src/store/answers-writer.ts';
import { createRecordingStore } from '../../src/store/recording-store.ts';
import { createReplayStore, readRecordedAnswers } from '../../src/store/replay-store.ts';
import { StoreCallError } from '../../src/store/store-error.ts';

const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));
const tmp = () => {
  const d = mkdtempSync(join(tmpdir(), 'shopsim-answers-'));
  dirs.push(d);
  return d;
};

const products = generateProducts(60, 3);
const agentIds = Array.from({ length: 6 }, (_, i) => `agent_${String(i + 1).padStart(6, '0')}`);
const ctx = (agentIndex: number, cycle: number, callSeq: number): CallContext => ({ agentId: agentIds[agentIndex] as string, agentIndex, cycle, at: '2024-01-01T10:00:00.000Z', callSeq });

/** A store whose answers depend on the call, and whose delays (and so completion order) are given. */
function stubStore(delayOf: (c: CallContext) => number): StoreApi {
  const wait = (c: CallContext) => new Promise<void>((r) => setTimeout(r, delayOf(c)));
  const cart = (c: CallContext, n: number): Cart => ({ user_id: c.agentId, items: [], coupon_code: null, subtotal_cents: 1000 * n + c.agentIndex, discount_cents: 0, total_cents: 1000 * n + c.agentIndex });
  return {
    async listProducts(c, q) {
      await wait(c);
      return products.slice(q.page * 12, q.page * 12 + 12);
    },
    async getProduct(c, id) {
      await wait(c);
      return products.find((p) => p.id === id) ?? (products[0] as (typeof products)[0]);
    },
    async getCart(c) {
      await wait(c);
      return cart(c, 0);
    },
    async addToCart(c, _id, qty) {
      await wait(c);
      return cart(c, qty);
    },
    async removeFromCart(c) {
      return cart(c, 0);
    },
    async clearCart(c) {
      await wait(c);
    },
    async listOffers(c) {
      await wait(c);
      return [{ offer_id: 'o1', code: `OC1-${c.agentId}`, description: '', discount_percent: 10 + c.agentIndex, min_spend_cents: 500, offer_cycle: 1, valid_from: '', valid_until: '' }];
    },
    async applyCoupon(c, code) {
      await wait(c);
      if (c.agentIndex % 2 === 0) throw new StoreCallError('rejected', `coupon ${code} expired`, { status: 422, storeCode: 'COUPON_EXPIRED' });
      return cart(c, 1);
    },
    async checkout(c, key) {
      await wait(c);
      if (c.agentIndex === 5) throw new StoreCallError('failed', 'request timed out after 30000 ms', { storeCode: 'TIMEOUT' });
      return { order_id: `ord_${key}`, user_id: c.agentId, total_cents: 1234, discount_cents: 0, items_count: 2, coupon_code: null };
    },
    async startOfferCycle(r) {
      return { offers_assigned: r.user_ids.length };
    },
  };
}

/** One cycle of six agents, each making a shopper's sequence of calls; all agents at once. */
async function cycle(store: StoreApi, n: number): Promise<unknown[]> {
  const seen: unknown[] = [];
  await Promise.all(
    agentIds.map(async (_, i) => {
      const got: unknown[] = [];
      const call = async (f: () => Promise<unknown>) => {
        try {
          got.push(await f());
        } catch (err) {
          got.push({ error: (err as StoreCallError).kind, message: (err as Error).message, status: (err as StoreCallError).status, code: (err as StoreCallError).storeCode });
        }
      };
      await call(() => store.listProducts(ctx(i, n, 1), { category: 'home', page: 1 + (i % 2), pageSize: 12 }));
      await call(() => store.getProduct(ctx(i, n, 2), products[i]!.id));
      await call(() => store.addToCart(ctx(i, n, 3), products[i]!.id, 1 + (i % 2)));
      await call(() => store.listOffers(ctx(i, n, 4)));
      await call(() => store.applyCoupon(ctx(i, n, 5), `OC1-${agentIds[i]}`));
      await call(() => store.checkout(ctx(i, n, 6), `run:${agentIds[i]}:${n}`));
      seen[i] = got;
    }),
  );
  return seen;
}

describe('recording store answers', () => {
  it('writes the same bytes whatever order the agents complete in', async () => {
    const files: string[] = [];
    for (const delay of [(c: CallContext) => c.agentIndex * 3 + c.callSeq, (c: CallContext) => (5 - c.agentIndex) * 3 + ((c.callSeq * 7) % 5)]) {
      const dir = tmp();
      const w = createAnswersWriter({ dir, runId: 'r1', agents: 6 });
      const store = createRecordingStore(stubStore(delay), w);
      await cycle(store, 1);
      w.sealCycle(1);
      await cycle(store, 2);
      w.sealCycle(2);
      w.close();
      files.push(readFileSync(w.path, 'utf8'));
    }
    expect(files[0]).toBe(files[1]);
    const lines = (files[0] as string).trim().split('\n');
    expect(lines.map((l) => /^\{"c":(\d+),(?:"a":(\d+)|"end":(\d+))/.exec(l)?.slice(1, 4).join('/')).slice(1)).toEqual([
      ...agentIds.map((_, i) => `1/${i}/`),
      '1//6',
      ...agentIds.map((_, i) => `2/${i}/`),
      '2//6',
    ]);
  });

  it('replays the recorded answers and errors: the decisions see what they saw', async () => {
    const dir = tmp();
    const w = createAnswersWriter({ dir, runId: 'r2', agents: 6 });
    const live = stubStore(() => 0);
    const rec = createRecordingStore(live, w);
    const first = await cycle(rec, 1);
    w.sealCycle(1);
    const start = { file: 'answers_r2.jsonl', bytes: readFileSync(w.path).indexOf('\n') + 1, cycle: 0 } satisfies AnswersPosition;
    w.close();
    const answers = readRecordedAnswers(join(dir, 'checkpoint_r2_cycle_000000.json'), 'r2', start);
    expect(answers.throughCycle).toBe(1);
    const replay = createReplayStore(answers, { agentIds, products });
    const again = await cycle(replay, 1);
    expect(replay.endCycle(1)).toBeNull();
    // What decisions read is identical; fields nothing reads (cart lines) are not recorded.
    const strip = (x: unknown): unknown => JSON.parse(JSON.stringify(x, (k, v) => (k === 'items' && Array.isArray(v) ? undefined : k === 'offer_id' || k === 'description' || k === 'valid_from' || k === 'valid_until' || k === 'offer_cycle' || k === 'discount_cents' || k === 'coupon_code' || k === 'user_id' ? undefined : v)));
    expect(strip(again)).toEqual(strip(first));
    const errors = (again as unknown[][]).flat().filter((x) => typeof x === 'object' && x !== null && 'error' in x);
    expect(errors).toContainEqual({ error: 'rejected', message: 'coupon OC1-agent_000001 expired', status: 422, code: 'COUPON_EXPIRED' });
    expect(errors).toContainEqual({ error: 'failed', message: 'request timed out after 30000 ms', status: null, code: 'TIMEOUT' });
  });

  it('names the first divergence by agent index, whichever agent diverged first in time', async () => {
    const dir = tmp();
    const w = createAnswersWriter({ dir, runId: 'r3', agents: 6 });
    await cycle(createRecordingStore(stubStore(() => 0), w), 1);
    w.sealCycle(1);
    w.close();
    const start = { file: 'answers_r3.jsonl', bytes: readFileSync(w.path).indexOf('\n') + 1, cycle: 0 };
    const replay = createReplayStore(readRecordedAnswers(join(dir, 'x.json'), 'r3', start), { agentIds, products });
    // Agent 4 asks something else first (in time), agent 2 later; agent 1 never asks its last call.
    await expect(replay.getProduct(ctx(4, 1, 2), 'prod_9999')).rejects.toThrow(/diverged/);
    await expect(replay.addToCart(ctx(2, 1, 3), products[2]!.id, 7)).rejects.toThrow(/diverged/);
    const d = replay.endCycle(1);
    expect(d).toMatchObject({ cycle: 1, agentIndex: 0, agentId: 'agent_000001', call: 1 });
    expect(d?.reason).toMatch(/the recorded call 1, listProducts\("home", null, 1, 12\), was not asked for/);
  });

  it('a resumed writer truncates to the checkpoint position and goes on from there', async () => {
    const dir = tmp();
    const w = createAnswersWriter({ dir, runId: 'r4', agents: 6 });
    const store = createRecordingStore(stubStore(() => 0), w);
    await cycle(store, 1);
    w.sealCycle(1);
    await cycle(store, 2);
    w.sealCycle(2);
    const at2 = w.position() as AnswersPosition;
    await cycle(store, 3);
    w.sealCycle(3);
    w.close();
    const whole = readFileSync(w.path);
    // A "crash" after cycle 3; resume from the cycle-2 checkpoint and record cycle 3 again.
    const r = createAnswersWriter({ dir, runId: 'r4', agents: 6, resume: { cycle: 2, position: at2 } });
    expect(r.warnings).toEqual([]);
    expect(readFileSync(r.path).length).toBe(at2.bytes);
    await cycle(createRecordingStore(stubStore(() => 0), r), 3);
    r.sealCycle(3);
    r.close();
    expect(readFileSync(r.path).equals(whole)).toBe(true);
    const read = readRecordedAnswers(join(dir, 'c.json'), 'r4', at2);
    expect([read.fromCycle, read.throughCycle, read.note]).toEqual([2, 3, null]);
    // A position that is not a line boundary is refused.
    expect(() => readRecordedAnswers(join(dir, 'c.json'), 'r4', { ...at2, bytes: at2.bytes - 3 })).toThrow(/not a cycle boundary/);
  });
});
