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

/** A copy of `a` in a new array of `size` (≥ a.length) of the same type, the new part filled with `fill`. */
function grown<A extends Int32Array | Float64Array | Uint8Array>(a: A, size: number, fill = 0): A {
  const b = new (a.constructor as new (length: number) => A)(size);
  if (fill !== 0) b.fill(fill);
  b.set(a);
  return b;
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
  // A cycle's calls are buffered off the JS heap: each call's JSON text is written at once into
  // `arena` (reused from cycle to cycle), and typed arrays keep, per entry, where its bytes are,
  // its call number and the next entry of the same agent (a list per slot: 0 the orchestrator,
  // i + 1 agent i). The collector then has nothing of the cycle to trace or promote; the call's
  // string itself dies young. At the seal the lists are copied into a reused output buffer in
  // agent order (a list is sorted only if its calls arrived out of call-number order), written
  // whenever it fills. The bytes are those of the previous encoding (a Map of per-agent arrays of
  // {seq, json}, each cycle joined into one string; test/store/answers-encoding.test.ts keeps it),
  // which at 10,000 agents and 12 cycles cost the run one extra full (mark-compact) collection,
  // ~0.6 s, that this buffer does not (--trace-gc, docs/checkpoints.md "What it costs").
  let slots = options.agents + 1;
  let head = new Int32Array(slots).fill(-1);
  let tail = new Int32Array(slots);
  let lastSeq = new Float64Array(slots);
  let unsorted = new Uint8Array(slots);
  let cap = 4096;
  let eOff = new Float64Array(cap);
  let eLen = new Int32Array(cap);
  let eSeq = new Float64Array(cap);
  let eNext = new Int32Array(cap);
  let n = 0;
  let arena = Buffer.allocUnsafeSlow(1 << 18);
  let used = 0;
  const out = Buffer.allocUnsafeSlow(1 << 18);
  const growSlots = (want: number) => {
    const size = Math.max(want, slots * 2);
    head = grown(head, size, -1);
    tail = grown(tail, size);
    lastSeq = grown(lastSeq, size);
    unsorted = grown(unsorted, size);
    slots = size;
  };
  const growEntries = () => {
    cap *= 2;
    eOff = grown(eOff, cap);
    eLen = grown(eLen, cap);
    eSeq = grown(eSeq, cap);
    eNext = grown(eNext, cap);
  };
  const growArena = (want: number) => {
    const a = Buffer.allocUnsafeSlow(Math.max(want, arena.length * 2));
    arena.copy(a, 0, 0, used);
    arena = a;
  };
  /** Empties the cycle's buffer (the arena and the arrays are kept for the next cycle). */
  const reset = () => {
    for (let s = 0; s < slots; s++) {
      if (head[s] !== -1) {
        head[s] = -1;
        unsorted[s] = 0;
      }
    }
    n = 0;
    used = 0;
  };

  return {
    path,
    warnings,
    add(ctx: CallContext | null, entry: Entry) {
      if (failed) return;
      const json = JSON.stringify(entry);
      const seq = entry[0];
      const slot = ctx === null ? 0 : ctx.agentIndex + 1;
      if (slot >= slots) growSlots(slot + 1);
      if (used + json.length * 3 > arena.length) growArena(used + json.length * 3);
      if (n === cap) growEntries();
      const len = arena.write(json, used);
      eOff[n] = used;
      eLen[n] = len;
      eSeq[n] = seq;
      eNext[n] = -1;
      used += len;
      if (head[slot] === -1) head[slot] = n;
      else {
        eNext[tail[slot] as number] = n;
        if (seq < (lastSeq[slot] as number)) unsorted[slot] = 1;
      }
      tail[slot] = n;
      lastSeq[slot] = seq;
      n++;
    },
    sealCycle(cycle: number) {
      if (failed) {
        reset();
        return;
      }
      const t0 = performance.now();
      const start = bytes;
      let at = bytes;
      let o = 0;
      const flush = () => {
        writeAll(fd, out.subarray(0, o), at);
        at += o;
        o = 0;
      };
      const ascii = (text: string) => {
        if (o + text.length > out.length) flush();
        o += out.write(text, o, 'latin1');
      };
      const entryBytes = (e: number, comma: boolean) => {
        const off = eOff[e] as number;
        const len = eLen[e] as number;
        if (comma) {
          if (o === out.length) flush();
          out[o++] = 0x2c;
        }
        if (o + len > out.length) {
          flush();
          if (len > out.length) {
            writeAll(fd, arena.subarray(off, off + len), at);
            at += len;
            return;
          }
        }
        arena.copy(out, o, off, off + len);
        o += len;
      };
      const bySeq = (x: number, y: number) => (eSeq[x] as number) - (eSeq[y] as number) || x - y;
      let lines = 0;
      try {
        for (let s = 0; s < slots; s++) {
          let e = head[s] as number;
          if (e === -1) continue;
          ascii(`{"c":${cycle},"a":${s - 1},"k":[`);
          if (unsorted[s]) {
            const order: number[] = [];
            for (; e !== -1; e = eNext[e] as number) order.push(e);
            order.sort(bySeq);
            for (let k = 0; k < order.length; k++) entryBytes(order[k] as number, k > 0);
          } else {
            for (let first = true; e !== -1; e = eNext[e] as number, first = false) entryBytes(e, !first);
          }
          ascii(']}\n');
          lines++;
        }
        ascii(`{"c":${cycle},"end":${lines}}\n`);
        flush();
        answers += n;
        bytes = at;
        cycleThrough = cycle;
        dirty = true;
      } catch (err) {
        try {
          ftruncateSync(fd, start);
        } catch {}
        fail('write', err);
      }
      reset();
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
