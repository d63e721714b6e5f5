/**
 * Resuming with other options: each option's resume rule (src/config.ts) is honoured or refused,
 * never both silently. In-process through the application layer, mock store, no database.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { checkpointFileName } from '../../src/checkpoint/format.ts';
import { resolveConfig, type RunConfig } from '../../src/config.ts';
import type { CycleReport, RunSummary } from '../../src/model/run.ts';
import { openRun, prepareRun } from '../../src/run/start-run.ts';

const dir = mkdtempSync(join(tmpdir(), 'shopsim-resume-options-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const base = { agents: '372', cycles: '12', fast: true, mockApi: true, mockDb: true, mockFailRate: '0.02', seed: '7', breakerPercent: '50', checkpointInterval: '4', checkpointDir: dir };

async function run(flags: Partial<Record<keyof RunConfig, unknown>>): Promise<{ summary: RunSummary; cycles: CycleReport[]; warnings: string[]; windows: number[] }> {
  const plan = prepareRun(resolveConfig(flags, {}));
  const opened = await openRun(plan);
  const { sim, execute } = opened.simulate({ breakerAction: 'exit' });
  const cycles: CycleReport[] = [];
  sim.events.on('cycle', (r) => cycles.push(r));
  try {
    const summary = await execute();
    // Each cohort's concurrency window, as the tree holds it at the end of the run.
    const tree = sim.persistedSnapshot() as { children: Record<string, { snapshot: { context: { window?: number } } }> };
    const windows = Object.values(tree.children).flatMap((c) => (typeof c.snapshot.context.window === 'number' ? [c.snapshot.context.window] : []));
    return { summary, cycles, warnings: plan.warnings, windows };
  } finally {
    await opened.close();
  }
}

describe('run --resume-from with other options', () => {
  let first: RunSummary;
  let cp4 = '';
  it('setup: an uninterrupted run with checkpoints at cycles 4 and 8', async () => {
    ({ summary: first } = await run(base));
    expect(first.exit_reason).toBe('completed');
    expect(first.breaker.threshold).toBe(186);
    expect(first.sessions_failed).toBeGreaterThan(0);
    cp4 = join(dir, checkpointFileName(first.run_id, 4, false));
  });

  it('resumed as it was, it ends where the uninterrupted run ended (same digest, same threshold)', async () => {
    const { summary, windows } = await run({ fast: true, checkpointDir: dir, resumeFrom: cp4 });
    expect(windows).toEqual([10_000]);
    expect(summary.digest).toBe(first.digest);
    expect(summary.breaker).toMatchObject({ percent: 50, threshold: 186, trips: 0 });
  });

  it('--breaker-percent 1 on resume: the new threshold (3 of 372) is in the summary and trips the breaker', async () => {
    const { summary, cycles, warnings } = await run({ fast: true, checkpointDir: dir, resumeFrom: cp4, breakerPercent: '1' });
    expect(warnings.join('\n')).toMatch(/--breaker-percent 1 \(the checkpoint has 50\)/);
    expect(summary.breaker).toMatchObject({ percent: 1, threshold: 3 });
    expect(cycles.every((c) => c.threshold === 3)).toBe(true);
    // The breaker acts on the new threshold: the run stops at the first cycle with more than 3 failures.
    const tripped = cycles.find((c) => c.totals.failed > 3);
    expect(tripped).toBeDefined();
    expect(summary.exit_reason).toBe('breaker');
    expect(summary.breaker.trips).toBe(1);
    expect(summary.cycles_completed).toBe(tripped?.cycle);
    expect(cycles.filter((c) => c.cycle < (tripped?.cycle ?? 0)).every((c) => c.totals.failed <= 3)).toBe(true);
  });

  it('--max-concurrent-agents on resume is honoured (the window changes, the decisions of the mock store do not)', async () => {
    const { summary, warnings, windows } = await run({ fast: true, checkpointDir: dir, resumeFrom: cp4, maxConcurrentAgents: '20' });
    expect(windows).toEqual([20]); // one cohort of 372 shoppers: at most 20 in a session at once
    expect(warnings.join('\n')).toMatch(/--max-concurrent-agents 20 \(the checkpoint has 10000\)/);
    expect(summary.cycles_completed).toBe(12);
    expect(summary.digest).toBe(first.digest);
  });

  it.each([
    ['cohortSize', '100', /--cohort-size 500, this run asks for --cohort-size 100/],
    ['seed', '8', /seed mismatch: the checkpoint was written with --seed 7/],
    ['mockFailRate', '0.5', /--mock-fail-rate 0.02, this run asks for --mock-fail-rate 0.5/],
  ])('--%s %s on resume is refused with one line, exit 2', (key, value, message) => {
    let err: unknown;
    try {
      prepareRun(resolveConfig({ resumeFrom: cp4, [key]: value }, {}));
    } catch (e) {
      err = e;
    }
    expect(err).toMatchObject({ code: 'E_CHECKPOINT', exitCode: 2 });
    expect((err as Error).message).toMatch(message);
    expect((err as Error).message).not.toContain('\n');
  });
});
