/** Shared test fixtures: personas, catalog, stores with injected faults, a shopper harness. */
import { assign, createActor, setup, waitFor, type ActorRefFrom } from 'xstate';
import { shopperMachine, visitsThisCycle } from '../machines/shopper.machine.ts';
import type { ShopperReport } from '../machines/shopper.types.ts';
import { cycleInfo } from '../src/model/calendar.ts';
import { generateProducts } from '../src/model/catalog.ts';
import { generatePersonas } from '../src/model/personas.ts';
import { seedRng } from '../src/model/rng.ts';
import { resultOf } from '../src/model/shopper-logic.ts';
import type { Persona, Recorder, SessionRecord, ShopperCycleResult, StoreApi } from '../src/model/types.ts';
import { EventLog } from '../src/simulation/event-log.ts';
import { provideShopper } from '../src/simulation/provide-machines.ts';
import { createMockRecorder } from '../src/simulation/mock-recorder.ts';
import { createMockStore } from '../src/store/mock-store.ts';
import { StoreCallError } from '../src/store/store-error.ts';

export const START_MS = Date.parse('2024-01-01T00:00:00Z'); // a Monday
export const products = generateProducts(240, 42);
export const personas372 = generatePersonas(372, 42);

export function persona(overrides: Partial<Persona> = {}): Persona {
  return {
    ...(personas372[0] as Persona),
    id: 'agent_test',
    shopping_frequency: 1,
    hour_affinity: new Array(24).fill(1),
    weekday_affinity: 1,
    weekend_affinity: 1,
    browse_propensity: 0,
    price_sensitivity: 0,
    coupon_affinity: 0,
    abandonment_tendency: 0,
    basket_size: { min: 2, max: 2 },
    preferred_categories: ['books'],
    budget_cents: 10_000_000,
    ...overrides,
  };
}

/** A mock store whose named method fails (5xx-like) or is rejected (4xx-like). */
export function faultyStore(base: StoreApi, faults: Partial<Record<keyof StoreApi, 'failed' | 'rejected'>>, calls: string[] = []): StoreApi {
  const wrapped = {} as Record<string, unknown>;
  for (const key of Object.keys(base) as (keyof StoreApi)[]) {
    const fn = (base as unknown as Record<string, unknown>)[key];
    if (typeof fn !== 'function') continue;
    wrapped[key] = async (...args: unknown[]) => {
      calls.push(key);
      const f = faults[key];
      if (f) throw new StoreCallError(f, `injected ${f} on ${key}`, { status: f === 'failed' ? 503 : 422, storeCode: f === 'failed' ? 'INJECTED' : 'COUPON_INVALID' });
      return (fn as (...a: unknown[]) => unknown).apply(base, args);
    };
  }
  return wrapped as unknown as StoreApi;
}

export interface Harness {
  results: ShopperCycleResult[];
  records: SessionRecord[];
  calls: string[];
  runCycle(cycle: number): Promise<ShopperCycleResult>;
  shopper(): ActorRefFrom<typeof shopperMachine>;
}

/** One shopper wired by the production provideShopper to a (faulty) mock store, under a tiny parent that collects its reports. */
export function shopperHarness(p: Persona, opts: { store?: StoreApi; recorder?: Recorder; faults?: Partial<Record<keyof StoreApi, 'failed' | 'rejected'>>; seed?: number } = {}): Harness {
  const mock = createMockStore({ seed: 42, products, agentIds: [p.id] });
  const calls: string[] = [];
  const store = faultyStore(opts.store ?? mock, opts.faults ?? {}, calls);
  const records: SessionRecord[] = [];
  const base = opts.recorder ?? createMockRecorder();
  const recorder: Recorder = { ...base, commitSession: async (r) => { await base.commitSession(r); records.push(r); } };
  const shopper = provideShopper({ store, recorder, log: new EventLog(), agentIds: [p.id] });
  const results: ShopperCycleResult[] = [];
  const parent = setup({
    types: { context: {} as { ref: ActorRefFrom<typeof shopperMachine>; reports: number }, events: {} as ShopperReport },
    actors: { shopper },
  }).createMachine({
    context: ({ spawn }) => ({ ref: spawn('shopper', { id: p.id, input: { runId: 'test-run', agentIndex: 0, persona: p, rng: seedRng(opts.seed ?? 7) } }), reports: 0 }),
    on: {
      SHOPPER_DONE: {
        actions: assign(({ context, event }) => {
          results.push(event.result);
          return { reports: context.reports + 1 };
        }),
      },
    },
  });
  const actor = createActor(parent).start();
  void mock.startOfferCycle({ offer_cycle: 1, starts_at: new Date(START_MS).toISOString(), ends_at: new Date(START_MS + 7 * 86_400_000).toISOString(), user_ids: [p.id] });
  return {
    results,
    records,
    calls,
    shopper: () => actor.getSnapshot().context.ref,
    async runCycle(cycle: number) {
      const before = actor.getSnapshot().context.reports;
      const ref = actor.getSnapshot().context.ref;
      const info = cycleInfo(START_MS, cycle);
      // A skip is not reported (its cohort peeks at it, as here, and counts it).
      if (!visitsThisCycle(ref.getSnapshot().context, info)) {
        ref.send({ type: 'CYCLE', info });
        results.push(resultOf(0, null));
        return results[results.length - 1] as ShopperCycleResult;
      }
      ref.send({ type: 'CYCLE', info });
      await waitFor(actor, (s) => s.context.reports > before, { timeout: 5_000 }).catch((cause: unknown) => {
        throw new Error(`shopper did not report for cycle ${cycle}`, { cause });
      });
      return results[results.length - 1] as ShopperCycleResult;
    },
  };
}

/** The Redis the distributed-run tests use (redis://127.0.0.1:6379 in CI); unset: they are skipped. */
export const TEST_REDIS_URL = process.env['TEST_REDIS_URL'];
// The notice that the Redis tests are skipped is printed once per run, by test/global-setup.ts.

export interface RedisTestSpace {
  url: string;
  /** A key prefix of this test's own (`shopsim-test-<pid>-<random>`): every key it writes starts with it. */
  prefix: string;
  /** The keys under the prefix still in Redis. */
  keys(): Promise<string[]>;
  /** Deletes every key under the prefix and closes the connection. */
  cleanup(): Promise<void>;
}

/** A key space of its own in the test Redis, for one test (or file): create in beforeEach/beforeAll, cleanup() after. */
export async function redisTestSpace(url = TEST_REDIS_URL): Promise<RedisTestSpace> {
  if (!url) throw new Error('redisTestSpace: TEST_REDIS_URL is not set (guard the test with describe.skipIf(!TEST_REDIS_URL))');
  const { Redis } = await import('ioredis');
  const { randomBytes } = await import('node:crypto');
  const prefix = `shopsim-test-${process.pid}-${randomBytes(4).toString('hex')}`;
  const redis = new Redis(url, { maxRetriesPerRequest: 1, lazyConnect: true });
  await redis.connect();
  const keys = async () => {
    const out: string[] = [];
    let cursor = '0';
    do {
      const [next, batch] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
      cursor = next;
      out.push(...batch);
    } while (cursor !== '0');
    return out;
  };
  return {
    url,
    prefix,
    keys,
    async cleanup() {
      const left = await keys();
      for (let i = 0; i < left.length; i += 500) await redis.del(...left.slice(i, i + 500));
      redis.disconnect();
    },
  };
}
