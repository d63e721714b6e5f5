/**
 * A resume a user can trust, and no silent success (issue 11, items 5 and 6), through the real
 * CLI on the default path (bundled store over HTTP, embedded database): each refusal is one line
 * on stderr, exit 2, and writes nothing to any database; a resume prints one line naming the run,
 * the checkpoint (cycle N of M), the store and the database, and carries --fast; a run against a
 * store that does not answer stops before anything is written.
 */
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { sql } from 'slonik';
import { z } from 'zod';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { withChecksum } from '../../src/checkpoint/save.ts';
import { openDatabase } from '../../src/db/connection.ts';
import { checkpointsIn, oneLineExit2, shopsim, startCli, summaryOf, tempDir, waitForCheckpoint, ROOT } from './helpers.ts';

const t = tempDir('shopsim-resume-trust-');
afterAll(() => t.cleanup());
const ck = join(t.dir, 'ck');
const db1 = join(t.dir, 'db1');
const common = ['--agents', '20', '--seed', '5', '--fast', '--json', '--rate-limit', '0'];
let runId = '';
let cp4 = '';

/** Rows the run's database holds: runs, sessions, and the run's own row's end. */
async function counts(dataDir: string): Promise<{ runs: number; sessions: number; events: number }> {
  const db = await openDatabase({ dataDir, migrate: false });
  try {
    const n = z.object({ n: z.number() });
    return {
      runs: await db.pool.oneFirst(sql.type(n)`SELECT count(*)::int AS n FROM runs`),
      sessions: await db.pool.oneFirst(sql.type(n)`SELECT count(*)::int AS n FROM shopping_sessions`),
      events: await db.pool.oneFirst(sql.type(n)`SELECT count(*)::int AS n FROM shopping_session_events`),
    };
  } finally {
    await db.close();
  }
}


/** The cycle-4 checkpoint alone in a new directory: the same run, interrupted after cycle 4. */
function interrupted(name: string): string {
  const dir = join(t.dir, name);
  mkdirSync(dir);
  const file = join(dir, (checkpointsIn(ck).find((n) => n.includes('_cycle_000004')) as string));
  copyFileSync(join(ck, file.split('/').pop() as string), file);
  // With its recorded store answers, as the run left them beside its checkpoints.
  for (const n of readdirSync(ck)) if (n.startsWith('answers_')) copyFileSync(join(ck, n), join(dir, n));
  return file;
}

beforeAll(async () => {
  const f = await shopsim(['run', ...common, '--cycles', '6', '--checkpoint-interval', '2', '--checkpoint-dir', ck, '--data-dir', db1]);
  expect(f.code, f.stderr).toBe(0);
  runId = summaryOf(f)['run_id'] as string;
  cp4 = join(ck, checkpointsIn(ck).find((n) => n.includes('_cycle_000004')) as string);
}, 120_000);

describe('resume refusals: one line, exit 2, nothing written', () => {
  it('a completed run: --resume finds no unfinished run, --resume RUN_ID and --resume-from say it completed', async () => {
    const before = await counts(db1);
    oneLineExit2(await shopsim(['run', '--resume', '--checkpoint-dir', ck, '--data-dir', db1]), /every run with checkpoints in .* has completed .*--resume run-\S+ --cycles N/);
    oneLineExit2(await shopsim(['run', '--resume', runId, '--checkpoint-dir', ck, '--data-dir', db1]), new RegExp(`run ${runId} has completed all 6 cycles`));
    oneLineExit2(await shopsim(['run', '--resume-from', cp4, '--data-dir', db1]), /has completed all 6 cycles .*cycle 4.*--cycles N/);
    oneLineExit2(await shopsim(['run', '--resume-from', cp4, '--cycles', '5', '--data-dir', db1]), /5 cycles would not extend it/);
    expect(await counts(db1)).toEqual(before);
  }, 120_000);

  it('another database: none in --data-dir (not created), another embedded database (other identity), a PostgreSQL URL for an embedded run', async () => {
    const file = interrupted('db-mismatch');
    const before = await counts(db1);
    const missing = join(t.dir, 'no-such-db');
    oneLineExit2(await shopsim(['run', '--resume-from', file, '--data-dir', missing]), /database mismatch: there is no embedded database in .*no-such-db/);
    expect(existsSync(missing)).toBe(false);

    const other = join(t.dir, 'other-db');
    const m = await shopsim(['db', 'migrate', '--data-dir', other]);
    expect(m.code, m.stderr).toBe(0);
    const otherBefore = await counts(other);
    oneLineExit2(await shopsim(['run', '--resume-from', file, '--data-dir', other]), /database mismatch: run .* was written to the database with identity \S+; .* is [0-9a-f-]{36}/);
    expect(await counts(other)).toEqual(otherBefore);

    oneLineExit2(await shopsim(['run', '--resume-from', file, '--database-url', 'postgres://u:secret@127.0.0.1:1/x']), /database mismatch: the run was written to the embedded database/);
    expect(await counts(db1)).toEqual(before);
  }, 120_000);

  it('a checkpoint whose store carts name someone who is not a shopper of the run, or a product not in the catalog', async () => {
    const file = interrupted('store-state');
    const before = await counts(db1);
    const original = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
    expect(original['store_state']).toMatchObject({ carts: expect.any(Array), stock: expect.any(Array), offer_cycle: 1 });
    const edited = (cart: unknown[]) => {
      const { checksum: _checksum, ...rest } = original;
      writeFileSync(file, withChecksum(JSON.stringify({ ...rest, store_state: { ...(original['store_state'] as object), carts: [cart] } })));
    };
    edited(['intruder', [['prod_0001', 1, 100]], null]);
    oneLineExit2(await shopsim(['run', '--resume-from', file, '--data-dir', db1]), /store_state\.carts names "intruder", not a shopper of this run/);
    edited(['agent_000001', [['prod_9999', 1, 100]], null]);
    oneLineExit2(await shopsim(['run', '--resume-from', file, '--data-dir', db1]), /the cart of agent_000001 holds "prod_9999", not a product of the catalog/);
    expect(await counts(db1)).toEqual(before);
  }, 60_000);

  it('a store mode that cannot be matched: --api-url for a bundled-store run, --mock-api for a real-store run', async () => {
    const file = interrupted('store-mismatch');
    const before = await counts(db1);
    oneLineExit2(await shopsim(['run', '--resume-from', file, '--data-dir', db1, '--api-url', 'http://127.0.0.1:9']), /store mismatch: the run used the bundled reference store/);
    oneLineExit2(await shopsim(['run', '--resume-from', file, '--data-dir', db1, '--mock-api']), /config mismatch: the checkpoint was written with --mock-api false/);
    expect(await counts(db1)).toEqual(before);
  }, 60_000);
});

describe('a resume that goes ahead', () => {
  it('--resume picks the newest unfinished run, says so in one line, and carries --fast (no pacing)', async () => {
    // A --fast run (bundled store, no database, to keep it short) killed with SIGKILL after its
    // first checkpoint: unfinished.
    const dir = join(t.dir, 'killed');
    const r = startCli(['run', ...common, '--mock-db', '--cycles', '30', '--checkpoint-interval', '2', '--checkpoint-dir', dir], { cwd: ROOT });
    await waitForCheckpoint(dir, r, [], 60_000);
    r.child.kill('SIGKILL');
    await r.exit;
    const newest = checkpointsIn(dir).at(-1) as string;
    const at = Number(/_cycle_(\d+)/.exec(newest)?.[1]);
    // No --fast here: without it carried, each cycle would wait 150 s (time scale 24).
    const f = await shopsim(['run', '--resume', '--checkpoint-dir', dir, '--json']);
    expect(f.code, f.stderr).toBe(0);
    const lines = f.stderr.split('\n').filter((l) => l.includes('resuming run'));
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(
      new RegExp(`^shopsim: resuming run run-\\S+ \\(the newest unfinished run in .*killed\\) from .*_cycle_0*${at}\\.json, cycle ${at} of 30; store: reference store \\(in-process, http://127\\.0\\.0\\.1:\\d+\\); database: none \\(--mock-db\\); --fast$`),
    );
    const s = summaryOf(f);
    expect(s['cycles_completed']).toBe(30);
    // Paced, the remaining cycles would take at least (30 - at) × 150 s.
    expect(s['wall_seconds'] as number).toBeLessThan(60);
  }, 180_000);

  it('--resume RUN_ID --cycles 8 extends a completed run and says so', async () => {
    const f = await shopsim(['run', '--resume', runId, '--cycles', '8', '--checkpoint-dir', ck, '--data-dir', db1, '--json']);
    expect(f.code, f.stderr).toBe(0);
    expect(f.stderr).toMatch(new RegExp(`run ${runId} had completed 6 cycles; extending it to 8 from the checkpoint at cycle 4`));
    expect(summaryOf(f)['cycles_completed']).toBe(8);
  }, 120_000);
});

describe('no silent success: a store that does not answer', () => {
  let hang: Server;
  const sockets: Socket[] = [];
  let hangPort = 0;
  beforeAll(async () => {
    // Accepts connections and never answers.
    hang = createServer((socket) => sockets.push(socket));
    await new Promise<void>((r) => hang.listen(0, '127.0.0.1', r));
    hangPort = (hang.address() as { port: number }).port;
  });
  afterAll(() => {
    for (const s of sockets) s.destroy();
    return new Promise<void>((r) => hang.close(() => r()));
  });

  it('refused connections and no answer within --request-timeout: one line naming the URL (no password), exit 2, no database created', async () => {
    const refused = await new Promise<number>((res) => {
      const s = createServer();
      s.listen(0, '127.0.0.1', () => {
        const p = (s.address() as { port: number }).port;
        s.close(() => res(p));
      });
    });
    const d1 = join(t.dir, 'never-1');
    oneLineExit2(
      await shopsim(['run', ...common, '--cycles', '2', '--api-url', `http://user:hunter2@127.0.0.1:${refused}`, '--request-timeout', '2', '--data-dir', d1, '--checkpoint-dir', join(t.dir, 'ck-never')]),
      new RegExp(`the store at http://127\\.0\\.0\\.1:${refused} does not answer .*nothing was written`),
    );
    expect(existsSync(d1)).toBe(false);
    const d2 = join(t.dir, 'never-2');
    const f = await shopsim(['run', ...common, '--cycles', '2', '--api-url', `http://127.0.0.1:${hangPort}`, '--request-timeout', '1', '--data-dir', d2, '--checkpoint-dir', join(t.dir, 'ck-never')]);
    oneLineExit2(f, new RegExp(`the store at http://127\\.0\\.0\\.1:${hangPort} does not answer \\(GET /health within 1 s`));
    expect(f.stderr).not.toContain('hunter2');
    expect(existsSync(d2)).toBe(false);
    expect(checkpointsIn(join(t.dir, 'ck-never'))).toEqual([]);
  }, 60_000);
});
