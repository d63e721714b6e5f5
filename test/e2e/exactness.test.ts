/**
 * The heart of the checkpoint feature: a run killed (SIGKILL), interrupted (SIGINT) or resumed
 * twice ends with the same digest and counts as the same run uninterrupted. Real child
 * processes, real signals. The interrupted runs are paced (--time-scale 36000 = 0.1 s per
 * cycle) so the signal lands mid-run; the uninterrupted baseline and the resumes use --fast.
 */
import { basename, dirname, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseCheckpointFileName } from '../../src/checkpoint/format.ts';
import { checkpointsIn, pick, ROOT, shopsim, signalUntilAcknowledged, startCli, summaryOf, tempDir, waitForCheckpoint } from './helpers.ts';

const dirs: { cleanup(): void }[] = [];
afterAll(() => {
  for (const d of dirs) d.cleanup();
});

function dirFor(): string {
  const t = tempDir();
  dirs.push(t);
  return t.dir;
}

interface Case {
  seed: number;
  interval: number;
  failRate: number;
}

function common(c: Case): string[] {
  return ['run', '--agents', '150', '--cycles', '24', '--mock-api', '--mock-db', '--json', '--seed', String(c.seed), '--mock-fail-rate', String(c.failRate), '--offer-cycle-days', '0.5', '--warmup-cycles', '3', '--breaker-percent', '50'];
}

async function baseline(c: Case): Promise<Record<string, unknown>> {
  const f = await shopsim([...common(c), '--fast', '--checkpoint-dir', dirFor(), '--checkpoint-interval', '0']);
  expect(f.code, f.stderr).toBe(0);
  return pick(summaryOf(f));
}

function paced(c: Case, dir: string, extra: string[] = []) {
  return startCli([...common(c), '--time-scale', '36000', '--checkpoint-dir', dir, '--checkpoint-interval', String(c.interval), ...extra], { cwd: ROOT });
}

async function resumeFast(c: Case, dir: string) {
  const f = await shopsim([...common(c), '--fast', '--resume', '--checkpoint-dir', dir, '--checkpoint-interval', String(c.interval)]);
  expect(f.code, f.stderr).toBe(0);
  return summaryOf(f);
}

describe('exact resume after SIGKILL', () => {
  const cases: Case[] = [
    { seed: 42, interval: 5, failRate: 0 },
    { seed: 7, interval: 3, failRate: 0.02 },
    { seed: 1234, interval: 7, failRate: 0.005 },
  ];
  for (const c of cases) {
    it(`seed ${c.seed}, checkpoint every ${c.interval} cycles, fail rate ${c.failRate}`, async () => {
      const dir = dirFor();
      const killed = paced(c, dir);
      const [base] = await Promise.all([
        baseline(c),
        (async () => {
          await waitForCheckpoint(dir, killed);
          killed.child.kill('SIGKILL');
        })(),
      ]);
      const k = await killed.exit;
      expect(k.signal).toBe('SIGKILL');
      const files = checkpointsIn(dir);
      expect(files.length).toBeGreaterThan(0);
      const resumed = await resumeFast(c, dir);
      expect(pick(resumed)).toEqual(base);
      expect(resumed['is_replay']).toBe(true);
      expect(String(resumed['resumed_from'])).toContain(dir);
      expect(files[0]).toContain(String(resumed['run_id']));
      expect(resumed['cycles_completed']).toBe(24);
    });
  }
});

describe('exact resume after SIGINT (graceful)', () => {
  // retry: see signalUntilAcknowledged — a SIGINT lost in the child is an environment problem
  // under CPU load, not a checkpoint one; a lost signal fails loudly (exit 0, not 130).
  it('finishes the cycle, writes a final checkpoint, exits 130; the resume matches the uninterrupted run', { retry: 2 }, async () => {
    const c: Case = { seed: 99, interval: 4, failRate: 0.01 };
    const dir = dirFor();
    // Sequential on purpose: with a second busy process on the machine, SIGINT was seen to be
    // swallowed (caught by libuv, no JS listener ran) — see the report; SIGKILL is unaffected.
    const base = await baseline(c);
    const r = paced(c, dir);
    await waitForCheckpoint(dir, r);
    await signalUntilAcknowledged(r, 'SIGINT', /SIGINT: finishing/);
    const f = await r.exit;
    expect(f.code, f.stderr).toBe(130);
    const stopped = summaryOf(f);
    expect(stopped['exit_reason']).toBe('stopped');
    expect(String(stopped['last_checkpoint'])).toContain(`cycle_${String(stopped['cycles_completed']).padStart(6, '0')}`);
    const resumed = await resumeFast(c, dir);
    expect(String(resumed['resumed_from'])).toBe(stopped['last_checkpoint']);
    expect(pick(resumed)).toEqual(base);
  });
});

describe('double resume', () => {
  it('restore → run → checkpoint → SIGKILL → restore again matches the uninterrupted run', async () => {
    const c: Case = { seed: 2024, interval: 3, failRate: 0.01 };
    const dir = dirFor();
    const first = paced(c, dir);
    const [base] = await Promise.all([
      baseline(c),
      (async () => {
        await waitForCheckpoint(dir, first);
        first.child.kill('SIGKILL');
      })(),
    ]);
    expect((await first.exit).signal).toBe('SIGKILL');
    const before = checkpointsIn(dir);
    const second = paced(c, dir, ['--resume']);
    const newer = await waitForCheckpoint(dir, second, before);
    second.child.kill('SIGKILL');
    expect((await second.exit).signal).toBe('SIGKILL');
    const resumed = await resumeFast(c, dir);
    // The second resume starts from a checkpoint the first resume wrote (or a later one).
    const from = String(resumed['resumed_from']);
    expect(dirname(from)).toBe(resolve(dir));
    expect(before).not.toContain(basename(from));
    expect(parseCheckpointFileName(basename(from))?.cycle).toBeGreaterThanOrEqual(parseCheckpointFileName(newer)?.cycle ?? Infinity);
    expect(pick(resumed)).toEqual(base);
  });
});
