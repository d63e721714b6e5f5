/**
 * --data-dir moves a run's checkpoints with it (checkpoints beside the embedded database
 * directory, as the logs): the run writes them there, `--resume`, `checkpoints list`, `runs list`
 * and `clean` find them there, and nothing lands in the working directory's data/.
 */
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DATA, scratchDir, startCli, summaryOf } from './helpers.ts';

describe('--data-dir', () => {
  it('puts the checkpoints beside it; --resume, checkpoints list, runs list and clean look there', async () => {
    const cwd = scratchDir('shopsim-datadir-cwd-');
    const home = join(scratchDir('shopsim-datadir-'), 'shop');
    const dataDir = join(home, 'pglite');
    const cli = (args: string[]) => startCli([...args, '--data-dir', dataDir], { cwd }).exit;
    // A run stopped at its first cycle end by a failing threshold, with a checkpoint (exit 99).
    const first = await cli(['run', '--mock-api', '--mock-db', '--fast', '-a', '12', '-c', '4', '--checkpoint-interval', '1', '--threshold', 'checkout_rate>2', '--threshold-abort', '--json', ...DATA]);
    expect(first.code, first.stderr).toBe(99);
    expect(first.stderr).toContain(`checkpoints  ${join(home, 'checkpoints')} (`);
    const written = readdirSync(join(home, 'checkpoints')).filter((n) => n.startsWith('checkpoint_'));
    expect(written.length).toBeGreaterThan(0);
    expect(summaryOf(first)['last_checkpoint']).toMatch(new RegExp(`^${join(home, 'checkpoints')}/`));
    // The command that continues it names the data dir too (the database is there).
    expect(first.stderr).toContain(`continue with: shopsim run --resume-from ${summaryOf(first)['last_checkpoint'] as string} --data-dir ${dataDir}`);
    expect(existsSync(join(home, 'logs', 'simulation.log'))).toBe(true);
    expect(existsSync(join(cwd, 'data'))).toBe(false);

    const listed = await cli(['checkpoints', 'list', '--json']);
    expect(listed.code, listed.stderr).toBe(0);
    expect((JSON.parse(listed.stdout) as { file: string }[]).map((r) => r.file.split('/').pop()).sort()).toEqual([...written].sort());
    const runs = await cli(['runs', 'list', '--json']);
    expect(runs.code, runs.stderr).toBe(0);
    expect((JSON.parse(runs.stdout) as { id: string; checkpoints: string[] }[])[0]?.checkpoints.length).toBe(written.length);

    const resumed = await cli(['run', '--resume', '--json', ...DATA]);
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(resumed.stderr).toMatch(new RegExp(`resuming run \\S+ \\(the newest unfinished run in ${join(home, 'checkpoints')}\\)`));
    expect(summaryOf(resumed)['cycles_completed']).toBe(4);
    expect(existsSync(join(cwd, 'data'))).toBe(false);

    const clean = await cli(['clean', '--yes']);
    expect(clean.code, clean.stderr).toBe(0);
    expect(clean.stdout).toContain(`${join(home, 'checkpoints')}  (checkpoints`);
    expect(existsSync(join(home, 'checkpoints'))).toBe(false);
    expect(existsSync(join(home, 'logs'))).toBe(false);
  }, 120_000);
});
