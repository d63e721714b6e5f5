/**
 * `run --resume` / `--resume-from`: finds the checkpoint and reconciles this invocation's
 * configuration with the one the checkpoint was written with. Settings the user did not give
 * are taken from the checkpoint (so `run --resume` alone continues the run as it was); settings
 * given explicitly that would break exactness (seed, agents, start, …) are refused.
 */
import type { ResolvedConfig, RunConfig } from '../config.ts';
import type { Checkpoint } from './format.ts';
import { checkpointError, newestValidCheckpoint, readCheckpoint } from './load.ts';

export interface ResumePlan {
  file: string;
  checkpoint: Checkpoint;
  config: RunConfig;
  /** Lines for stderr (skipped corrupt checkpoints). */
  warnings: string[];
}

/** [RunConfig key, simulation_config key, an explicit different value breaks exactness]. */
const CARRIED: [keyof RunConfig, string, boolean][] = [
  ['seed', 'seed', true],
  ['start', 'start', true],
  ['warmupCycles', 'warmup_cycles', true],
  ['offerCycleDays', 'offer_cycle_days', true],
  ['mockFailRate', 'mock_fail_rate', true],
  ['cohortSize', 'cohort_size', false],
  ['agents', 'agents', false],
  ['personas', 'personas', false],
  ['products', 'products', false],
  ['timeScale', 'time_scale', false],
  ['breakerPercent', 'breaker_percent', false],
  // The run's modes: `--resume` continues the same kind of run (mock store, no database…).
  ['mockApi', 'mock_api', false],
  ['mockDb', 'mock_db', false],
  ['maxConcurrentAgents', 'max_concurrent_agents', false],
];

/** Null when this invocation does not resume. */
export function planResume(resolved: ResolvedConfig): ResumePlan | null {
  const { config, sources } = resolved;
  if (config.fresh || (!config.resume && !config.resumeFrom)) return null;
  let file: string;
  let checkpoint: Checkpoint;
  let warnings: string[] = [];
  if (config.resumeFrom) {
    file = config.resumeFrom;
    checkpoint = readCheckpoint(file);
  } else {
    ({ file, checkpoint, warnings } = newestValidCheckpoint(config.checkpointDir));
  }
  const next: RunConfig = { ...config };
  const was = checkpoint.simulation_config;
  for (const [key, ckKey, breaks] of CARRIED) {
    if (!(ckKey in was)) continue;
    const value = was[ckKey];
    if (sources[key] === undefined) {
      (next as unknown as Record<string, unknown>)[key] = value;
    } else if (breaks && value !== config[key]) {
      const flag = `--${key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;
      throw checkpointError(file, `${key === 'seed' ? 'seed mismatch' : 'config mismatch'}: the checkpoint was written with ${flag} ${String(value)}, this run asks for ${flag} ${String(config[key])} (exactness needs the same value; use --fresh for a new run)`);
    }
  }
  // The run's total length: given again, or the checkpointed run's.
  if (sources.cycles === undefined && sources.hours === undefined) {
    const total = checkpoint.simulation_state.total_cycles ?? was['cycles'];
    if (typeof total === 'number') next.cycles = total;
  }
  return { file, checkpoint, config: next, warnings };
}
