/**
 * Runs cohort cycles off the worker process's main thread. A cohort cycle is CPU-bound (an
 * XState tree of ~500 shoppers against the mock store is one long chain of microtasks): run on
 * the main thread it would starve BullMQ's lock renewal and the heartbeat, the job's lock would
 * expire and another worker would run the same cohort again (the stalled-job pitfall). Here each
 * concurrency slot is a worker thread; the main thread only moves strings and keeps the locks.
 *
 * The processor is a module URL exporting `createProcessor(context)` → `(work) => Promise<out>`;
 * a TypeScript module is loaded through tsx's loader, registered in the thread (tsx's API URL
 * is resolved here, where the package is known to be importable).
 */
import { Worker } from 'node:worker_threads';

export interface ThreadWork {
  runId: string;
  cycle: number;
  cohort: number;
  input: unknown;
  /** The cohort's snapshot before the cycle (as stored: a string). */
  snapshot: string;
  /**
   * The cohort's base for the run, when the snapshot is put over one (as stored; null: none).
   * Undefined: not read yet — a processor that needs it and does not hold it answers `needBase`,
   * and the work is sent again with it (a base is ~250 KB at 500 shoppers: read once per thread,
   * not once per job).
   */
  base?: string | null;
}

export interface ThreadOutput {
  /** JSON-able: the cohort's report and event-log entries, as the processor makes them. */
  result: unknown;
  /** The cohort's snapshot after the cycle. */
  snapshot: string;
  /** Nothing was run: the work needs its `base` (it was sent without one). */
  needBase?: true;
}

/** What a processor is created with: the run (from the coordinator) and this worker's own settings. */
export interface ProcessorContext {
  runId: string;
  /** The run-wide settings the coordinator published (small JSON). */
  runConfig: unknown;
  /** The worker's own settings (its data files). */
  local: unknown;
}

/** Shoppers by state (top-level state value → count) of each cohort running now, by cohort id. */
export type RunningStates = Record<string, Record<string, number>>;

/** A processor: runs one work; may say where the shoppers of the cohorts it runs now are (read at each beat). */
export type Processor = ((work: ThreadWork) => Promise<ThreadOutput>) & { occupancy?: () => RunningStates };

/** What a processor module exports. */
export interface ProcessorModule {
  createProcessor(context: ProcessorContext): Promise<Processor> | Processor;
}

/**
 * A worker's young generation (V8's default is 16–32 MB): a cohort cycle allocates sessions,
 * snapshots and events by the hundred MB, nearly all short-lived, and with the default the
 * scavenger ran all the time (20% of a worker's CPU in a profile). 96 MB: 11% less CPU per
 * agent-cycle at 20,000 agents on 2 worker threads of `run --workers` (BENCH=scale, cpu_us_per_agent_cycle), ~35 MB more
 * RSS a worker.
 */
export const WORKER_YOUNG_GENERATION_MB = 96;

const THREAD_MAIN = `
const { workerData, parentPort } = require('node:worker_threads');
(async () => {
  if (workerData.tsxApi) (await import(workerData.tsxApi)).register();
  const mod = await import(workerData.processorUrl);
  const processor = await mod.createProcessor(workerData.context);
  // Every beat, the shoppers of the cohorts running now by state (a read-only walk; the web map's counts).
  // It fires when the thread's event loop turns: between a cycle's store calls on a real store,
  // not inside a mock-store cycle (one chain of microtasks).
  if (workerData.beatMs > 0 && typeof processor.occupancy === 'function') {
    setInterval(() => {
      try {
        parentPort.postMessage({ states: processor.occupancy() });
      } catch {}
    }, workerData.beatMs).unref();
  }
  parentPort.on('message', async (msg) => {
    try {
      const out = await processor(msg.work);
      parentPort.postMessage({ id: msg.id, ok: true, out });
    } catch (err) {
      parentPort.postMessage({ id: msg.id, ok: false, error: err instanceof Error ? err.message : String(err) });
    }
  });
  parentPort.postMessage({ ready: true });
})().catch((err) => parentPort.postMessage({ fatal: err instanceof Error ? (err.stack || err.message) : String(err) }));
`;

interface Slot {
  worker: Worker;
  busy: boolean;
  ready: Promise<void>;
  /** The thread's last beat: its running cohorts' shoppers by state (cleared when a work's answer arrives). */
  states: RunningStates | null;
}

export interface ThreadPool {
  /** The number of threads (slots 0 … size-1). */
  readonly size: number;
  /** Runs the work on the first free thread. */
  run(work: ThreadWork): Promise<ThreadOutput>;
  /** Runs the work on thread `slot` (waits for it if busy): the thread that holds the cohort, for a slot's own queue. */
  runOn(slot: number, work: ThreadWork): Promise<ThreadOutput>;
  /** The running cohorts' shoppers by state, from every thread's last beat. */
  occupancy(): RunningStates;
  close(): Promise<void>;
}

/**
 * Shoppers by state as read from elsewhere (a thread's message, a worker record or job result in
 * Redis): state names → non-negative integer counts, at most 64 of them; anything else dropped.
 * Null when it is not an object.
 */
export function countsOf(raw: unknown): Record<string, number> | null {
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) return null;
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(raw).slice(0, 64)) if (typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= 1e9) out[k] = v;
  return out;
}

/** A RunningStates as read from elsewhere: cohort ids → countsOf, at most 4,096 cohorts; anything else dropped. */
export function runningStatesOf(raw: unknown): RunningStates | undefined {
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) return undefined;
  const out: RunningStates = {};
  for (const [cohort, c] of Object.entries(raw).slice(0, 4096)) {
    const counts = countsOf(c);
    if (counts) out[cohort] = counts;
  }
  return out;
}

export async function createThreadPool(options: { size: number; processorUrl: string; context: ProcessorContext; beatMs?: number }): Promise<ThreadPool> {
  const tsxApi = options.processorUrl.endsWith('.ts') ? import.meta.resolve('tsx/esm/api') : null;
  const slots: Slot[] = [];
  /** Waiters for a thread: any (slot undefined) or one in particular, first come first served. */
  const waiting: { slot: Slot | undefined; resolve: (slot: Slot) => void }[] = [];
  let nextId = 1;
  const pending = new Map<number, { resolve: (o: ThreadOutput) => void; reject: (e: Error) => void }>();

  for (let i = 0; i < Math.max(1, options.size); i++) {
    const worker = new Worker(THREAD_MAIN, { eval: true, workerData: { processorUrl: options.processorUrl, tsxApi, context: options.context, beatMs: options.beatMs ?? 0 }, resourceLimits: { maxYoungGenerationSizeMb: WORKER_YOUNG_GENERATION_MB } });
    worker.unref();
    const slot: Slot = { worker, busy: false, ready: Promise.resolve(), states: null };
    slot.ready = new Promise<void>((resolve, reject) => {
      worker.on('message', (msg: { ready?: true; fatal?: string; id?: number; ok?: boolean; out?: ThreadOutput; error?: string; states?: unknown }) => {
        if (msg.ready) return resolve();
        if (msg.states !== undefined) {
          slot.states = runningStatesOf(msg.states) ?? {};
          return;
        }
        if (msg.fatal) return reject(new Error(`the cohort processor ${options.processorUrl} could not be loaded: ${msg.fatal.split('\n')[0]}`));
        const p = pending.get(msg.id as number);
        if (!p) return;
        pending.delete(msg.id as number);
        // The cohort it ran is done: its shoppers are no longer running here.
        slot.states = null;
        if (msg.ok) p.resolve(msg.out as ThreadOutput);
        else p.reject(new Error(msg.error?.split('\n')[0] ?? 'cohort processor failed'));
      });
      worker.on('error', (err) => {
        reject(err);
        for (const p of pending.values()) p.reject(err);
        pending.clear();
      });
    });
    slots.push(slot);
  }
  await Promise.all(slots.map((s) => s.ready));

  const acquire = (wanted?: Slot) =>
    new Promise<Slot>((resolve) => {
      const free = wanted ? (wanted.busy ? undefined : wanted) : slots.find((s) => !s.busy);
      if (free) {
        free.busy = true;
        resolve(free);
      } else waiting.push({ slot: wanted, resolve });
    });
  const release = (slot: Slot) => {
    const i = waiting.findIndex((w) => w.slot === undefined || w.slot === slot);
    if (i >= 0) waiting.splice(i, 1)[0]!.resolve(slot);
    else slot.busy = false;
  };
  const runIn = async (wanted: Slot | undefined, work: ThreadWork) => {
    const slot = await acquire(wanted);
    try {
      return await new Promise<ThreadOutput>((resolve, reject) => {
        const id = nextId++;
        pending.set(id, { resolve, reject });
        slot.worker.postMessage({ id, work });
      });
    } finally {
      release(slot);
    }
  };

  return {
    size: slots.length,
    run: (work) => runIn(undefined, work),
    runOn(slot, work) {
      const s = slots[slot];
      if (!s) return Promise.reject(new Error(`thread pool: no slot ${slot} (size ${slots.length})`));
      return runIn(s, work);
    },
    occupancy() {
      const out: RunningStates = {};
      for (const s of slots) if (s.states) Object.assign(out, s.states);
      return out;
    },
    async close() {
      await Promise.all(slots.map((s) => s.worker.terminate()));
    },
  };
}
