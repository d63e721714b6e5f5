/**
 * A resume against a store shopsim does not own (issue 14, item 5, `--api-url`): the bundled
 * store started with `shopsim serve` on a database of its own (the recorder's database is
 * another one, so prepareResume cannot touch the store's tables). A run against it is killed
 * with SIGKILL after its cycle-8 checkpoint and resumed. What the resume makes true through the
 * store API — carts emptied with DELETE /cart before the re-run cycles, checkouts of re-run
 * cycles de-duplicated by their Idempotency-Key (run, agent, cycle) — must leave no order
 * without a session and no agent-cycle with two orders.
 */
import { join } from 'node:path';
import { sql } from 'slonik';
import { z } from 'zod';
import { afterAll, describe, expect, it } from 'vitest';
import { openDatabase } from '../../src/db/connection.ts';
import { checkpointsIn, shopsim, startCli, summaryOf, tempDir } from './helpers.ts';

const t = tempDir('shopsim-resume-user-store-');
afterAll(() => t.cleanup());
const n = z.object({ n: z.number() });
const idRow = z.object({ order_id: z.string() });

describe('kill -9 + --resume against a store started with shopsim serve (--api-url)', () => {
  it('leaves zero orders without a session and zero duplicate orders', async () => {
    const storeDir = join(t.dir, 'store-db');
    const runDir = join(t.dir, 'run-db');
    const ck = join(t.dir, 'cp');
    const serve = startCli(['serve', '--port', '0', '--data-dir', storeDir]);
    let runId = '';
    let resumedSummary: Record<string, unknown> = {};
    let resumedStderr = '';
    try {
      const base = (await serve.waitForStderr(/listening on (http:\/\/[\d.:]+)/, 90_000))[1] as string;
      const common = ['--agents', '150', '--cycles', '24', '--seed', '11', '--fast', '--rate-limit', '0', '--checkpoint-interval', '2', '--json', '--api-url', base, '--data-dir', runDir];
      const killed = startCli(['run', ...common, '--checkpoint-dir', ck]);
      const t0 = Date.now();
      while (!checkpointsIn(ck).some((f) => f.includes('_cycle_000008'))) {
        if (killed.child.exitCode !== null) throw new Error(`run ended before cycle 8: ${killed.stderr().slice(-800)}`);
        if (Date.now() - t0 > 200_000) throw new Error('no cycle-8 checkpoint');
        await new Promise((r) => setTimeout(r, 5));
      }
      await new Promise((r) => setTimeout(r, 300));
      killed.child.kill('SIGKILL');
      await killed.exit;

      const resumed = await shopsim(['run', '--resume', '--checkpoint-dir', ck, '--api-url', base, '--data-dir', runDir, '--json']);
      expect(resumed.code, resumed.stderr.slice(-1500)).toBe(0);
      resumedSummary = summaryOf(resumed);
      resumedStderr = resumed.stderr;
      expect(resumedSummary['cycles_completed']).toBe(24);
      runId = String(resumedSummary['run_id']);
    } finally {
      serve.child.kill('SIGTERM');
      await serve.exit;
    }
    // The carts were emptied through the store before the re-run cycles.
    expect(resumedStderr).toMatch(/emptied the carts of 150 agents through the store \(DELETE \/cart\) before the cycles after \d+ run again/);

    const run = await openDatabase({ dataDir: runDir, migrate: false });
    const store = await openDatabase({ dataDir: storeDir, migrate: false });
    try {
      const referenced = await run.pool.any(sql.type(idRow)`
        SELECT order_id FROM shopping_sessions WHERE run_id = ${runId} AND order_id IS NOT NULL`);
      const ids = referenced.map((r) => r.order_id);
      // No order referenced by two sessions; every session's order is in the store.
      expect(new Set(ids).size).toBe(ids.length);
      const present = await store.pool.oneFirst(sql.type(n)`SELECT count(*)::int AS n FROM orders WHERE id = ANY (${sql.array(ids, 'text')})`);
      expect(present, 'sessions naming an order the store lacks').toBe(ids.length);
      // Every order in the store is one a session references: none without a session, none twice.
      const orders = await store.pool.oneFirst(sql.type(n)`SELECT count(*)::int AS n FROM orders`);
      expect(orders - present, 'orders no session references').toBe(0);
      expect(orders).toBe(resumedSummary['checkouts_completed']);
      const sessions = await run.pool.oneFirst(sql.type(n)`SELECT count(*)::int AS n FROM shopping_sessions WHERE run_id = ${runId}`);
      expect(sessions).toBe(resumedSummary['sessions_created']);
    } finally {
      await run.close();
      await store.close();
    }
  }, 500_000);
});
