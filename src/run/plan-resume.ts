/**
 * `run --resume [RUN_ID]` / `--resume-from`: finds the checkpoint and reconciles this invocation's
 * options with the ones the checkpoint recorded, by each option's resume rule in src/config.ts:
 * options not given again are taken from the checkpoint (so `run --resume` alone continues the
 * run as it was, `--fast` and the pacing included); an option marked must-match given with
 * another value is refused (exit 2); an option marked carry given with another value is honoured
 * (the orchestrator applies it on RUN_RESUMED); the run's data (same-data) is checked against the
 * checkpoint's count and hashes afterwards. It also refuses what a resume cannot continue: a run
 * that completed (unless --cycles/--hours extends it), and a store or database other than the
 * one the run was written with, as far as the options tell (the database itself is checked
 * before anything is written, by src/run/preflight.ts).
 */
import { dirname } from 'node:path';
import { fromPublicConfig, redactUrl, resumeRules, totalCycles, type ResolvedConfig, type RunConfig } from '../config.ts';
import type { Checkpoint } from '../checkpoint/format.ts';
import { checkpointError, listCheckpointFiles, readCheckpoint } from '../checkpoint/load.ts';
import { ShopsimError } from '../errors.ts';
import { readRunStatus, type RunStatusFile } from './run-status.ts';

export interface ResumePlan {
  file: string;
  checkpoint: Checkpoint;
  config: RunConfig;
  /** Lines for stderr (skipped corrupt checkpoints, an extended completed run). */
  warnings: string[];
  /** Options given again with a value other than the checkpoint's (honoured: rule carry). */
  changed: { flag: string; from: unknown; to: unknown }[];
  /** How the checkpoint was chosen, for the resume line ("the newest unfinished run in data/checkpoints"). */
  chosen: string;
  /** The run's status file beside the checkpoint, if it has one. */
  status: RunStatusFile | null;
}

const refuse = (message: string) => new ShopsimError('E_CHECKPOINT', message, { exitCode: 2 });

interface Picked {
  file: string;
  checkpoint: Checkpoint;
  warnings: string[];
  chosen: string;
}

/**
 * The checkpoint `--resume` (runRef null: the newest unfinished run) or `--resume RUN_ID` takes
 * in `dir`: that run's newest readable checkpoint. Corrupt newer files are skipped with a
 * warning naming both files.
 */
export function pickCheckpoint(dir: string, runRef: string | null): Picked {
  const files = listCheckpointFiles(dir);
  const flag = runRef ? `--resume ${runRef}` : '--resume';
  if (files.length === 0) throw refuse(`${flag}: no checkpoint in ${dir} (start a new run without --resume, or pass --checkpoint-dir)`);
  // Runs in the order of their newest checkpoint (files are newest first).
  const runs: string[] = [];
  for (const f of files) if (!runs.includes(f.runId)) runs.push(f.runId);
  let candidates: string[];
  if (runRef) {
    if (!runs.includes(runRef)) throw refuse(`${flag}: no checkpoint of run ${runRef} in ${dir} (runs there: ${runs.slice(0, 5).join(', ')}${runs.length > 5 ? ', …' : ''})`);
    candidates = [runRef];
  } else {
    candidates = runs.filter((r) => readRunStatus(dir, r)?.status !== 'completed');
    if (candidates.length === 0) {
      const newest = runs[0] as string;
      const st = readRunStatus(dir, newest);
      throw refuse(
        `--resume: every run with checkpoints in ${dir} has completed (the newest, ${newest}, ran all ${st?.cycles_completed ?? '?'} cycles); ` +
          `to extend it pass --resume ${newest} --cycles N (N > ${st?.cycles_completed ?? 'its cycles'}), or start a new run without --resume`,
      );
    }
  }
  const skipped: { file: string; problem: string }[] = [];
  for (const runId of candidates) {
    for (const f of files) {
      if (f.runId !== runId) continue;
      try {
        const checkpoint = readCheckpoint(f.path);
        const warnings = skipped.map((s) => `warning: newer checkpoint ${s.file} is unusable (${s.problem}); resuming from ${f.path} instead`);
        return { file: f.path, checkpoint, warnings, chosen: runRef ? `named by --resume ${runRef}` : `the newest unfinished run in ${dir}` };
      } catch (err) {
        const msg = (err as Error).message;
        skipped.push({ file: f.path, problem: msg.startsWith(`checkpoint ${f.path}: `) ? msg.slice(`checkpoint ${f.path}: `.length) : msg });
      }
    }
  }
  throw refuse(`${flag}: no valid checkpoint in ${dir} (${skipped.length} unusable; newest ${skipped[0]?.file}: ${skipped[0]?.problem})`);
}

/** Null when this invocation does not resume. */
export function planResume(resolved: ResolvedConfig): ResumePlan | null {
  const { config, sources } = resolved;
  if (config.fresh || (config.resume === false && !config.resumeFrom)) return null;
  let picked: Picked;
  if (config.resumeFrom) {
    picked = { file: config.resumeFrom, checkpoint: readCheckpoint(config.resumeFrom), warnings: [], chosen: 'named by --resume-from' };
  } else {
    picked = pickCheckpoint(config.checkpointDir, typeof config.resume === 'string' ? config.resume : null);
  }
  const { file, checkpoint } = picked;
  const warnings = [...picked.warnings];
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
  // A resumed run writes its checkpoints beside the one it continues, unless told otherwise.
  if (sources.checkpointDir === undefined) next.checkpointDir = dirname(file);
  checkStoreAndDatabase(file, checkpoint, next);

  // The run's total length: given again, or the checkpointed run's.
  const extended = sources.cycles !== undefined || sources.hours !== undefined;
  if (!extended) {
    const total = checkpoint.simulation_state.total_cycles ?? recorded.cycles;
    if (typeof total === 'number' && Number.isInteger(total) && total >= 1) next.cycles = total;
    next.hours = null;
  }
  const total = totalCycles(next, extended ? sources : {});
  const runId = checkpoint.simulation_state.run_id;
  const at = checkpoint.simulation_state.current_cycle;
  const status = readRunStatus(dirname(file), runId);
  if (status?.status === 'completed') {
    if (!extended || total <= status.cycles_completed) {
      throw refuse(
        `run ${runId} has completed all ${status.cycles_completed} cycles (${file} is from cycle ${at}); nothing to resume` +
          (extended ? ` — ${total} cycles would not extend it` : '') +
          ` (pass --cycles N with N > ${status.cycles_completed} to extend it, or start a new run with --fresh)`,
      );
    }
    warnings.push(`run ${runId} had completed ${status.cycles_completed} cycles; extending it to ${total} from the checkpoint at cycle ${at} (cycles ${at + 1}–${status.cycles_completed} run again and replace what was recorded)`);
  }
  if (total <= at) throw refuse(`${extended ? `--cycles/--hours: ${total} cycles` : `checkpoint ${file}: the run's ${total} cycles`} — the checkpoint has already completed cycle ${at}; expected a total of more than ${at} cycles`);
  return { file, checkpoint, config: next, warnings, changed, chosen: picked.chosen, status };
}

/**
 * The store and database a resume would use must be the ones the run was written with, as far
 * as the options say: the checkpoint keeps URLs redacted, so a run that used --api-url or
 * --database-url needs it given again, and one that did not must not be pointed elsewhere.
 */
function checkStoreAndDatabase(file: string, ck: Checkpoint, c: RunConfig): void {
  const rec = ck.simulation_config;
  if (!c.mockApi) {
    const was = typeof rec['api_url'] === 'string' ? rec['api_url'] : null;
    const now = c.apiUrl ? redactUrl(c.apiUrl) : null;
    if (was !== now) {
      throw checkpointError(
        file,
        was === null
          ? `store mismatch: the run used the bundled reference store; this resume asks for --api-url ${now} (use --fresh for a new run against that store)`
          : now === null
            ? `store mismatch: the run used the store at ${was}; give --api-url (or API_URL) again to resume it (the checkpoint keeps the URL without credentials)`
            : `store mismatch: the run used the store at ${was}; this resume asks for --api-url ${now}`,
      );
    }
  }
  if (!c.mockDb) {
    const was = typeof rec['database'] === 'string' ? rec['database'] : 'embedded';
    if (was === 'embedded' && c.databaseUrl) {
      throw checkpointError(file, `database mismatch: the run was written to the embedded database; this resume asks for --database-url ${redactUrl(c.databaseUrl)} (use --fresh for a new run there)`);
    }
    if (was !== 'embedded' && !c.databaseUrl) {
      throw checkpointError(file, `database mismatch: the run was written to PostgreSQL at ${was}; give --database-url (or DATABASE_URL) again to resume it, not the embedded database`);
    }
  }
}
