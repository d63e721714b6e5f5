/**
 * `shopsim ctl` against a run started through `npx` (whose pid is npm's, not shopsim's): ctl
 * finds the run through the run file --web leaves under data/runs, never through a pid.
 */
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { afterBanner, BIN, DATA, ROOT, scratchDir, startCli, type Finished } from './helpers.ts';

const cwd = scratchDir('shopsim-ctl-');
afterAll(() => rmSync(cwd, { recursive: true, force: true }));

function ctl(args: string[]): Promise<Finished> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [BIN, 'ctl', ...args], { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('close', (code, signal) => resolve({ code, signal, stdout: out, stderr: err }));
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function waitFor<T>(what: string, f: () => Promise<T | null>, ms = 20_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await f();
    if (v !== null) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

describe('shopsim ctl', () => {
  it('says in one line (exit 2) that there is no run to talk to', async () => {
    const r = await ctl(['status']);
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/no running run with --web found in .*data\/runs/);
  });

  it('pauses, resumes and stops a run started through npx, found by its run file', async () => {
    const npx = join(process.execPath, '..', 'npx');
    // --ignore-scripts: npx installs the checkout into its cache as a file: dependency, and would run
    // its `prepare` (a rebuild of dist/, which other tests running at the same time are using).
    const args = ['--offline', '--ignore-scripts', '--prefix', ROOT, 'shopsim', 'run', '--mock-api', '--mock-db', ...DATA, '--agents', '40', '--cycles', '500', '--time-scale', '7200', '--checkpoint-interval', '0', '--web', '0'];
    const run = spawn(existsSync(npx) ? npx : 'npx', args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let err = '';
    run.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const exit = new Promise<number | null>((r) => run.on('close', (code) => r(code)));
    try {
      const runs = join(cwd, 'data/runs');
      const file = await waitFor('the run file', async () => (existsSync(runs) && readdirSync(runs).length > 0 ? join(runs, readdirSync(runs)[0] as string) : null), 60_000);
      expect(statSync(file).mode & 0o777).toBe(0o600);
      await waitFor('a cycle', async () => (/^cycle=2\//m.test(err) ? true : null));

      const status = await ctl(['status']);
      expect(status.code, status.stderr).toBe(0);
      expect(status.stdout).toMatch(/: running, cycle \d+\/500/);
      expect(status.stdout).toMatch(/shoppers idle=\d+/);

      const runId = /run (run-\S+):/.exec(status.stdout)?.[1] as string;
      const pause = await ctl(['pause', '--run', runId]);
      expect(pause.code, pause.stderr).toBe(0);
      expect(pause.stdout).toContain('status paused');
      const frozenAt = Number(/cycle (\d+)\//.exec((await ctl(['status'])).stdout)?.[1]);
      await sleep(1500);
      const still = await ctl(['status']);
      expect(still.stdout).toContain(': paused,');
      expect(Number(/cycle (\d+)\//.exec(still.stdout)?.[1])).toBeLessThanOrEqual(frozenAt + 1);

      expect((await ctl(['resume'])).stdout).toContain('status running');
      await waitFor('cycles after resume', async () => (Number(/cycle (\d+)\//.exec((await ctl(['status'])).stdout)?.[1]) > frozenAt + 2 ? true : null));

      const ck = await ctl(['checkpoint']);
      expect(ck.code, ck.stderr).toBe(0);
      const path = /checkpoint written: (\S+)/.exec(ck.stdout)?.[1] as string;
      expect(existsSync(join(cwd, path))).toBe(true);

      expect((await ctl(['stop'])).code).toBe(0);
      expect(await exit).toBe(0);
      expect(err).toMatch(/checkpoint \(stop, cycle \d+\) written/);
      // The run file goes with the run.
      expect(existsSync(file)).toBe(false);
      expect((await ctl(['status'])).code).toBe(2);
    } finally {
      run.kill('SIGKILL');
    }
  }, 120_000);

  it('a taken --web port is one line and exit 2', async () => {
    const first = startCli(['run', '--mock-api', '--mock-db', ...DATA, '--agents', '5', '--cycles', '200', '--time-scale', '3600', '--checkpoint-interval', '0', '--web', '0'], { cwd });
    try {
      const [, port] = await first.waitForStderr(/web view: open http:\/\/127\.0\.0\.1:(\d+)\//);
      const second = await startCli(['run', '--mock-api', '--mock-db', ...DATA, '--agents', '5', '--cycles', '1', '--web', port as string]).exit;
      expect(second.code).toBe(2);
      expect(afterBanner(second.stderr)).toEqual([expect.stringMatching(new RegExp(`^shopsim: --web ${port}: cannot listen on 127\\.0\\.0\\.1:${port} \\(EADDRINUSE\\)`))]);
    } finally {
      first.child.kill('SIGKILL');
      await first.exit;
    }
  }, 60_000);
});
