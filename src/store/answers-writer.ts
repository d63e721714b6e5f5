/**
 * The run's recorded store answers: an append-only JSON-lines file beside its checkpoints
 * (`answers_<run-id>.jsonl`). Calls are buffered by agent while a cycle runs; at the cycle
 * boundary (`sealCycle`, before that cycle's checkpoint) the cycle is written as one line per
 * agent that called the store, in agent order, then one end line. A checkpoint records the
 * file's length after its cycle (`position()`, which fsyncs first, so a checkpoint never points
 * past what is on disk), so a resume truncates to exactly that and a replay seeks to it; the
 * file is fsync'ed again when the run closes it. Cycles after the last checkpoint that a crash
 * loses are redone by the resume anyway (fsync per cycle measured 5-10 ms each here).
 *
 * A failure to write (disk full…) never stops the run: recording stops, `problem` says why,
 * and later checkpoints record no answers (a replay of them says so).
 */
import { closeSync, copyFileSync, fsyncSync, ftruncateSync, mkdirSync, openSync, statSync, writeSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { CallContext } from '../model/types.ts';
import { ANSWERS_VERSION, answersFileName, type Entry } from './answer-format.ts';
import type { AnswerSink } from './recording-store.ts';

/** Where a checkpoint's cycle ends in the answers file (the checkpoint's `answers` field). */
export interface AnswersPosition {
  /** File name, beside the checkpoint. */
  file: string;
  /** Length of the file through `cycle`. */
  bytes: number;
  cycle: number;
}

export interface AnswersWriter extends AnswerSink {
  readonly path: string;
  sealCycle(cycle: number): void;
  /** Fsyncs what was written, then says where the file ends; null once recording has failed. */
  position(): AnswersPosition | null;
  /** Why recording stopped, or null. */
  problem(): string | null;
  /** Bytes and answers written by this process, and the time spent writing them (encoding, write, fsync). */
  written(): { bytes: number; answers: number; sealSeconds: number };
  close(): void;
}

export interface AnswersWriterOptions {
  dir: string;
  runId: string;
  agents: number;
  /**
   * A resume: the checkpoint's cycle, its recorded position (null when it recorded none) and the
   * answers file beside that checkpoint (`from`; default: the one in `dir`). When `from` is not
   * the file in `dir` (a resume writing its checkpoints elsewhere), the answers through the
   * checkpoint are copied from it and `from` itself is left as it is.
   */
  resume?: { cycle: number; position: AnswersPosition | null; from?: string } | null;
  onProblem?: (message: string) => void;
}

/** Writes all of `buf` at byte `at` (explicit positions: a file reopened for a resume starts at 0). */
function writeAll(fd: number, buf: Buffer, at: number): void {
  let off = 0;
  while (off < buf.length) off += writeSync(fd, buf, off, buf.length - off, at + off);
}

/** Opens (creates, or on resume truncates to the checkpoint's position) the run's answers file. */
export function createAnswersWriter(options: AnswersWriterOptions): AnswersWriter & { warnings: string[] } {
  mkdirSync(options.dir, { recursive: true });
  const name = answersFileName(options.runId);
  const path = join(options.dir, name);
  const warnings: string[] = [];
  const resume = options.resume ?? null;
  let fd: number;
  let bytes = 0;
  let cycleThrough = resume?.cycle ?? 0;
  const pos = resume?.position ?? null;
  const from = resume?.from !== undefined ? resolve(resume.from) : resolve(path);
  let size = -1;
  if (pos) {
    try {
      size = statSync(from).size;
    } catch {}
  }
  if (pos && size >= pos.bytes) {
    if (from !== resolve(path)) copyFileSync(from, path);
    fd = openSync(path, 'r+');
    ftruncateSync(fd, pos.bytes);
    bytes = pos.bytes;
  } else {
    if (pos) warnings.push(`${from}: the recorded answers through cycle ${pos.cycle} are missing or shorter than the checkpoint says; recording starts again at cycle ${cycleThrough + 1}`);
    fd = openSync(path, 'w');
    const header = Buffer.from(`${JSON.stringify({ shopsim_answers: ANSWERS_VERSION, run_id: options.runId, agents: options.agents, from_cycle: cycleThrough })}\n`);
    writeAll(fd, header, 0);
    fsyncSync(fd);
    bytes = header.length;
  }
  const startBytes = bytes;
  let answers = 0;
  let sealMs = 0;
  let dirty = false;
  let failed: string | null = null;
  const fail = (what: string, err: unknown) => {
    failed = `cannot ${what} ${path} (${(err as NodeJS.ErrnoException).code ?? String(err)}); recording stopped after cycle ${cycleThrough}`;
    options.onProblem?.(failed);
  };
  const sync = () => {
    if (!dirty || failed) return;
    try {
      fsyncSync(fd);
      dirty = false;
    } catch (err) {
      fail('fsync', err);
    }
  };
  // Each call is turned into its JSON text at once: a cycle's buffer is then a few MB of flat
  // strings rather than millions of small arrays for the collector to trace (measured at
  // 10,000 agents).
  let byAgent = new Map<number, { seq: number; json: string }[]>();
  let orchestrator: { seq: number; json: string }[] = [];
  const bySeq = (x: { seq: number }, y: { seq: number }) => x.seq - y.seq;
  const joined = (list: { seq: number; json: string }[]) => list.sort(bySeq).map((e) => e.json).join(',');

  return {
    path,
    warnings,
    add(ctx: CallContext | null, entry: Entry) {
      if (failed) return;
      const item = { seq: entry[0], json: JSON.stringify(entry) };
      if (ctx === null) {
        orchestrator.push(item);
        return;
      }
      const list = byAgent.get(ctx.agentIndex);
      if (list) list.push(item);
      else byAgent.set(ctx.agentIndex, [item]);
    },
    sealCycle(cycle: number) {
      const agents = byAgent;
      const offers = orchestrator;
      byAgent = new Map();
      orchestrator = [];
      if (failed) return;
      const t0 = performance.now();
      const indices = [...agents.keys()].sort((a, b) => a - b);
      const parts: string[] = [];
      if (offers.length > 0) parts.push(`{"c":${cycle},"a":-1,"k":[${joined(offers)}]}`);
      for (const i of indices) {
        const entries = agents.get(i) as { seq: number; json: string }[];
        answers += entries.length;
        parts.push(`{"c":${cycle},"a":${i},"k":[${joined(entries)}]}`);
      }
      answers += offers.length;
      parts.push(`{"c":${cycle},"end":${parts.length}}`);
      const buf = Buffer.from(`${parts.join('\n')}\n`);
      try {
        writeAll(fd, buf, bytes);
        bytes += buf.length;
        cycleThrough = cycle;
        dirty = true;
      } catch (err) {
        try {
          ftruncateSync(fd, bytes);
        } catch {}
        fail('write', err);
      }
      sealMs += performance.now() - t0;
    },
    position() {
      const t0 = performance.now();
      sync();
      sealMs += performance.now() - t0;
      return failed ? null : { file: name, bytes, cycle: cycleThrough };
    },
    problem: () => failed,
    written: () => ({ bytes: bytes - startBytes, answers, sealSeconds: sealMs / 1000 }),
    close() {
      sync();
      try {
        closeSync(fd);
      } catch {}
    },
  };
}
