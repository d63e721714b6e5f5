/**
 * The file a run with --web leaves beside its data so `shopsim ctl` can find and talk to it,
 * however it was launched: data/runs/<run id>.json (beside the checkpoint directory), mode 0600
 * in a 0700 directory, holding the URL and the control token. It is removed when the run ends;
 * a file whose process is gone is ignored. Its content is checked like any outside input.
 */
import { chmodSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { inputError } from '../errors.ts';

export interface RunFile {
  runId: string;
  pid: number;
  /** http://127.0.0.1:PORT */
  url: string;
  token: string;
  startedAt: string;
}

/** data/runs for the default data/checkpoints. */
export function runsDirOf(checkpointDir: string): string {
  return join(dirname(resolve(checkpointDir)), 'runs');
}

const SAFE_ID = /^[A-Za-z0-9._-]{1,128}$/;

export function writeRunFile(dir: string, file: RunFile): string {
  if (!SAFE_ID.test(file.runId) || file.runId.startsWith('.')) throw new Error(`run id ${JSON.stringify(file.runId)} cannot name a file`);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const path = join(dir, `${file.runId}.json`);
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(file)}\n`, { mode: 0o600 });
  chmodSync(tmp, 0o600);
  renameSync(tmp, path);
  return path;
}

export function removeRunFile(path: string): void {
  rmSync(path, { force: true });
}

/** Parses a run file; null when it is not one (wrong shape, not loopback, no token). */
export function parseRunFile(text: string): RunFile | null {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return null;
  }
  if (!v || typeof v !== 'object') return null;
  const o = v as Record<string, unknown>;
  if (typeof o['runId'] !== 'string' || !SAFE_ID.test(o['runId'])) return null;
  if (typeof o['pid'] !== 'number' || !Number.isInteger(o['pid']) || o['pid'] <= 0) return null;
  if (typeof o['url'] !== 'string' || !/^http:\/\/127\.0\.0\.1:\d{1,5}$/.test(o['url'])) return null;
  if (typeof o['token'] !== 'string' || !/^[A-Za-z0-9_-]{20,200}$/.test(o['token'])) return null;
  if (typeof o['startedAt'] !== 'string') return null;
  return { runId: o['runId'], pid: o['pid'], url: o['url'], token: o['token'], startedAt: o['startedAt'] };
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * The run to talk to: `runId`'s file, or the newest file of a live process.
 * @throws ShopsimError (exit 2) naming what was looked for and where.
 */
export function findRunFile(dir: string, runId: string | null): RunFile {
  if (runId !== null) {
    if (!SAFE_ID.test(runId) || runId.startsWith('.')) throw inputError(`--run: expected a run id (letters, digits, . _ -), got ${JSON.stringify(runId)}`);
    let text: string;
    try {
      text = readFileSync(join(dir, `${runId}.json`), 'utf8');
    } catch {
      throw inputError(`--run ${runId}: no running run with --web found in ${dir} (is it started with --web, and with the same --checkpoint-dir?)`);
    }
    const f = parseRunFile(text);
    if (!f) throw inputError(`--run ${runId}: ${join(dir, `${runId}.json`)} is not a shopsim run file`);
    if (!alive(f.pid)) throw inputError(`--run ${runId}: the run's process (pid ${f.pid}) is not running`);
    return f;
  }
  let names: string[] = [];
  try {
    names = readdirSync(dir).filter((n) => n.endsWith('.json'));
  } catch {
    // no directory: no run
  }
  const live: RunFile[] = [];
  for (const n of names) {
    let text: string;
    try {
      text = readFileSync(join(dir, n), 'utf8');
    } catch {
      continue;
    }
    const f = parseRunFile(text);
    if (f && alive(f.pid)) live.push(f);
  }
  live.sort((a, b) => b.startedAt.localeCompare(a.startedAt));
  const newest = live[0];
  if (!newest) throw inputError(`ctl: no running run with --web found in ${dir} (start one with shopsim run --web, or pass --checkpoint-dir)`);
  return newest;
}
