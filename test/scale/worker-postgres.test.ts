/**
 * A distributed run on PostgreSQL (TEST_DATABASE_URL, its own schema) with two `shopsim worker`
 * processes given the run's database (real Redis, TEST_REDIS_URL): each worker writes its cohorts'
 * sessions itself, through its own pool (--worker-db-pool); one SIGKILLed mid-cycle, after some of
 * its cohort's sessions were written → its job is run again by the other worker, the run ends
 * with the in-process digest, no session, event or order is in the database twice, and the
 * database holds what the summary says. (The mock store: its answers do not depend on which
 * attempt asks; a real store's re-run is served its recorded answers: ./worker-replay.test.ts.)
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { sql } from 'slonik';
import { z } from 'zod';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Database } from '../../src/db/connection.ts';
import { generatePersonas } from '../../src/model/personas.ts';
import { generateProducts } from '../../src/model/catalog.ts';
import { postgresTarget } from '../db/helpers.ts';
import { BIN, pick, shopsim, summaryOf, tempDir } from '../e2e/helpers.ts';
import { redisTestSpace, TEST_REDIS_URL, type RedisTestSpace } from '../helpers.ts';

const ENV = { ...process.env, SHOPSIM_FROM_SOURCE: '1', NO_COLOR: '1' };
const target = postgresTarget();
const n = z.object({ n: z.number() });

describe.skipIf(!TEST_REDIS_URL || target.skip)('shopsim worker processes writing to PostgreSQL themselves (real Redis and PostgreSQL)', () => {
  let space: RedisTestSpace;
  let db: Database;
  let work: { dir: string; cleanup(): void };
  const procs: ChildProcess[] = [];
  beforeAll(async () => {
    work = tempDir('shopsim-worker-pg-');
    space = await redisTestSpace();
    await target.setup();
    db = await target.open();
    writeFileSync(join(work.dir, 'personas.json'), JSON.stringify(generatePersonas(600, 21)));
    writeFileSync(join(work.dir, 'products.json'), JSON.stringify(generateProducts(240, 42)));
  }, 60_000);
  afterAll(async () => {
    for (const p of procs) if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
    await db?.close();
    await target.teardown();
    await space?.cleanup();
    work?.cleanup();
  }, 60_000);

  const data = () => ['--personas', join(work.dir, 'personas.json'), '--products', join(work.dir, 'products.json')];
  function worker(): { proc: ChildProcess; lines: string[] } {
    const proc = spawn(process.execPath, [BIN, 'worker', '--redis', space.url, '--redis-prefix', space.prefix, '--verbose', ...data()], { env: { ...ENV, DATABASE_URL: target.url() as string }, stdio: ['ignore', 'ignore', 'pipe'] });
    procs.push(proc);
    const lines: string[] = [];
    proc.stderr!.on('data', (d: Buffer) => lines.push(...d.toString().split('\n').filter(Boolean)));
    return { proc, lines };
  }
  const count = async (q: Parameters<Database["pool"]["one"]>[0]) => (n.parse(await db.pool.one(q))).n;

  it('a worker SIGKILLed mid-cycle: the in-process digest, every row once, the database equals the summary', async () => {
    const args = ['run', ...data(), '--mock-api', '--fast', '--json', '-c', '8', '--start', '2024-01-06T11:00:00Z', '--cohort-size', '300', '--mock-fail-rate', '0.02', '--breaker-percent', '100', '--database-url', target.url() as string, '--log-dir', join(work.dir, 'logs')];
    const inProcess = await shopsim([...args, '--checkpoint-dir', join(work.dir, 'a')]);
    expect(inProcess.code, inProcess.stderr).toBe(0);
    const s0 = summaryOf(inProcess);
    const a = worker();
    const b = worker();
    const running = shopsim([...args, '--redis', space.url, '--redis-prefix', space.prefix, '--workers-expected', '2', '--worker-lock-timeout', '1s', '--worker-db-pool', '2', '--checkpoint-dir', join(work.dir, 'b')]);
    // Killed while it holds a cohort job of cycle 2 or later whose sessions are being written.
    const until = Date.now() + 90_000;
    let killedAt: string | null = null;
    while (killedAt === null) {
      if (Date.now() > until) throw new Error(`no job of worker a to kill:\n${a.lines.join('\n')}`);
      const started = a.lines.map((l) => /started cohort (\d+) of cycle (\d+)$/.exec(l)).filter((m): m is RegExpExecArray => m !== null && Number(m[2]) >= 2);
      const open = started.find((m) => !a.lines.some((l) => l.includes(`done cohort ${m[1]} of cycle ${m[2]} `)));
      if (open) {
        const written = await count(sql.type(n)`SELECT count(*)::int AS n FROM shopping_sessions WHERE run_id <> ${String(s0['run_id'])} AND cycle = ${Number(open[2])}`);
        if (written > 0) {
          a.proc.kill('SIGKILL');
          killedAt = `cohort ${open[1]} of cycle ${open[2]} (${written} sessions of the cycle written)`;
          break;
        }
      }
      await new Promise((r) => setTimeout(r, 5));
    }
    const distributed = await running;
    expect(distributed.code, `${distributed.stderr}\nkilled at ${killedAt}\nworker b:\n${b.lines.join('\n')}`).toBe(0);
    const s1 = summaryOf(distributed);
    expect(pick(s1)).toEqual(pick(s0));
    expect(distributed.stderr).toMatch(/lost: no heartbeat/);
    expect(distributed.stderr).not.toMatch(/wrote their sessions through this process/);
    expect(b.lines.some((l) => /running cohort \d+ of cycle \d+ again/.test(l)), b.lines.join('\n')).toBe(true);
    const run = String(s1['run_id']);
    // Every row once, by its key.
    expect(await count(sql.type(n)`SELECT count(*)::int AS n FROM (SELECT 1 FROM shopping_sessions WHERE run_id = ${run} GROUP BY agent_id, cycle HAVING count(*) > 1) d`)).toBe(0);
    expect(await count(sql.type(n)`SELECT count(*)::int AS n FROM (SELECT 1 FROM shopping_session_events WHERE run_id = ${run} GROUP BY session_id, seq HAVING count(*) > 1) d`)).toBe(0);
    expect(await count(sql.type(n)`SELECT count(*)::int AS n FROM (SELECT 1 FROM shopping_sessions WHERE run_id = ${run} AND order_id IS NOT NULL GROUP BY order_id HAVING count(*) > 1) d`)).toBe(0);
    // The database equals the summary.
    expect(await count(sql.type(n)`SELECT count(*)::int AS n FROM shopping_sessions WHERE run_id = ${run}`)).toBe(s1['sessions_created']);
    expect(await count(sql.type(n)`SELECT count(*)::int AS n FROM shopping_session_events WHERE run_id = ${run}`)).toBe(s1['events_created']);
    expect(await count(sql.type(n)`SELECT count(*)::int AS n FROM shopping_sessions WHERE run_id = ${run} AND order_id IS NOT NULL`)).toBe(s1['checkouts_completed']);
    // The workers wrote them (the coordinator's relay none, above), and the summary's db_writes are
    // theirs: every agent-cycle once, as in-process (the killed job's writes are the re-run's).
    expect((s1['db_writes'] as { commits: number }).commits).toBe((s0['db_writes'] as { commits: number }).commits);
  }, 240_000);
});
