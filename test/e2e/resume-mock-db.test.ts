/**
 * A resume on the bundled store in memory (`--mock-db`) is exact (issue 11): a run against the
 * bundled reference store over HTTP with its store in the process's memory is killed with SIGKILL
 * in the middle, resumed with --resume (or from an earlier checkpoint), and makes the decisions
 * the uninterrupted run made — the same digest and counts — because every checkpoint carries the
 * in-memory store's state (`store_state` with its `memory` part: carts, stock, offer cycles,
 * orders and their idempotency keys, coupon redemptions) and the resume imports it before the
 * first re-run cycle. The store's state at the last checkpoint (cycle 22) is the uninterrupted
 * run's too. A tampered `memory` part is refused: one line naming the file, exit 2; a checkpoint
 * without it (written before it existed) resumes from the catalog, with a warning.
 */
import { copyFileSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { withChecksum } from '../../src/checkpoint/save.ts';
import { checkpointsIn, killAfterCheckpoint, oneLineExit2, shopsim, startCli, summaryOf, tempDir } from './helpers.ts';

const t = tempDir('shopsim-resume-mock-db-');
afterAll(() => t.cleanup());
const common = ['--mock-db', '--agents', '60', '--cycles', '24', '--seed', '11', '--fast', '--rate-limit', '0', '--checkpoint-interval', '2', '--json'];

type Json = Record<string, unknown>;

function readJson(file: string): Json {
  return JSON.parse(readFileSync(file, 'utf8')) as Json;
}

function checkpointOf(dir: string, cycle: number): string {
  const name = checkpointsIn(dir).find((f) => f.includes(`_cycle_${String(cycle).padStart(6, '0')}`));
  if (!name) throw new Error(`no cycle-${cycle} checkpoint in ${dir}`);
  return join(dir, name);
}

function newest(dir: string): string {
  const all = checkpointsIn(dir);
  return join(dir, all[all.length - 1] as string);
}

/** The killed run's directory after its resume, kept for the refusal tests. */
let killedDir = '';
let killedCycle8 = '';

/**
 * `killAt`: the killed run's checkpoint after which it is killed; `from`: the checkpoint the resume
 * starts from (default: --resume, the newest); `extra`: options of both runs; `resumeExtra`: of the resume.
 */
async function killAndResume(o: { killAt?: number; from?: number; extra?: string[]; resumeExtra?: string[] } = {}): Promise<{ full: Json; resumed: Json; ckA: string; ckB: string; from: string }> {
  const killAt = o.killAt ?? 8;
  const extra = o.extra ?? [];
  const ckA = join(t.dir, `${randomBytes(3).toString('hex')}-a`);
  const ckB = join(t.dir, `${randomBytes(3).toString('hex')}-b`);
  const killed = startCli(['run', ...common, ...extra, '--keep-checkpoints', '20', '--checkpoint-dir', ckB]);
  const uninterrupted = shopsim(['run', ...common, ...extra, '--keep-checkpoints', '20', '--checkpoint-dir', ckA]);
  // Killed mid-run: after the checkpoint of cycle killAt, while later cycles (their checkouts) are under way.
  const k = await killAfterCheckpoint(killed, ckB, killAt);
  expect(k.signal).toBe('SIGKILL');
  const a = await uninterrupted;
  expect(a.code, a.stderr).toBe(0);
  const full = summaryOf(a);

  const from = o.from === undefined ? newest(ckB) : checkpointOf(ckB, o.from);
  const resumedRun = await shopsim(['run', ...(o.from === undefined ? ['--resume'] : ['--resume-from', from]), '--checkpoint-dir', ckB, '--checkpoint-interval', '2', '--keep-checkpoints', '20', ...(o.resumeExtra ?? []), '--json']);
  expect(resumedRun.code, resumedRun.stderr).toBe(0);
  const resumed = summaryOf(resumedRun);
  expect(resumed['cycles_completed']).toBe(24);
  expect(resumed['run_id']).toBe(readJson(from)['simulation_state'] && (readJson(from)['simulation_state'] as Json)['run_id']);
  // The same run: the checkpoint carried the in-memory store, so the re-run cycles got the
  // uninterrupted run's answers and made its decisions.
  for (const k of ['sessions_created', 'checkouts_completed', 'sessions_abandoned', 'sessions_failed', 'idle_browses', 'events_created', 'offers_assigned', 'coupons_applied']) expect(resumed[k], k).toBe(full[k]);
  expect(resumed['digest']).toBe(full['digest']);
  // And the same store near the end (the last checkpoint, cycle 22, written by the resumed run):
  // carts, stock, offer cycles, orders with their ids and keys, and redemptions.
  // The idempotency keys name each run's id (`<run id>:<agent>:<cycle>`): compared without it.
  const endOf = (dir: string, runId: string) => JSON.parse(JSON.stringify(readJson(checkpointOf(dir, 22))['store_state']).replaceAll(`"${runId}:`, '"RUN:')) as Json;
  const endB = endOf(ckB, String(resumed['run_id']));
  expect(endB).toEqual(endOf(ckA, String(full['run_id'])));
  expect(JSON.stringify(endB)).toContain('"RUN:');
  return { full, resumed, ckA, ckB, from };
}

describe('kill -9 + --resume against the bundled store in memory (--mock-db)', () => {
  it('resumed from the newest checkpoint: the uninterrupted run\'s digest, counts and final store; the checkpoint held abandoned carts', async () => {
    const { ckB, from } = await killAndResume();
    const state = readJson(from)['store_state'] as Json;
    const memory = state['memory'] as Json;
    expect(memory).toBeTypeOf('object');
    // Abandoned sessions keep their carts: the checkpoint the resume started from holds some.
    expect((state['carts'] as unknown[]).length).toBeGreaterThan(0);
    expect((readJson(from)['statistics'] as Json)['sessions_abandoned']).toBeGreaterThan(0);
    expect((memory['orders'] as unknown[]).length).toBeGreaterThan(0);
    killedDir = ckB;
    killedCycle8 = checkpointOf(ckB, 8);
  }, 400_000);

  it('resumed from a checkpoint before a restock and a new offer cycle that the killed run went past: the same digest', async () => {
    // Offer cycles of 12 simulated hours: the second (new offers, coupons dropped from carts,
    // restock) starts at cycle 13; the killed run gets past cycle 16, the resume starts at 10.
    const { from, ckB } = await killAndResume({ killAt: 16, from: 10, extra: ['--offer-cycle-days', '0.5'] });
    expect((readJson(from)['store_state'] as Json)['offer_cycle']).toBe(1);
    expect((readJson(checkpointOf(ckB, 16))['store_state'] as Json)['offer_cycle']).toBe(2);
  }, 400_000);

  it('with --workers 2 (the cohorts on worker threads, the store in the coordinator): the same digest', async () => {
    await killAndResume({ extra: ['--workers', '2', '--cohort-size', '20'], resumeExtra: ['--workers', '2'] });
  }, 400_000);
});


describe('a tampered memory part of store_state', () => {
  it('an unknown shopper or product, a wrong type, offer cycles that do not match: one line naming the file, exit 2', async () => {
    if (!killedCycle8) throw new Error('the first test did not run');
    const dir = join(t.dir, 'tampered');
    mkdirSync(dir);
    const file = join(dir, killedCycle8.split('/').pop() as string);
    copyFileSync(killedCycle8, file);
    const original = readJson(file);
    const { checksum: _checksum, ...rest } = original;
    const state = original['store_state'] as Json;
    const memory = state['memory'] as Json;
    const write = (m: Json) => writeFileSync(file, withChecksum(JSON.stringify({ ...rest, store_state: { ...state, memory: m } })));
    const orders = memory['orders'] as unknown[][];
    const first = orders[0] as unknown[];
    const fileRe = file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

    write({ ...memory, orders: [['intruder', ...first.slice(1)], ...orders.slice(1)] });
    oneLineExit2(await shopsim(['run', '--resume-from', file]), new RegExp(`^shopsim: checkpoint ${fileRe}: store_state\\.memory\\.orders names "intruder", not a shopper of this run`));
    write({ ...memory, orders: [[...first.slice(0, 3), 'not-a-number', ...first.slice(4)], ...orders.slice(1)] });
    oneLineExit2(await shopsim(['run', '--resume-from', file]), new RegExp(`checkpoint ${fileRe}: store_state\\.memory\\.orders\\.0\\.3`));
    write({ ...memory, orders: [first, ...orders] });
    oneLineExit2(await shopsim(['run', '--resume-from', file]), /store_state\.memory\.orders holds two orders of \S+ with the idempotency key/);
    write({ ...memory, redeemed: [['intruder', ['X']]] });
    oneLineExit2(await shopsim(['run', '--resume-from', file]), /store_state\.memory\.redeemed names "intruder", not a shopper of this run/);
    write({ ...memory, offer_cycles: [] });
    oneLineExit2(await shopsim(['run', '--resume-from', file]), /store_state\.memory\.offer_cycles ends with no offer cycle, not the store's offer cycle 1/);
    const cycles = memory['offer_cycles'] as unknown[][];
    write({ ...memory, offer_cycles: cycles.map((c) => [...c.slice(0, 3), '0123456789abcdef']) });
    oneLineExit2(await shopsim(['run', '--resume-from', file]), /store_state\.memory\.offer_cycles: offer cycle 1 was started for other shoppers than this run's/);
    write({ ...memory, order_items: -1 });
    oneLineExit2(await shopsim(['run', '--resume-from', file]), new RegExp(`checkpoint ${fileRe}: store_state\\.memory\\.order_items`));
    // A product the catalog lacks in the carts or stock of a mock-db checkpoint: as for a database's.
    writeFileSync(file, withChecksum(JSON.stringify({ ...rest, store_state: { ...state, stock: [['prod_9999', 3]] } })));
    oneLineExit2(await shopsim(['run', '--resume-from', file]), /store_state\.stock names "prod_9999", not a product of the catalog/);
    expect(killedDir).not.toBe('');
  }, 120_000);

  it('a checkpoint without it (written before it existed) still resumes, from the catalog, and says so', async () => {
    const dir = join(t.dir, 'older');
    mkdirSync(dir);
    const file = join(dir, killedCycle8.split('/').pop() as string);
    const { checksum: _checksum, ...rest } = readJson(killedCycle8);
    writeFileSync(file, withChecksum(JSON.stringify({ ...rest, store_state: null })));
    // With its recorded store answers, as the run left them beside its checkpoints.
    for (const n of readdirSync(killedDir)) if (n.startsWith('answers_')) copyFileSync(join(killedDir, n), join(dir, n));
    const f = await shopsim(['run', '--resume-from', file, '--checkpoint-dir', dir, '--json']);
    expect(f.code, f.stderr).toBe(0);
    expect(summaryOf(f)['cycles_completed']).toBe(24);
    expect(f.stderr).toContain(`shopsim: warning: ${file} carries no state of the in-memory store`);
  }, 120_000);
});
