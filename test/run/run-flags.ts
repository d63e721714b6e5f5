/** Runs `shopsim run` with these flags in-process, through the application layer; returns the summary. */
import { resolveConfig, type RunConfig } from '../../src/config.ts';
import type { RunSummary } from '../../src/model/run.ts';
import { openRun, prepareRun } from '../../src/run/start-run.ts';

export async function runFlags(flags: Partial<Record<keyof RunConfig, unknown>>): Promise<RunSummary> {
  const plan = prepareRun(resolveConfig(flags, {}));
  const opened = await openRun(plan);
  try {
    return await opened.simulate({ breakerAction: 'exit' }).execute();
  } finally {
    await opened.close();
  }
}
