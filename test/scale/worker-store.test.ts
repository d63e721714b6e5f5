/**
 * A distributed run against the real bundled store and the embedded database (issue 15): the
 * same digest and counts in-process, with `--workers 2` (threads) and with two `shopsim worker`
 * processes on Redis (TEST_REDIS_URL), the store reset at each run's start; the workers reach the
 * store by the URL the coordinator puts in their jobs and write their sessions through its commit
 * relay (one PGlite connection), so the database holds what the summary says, once.
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { openDatabase, type Database } from '../../src/db/connection.ts';
import { runCounts } from '../db/helpers.ts';
import { DATA, pick, shopsim, summaryOf } from '../e2e/helpers.ts';
import { TEST_REDIS_URL } from '../helpers.ts';
import { workerProcesses } from './worker-processes.ts';


describe.skipIf(!TEST_REDIS_URL)('shopsim worker processes against the bundled store on the embedded database (real Redis)', () => {
  const w = workerProcesses('shopsim-worker-store-');
  const { dir, worker } = w;

  it('in-process, --workers 2 and two shopsim workers: the same digest and counts; each session written once', async () => {
    const data = dir();
    // Saturday 11:00: many shoppers per cycle, few enough agents that no two race for a product's last unit.
    const args = ['run', ...DATA, '--agents', '120', '--fast', '--json', '-c', '3', '--start', '2024-01-06T11:00:00Z', '--cohort-size', '30', '--rate-limit', '0', '--breaker-percent', '100', '--data-dir', data];
    const inProcess = await shopsim([...args, '--checkpoint-dir', dir()]);
    expect(inProcess.code, inProcess.stderr).toBe(0);
    const threads = await shopsim([...args, '--workers', '2', '--checkpoint-dir', dir()]);
    expect(threads.code, threads.stderr).toBe(0);
    const a = worker();
    const b = worker();
    const distributed = await shopsim([...args, '--redis', w.space.url, '--redis-prefix', w.space.prefix, '--workers-expected', '2', '--checkpoint-dir', dir()]);
    expect(distributed.code, `${distributed.stderr}\nworker a:\n${a.lines.join('\n')}\nworker b:\n${b.lines.join('\n')}`).toBe(0);
    const [s0, s1, s2] = [inProcess, threads, distributed].map(summaryOf) as [Record<string, unknown>, Record<string, unknown>, Record<string, unknown>];
    expect(s0['sessions_created']).toBeGreaterThan(0);
    expect(s0['stock_refusals']).toBe(0);
    expect(pick(s1)).toEqual(pick(s0));
    expect(pick(s2)).toEqual(pick(s0));
    // The HTTP figures are the worker threads' clients' too (requests counted once each).
    expect(s2['requests']).toBe(s0['requests']);
    expect((s2['workers'] as unknown[]).length).toBe(2);
    let db: Database | null = null;
    try {
      db = await openDatabase({ dataDir: data });
      const counts = runCounts(() => db as Database);
      for (const s of [s0, s1, s2]) {
        expect(await counts.sessionsOf(String(s['run_id']))).toBe(s['sessions_created']);
        expect(await counts.eventsOf(String(s['run_id']))).toBe(s['events_created']);
      }
    } finally {
      await db?.close();
    }
  }, 420_000); // three runs of 120 agents: ~65 s at load 7 on 2 cores; timed out at 240 s once at load 13
});
