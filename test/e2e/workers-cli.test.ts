/**
 * `shopsim run --workers N` end to end: the mock store gives the in-process digest and counts;
 * the bundled store with the embedded database (and PostgreSQL with TEST_DATABASE_URL) gives the
 * same digest and counts, and the database holds the sessions and events the summary says, once.
 * A bad --workers is one line, exit 2.
 */
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { embeddedTarget, postgresTarget, runCounts, type Target } from '../db/helpers.ts';
import { openDatabase, type Database } from '../../src/db/connection.ts';
import { DATA, pick, shopsim, summaryOf, tempDir } from './helpers.ts';

const dirs: { cleanup(): void }[] = [];
afterAll(() => dirs.forEach((d) => d.cleanup()));
const dir = () => {
  const t = tempDir('shopsim-workers-');
  dirs.push(t);
  return t.dir;
};

describe('run --workers (mock store)', () => {
  it('2 and 3 workers: the in-process digest and counts', async () => {
    const args = ['run', ...DATA, '--mock-api', '--mock-db', '--fast', '--json', '-c', '12', '--cohort-size', '40', '--mock-fail-rate', '0.02', '--offer-cycle-days', '0.25', '--breaker-percent', '100'];
    const runs = await Promise.all([0, 2, 3].map((w) => shopsim([...args, '--workers', String(w), '--checkpoint-dir', dir()])));
    for (const r of runs) expect(r.code, r.stderr).toBe(0);
    const [inProcess, two, three] = runs.map((r) => pick(summaryOf(r)));
    expect(inProcess?.['sessions_created']).toBeGreaterThan(0);
    expect(two).toEqual(inProcess);
    expect(three).toEqual(inProcess);
    // The map's counts: with workers the shoppers are theirs, and each says where they are — at the end every one is idle, as in-process.
    const occupancy = runs.map((r) => summaryOf(r)['final_occupancy']);
    expect(occupancy[0]).toEqual({ counts: { idle: 372 }, total: 372 });
    expect(occupancy[1]).toEqual(occupancy[0]);
    expect(occupancy[2]).toEqual(occupancy[0]);
  }, 120_000);

  it('checkpointed with 2 workers, resumed in-process (and the other way): the uninterrupted digest', async () => {
    const args = ['run', ...DATA, '--mock-api', '--mock-db', '--fast', '--json', '--cohort-size', '40', '--mock-fail-rate', '0.02', '--offer-cycle-days', '0.25', '--breaker-percent', '100'];
    const whole = await shopsim([...args, '-c', '12', '--checkpoint-dir', dir()]);
    expect(whole.code, whole.stderr).toBe(0);
    for (const [first, then] of [['2', '0'], ['0', '3']] as const) {
      const d = dir();
      const part = await shopsim([...args, '-c', '6', '--checkpoint-interval', '3', '--workers', first, '--checkpoint-dir', d]);
      expect(part.code, part.stderr).toBe(0);
      const ck = readdirSync(d).find((f) => /^checkpoint_.*_cycle_000003\.json$/.test(f));
      expect(ck).toBeDefined();
      const resumed = await shopsim([...args, '-c', '12', '--workers', then, '--resume-from', join(d, ck as string), '--checkpoint-dir', d]);
      expect(resumed.code, resumed.stderr).toBe(0);
      expect(pick(summaryOf(resumed))).toEqual(pick(summaryOf(whole)));
    }
  }, 180_000);

  it('a bad --workers: one line naming it, exit 2, nothing written', async () => {
    const d = dir();
    for (const bad of ['1.5', '-1', 'two']) {
      const r = await shopsim(['run', ...DATA, '--mock-api', '--mock-db', '--fast', '-c', '1', '--workers', bad, '--checkpoint-dir', d]);
      expect(r.code).toBe(2);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stderr).toMatch(/--workers/);
    }
    expect(readdirSync(d)).toEqual([]);
  });
});

for (const target of [embeddedTarget(), postgresTarget()] as Target[]) {
  describe.skipIf(target.skip)(`run --workers 2 on the bundled store and ${target.name} database`, () => {
    beforeAll(() => target.setup(), 60_000);
    afterAll(() => target.teardown(), 60_000);

    it('the in-process digest and counts; each session written once', async () => {
      const db = dir();
      const where = target.url() ? ['--database-url', target.url() as string] : ['--data-dir', db];
      const args = ['run', ...DATA, '--agents', '120', '--fast', '--json', '-c', '3', '--start', '2024-01-06T11:00:00Z', '--cohort-size', '30', '--rate-limit', '0', '--breaker-percent', '100', ...where];
      const inProcess = await shopsim([...args, '--checkpoint-dir', dir()]);
      expect(inProcess.code, inProcess.stderr).toBe(0);
      const workers = await shopsim([...args, '--workers', '2', '--checkpoint-dir', dir()]);
      expect(workers.code, workers.stderr).toBe(0);
      const a = summaryOf(inProcess);
      const b = summaryOf(workers);
      expect(pick(b)).toEqual(pick(a));
      expect(a['sessions_created']).toBeGreaterThan(0);
      // The HTTP figures are the workers' clients' too.
      expect(b['requests']).toBe(a['requests']);
      expect((b['db_writes'] as { commits: number }).commits).toBe(a['sessions_created']);
      let opened: Database | null = null;
      try {
        opened = target.url() ? await target.open() : await openDatabase({ dataDir: db });
        const counts = runCounts(() => opened as Database);
        for (const s of [a, b]) {
          expect(await counts.sessionsOf(String(s['run_id']))).toBe(s['sessions_created']);
          expect(await counts.eventsOf(String(s['run_id']))).toBe(s['events_created']);
        }
      } finally {
        await opened?.close();
      }
    }, 240_000);
  });
}
