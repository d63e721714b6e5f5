/**
 * A run's profile travels with it: resume and replay take the profile recorded in the
 * checkpoint (profile_spec), not the file as it is now; a checkpoint from before profiles
 * resumes under the seed profile. In-process through the application layer, mock store.
 */
import { withChecksum } from '../../src/checkpoint/save.ts';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { checkpointFileName } from '../../src/checkpoint/format.ts';
import { resolveConfig, type RunConfig } from '../../src/config.ts';
import type { RunSummary } from '../../src/model/run.ts';
import { loadProfile } from '../../src/run/load-data.ts';
import { openRun, prepareReplay, prepareRun, type RunPlan } from '../../src/run/start-run.ts';

const dir = mkdtempSync(join(tmpdir(), 'shopsim-profile-resume-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function execute(plan: RunPlan): Promise<RunSummary> {
  const opened = await openRun(plan);
  try {
    return await opened.simulate({ breakerAction: 'exit' }).execute();
  } finally {
    await opened.close();
  }
}
const runOf = (flags: Partial<Record<keyof RunConfig, unknown>>) => execute(prepareRun(resolveConfig(flags, {})));

describe('the profile is kept with the run', () => {
  const file = join(dir, 'mine.yaml');
  const ckDir = join(dir, 'ck');
  const base = { agents: '200', cycles: '10', fast: true, mockApi: true, mockDb: true, seed: '3', checkpointInterval: '4', checkpointDir: ckDir, profile: file };
  let first: RunSummary;

  it('resume and replay use the recorded profile even after the file changed; a new run uses the file', async () => {
    const mine = { ...loadProfile('retail'), name: 'mine' };
    writeFileSync(file, stringify(mine));
    first = await runOf(base);
    expect(first.exit_reason).toBe('completed');
    const cp4 = join(ckDir, checkpointFileName(first.run_id, 4, false));
    const recorded = JSON.parse(readFileSync(cp4, 'utf8')) as { simulation_config: Record<string, unknown> };
    expect(recorded.simulation_config['profile']).toBe(file);
    expect(recorded.simulation_config['profile_spec']).toEqual(mine);

    // The file changes: twice the visits, four times the carts.
    writeFileSync(file, stringify({ ...mine, generator: { ...mine.generator, visit_rate: 0.84, cart_intent: 0.34 } }));
    // The run completed (its status file beside the checkpoints says so, and a resume of it is
    // refused): its cycle-4 checkpoint, alone in a directory of its own, stands for it interrupted.
    const crashed = join(dir, 'interrupted');
    mkdirSync(crashed);
    const copy = join(crashed, checkpointFileName(first.run_id, 4, false));
    copyFileSync(cp4, copy);
    const plan = prepareRun(resolveConfig({ fast: true, resumeFrom: copy }, {}));
    expect(plan.profile).toEqual(mine);
    expect((await execute(plan)).digest).toBe(first.digest);
    const replay = prepareReplay(cp4);
    expect(replay.profile).toEqual(mine);
    expect((await execute(replay)).digest).toBe(first.digest);

    const fresh = await runOf({ ...base, checkpointDir: join(dir, 'ck2') });
    expect(fresh.digest).not.toBe(first.digest);
    expect(fresh.sessions_created).toBeGreaterThan(first.sessions_created * 1.5);
  }, 120_000);

  it('a checkpoint written before profiles (no profile keys) resumes under the seed profile', async () => {
    const seedDir = join(dir, 'ck-seed');
    const whole = await runOf({ ...base, profile: 'seed', checkpointDir: seedDir });
    const cp4 = join(seedDir, checkpointFileName(whole.run_id, 4, false));
    const ck = JSON.parse(readFileSync(cp4, 'utf8')) as { simulation_config: Record<string, unknown> };
    delete ck.simulation_config['profile'];
    delete ck.simulation_config['profile_spec'];
    delete (ck as { checksum?: string }).checksum;
    const old = join(dir, 'old-checkpoint.json');
    // Sealed as shopsim writes any checkpoint (its content checksum), minus the profile keys.
    writeFileSync(old, withChecksum(JSON.stringify(ck)));
    const plan = prepareRun(resolveConfig({ fast: true, resumeFrom: old, checkpointDir: join(dir, 'ck-old') }, {}));
    expect(plan.profile.name).toBe('seed');
    expect((await execute(plan)).digest).toBe(whole.digest);
  }, 120_000);
});
