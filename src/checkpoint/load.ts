/**
 * Reading and validating checkpoints. Every problem is a ShopsimError (E_CHECKPOINT, exit 2)
 * whose message is one line naming the file and the problem. Each call parses the file afresh:
 * XState mutates a snapshot while restoring it, so a parsed checkpoint is good for one restore.
 */
import { closeSync, openSync, readdirSync, readFileSync, readSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync, createGunzip } from 'node:zlib';
import { CheckpointError, ShopsimError } from '../errors.ts';
import type { Persona, Product } from '../model/types.ts';
import type { RestoreState } from '../model/run.ts';
import { CHECKPOINT_VERSION, injectPersonas, parseCheckpointFileName, personasHash, productsHash, type Checkpoint } from './format.ts';
import { CHECKSUM_RE, sha256Hex, TAIL_MARKER } from './save.ts';
import { verifyCheckpoint } from './verify.ts';

export function checkpointError(file: string, problem: string, cause?: unknown): CheckpointError {
  return new CheckpointError(file, problem, { cause });
}

/**
 * Refuses anything but a regular file before opening it: opening a FIFO blocks until a writer
 * comes (forever), and a device or a directory is no checkpoint.
 */
function checkRegular(file: string): void {
  let st;
  try {
    st = statSync(file);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw checkpointError(file, code === 'ENOENT' ? 'no such file' : `cannot read the file (${code ?? 'error'})`, err);
  }
  if (!st.isFile()) throw checkpointError(file, `not a regular file (${st.isFIFO() ? 'a FIFO' : st.isDirectory() ? 'a directory' : st.isCharacterDevice() || st.isBlockDevice() ? 'a device' : st.isSocket() ? 'a socket' : 'not a file'})`);
}

function readBytes(file: string): Buffer {
  checkRegular(file);
  try {
    return readFileSync(file);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw checkpointError(file, code === 'ENOENT' ? 'no such file' : `cannot read the file (${code ?? 'error'})`, err);
  }
}

function isGzip(buf: Buffer): boolean {
  return buf.length >= 2 && buf[0] === 0x1f && buf[1] === 0x8b;
}

const REQUIRED: [keyof Checkpoint, string][] = [
  ['created_at', 'string'],
  ['simulation_config', 'object'],
  ['simulation_state', 'object'],
  ['statistics', 'object'],
  ['agent_count', 'number'],
  ['personas_hash', 'string'],
  ['products_hash', 'string'],
  ['digest', 'string'],
  ['offer_engine_state', 'object'],
  ['agent_states', 'object'],
  ['xstate_snapshot', 'object'],
];

function checkShape(file: string, data: unknown): Checkpoint {
  if (data === null || typeof data !== 'object' || Array.isArray(data)) throw checkpointError(file, 'expected a JSON object at the top level');
  const o = data as Record<string, unknown>;
  if (o['version'] !== CHECKPOINT_VERSION) {
    throw checkpointError(file, `unknown version ${JSON.stringify(o['version'])} (this shopsim reads version ${CHECKPOINT_VERSION})`);
  }
  for (const [key, type] of REQUIRED) {
    const v = o[key];
    if (v === undefined || v === null || typeof v !== type) throw checkpointError(file, `missing or malformed field "${key}" (expected ${type})`);
  }
  const state = o['simulation_state'] as Record<string, unknown>;
  if (typeof state['run_id'] !== 'string' || typeof state['current_cycle'] !== 'number') {
    throw checkpointError(file, 'missing or malformed field "simulation_state.run_id" / "simulation_state.current_cycle"');
  }
  const answers = o['answers'];
  if (answers !== undefined && answers !== null) {
    const a = answers as Record<string, unknown>;
    const ok = typeof answers === 'object' && typeof a['file'] === 'string' && Number.isInteger(a['bytes']) && (a['bytes'] as number) >= 0 && a['cycle'] === state['current_cycle'];
    if (!ok) throw checkpointError(file, 'malformed field "answers" (expected { file, bytes, cycle } with the checkpoint\'s cycle, or null)');
  }
  const snap = o['xstate_snapshot'] as Record<string, unknown>;
  if (typeof snap['children'] !== 'object' || typeof snap['context'] !== 'object') throw checkpointError(file, 'field "xstate_snapshot" is not a persisted XState snapshot');
  return data as Checkpoint;
}

/** Reads, decompresses (when gzip), parses and shape-checks a checkpoint file. */
export function readCheckpoint(file: string): Checkpoint {
  let buf = readBytes(file);
  if (buf.length === 0) throw checkpointError(file, 'empty file');
  if (isGzip(buf)) {
    try {
      buf = gunzipSync(buf);
    } catch (err) {
      throw checkpointError(file, `truncated or corrupt gzip data (${(err as Error).message})`, err);
    }
  }
  const text = buf.toString('utf8');
  // The content checksum first: any damaged byte is found here, before anything is parsed.
  const tailStart = Math.max(0, text.length - 200);
  const sum = CHECKSUM_RE.exec(text.slice(tailStart));
  if (!sum) throw checkpointError(file, 'no content checksum at the end (truncated, or not written by this version of shopsim)');
  if (sha256Hex(text.slice(0, tailStart + sum.index)) !== sum[1]) {
    throw checkpointError(file, 'content checksum mismatch (the file was changed or damaged after it was written)');
  }
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (err) {
    throw checkpointError(file, `truncated or not JSON (${(err as Error).message})`, err);
  }
  const ck = checkShape(file, data);
  const problem = verifyCheckpoint(ck, file);
  if (problem) throw checkpointError(file, problem);
  return ck;
}

export type CheckpointHeader = Omit<Checkpoint, 'agent_states' | 'mock_store_state' | 'xstate_snapshot'>;

/**
 * The small fields of a checkpoint without parsing its bulk: shopsim writes them first, before
 * `"agent_states"`. Falls back to a full read for files written otherwise.
 */
export async function readCheckpointHeader(file: string): Promise<CheckpointHeader> {
  const prefix = await readPrefix(file, 256 * 1024);
  const at = prefix.indexOf(TAIL_MARKER);
  if (at > 0) {
    try {
      const head = JSON.parse(`${prefix.slice(0, at)}}`) as Record<string, unknown>;
      if (head['version'] === CHECKPOINT_VERSION && typeof head['simulation_state'] === 'object') return head as unknown as CheckpointHeader;
    } catch {}
  }
  return readCheckpoint(file);
}

async function readPrefix(file: string, max: number): Promise<string> {
  checkRegular(file);
  let fd: number;
  try {
    fd = openSync(file, 'r');
  } catch (err) {
    throw checkpointError(file, 'cannot read the file', err);
  }
  const raw = Buffer.alloc(max);
  let n = 0;
  try {
    n = readSync(fd, raw, 0, max, 0);
  } finally {
    closeSync(fd);
  }
  const buf = raw.subarray(0, n);
  if (!isGzip(buf)) return buf.toString('utf8');
  // Inflate only the beginning of a gzip file.
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const z = createGunzip();
    const finish = () => resolve(Buffer.concat(chunks).toString('utf8'));
    z.on('data', (c: Buffer) => {
      chunks.push(c);
      size += c.length;
      if (size >= max) {
        z.removeAllListeners('data');
        z.destroy();
        finish();
      }
    });
    z.on('error', finish);
    z.on('end', finish);
    z.end(buf);
  });
}

export interface ExpectedRun {
  personas: Persona[];
  products: Product[];
}

/** Checks that the checkpoint belongs to these inputs; throws one line naming the file otherwise. */
export function validateCheckpoint(file: string, ck: Checkpoint, expected: ExpectedRun): void {
  if (ck.agent_count !== expected.personas.length) {
    throw checkpointError(file, `agent count mismatch: the checkpoint has ${ck.agent_count} agents, this run has ${expected.personas.length}`);
  }
  const ph = personasHash(expected.personas);
  if (ck.personas_hash !== ph) {
    throw checkpointError(file, `personas do not match: the checkpoint was written with personas ${ck.personas_hash.slice(0, 19)}…, the persona file now gives ${ph.slice(0, 19)}… (was the persona file changed?)`);
  }
  const prh = productsHash(expected.products);
  if (ck.products_hash !== prh) {
    throw checkpointError(file, `products do not match: the checkpoint was written with products ${ck.products_hash.slice(0, 19)}…, the product file now gives ${prh.slice(0, 19)}…`);
  }
}

/** The restore state for createSimulation: personas re-injected into the persisted tree. */
export function restoreStateOf(file: string, ck: Checkpoint, personas: Persona[]): RestoreState {
  try {
    const n = injectPersonas(ck.xstate_snapshot, personas);
    if (n !== ck.agent_count) throw new Error(`the snapshot holds ${n} shoppers, the checkpoint says ${ck.agent_count}`);
  } catch (err) {
    throw checkpointError(file, (err as Error).message, err);
  }
  // A checkpoint written on stop, on an open breaker or while paused records that state; the
  // restored tree is told it resumes (RUN_RESUMED, sent by the driver), and the orchestrator sets
  // its control and breaker regions itself.
  return { snapshot: ck.xstate_snapshot, resumedFrom: file, realElapsedSeconds: ck.simulation_state.real_elapsed_seconds ?? 0 };
}

export interface CheckpointFile {
  path: string;
  name: string;
  runId: string;
  cycle: number;
  size: number;
  mtimeMs: number;
}

/** Checkpoint files in `dir` (by name), newest first: by modification time, then cycle. */
export function listCheckpointFiles(dir: string): CheckpointFile[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw new ShopsimError('E_CHECKPOINT', `checkpoint directory ${dir}: cannot read it (${(err as NodeJS.ErrnoException).code ?? 'error'})`, { cause: err });
  }
  const out: CheckpointFile[] = [];
  for (const name of names) {
    const parsed = parseCheckpointFileName(name);
    if (!parsed) continue;
    const path = join(dir, name);
    try {
      const st = statSync(path);
      if (!st.isFile()) continue;
      out.push({ path, name, runId: parsed.runId, cycle: parsed.cycle, size: st.size, mtimeMs: st.mtimeMs });
    } catch {}
  }
  return out.sort((a, b) => b.mtimeMs - a.mtimeMs || b.cycle - a.cycle);
}

export interface NewestValid {
  file: string;
  checkpoint: Checkpoint;
  /** One line per unreadable newer checkpoint that was skipped. */
  warnings: string[];
}

/**
 * The newest readable checkpoint in `dir` for `--resume`. Corrupt newer files are skipped with a
 * warning naming both files. Throws when there is none.
 */
export function newestValidCheckpoint(dir: string): NewestValid {
  const files = listCheckpointFiles(dir);
  if (files.length === 0) throw new ShopsimError('E_CHECKPOINT', `--resume: no checkpoint in ${dir} (start a new run without --resume, or pass --checkpoint-dir)`, { exitCode: 2 });
  const skipped: { file: string; problem: string }[] = [];
  for (const f of files) {
    try {
      const checkpoint = readCheckpoint(f.path);
      const warnings = skipped.map((s) => `warning: newest checkpoint ${s.file} is unusable (${s.problem}); resuming from ${f.path} instead`);
      return { file: f.path, checkpoint, warnings };
    } catch (err) {
      const msg = (err as Error).message;
      skipped.push({ file: f.path, problem: msg.startsWith(`checkpoint ${f.path}: `) ? msg.slice(`checkpoint ${f.path}: `.length) : msg });
    }
  }
  throw new ShopsimError('E_CHECKPOINT', `--resume: no valid checkpoint in ${dir} (${skipped.length} unusable; newest ${skipped[0]?.file}: ${skipped[0]?.problem})`, { exitCode: 2 });
}
