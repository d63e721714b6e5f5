/**
 * A cohort job run again after its worker was lost, against the real bundled store (real Redis,
 * TEST_REDIS_URL; the embedded database): the calls its first attempt had made are answered from
 * what that attempt sent the coordinator, not sent to the store again, so the retry buys nothing
 * twice — the run ends with the in-process digest and counts, and the store holds the same
 * orders, order items, cart items and stock as after the in-process run.
 */
import { join } from 'node:path';
import { sql } from 'slonik';
import { z } from 'zod';
import { describe, expect, it } from 'vitest';
import { openDatabase } from '../../src/db/connection.ts';
import { DATA, pick, shopsim, summaryOf } from '../e2e/helpers.ts';
import { TEST_REDIS_URL } from '../helpers.ts';
import { workerProcesses } from './worker-processes.ts';

const storeRow = z.object({ orders: z.number(), revenue: z.number(), order_items: z.number(), cart_items: z.number(), stock: z.number() });

/** What the bundled store holds after a run (its tables in the run's data directory). */
async function storeState(dataDir: string): Promise<z.infer<typeof storeRow>> {
  const db = await openDatabase({ dataDir });
  try {
    return storeRow.parse(
      await db.pool.one(sql.type(storeRow)`SELECT
        (SELECT count(*)::int FROM orders) AS orders,
        (SELECT coalesce(sum(total_cents), 0)::int FROM orders) AS revenue,
        (SELECT coalesce(sum(quantity), 0)::int FROM order_items) AS order_items,
        (SELECT coalesce(sum(quantity), 0)::int FROM cart_items) AS cart_items,
        (SELECT sum(stock)::int FROM products) AS stock`),
    );
  } finally {
    await db.close();
  }
}

describe.skipIf(!TEST_REDIS_URL)('a cohort job run again against the bundled store is served its lost attempt\'s answers (real Redis)', () => {
  const w = workerProcesses('shopsim-worker-replay-', ['--verbose']);
  const { dir, worker } = w;

  it('SIGKILL mid-job: same digest and counts, no extra order, the same store state as in-process', async () => {
    // Saturday 11:00, paced at 60 requests/s in all: a cohort job lasts seconds, so the kill lands inside one.
    const args = ['run', ...DATA, '--agents', '120', '--fast', '--json', '-c', '3', '--start', '2024-01-06T11:00:00Z', '--cohort-size', '30', '--rate-limit', '60', '--breaker-percent', '100'];
    const d0 = dir();
    const inProcess = await shopsim([...args, '--data-dir', d0, '--checkpoint-dir', dir()]);
    expect(inProcess.code, inProcess.stderr).toBe(0);
    const a = worker();
    const b = worker();
    const d1 = dir();
    const running = shopsim([...args, '--data-dir', d1, '--redis', w.space.url, '--redis-prefix', w.space.prefix, '--workers-expected', '2', '--worker-lock-timeout', '1s', '--checkpoint-dir', dir()]);
    const until = Date.now() + 120_000;
    let killed = '';
    while (!killed) {
      if (Date.now() > until) throw new Error(`no job of worker a to kill:\n${a.lines.join('\n')}`);
      const m = a.lines.map((l) => /started cohort (\d+) of cycle (\d+)$/.exec(l)).find((x): x is RegExpExecArray => x !== null && Number(x[2]) >= 2);
      if (m) {
        await new Promise((r) => setTimeout(r, 400));
        if (a.lines.some((l) => l.includes(`done cohort ${m[1]} of cycle ${m[2]} `))) throw new Error(`worker a finished cohort ${m[1]} of cycle ${m[2]} within 400 ms: the kill would not land in a job`);
        a.proc.kill('SIGKILL');
        killed = `cohort ${m[1]} of cycle ${m[2]}`;
      } else await new Promise((r) => setTimeout(r, 5));
    }
    const distributed = await running;
    expect(distributed.code, `${distributed.stderr}\nkilled in ${killed}\nworker b:\n${b.lines.join('\n')}`).toBe(0);
    const s0 = summaryOf(inProcess);
    const s1 = summaryOf(distributed);
    expect(s0['checkouts_completed']).toBeGreaterThan(0);
    expect(s0['stock_refusals']).toBe(0);
    // `requests` counts the requests the workers' clients reported: the killed one's last job is not among them, nor the calls served from the record.
    const { requests: r0, ...f0 } = pick(s0);
    const { requests: r1, ...f1 } = pick(s1);
    expect(f1).toEqual(f0);
    expect(r1 as number).toBeLessThanOrEqual(r0 as number);
    expect(b.lines.some((l) => /running cohort \d+ of cycle \d+ again/.test(l)), b.lines.join('\n')).toBe(true);
    expect(distributed.stderr).toMatch(/cycle \d+: \d+ store calls? of cohort jobs run again answered from their lost attempt's record \(not sent to the store again\)/);
    // The store: no order, item or stock unit more than in-process.
    expect(await storeState(d1)).toEqual(await storeState(d0));
  }, 240_000);
});
