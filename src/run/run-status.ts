/**
 * A run's status beside its checkpoints: `<checkpoint-dir>/run_<run-id>.status.json`, written
 * (atomically) by the run when it resumes or writes its first checkpoint ("running"), and when it
 * ends (its exit reason). `run --resume` uses it to skip runs that completed and `checkpoints
 * list` to show each checkpoint's run status. A run killed with SIGKILL stays "running": to a
 * resume that is an unfinished run, which it is. The file is outside the process: a malformed
 * one reads as "unknown".
 */
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { atomicWriteFile } from '../checkpoint/atomic-write.ts';

export type RunStatusValue = 'running' | 'completed' | 'stopped' | 'breaker' | 'checkpoint_failed' | 'error';

export interface RunStatusFile {
  run_id: string;
  status: RunStatusValue;
  cycles_completed: number;
  total_cycles: number;
  updated_at: string;
}

const STATUSES: readonly string[] = ['running', 'completed', 'stopped', 'breaker', 'checkpoint_failed', 'error'];

export function runStatusPath(dir: string, runId: string): string {
  return join(dir, `run_${runId}.status.json`);
}

export function writeRunStatus(dir: string, status: RunStatusFile): void {
  mkdirSync(dir, { recursive: true });
  atomicWriteFile(runStatusPath(dir, status.run_id), `${JSON.stringify(status)}\n`);
}

/** The run's status file, or null when there is none or it is not one shopsim wrote. */
export function readRunStatus(dir: string, runId: string): RunStatusFile | null {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(runStatusPath(dir, runId), 'utf8'));
  } catch {
    return null;
  }
  if (raw === null || typeof raw !== 'object') return null;
  const r = raw as Record<string, unknown>;
  if (r['run_id'] !== runId || typeof r['status'] !== 'string' || !STATUSES.includes(r['status'])) return null;
  const int = (v: unknown) => (typeof v === 'number' && Number.isInteger(v) && v >= 0 ? v : null);
  const done = int(r['cycles_completed']);
  const total = int(r['total_cycles']);
  if (done === null || total === null) return null;
  return { run_id: runId, status: r['status'] as RunStatusValue, cycles_completed: done, total_cycles: total, updated_at: typeof r['updated_at'] === 'string' ? r['updated_at'] : '' };
}
