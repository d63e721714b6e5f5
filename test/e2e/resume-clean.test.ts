/**
 * A resume against the real store is clean (issue 14, item 5): a run on the bundled reference
 * store is killed with SIGKILL in the middle, resumed with --resume, and then the store's and
 * the recorder's tables are queried: no order that no session references, no session naming an
 * order the store does not hold, no duplicate session, no cart left with items, and the same
 * counts and the same digest as the run that was never interrupted. Once on the embedded database, and on
 * the real PostgreSQL (TEST_DATABASE_URL) in a database of its own, dropped afterwards.
 */
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { createPool, sql, type DatabasePool } from 'slonik';
import { z } from 'zod';
import { afterAll, describe, expect, it } from 'vitest';
import { openDatabase } from '../../src/db/connection.ts';
import { TEST_DATABASE_URL } from '../db/helpers.ts';
import { checkpointsIn, killAfterCheckpoint, shopsim, startCli, summaryOf, tempDir } from './helpers.ts';

const t = tempDir('shopsim-resume-clean-');
afterAll(() => t.cleanup());
const common = ['--agents', '60', '--cycles', '24', '--seed', '11', '--fast', '--rate-limit', '0', '--checkpoint-interval', '2', '--json'];
const n = z.object({ n: z.number() });

interface StoreState {
  sessions: number;
  orders: number;
  ghostOrders: number;
  missingOrders: number;
  duplicateSessions: number;
  cartsWithItems: number;
}

async function stateOf(pool: DatabasePool, runId: string): Promise<StoreState> {
  return {
    sessions: await pool.oneFirst(sql.type(n)`SELECT count(*)::int AS n FROM shopping_sessions WHERE run_id = ${runId}`),
    orders: await pool.oneFirst(sql.type(n)`SELECT count(*)::int AS n FROM orders`),
    ghostOrders: await pool.oneFirst(sql.type(n)`
      SELECT count(*)::int AS n FROM orders o WHERE NOT EXISTS (SELECT 1 FROM shopping_sessions s WHERE s.order_id = o.id)`),
    missingOrders: await pool.oneFirst(sql.type(n)`
      SELECT count(*)::int AS n FROM shopping_sessions s
      WHERE s.run_id = ${runId} AND s.order_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM orders o WHERE o.id = s.order_id)`),
    duplicateSessions: await pool.oneFirst(sql.type(n)`
      SELECT count(*)::int AS n FROM (SELECT 1 FROM shopping_sessions WHERE run_id = ${runId} GROUP BY cycle, agent_id HAVING count(*) > 1) d`),
    cartsWithItems: await pool.oneFirst(sql.type(n)`SELECT count(DISTINCT user_id)::int AS n FROM cart_items`),
  };
}

interface Target {
  /** Options naming the database of one run ("a" uninterrupted, "b" killed). */
  args(which: 'a' | 'b'): string[];
  state(which: 'a' | 'b', runId: string): Promise<StoreState>;
}

/**
 * `killAt`: the killed run's checkpoint after which it is killed; `from`: the checkpoint the resume
 * starts from (default: --resume, the newest); `extra`: options of both runs.
 */
async function killAndResume(target: Target, o: { killAt?: number; from?: number; extra?: string[] } = {}): Promise<void> {
  const killAt = o.killAt ?? 8;
  const extra = o.extra ?? [];
  const ckA = join(t.dir, `${randomBytes(3).toString('hex')}-a`);
  const ckB = join(t.dir, `${randomBytes(3).toString('hex')}-b`);
  const killed = startCli(['run', ...common, ...extra, '--keep-checkpoints', '20', '--checkpoint-dir', ckB, ...target.args('b')]);
  const uninterrupted = shopsim(['run', ...common, ...extra, '--checkpoint-dir', ckA, ...target.args('a')]);
  // Killed mid-run: after the checkpoint of cycle killAt, while later cycles (their checkouts) are under way.
  await killAfterCheckpoint(killed, ckB, killAt);
  const a = await uninterrupted;
  expect(a.code, a.stderr).toBe(0);
  const full = summaryOf(a);

  const from = o.from === undefined ? null : checkpointsIn(ckB).find((f) => f.includes(`_cycle_${String(o.from).padStart(6, '0')}`));
  if (o.from !== undefined && !from) throw new Error(`no cycle-${o.from} checkpoint`);
  const resumed = await shopsim(['run', ...(from ? ['--resume-from', join(ckB, from)] : ['--resume', '--checkpoint-dir', ckB]), ...target.args('b'), '--json']);
  expect(resumed.code, resumed.stderr).toBe(0);
  const r = summaryOf(resumed);
  expect(r['cycles_completed']).toBe(24);
  const runId = String(r['run_id']);

  const after = await target.state('b', runId);
  expect(after.ghostOrders, 'orders no session references').toBe(0);
  expect(after.missingOrders, 'sessions naming an order the store lacks').toBe(0);
  expect(after.duplicateSessions).toBe(0);
  expect(after.sessions).toBe(r['sessions_created']);
  // The same store and database as the run that was never interrupted.
  const base = await target.state('a', String(full['run_id']));
  expect(after.sessions).toBe(base.sessions);
  expect(after.orders).toBe(base.orders);
  expect(after.cartsWithItems).toBe(base.cartsWithItems);
  expect(r['sessions_created']).toBe(full['sessions_created']);
  // And the same run: the checkpoint carried the store's carts (an abandoned session keeps its
  // cart), so the resumed cycles got the uninterrupted run's answers and made its decisions.
  for (const k of ['checkouts_completed', 'sessions_abandoned', 'sessions_failed', 'idle_browses', 'events_created']) expect(r[k], k).toBe(full[k]);
  expect(r['digest']).toBe(full['digest']);
}

describe('kill -9 + --resume against the bundled store', () => {
  it('embedded database: zero orders without a session, zero duplicates, the uninterrupted run\'s counts', async () => {
    const dirs = { a: join(t.dir, 'db-a'), b: join(t.dir, 'db-b') };
    await killAndResume({
      args: (w) => ['--data-dir', dirs[w]],
      async state(w, runId) {
        const db = await openDatabase({ dataDir: dirs[w], migrate: false });
        try {
          return await stateOf(db.pool, runId);
        } finally {
          await db.close();
        }
      },
    });
  }, 400_000);

  it('embedded database, resumed from a checkpoint before a restock and a new offer cycle that the killed run went past: the same digest', async () => {
    // Offer cycles of 12 simulated hours: the second (new offers, coupons dropped from carts,
    // restock) starts at cycle 13; the killed run gets past cycle 16, the resume starts at 10.
    const dirs = { a: join(t.dir, 'oc-a'), b: join(t.dir, 'oc-b') };
    await killAndResume(
      {
        args: (w) => ['--data-dir', dirs[w]],
        async state(w, runId) {
          const db = await openDatabase({ dataDir: dirs[w], migrate: false });
          try {
            return await stateOf(db.pool, runId);
          } finally {
            await db.close();
          }
        },
      },
      { killAt: 16, from: 10, extra: ['--offer-cycle-days', '0.5'] },
    );
  }, 400_000);

  if (!TEST_DATABASE_URL) console.warn('[test/e2e/resume-clean] SKIPPED the PostgreSQL variant: TEST_DATABASE_URL is not set.');
  it.skipIf(!TEST_DATABASE_URL)('PostgreSQL (own databases): the same', async () => {
    const suffix = `${process.pid}_${randomBytes(3).toString('hex')}`;
    const names = { a: `shopsim_clean_a_${suffix}`, b: `shopsim_clean_b_${suffix}` };
    const admin = await createPool(TEST_DATABASE_URL as string, { maximumPoolSize: 1 });
    const urlOf = (w: 'a' | 'b') => {
      const u = new URL(TEST_DATABASE_URL as string);
      u.pathname = `/${names[w]}`;
      return u.toString();
    };
    try {
      for (const d of Object.values(names)) await admin.query(sql.unsafe`CREATE DATABASE ${sql.identifier([d])}`);
      await killAndResume({
        args: (w) => ['--database-url', urlOf(w)],
        async state(w, runId) {
          const pool = await createPool(urlOf(w), { maximumPoolSize: 1 });
          try {
            return await stateOf(pool, runId);
          } finally {
            await pool.end();
          }
        },
      });
    } finally {
      for (const d of Object.values(names)) await admin.query(sql.unsafe`DROP DATABASE IF EXISTS ${sql.identifier([d])} WITH (FORCE)`);
      await admin.end();
    }
  }, 400_000);
});
