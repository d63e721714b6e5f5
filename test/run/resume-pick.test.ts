/**
 * Which checkpoint `run --resume` takes (src/run/plan-resume.ts): the newest checkpoint of the
 * newest unfinished run, skipping runs that completed even when they are newer; `--resume RUN_ID`
 * takes that run. In-process, mock store, no database.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { resolveConfig, type RunConfig } from '../../src/config.ts';
import type { RunSummary } from '../../src/model/run.ts';
import { readRunStatus, runStatusPath, writeRunStatus } from '../../src/run/run-status.ts';
import { openRun, prepareRun } from '../../src/run/start-run.ts';
import { runFlags } from './run-flags.ts';

const dir = mkdtempSync(join(tmpdir(), 'shopsim-resume-pick-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const base = { agents: '30', fast: true, mockApi: true, mockDb: true, checkpointInterval: '2', checkpointDir: dir };

const run = runFlags;

describe('run --resume picks a run', () => {
  let unfinished: RunSummary;
  let completed: RunSummary;
  it('setup: an unfinished run (cycle 4 of 6), then a newer run that completed', async () => {
    unfinished = await run({ ...base, cycles: '6', seed: '1' });
    // As if it had been killed after its cycle-4 checkpoint: its status says running.
    writeRunStatus(dir, { run_id: unfinished.run_id, status: 'running', cycles_completed: 4, total_cycles: 6, updated_at: new Date().toISOString() });
    await new Promise((r) => setTimeout(r, 20)); // file times order the runs
    completed = await run({ ...base, cycles: '4', seed: '2' });
    expect(readRunStatus(dir, completed.run_id)?.status).toBe('completed');
  });

  it('--resume takes the newest checkpoint of the newest unfinished run, and says how it chose', () => {
    const plan = prepareRun(resolveConfig({ resume: true, checkpointDir: dir }, {}));
    expect(plan.runId).toBe(unfinished.run_id);
    expect(plan.resume?.file).toMatch(/_cycle_000004\.json$/);
    expect(plan.resume?.chosen).toBe(`the newest unfinished run in ${dir}`);
    expect(plan.config.seed).toBe(1);
    expect(plan.config.fast).toBe(true);
  });

  it('--resume RUN_ID takes the run named; a completed one is refused unless --cycles extends it', () => {
    expect(() => prepareRun(resolveConfig({ resume: completed.run_id, checkpointDir: dir }, {}))).toThrow(new RegExp(`run ${completed.run_id} has completed all 4 cycles`));
    const plan = prepareRun(resolveConfig({ resume: completed.run_id, cycles: '8', checkpointDir: dir }, {}));
    expect(plan.runId).toBe(completed.run_id);
    expect(plan.cycles).toBe(8);
    expect(plan.warnings.join('\n')).toMatch(/had completed 4 cycles; extending it to 8 from the checkpoint at cycle 2/);
    expect(() => prepareRun(resolveConfig({ resume: 'run-nope', checkpointDir: dir }, {}))).toThrow(/--resume run-nope: no checkpoint of run run-nope/);
  });

  it('with every run completed, --resume is refused with one line naming how to extend', () => {
    rmSync(runStatusPath(dir, unfinished.run_id));
    writeRunStatus(dir, { run_id: unfinished.run_id, status: 'completed', cycles_completed: 6, total_cycles: 6, updated_at: new Date().toISOString() });
    let err: unknown;
    try {
      prepareRun(resolveConfig({ resume: true, checkpointDir: dir }, {}));
    } catch (e) {
      err = e;
    }
    expect(err).toMatchObject({ exitCode: 2 });
    expect((err as Error).message).toMatch(/every run with checkpoints in .* has completed .*--resume run-\S+ --cycles N/);
    expect((err as Error).message).not.toContain('\n');
  });
});
