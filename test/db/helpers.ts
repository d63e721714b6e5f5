/**
 * Test targets for the database layer: the embedded PGlite always (a temp data directory per
 * test file), and a real PostgreSQL when TEST_DATABASE_URL is set — in a schema of its own
 * (`shopsim_test_<pid>_<random>`, dropped afterwards) so concurrent test runs never collide.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createPool, sql } from 'slonik';
import { afterAll, beforeAll } from 'vitest';
import { z } from 'zod';
import { openDatabase, type Database, type DatabaseOptions } from '../../src/db/connection.ts';
import type { Persona, Product, SessionEvent, SessionRecord } from '../../src/model/types.ts';

export const TEST_DATABASE_URL = process.env['TEST_DATABASE_URL'];

// The notice that the real-PostgreSQL variants are skipped is printed once per run, by test/global-setup.ts.

export interface Target {
  name: 'embedded' | 'postgres';
  skip: boolean;
  /** Prepares the target (temp dir / schema). Call once, in beforeAll. */
  setup(): Promise<void>;
  open(extra?: Partial<DatabaseOptions>): Promise<Database>;
  /** Drops the schema / removes the temp dir. */
  teardown(): Promise<void>;
  /** The URL a real-server target opens (with its search_path); null for embedded. */
  url(): string | null;
}

export function embeddedTarget(): Target {
  let dir = '';
  return {
    name: 'embedded',
    skip: false,
    async setup() {
      dir = mkdtempSync(join(tmpdir(), 'shopsim-db-test-'));
    },
    open: (extra = {}) => openDatabase({ dataDir: dir, ...extra }),
    async teardown() {
      if (dir) rmSync(dir, { recursive: true, force: true });
    },
    url: () => null,
  };
}

export function withSearchPath(base: string, schema: string): string {
  const u = new URL(base);
  u.searchParams.set('options', `-c search_path=${schema}`);
  return u.toString();
}

export function postgresTarget(): Target {
  const schema = `shopsim_test_${process.pid}_${randomBytes(4).toString('hex')}`;
  let url = '';
  return {
    name: 'postgres',
    skip: !TEST_DATABASE_URL,
    async setup() {
      const pool = await createPool(TEST_DATABASE_URL as string, { maximumPoolSize: 1 });
      await pool.query(sql.unsafe`CREATE SCHEMA ${sql.identifier([schema])}`);
      await pool.end();
      url = withSearchPath(TEST_DATABASE_URL as string, schema);
    },
    open: (extra = {}) => openDatabase({ databaseUrl: url, poolSize: 20, ...extra }),
    async teardown() {
      if (!url) return;
      const pool = await createPool(TEST_DATABASE_URL as string, { maximumPoolSize: 1 });
      await pool.query(sql.unsafe`DROP SCHEMA IF EXISTS ${sql.identifier([schema])} CASCADE`);
      await pool.end();
    },
    url: () => url,
  };
}

export function targets(): Target[] {
  return [embeddedTarget(), postgresTarget()];
}

// ---- fixtures -------------------------------------------------------------------------------

export function persona(i: number): Persona {
  return {
    id: `agent-${String(i).padStart(4, '0')}`,
    name: `Agent ${i}`,
    segment: 'test',
    shopping_frequency: 0.5,
    hour_affinity: Array.from({ length: 24 }, () => 1),
    weekday_affinity: 1,
    weekend_affinity: 1,
    browse_propensity: 0.5,
    price_sensitivity: 0.5,
    coupon_affinity: 0.5,
    abandonment_tendency: 0.3,
    basket_size: { min: 1, max: 3 },
    preferred_categories: ['books'],
    budget_cents: 10_000,
  };
}

export function product(i: number): Product {
  return { id: `prod-${i}`, sku: `SKU-${i}`, name: `Product ${i}`, category: 'books', price_cents: 1000 + i, stock: 10, rating: 4.5 };
}

const HOUR = 3_600_000;
const START = Date.parse('2024-01-01T00:00:00Z'); // a Monday

/** A session of agent i in cycle c with the given outcome; events in the shape the shopper writes. */
export function sessionRecord(runId: string, i: number, cycle: number, outcome: 'browse' | 'checkout' | 'abandon' | 'failed', opts: { coupon?: boolean } = {}): SessionRecord {
  const agentId = persona(i).id;
  const t0 = START + (cycle - 1) * HOUR + 60_000;
  const events: SessionEvent[] = [];
  const add = (type: string, payload: Record<string, unknown>) => events.push({ seq: events.length + 1, type, at: new Date(t0 + events.length * 37_000).toISOString(), payload });
  add('session_started', { kind: outcome === 'browse' ? 'browse' : 'shop', category: 'books' });
  add('products_listed', { category: 'books', page: 1, count: 12 });
  add('product_viewed', { product_id: 'prod-1', price_cents: 1001 });
  let notes: string | null = null;
  let order: SessionRecord['order'] = null;
  if (outcome !== 'browse') {
    add('cart_item_added', { product_id: 'prod-1', quantity: 1 });
    add('offers_viewed', { count: 1 });
    if (opts.coupon) add('coupon_applied', { code: 'SAVE10', discount_cents: 100 });
    if (outcome === 'checkout') {
      add('checkout_started', { total_cents: 901 });
      add('checkout_completed', { order_id: `order-${runId}-${i}-${cycle}`, total_cents: 901, items: 1 });
      order = { orderId: `order-${runId}-${i}-${cycle}`, totalCents: 901, itemsCount: 1 };
    } else if (outcome === 'abandon') {
      add('cart_abandoned', { reason: 'changed_mind', total_cents: 901 });
    } else {
      add('checkout_started', { total_cents: 901 });
      notes = 'store answered 503 Service Unavailable';
      add('checkout_failed', { error: notes, error_type: 'StoreCallError' });
    }
  }
  return {
    runId,
    sessionId: `${runId}:${cycle}:${agentId}`,
    agentId,
    agentIndex: i,
    cycle,
    kind: outcome === 'browse' ? 'browse' : 'shop',
    status: outcome === 'browse' || outcome === 'checkout' ? 'completed' : outcome === 'abandon' ? 'abandoned' : 'failed',
    simStart: new Date(t0).toISOString(),
    simEnd: events[events.length - 1]!.at,
    notes,
    events,
    order,
  };
}

export function runMeta(runId: string, agents: number, extra: Record<string, unknown> = {}) {
  return {
    runId,
    seed: 7,
    config: { agents, ...extra },
    isReplay: false,
    resumedFrom: null,
    startedAt: new Date().toISOString(),
    personas: Array.from({ length: agents }, (_, i) => persona(i)),
    products: Array.from({ length: 5 }, (_, i) => product(i)),
  };
}

/**
 * For the enclosing describe: sets up `target` and opens its database before the tests
 * (handing it to `use`), closes it and tears the target down after them.
 */
export function useDatabase(target: Target, use: (db: Database) => void): void {
  let db: Database | undefined;
  beforeAll(async () => {
    await target.setup();
    db = await target.open();
    use(db);
  });
  afterAll(async () => {
    await db?.close();
    await target.teardown();
  });
}

const countRow = z.object({ n: z.number() });

/** Rows a run has in the database: its sessions and its events. */
export function runCounts(db: () => Database): { sessionsOf(runId: string): Promise<number>; eventsOf(runId: string): Promise<number> } {
  return {
    sessionsOf: async (runId) => (await db().pool.one(sql.type(countRow)`SELECT count(*)::int AS n FROM shopping_sessions WHERE run_id = ${runId}`)).n,
    eventsOf: async (runId) => (await db().pool.one(sql.type(countRow)`SELECT count(*)::int AS n FROM shopping_session_events WHERE run_id = ${runId}`)).n,
  };
}
