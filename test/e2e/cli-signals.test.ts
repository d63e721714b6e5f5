import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CYCLE_LINE, DATA, cycleLines, startCli } from './helpers.ts';

const MOCK = ['--mock-api', '--mock-db', ...DATA];
/** 1 s per cycle: slow enough to steer with signals. */
const SLOW = ['run', ...MOCK, '--agents', '20', '--cycles', '200', '--time-scale', '3600', '--checkpoint-interval', '0'];
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('shopsim run without a terminal', () => {
  it('prints one structured line per cycle on stderr, exactly one JSON object on stdout, and logs to data/logs', async () => {
    const run = startCli(['run', ...MOCK, '--agents', '20', '--cycles', '5', '--fast', '--json', '--checkpoint-interval', '0']);
    const { code } = await run.exit;
    expect(code, run.stderr()).toBe(0);
    const out = run.stdout().trim().split('\n');
    expect(out).toHaveLength(1);
    expect(JSON.parse(out[0] as string).cycles_completed).toBe(5);
    const lines = cycleLines(run.stderr());
    expect(lines).toHaveLength(5);
    for (const l of lines) expect(l).toMatch(CYCLE_LINE);
    expect(run.stderr()).not.toMatch(/\u001b\[/);
    const log = readFileSync(join(run.cwd, 'data/logs/simulation.log'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(log.filter((l) => l.event === 'cycle')).toHaveLength(5);
    expect(log.at(-1).msg).toBe('run finished');
    expect(existsSync(join(run.cwd, 'data/logs/simulation_errors.log'))).toBe(true);
  });

  it('SIGUSR1 writes a checkpoint, SIGUSR2 pauses and resumes, SIGTERM stops gracefully with a final checkpoint (exit 143)', async () => {
    const run = startCli(SLOW);
    await run.waitForStderr(/^cycle=1\//m);
    run.child.kill('SIGUSR1');
    const [, path] = await run.waitForStderr(/checkpoint written: (\S+)/);
    expect(existsSync(join(run.cwd, path as string))).toBe(true);

    run.child.kill('SIGUSR2');
    await run.waitForStderr(/paused \(SIGUSR2\)/);
    const before = cycleLines(run.stderr()).length;
    await sleep(2500);
    // A cycle in flight when the pause arrived may still finish; no new one starts.
    expect(cycleLines(run.stderr()).length).toBeLessThanOrEqual(before + 1);
    const frozen = cycleLines(run.stderr()).length;
    run.child.kill('SIGUSR2');
    await run.waitForStderr(/resumed \(SIGUSR2\)/);
    await run.waitForStderr(new RegExp(`^cycle=${frozen + 1}/`, 'm'));

    run.child.kill('SIGTERM');
    await run.waitForStderr(/SIGTERM: finishing the running cycle, writing a final checkpoint/);
    const { code } = await run.exit;
    expect(code, run.stderr()).toBe(143);
    const [, finalPath] = run.stderr().match(/checkpoint \(stop, cycle \d+\) written: (\S+)/) ?? [];
    expect(finalPath, run.stderr()).toBeDefined();
    expect(existsSync(join(run.cwd, finalPath as string))).toBe(true);
    expect(run.stdout()).toMatch(/^Run run-\S+: /m);
    // The exact command that continues the run, with the path of that final checkpoint.
    expect(run.stderr()).toContain(`continue with: shopsim run --resume-from ${join(run.cwd, finalPath as string)}`);
  });

  it('SIGINT stops gracefully with a final checkpoint (exit 130)', async () => {
    // (A second SIGINT forcing the exit is tested in test/cli/controls.test.ts and test/cli/attach-monitor.test.ts: the kernel merges two
    // signals sent back to back, and a 20-agent stop finishes before a second one arrives.)
    const run = startCli(SLOW);
    await run.waitForStderr(/^cycle=1\//m);
    run.child.kill('SIGINT');
    expect((await run.exit).code).toBe(130);
    expect(run.stderr()).toMatch(/checkpoint \(stop, cycle \d+\) written/);
  });

  it('breaker open: --breaker-action exit (default) checkpoints and exits 3 naming --resume', async () => {
    const run = startCli(['run', ...MOCK, '--agents', '40', '--cycles', '5', '--fast', '--mock-fail-rate', '0.5']);
    const { code } = await run.exit;
    expect(code, run.stderr()).toBe(3);
    const err = run.stderr();
    expect(err).toMatch(/CIRCUIT BREAKER OPEN: \d+ agents failed in cycle 1 \(threshold 2 = 5% of 40\)/);
    expect(err).toContain('Most frequent errors');
    expect(err).toMatch(/checkpoint \(breaker, cycle 1\) written: /);
    expect(err).toContain('shopsim run --resume');
    const errors = readFileSync(join(run.cwd, 'data/logs/simulation_errors.log'), 'utf8');
    expect(errors).toContain('circuit breaker open');
  });

  it('breaker open: --breaker-action wait stays paused until SIGUSR2', async () => {
    const run = startCli(['run', ...MOCK, '--agents', '40', '--cycles', '50', '--time-scale', '3600', '--mock-fail-rate', '0.5', '--breaker-action', 'wait', '--checkpoint-interval', '0']);
    await run.waitForStderr(/send SIGUSR2 to resume/);
    await sleep(2000);
    expect(cycleLines(run.stderr())).toHaveLength(1);
    run.child.kill('SIGUSR2');
    await run.waitForStderr(/circuit breaker closed, resumed \(SIGUSR2\)/);
    await run.waitForStderr(/^cycle=2\//m);
    run.child.kill('SIGTERM');
    expect((await run.exit).code).toBe(143);
  });
});
