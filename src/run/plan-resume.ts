/**
 * `run --resume` / `--resume-from`: finds the checkpoint and reconciles this invocation's options
 * with the ones the checkpoint recorded, by each option's resume rule in src/config.ts: options
 * not given again are taken from the checkpoint (so `run --resume` alone continues the run as it
 * was); an option marked must-match given with another value is refused (exit 2); an option
 * marked carry given with another value is honoured (the orchestrator applies it on RUN_RESUMED);
 * the run's data (same-data) is checked against the checkpoint's count and hashes afterwards.
 */
import { fromPublicConfig, resumeRules, type ResolvedConfig, type RunConfig } from '../config.ts';
import type { Checkpoint } from '../checkpoint/format.ts';
import { checkpointError, newestValidCheckpoint, readCheckpoint } from '../checkpoint/load.ts';

export interface ResumePlan {
  file: string;
  checkpoint: Checkpoint;
  config: RunConfig;
  /** Lines for stderr (skipped corrupt checkpoints). */
  warnings: string[];
  /** Options given again with a value other than the checkpoint's (honoured: rule carry). */
  changed: { flag: string; from: unknown; to: unknown }[];
}

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
  const recorded = fromPublicConfig(checkpoint.simulation_config, `checkpoint ${file}`);
  const next: RunConfig = { ...config };
  const changed: ResumePlan['changed'] = [];
  for (const { key, flag, rule } of resumeRules()) {
    if (!(key in recorded)) continue;
    const was = recorded[key];
    if (sources[key] === undefined) {
      (next as unknown as Record<string, unknown>)[key] = was;
    } else if (was !== config[key]) {
      if (rule === 'must-match') {
        throw checkpointError(file, `${key === 'seed' ? 'seed mismatch' : 'config mismatch'}: the checkpoint was written with ${flag} ${String(was)}, this run asks for ${flag} ${String(config[key])} (exactness needs the same value; use --fresh for a new run)`);
      }
      // same-data: validateCheckpoint compares what the files hold with the checkpoint.
      if (rule === 'carry') changed.push({ flag, from: was, to: config[key] });
    }
  }
  // The run's total length: given again, or the checkpointed run's.
  if (sources.cycles === undefined && sources.hours === undefined) {
    const total = checkpoint.simulation_state.total_cycles ?? recorded.cycles;
    if (typeof total === 'number' && Number.isInteger(total) && total >= 1) next.cycles = total;
    next.hours = null;
  }
  return { file, checkpoint, config: next, warnings, changed };
}
