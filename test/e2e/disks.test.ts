/**
 * Disks: directories probed at start (exit 2 before anything runs), a checkpoint disk that fills
 * up (a warning and a retry at each boundary, then a clean stop with exit 4 and the summary; the
 * good checkpoints kept), a full log disk (warnings, the run goes on), temporary files of
 * interrupted writes removed by the next run. Full disks are small tmpfs mounts: where mounting is
 * not allowed those cases are skipped with one message.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkpointsIn, DATA, scratchDir, startCli, summaryOf, tempDir } from './helpers.ts';

const SMALL = ['--agents', '40', '--fast', '--mock-api', '--mock-db', '--json', ...DATA];
const scratch = tempDir('shopsim-disks-');
const mounts: string[] = [];
let canMount = false;

/** A tmpfs of `size` at a new directory, or null where mounting is not allowed. */
function tmpfs(name: string, size: string): string | null {
  const at = join(scratch.dir, name);
  mkdirSync(at, { recursive: true });
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', at], { stdio: 'ignore' });
  } catch {
    return null;
  }
  mounts.push(at);
  return at;
}

/** Fills the file system of `dir` until a write fails (ENOSPC), leaving `leave` bytes unused. */
function fill(dir: string, leave = 0): void {
  const out = execFileSync('df', ['--output=avail', '-B1', dir]).toString().trim().split('\n').pop() ?? '0';
  const avail = Number(out);
  writeFileSync(join(dir, 'filler'), Buffer.alloc(Math.max(0, avail - leave)));
}

beforeAll(() => {
  const probe = tmpfs('probe', '64k');
  canMount = probe !== null;
  if (!canMount) console.log('disks: mount -t tmpfs is not allowed here; the full-disk cases are skipped');
});

afterAll(() => {
  for (const m of mounts.reverse()) {
    try {
      execFileSync('umount', [m], { stdio: 'ignore' });
    } catch {}
  }
  scratch.cleanup();
});

describe('disks', () => {
  it('an unwritable checkpoint directory is exit 2 at start, one line, before any cycle', async () => {
    const file = join(scratch.dir, 'a-file');
    writeFileSync(file, 'x');
    const r = await startCli(['run', ...SMALL, '--cycles', '4', '--checkpoint-dir', join(file, 'sub')]).exit;
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(new RegExp(`--checkpoint-dir ${join(file, 'sub')}: cannot write checkpoints there \\(ENOTDIR\\)`));
    expect(r.stderr).not.toMatch(/cycle=/);
    expect(r.stdout).toBe('');
  });

  it('an unwritable log directory is exit 2 at start', async () => {
    const cwd = scratchDir('shopsim-disks-log-');
    try {
      writeFileSync(join(cwd, 'data'), 'not a directory');
      const r = await startCli(['run', ...SMALL, '--cycles', '4', '--checkpoint-dir', join(cwd, 'ck')], { cwd }).exit;
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(/log directory data\/logs: cannot write the log files there \(ENOTDIR\)/);
      expect(r.stderr).not.toMatch(/cycle=/);
    } finally {
      rmSync(cwd, { recursive: true, force: true });
    }
  });

  it('temporary files of an interrupted checkpoint write are removed by the next run', async () => {
    const ck = join(scratch.dir, 'stale');
    mkdirSync(ck);
    // A writer that is gone (pid 2^22 + 1 is above Linux's largest pid) and one that is alive (this test).
    const gone = `.checkpoint_run-x_cycle_000004.json.${2 ** 22 + 1}.tmp`;
    const alive = `.checkpoint_run-x_cycle_000008.json.${process.pid}.tmp`;
    writeFileSync(join(ck, gone), 'half a checkpoint');
    writeFileSync(join(ck, alive), 'being written');
    const r = await startCli(['run', ...SMALL, '--cycles', '2', '--checkpoint-dir', ck]).exit;
    expect(r.code).toBe(0);
    expect(r.stderr).toContain(`shopsim: removed 1 temporary file of interrupted checkpoint writes in ${ck}`);
    expect(existsSync(join(ck, gone))).toBe(false);
    expect(existsSync(join(ck, alive))).toBe(true);
  });

  it('a checkpoint disk that is full: a warning and a retry each cycle, then exit 4 with the summary', async (t) => {
    if (!canMount) return t.skip();
    const ck = tmpfs('ck-full', '256k');
    if (!ck) return t.skip();
    fill(ck, 4096); // room for the start-up probe, not for a checkpoint (~20 KB at 40 agents)
    const r = await startCli(['run', ...SMALL, '--cycles', '12', '--checkpoint-interval', '2', '--checkpoint-dir', ck]).exit;
    expect(r.code).toBe(4);
    const warnings = r.stderr.split('\n').filter((l) => /warning: checkpoint \(interval, cycle \d+\) could not be written: .*ENOSPC/.test(l));
    expect(warnings.map((l) => Number(/cycle (\d+)/.exec(l)?.[1]))).toEqual([2, 3, 4]);
    expect(r.stderr).toMatch(/retrying at the next cycle/);
    expect(r.stderr).toMatch(/stopped because checkpoints kept failing to be written to .* \(3 failed writes; disk full or read-only\?\)/);
    const s = summaryOf(r);
    expect(s['exit_reason']).toBe('checkpoint_failed');
    expect(s['cycles_completed']).toBe(4);
    expect(s['checkpoint_failures']).toBe(3);
    expect(s['last_checkpoint']).toBeNull();
    // Nothing half-written is left behind.
    expect(readdirSync(ck).filter((n) => n !== 'filler')).toEqual([]);
  });

  it('a checkpoint disk that fills up after good checkpoints keeps them, and resume continues from the last', async (t) => {
    if (!canMount) return t.skip();
    const ck = tmpfs('ck-later', '512k');
    if (!ck) return t.skip();
    const first = await startCli(['run', ...SMALL, '--cycles', '4', '--checkpoint-interval', '2', '--checkpoint-dir', ck]).exit;
    expect(first.code).toBe(0);
    const good = checkpointsIn(ck);
    expect(good.length).toBe(1);
    fill(ck, 4096);
    // The first run completed: the resumes name it and extend it to 12 cycles.
    const runId = summaryOf(first)['run_id'] as string;
    const again = await startCli(['run', ...SMALL, '--resume', runId, '--cycles', '12', '--checkpoint-interval', '2', '--checkpoint-dir', ck]).exit;
    expect(again.code).toBe(4);
    expect(summaryOf(again)['checkpoint_failures']).toBe(3);
    expect(checkpointsIn(ck)).toEqual(good);
    rmSync(join(ck, 'filler'));
    const resumed = await startCli(['run', ...SMALL, '--resume', runId, '--cycles', '12', '--checkpoint-interval', '2', '--checkpoint-dir', ck]).exit;
    expect(resumed.code).toBe(0);
    expect(summaryOf(resumed)['resumed_from']).toBe(join(ck, good[0] as string));
    expect(summaryOf(resumed)['cycles_completed']).toBe(12);
  });

  it('a full log disk: a warning per file, the run completes (exit 0) with its summary', async (t) => {
    if (!canMount) return t.skip();
    const cwd = tmpfs('logs-full', '64k');
    if (!cwd) return t.skip();
    mkdirSync(join(cwd, 'data', 'logs'), { recursive: true });
    fill(cwd);
    const r = await startCli(['run', ...SMALL, '--cycles', '6', '--checkpoint-dir', join(scratch.dir, 'logs-full-ck')], { cwd }).exit;
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/warning: cannot write the log file data\/logs\/simulation\.log \(ENOSPC\); its lines are dropped, the run goes on/);
    expect(summaryOf(r)['exit_reason']).toBe('completed');
    expect(summaryOf(r)['cycles_completed']).toBe(6);
  });
});
