/**
 * `shopsim run --workers N`: the cohorts run on N worker threads of this process
 * (./thread-worker.ts), the orchestrator and the digest stay here. A CohortTransport for the
 * stand-in of ./remote-cohort.ts: cohort k (in spawn order) goes to worker k mod N, every
 * message of a cohort goes through its worker's port (so in order), and each worker answers a
 * cycle with the cohort's report, its event-log entries, its recorded store answers and — with
 * `keepSnapshots` — its compact CohortState and mock-store slice, kept here so a lost worker's
 * cohorts are re-opened on the others as they were after their last cycle (the state put over
 * their spec or checkpoint snapshot) and their running cycle is run again.
 * Writes go through this thread's recorder (the embedded PGlite takes one connection; on
 * PostgreSQL too, for now): a worker asks, the recorder writes, the worker is answered.
 */
import { Worker } from 'node:worker_threads';
import type { EndpointLatency, LatencySummary } from '../metrics/latency.ts';
import type { CallContext, DbWriteMetrics, Recorder } from '../model/types.ts';
import type { Entry as AnswerEntry } from '../store/answer-format.ts';
import type { HttpMetrics } from '../store/http-store.ts';
import type { AnswerSink } from '../store/recording-store.ts';
import { afterOfferCycle, type CohortCycleResult, type CohortMockState, type CohortSource } from './cohort-runner.ts';
import { WORKER_YOUNG_GENERATION_MB } from './thread-pool.ts';
import { createRemoteExecutor, type CohortTransport, type GatheredState, type RemoteExecutor } from './remote-cohort.ts';
import { createWorkerMonitor, type WorkerTable } from '../monitor/worker-rows.ts';
import type { RunOrder, RunReport, ToCoordinator, ToWorker, WorkerFigures, WorkerSetup } from './thread-messages.ts';

export interface ThreadExecutorOptions {
  workers: number;
  store: WorkerSetup['store'];
  /** The coordinator's recorder: relayed sessions are written through it; null writes nothing (--mock-db). */
  recorder: Recorder | null;
  /** PostgreSQL: each worker writes its cohorts' sessions through a pool of its own (the recorder then writes none of theirs). */
  directDb?: { databaseUrl: string; poolSize: number; writeTimeoutMs: number; groupCommit: number } | null;
  /** Where the workers' recorded store answers go (the run's answers file), or null. */
  answers?: AnswerSink | null;
  /**
   * Keep every cohort's snapshot after each cycle (sent with its report): a worker that dies is
   * replaced by the others from those snapshots, and a checkpoint needs no round trip.
   */
  keepSnapshots?: boolean;
  /** How often each worker says how it is doing, ms (default 1000): the per-worker rows' heartbeat. */
  heartbeatMs?: number;
  /** The coordinator's clock for the rows (tests), ms. */
  now?: () => number;
  /** Fault injection for tests: worker i exits when asked to run cycle exitOnCycle[i]. */
  exitOnCycle?: (number | undefined)[];
  /** Fault injection for tests: worker i exits once exitAfterCommits[i] of its sessions were written. */
  exitAfterCommits?: (number | undefined)[];
  /** With exitAfterCommits: the worker dies as the answer of a cart change arrives, after the store applied it (the answer is lost). */
  exitLosingAnswer?: boolean;
}

export interface WorkerStats {
  index: number;
  alive: boolean;
  cohorts: number;
  agentCycles: number;
  /** Sum over cycles of the slowest cohort's time on this worker. */
  busySeconds: number;
  exitCode: number | null;
  /** The thread's own V8 heap, peak used and committed (as of its last report). */
  peakHeapUsedBytes: number;
  peakHeapTotalBytes: number;
  /** Its heap right after its last full collection between cycles (0: none yet). */
  heapAfterGcBytes: number;
}

export interface ThreadExecutor extends RemoteExecutor {
  workerStats(): WorkerStats[];
  /** The live workers' shoppers by state, as each last said (the web map's counts with workers), summed. */
  occupancy(): { counts: Record<string, number>; total: number };
  /** Cohorts moved off lost workers, and cohort-cycles run again because their worker was lost mid-cycle. */
  recoveries(): { cohortsMoved: number; cyclesRerun: number };
  /** 429s a worker was answered whose Retry-After every other worker was told to hold for. */
  holdsBroadcast(): number;
  /** The latest write figures of each worker's own database recorder (direct writes on PostgreSQL; a lost worker's last). */
  workerDbWrites(): DbWriteMetrics[];
  /** The latest HTTP figures of each live worker's store client (with a real store). */
  workerHttpMetrics(): HttpMetrics[];
  /** The per-worker rows (thread index, cohorts, rates, heap, heartbeat age, lost) and their totals, now. */
  workerTable(): WorkerTable;
  /** Resolves when every worker has loaded (rejects if one fails first). */
  ready(): Promise<void>;
  /** For tests: the worker threads. */
  readonly threads: Worker[];
}

function deferred(): Slot['ready'] {
  let resolve!: () => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  // A worker lost after it was ready rejects nothing anyone waits for.
  promise.catch(() => {});
  return { promise, resolve, reject };
}

/** The worker module as a URL, and a Worker started on it (through tsx when running from sources). */
function startWorker(setup: WorkerSetup): Worker {
  const here = import.meta.url;
  const ts = here.endsWith('.ts');
  const url = new URL(`./thread-worker.${ts ? 'ts' : 'js'}`, here);
  const resourceLimits = { resourceLimits: { maxYoungGenerationSizeMb: WORKER_YOUNG_GENERATION_MB } };
  if (!ts) return new Worker(url, { workerData: setup, ...resourceLimits });
  const tsx = import.meta.resolve('tsx/esm/api');
  const boot = `import(${JSON.stringify(tsx)}).then((m) => { m.register(); return import(${JSON.stringify(url.href)}); });`;
  return new Worker(boot, { eval: true, workerData: setup, ...resourceLimits });
}

interface Slot {
  index: number;
  worker: Worker;
  alive: boolean;
  closing: boolean;
  cohorts: Set<string>;
  stats: WorkerStats;
  http: HttpMetrics | null;
  dbWrites?: DbWriteMetrics;
  /** Its shoppers by state, as it last said (figures' `states`). */
  states?: Record<string, number>;
  /** A real store: the store answers this worker got in the cycle running (sent to the workers re-running its cohorts if it is lost). */
  answers?: { cycle: number; entries: [CallContext, AnswerEntry][] };
  ready: { promise: Promise<void>; resolve: () => void; reject: (e: unknown) => void };
}

interface CohortPlace {
  id: string;
  worker: number;
  size: number;
  /** What it was opened from (its spec, or a checkpoint's snapshot). */
  source: CohortSource;
  /** Its state and mock-store slice after its last cycle, to be put over `source` on a re-open. */
  kept: { stateJson: string; mockJson: string | null } | null;
  /** The offer cycle in effect when `kept` was taken. */
  offerCycle: number;
  /** The window last set since `source` was taken (a resume's), sent again after a re-open. */
  window?: number;
}

interface PendingRun {
  id: string;
  info: Parameters<CohortTransport['runCycle']>[1]['info'];
  activeCount: number;
  resolve: (r: CohortCycleResult) => void;
  reject: (e: unknown) => void;
}

export function startThreadExecutor(options: ThreadExecutorOptions): ThreadExecutor {
  if (!Number.isInteger(options.workers) || options.workers < 1) throw new RangeError(`workers: expected an integer >= 1, got ${options.workers}`);
  const keep = options.keepSnapshots ?? false;
  const slots: Slot[] = [];
  const places = new Map<string, CohortPlace>();
  const runs = new Map<number, PendingRun & { worker: number }>();
  const gathers = new Map<number, { resolve: (g: GatheredState) => void; reject: (e: unknown) => void; worker: number }>();
  let nextReq = 1;
  let opened = 0;
  let offerCycle = 0;
  const fatalListeners: ((e: unknown) => void)[] = [];
  /** Cohorts told to open and not yet built on their worker; who waits for none to be left. */
  const opening = new Set<string>();
  let openWaiters: { resolve: () => void; reject: (e: unknown) => void }[] = [];
  const fatal = (e: unknown) => {
    const waiters = openWaiters;
    openWaiters = [];
    for (const w of waiters) w.reject(e);
    fatalListeners.forEach((l) => l(e));
  };
  let closing = false;
  const recovered = { cohortsMoved: 0, cyclesRerun: 0 };
  /** 429s a worker was answered and the others were told to hold for. */
  let holds = 0;

  /** Cycles asked of a worker and not yet sent: a barrier's RUN_CYCLEs go as one `runs` a worker (see flushRuns). */
  const pendingRuns = new Map<Slot, RunOrder[]>();
  let flushQueued = false;
  /** Sends each worker the cycles asked of it so far, in one message. */
  const flushRuns = () => {
    flushQueued = false;
    for (const [slot, list] of pendingRuns) {
      pendingRuns.delete(slot);
      if (slot.alive) slot.worker.postMessage({ t: 'runs', runs: list } satisfies ToWorker);
    }
  };
  const send = (slot: Slot, m: ToWorker) => {
    // What was asked of this worker before goes first: every message of a cohort stays in order.
    const list = pendingRuns.get(slot);
    if (list) {
      pendingRuns.delete(slot);
      slot.worker.postMessage({ t: 'runs', runs: list } satisfies ToWorker);
    }
    slot.worker.postMessage(m);
  };
  const heartbeatMs = options.heartbeatMs ?? 1000;
  const now = options.now ?? Date.now;
  const monitor = createWorkerMonitor({ heartbeatMs });
  // Cohorts held are the coordinator's count (it moves them); the rest is what the worker said.
  const heard = (slot: Slot, f: WorkerFigures) => {
    if (f.states) slot.states = f.states;
    monitor.report({ id: String(slot.index), cohorts: slot.cohorts.size, agentCycles: f.agentCycles, requests: f.requests, memoryBytes: f.heapBytes, memoryKind: 'heap' }, now());
  };

  /** One cohort's report of a `done`. */
  function reported(slot: Slot, m: RunReport): void {
    const run = runs.get(m.req);
    if (!run) return;
    runs.delete(m.req);
    const answers = options.answers;
    if (answers) for (const [ctx, entry] of m.answers) answers.add(ctx, entry);
    slot.stats.agentCycles += m.result.agentCycles;
    slot.stats.busySeconds += m.seconds;
    const place = places.get(run.id);
    if (place && m.stateJson !== null) {
      // Both kept as the worker's JSON text, parsed only if the cohort must be re-opened elsewhere.
      place.kept = { stateJson: m.stateJson, mockJson: m.mockJson };
      place.offerCycle = offerCycle;
      // The kept state carries the window in force.
      delete place.window;
    }
    run.resolve(m.result);
  }

  function onMessage(slot: Slot, m: ToCoordinator): void {
    switch (m.t) {
      case 'beat':
        heard(slot, m.figures);
        return;
      case 'done': {
        heard(slot, m.figures);
        if (m.http) slot.http = m.http;
        if (m.dbWrites) slot.dbWrites = m.dbWrites;
        slot.stats.peakHeapUsedBytes = m.heap.peakUsedBytes;
        slot.stats.peakHeapTotalBytes = m.heap.peakTotalBytes;
        slot.stats.heapAfterGcBytes = m.heap.afterGcUsedBytes;
        for (const r of m.reports) reported(slot, r);
        return;
      }
      case 'run-failed': {
        const run = runs.get(m.req);
        runs.delete(m.req);
        run?.reject(new Error(`worker thread ${slot.index}: cohort ${run.id}: ${m.message}`));
        return;
      }
      case 'commit': {
        const recorder = options.recorder;
        if (!recorder) return send(slot, { t: 'commit-ack', req: m.req, error: null });
        recorder.commitSession(m.record).then(
          () => slot.alive && send(slot, { t: 'commit-ack', req: m.req, error: null }),
          (err: unknown) => slot.alive && send(slot, { t: 'commit-ack', req: m.req, error: err instanceof Error ? err.message : String(err) }),
        );
        return;
      }
      case 'answer': {
        // Kept until the cycle's end: a re-run of this worker's cohorts elsewhere is served them first.
        let list = slot.answers;
        if (!list || list.cycle !== m.ctx.cycle) slot.answers = list = { cycle: m.ctx.cycle, entries: [] };
        list.entries.push([m.ctx, m.entry]);
        return;
      }
      case 'retry-after':
        holds++;
        for (const other of slots) if (other !== slot && other.alive) send(other, { t: 'hold', ms: m.ms });
        return;
      case 'gathered': {
        const g = gathers.get(m.req);
        gathers.delete(m.req);
        g?.resolve({ snapshots: m.snapshots, mockStates: m.mockStates, mockCalls: m.mockCalls });
        return;
      }
      case 'ready':
        slot.ready.resolve();
        return;
      case 'opened': {
        opening.delete(m.id);
        if (opening.size > 0) return;
        const waiters = openWaiters;
        openWaiters = [];
        for (const w of waiters) w.resolve();
        return;
      }
      case 'closed':
        return;
    }
  }

  /** The live worker holding the fewest cohorts (null when none is left). */
  function leastLoaded(): Slot | null {
    let best: Slot | null = null;
    for (const s of slots) if (s.alive && (!best || s.cohorts.size < best.cohorts.size)) best = s;
    return best;
  }

  function postRun(slot: Slot, req: number, run: PendingRun): void {
    const place = places.get(run.id) as CohortPlace;
    runs.set(req, { ...run, worker: slot.index });
    // The stand-ins ask their cycles in one transition of the orchestrator: they leave together at its end.
    let list = pendingRuns.get(slot);
    if (!list) pendingRuns.set(slot, (list = []));
    list.push({ req, id: run.id, info: run.info, activeCount: run.activeCount, size: place.size, state: keep });
    if (!flushQueued) {
      flushQueued = true;
      queueMicrotask(flushRuns);
    }
  }

  /** A worker is gone: its cohorts move to the others, from their last kept snapshot; their running cycle runs again. */
  function lost(slot: Slot, why: string): void {
    slot.ready.reject(new Error(`worker thread ${slot.index} ${why} before it was ready`));
    if (!slot.alive) return;
    slot.alive = false;
    slot.stats.alive = false;
    monitor.gone(String(slot.index), closing || slot.closing ? 'left' : 'lost', now());
    if (closing || slot.closing) return;
    const target = leastLoaded();
    if (!keep || !target) {
      fatal(new Error(`worker thread ${slot.index} ${why}${keep ? '; no worker is left to take its cohorts' : ''}`));
      return;
    }
    for (const [req, g] of gathers) {
      if (g.worker !== slot.index) continue;
      gathers.delete(req);
      g.reject(new Error(`worker thread ${slot.index} ${why} during a checkpoint`));
    }
    // Its answers of the cycle running go first to every worker that takes some of its cohorts (each serves its own agents' calls).
    const served = slot.answers?.entries ?? [];
    const told = new Set<number>();
    for (const id of slot.cohorts) {
      const place = places.get(id) as CohortPlace;
      const to = leastLoaded() as Slot;
      if (served.length > 0 && !told.has(to.index)) {
        told.add(to.index);
        send(to, { t: 'served', answers: served });
      }
      let mockState = place.kept ? (place.kept.mockJson === null ? null : (JSON.parse(place.kept.mockJson) as CohortMockState)) : (place.source.mockState ?? null);
      // An offer cycle started since the slice was taken cleared coupons and redemptions everywhere: so here too.
      if (mockState && place.offerCycle < offerCycle) mockState = afterOfferCycle(mockState);
      const source: CohortSource = { ...place.source, mockState };
      place.worker = to.index;
      recovered.cohortsMoved++;
      to.cohorts.add(id);
      to.stats.cohorts = to.cohorts.size;
      opening.add(id);
      send(to, { t: 'open', source, stateJson: place.kept?.stateJson ?? null });
      if (place.window !== undefined) send(to, { t: 'window', id, window: place.window });
    }
    slot.cohorts.clear();
    slot.stats.cohorts = 0;
    for (const s of slots) if (s.alive) monitor.holds(String(s.index), s.cohorts.size);
    for (const [req, run] of runs) {
      if (run.worker !== slot.index) continue;
      runs.delete(req);
      const place = places.get(run.id) as CohortPlace;
      recovered.cyclesRerun++;
      postRun(slots[place.worker] as Slot, req, run);
    }
  }

  for (let i = 0; i < options.workers; i++) {
    const setup: WorkerSetup = { index: i, heartbeatMs, store: options.store, db: options.directDb ? { kind: 'direct', ...options.directDb } : options.recorder ? 'relay' : 'mock', recordAnswers: !!options.answers, ...(options.exitOnCycle?.[i] !== undefined ? { exitOnCycle: options.exitOnCycle[i] } : {}), ...(options.exitAfterCommits?.[i] !== undefined ? { exitAfterCommits: options.exitAfterCommits[i], ...(options.exitLosingAnswer ? { exitLosingAnswer: true } : {}) } : {}) };
    const worker = startWorker(setup);
    const slot: Slot = { index: i, worker, alive: true, closing: false, cohorts: new Set(), stats: { index: i, alive: true, cohorts: 0, agentCycles: 0, busySeconds: 0, exitCode: null, peakHeapUsedBytes: 0, peakHeapTotalBytes: 0, heapAfterGcBytes: 0 }, http: null, ready: deferred() };
    worker.on('message', (m: ToCoordinator) => onMessage(slot, m));
    worker.on('error', (err) => lost(slot, `failed: ${err instanceof Error ? err.message : String(err)}`));
    worker.on('exit', (code) => {
      slot.stats.exitCode = code;
      lost(slot, `exited (code ${code})`);
    });
    slots.push(slot);
  }

  const transport: CohortTransport = {
    name: `worker-threads(${options.workers})`,
    open(source) {
      const id = 'spec' in source ? source.spec.id : source.id;
      const slot = slots[opened++ % slots.length] as Slot;
      const size = 'spec' in source ? source.spec.personas.length : Object.keys((source.snapshot as { children?: object }).children ?? {}).length;
      places.set(id, { id, worker: slot.index, size, source, kept: null, offerCycle });
      slot.cohorts.add(id);
      slot.stats.cohorts = slot.cohorts.size;
      opening.add(id);
      send(slot, { t: 'open', source });
    },
    opened() {
      if (opening.size === 0) return Promise.resolve();
      return new Promise((resolve, reject) => openWaiters.push({ resolve, reject }));
    },
    setWindow(id, window) {
      const place = places.get(id) as CohortPlace;
      send(slots[place.worker] as Slot, { t: 'window', id, window });
      // A re-opened cohort must have it too.
      place.window = window;
    },
    runCycle(id, cycle) {
      return new Promise((resolve, reject) => {
        const place = places.get(id) as CohortPlace;
        postRun(slots[place.worker] as Slot, nextReq++, { id, info: cycle.info, activeCount: cycle.activeCount, resolve, reject });
      });
    },
    offerCycleStarted(request) {
      offerCycle++;
      for (const s of slots) if (s.alive) send(s, { t: 'offer', request });
    },
    async gather() {
      const parts = await Promise.all(
        slots.filter((s) => s.alive).map(
          (s) =>
            new Promise<GatheredState>((resolve, reject) => {
              const req = nextReq++;
              gathers.set(req, { resolve, reject, worker: s.index });
              send(s, { t: 'gather', req });
            }),
        ),
      );
      const out: GatheredState = { snapshots: {}, mockStates: [], mockCalls: 0 };
      for (const p of parts) {
        Object.assign(out.snapshots, p.snapshots);
        out.mockStates.push(...p.mockStates);
        out.mockCalls += p.mockCalls;
      }
      return out;
    },
    onFatal(listener) {
      fatalListeners.push(listener);
    },
    async close() {
      closing = true;
      await Promise.all(
        slots.map(async (s) => {
          if (!s.alive) return;
          s.closing = true;
          const exited = new Promise<void>((resolve) => s.worker.once('exit', () => resolve()));
          send(s, { t: 'close' });
          const timer = setTimeout(() => void s.worker.terminate(), 5000);
          await exited;
          clearTimeout(timer);
        }),
      );
    },
  };
  const executor = createRemoteExecutor(transport) as ThreadExecutor;
  return Object.assign(executor, {
    workerStats: () => slots.map((s) => ({ ...s.stats })),
    occupancy() {
      const counts: Record<string, number> = {};
      let total = 0;
      for (const s of slots) {
        if (!s.alive || !s.states) continue;
        for (const [state, n] of Object.entries(s.states)) {
          counts[state] = (counts[state] ?? 0) + n;
          total += n;
        }
      }
      return { counts, total };
    },
    // A thread alive with a cycle in flight whose beat is late is busy (its event loop is in the cycle), not stale.
    workerTable: () => {
      const inCycle = new Set<string>();
      for (const r of runs.values()) if (slots[r.worker]?.alive) inCycle.add(String(r.worker));
      return monitor.table(now(), (id) => inCycle.has(id));
    },
    holdsBroadcast: () => holds,
    workerDbWrites: () => slots.flatMap((s) => (s.dbWrites ? [s.dbWrites] : [])),
    recoveries: () => ({ ...recovered }),
    ready: () => Promise.all(slots.map((s) => s.ready.promise)).then(() => undefined),
    // A lost worker's calls stay counted: its last figures are kept.
    workerHttpMetrics: () => slots.flatMap((s) => (s.http ? [s.http] : [])),
    threads: slots.map((s) => s.worker),
  });
}

/** Latency summaries of several clients as one: counts added, mean weighted, percentiles and max the highest of them (an upper bound, not a merge of histograms). */
function mergeLatency(parts: LatencySummary[]): LatencySummary {
  const count = parts.reduce((n, p) => n + p.count, 0);
  const top = (k: 'p50' | 'p95' | 'p99' | 'max') => parts.reduce((m, p) => (p.count > 0 ? Math.max(m, p[k]) : m), 0);
  return { p50: top('p50'), p95: top('p95'), p99: top('p99'), max: top('max'), mean: count > 0 ? parts.reduce((s, p) => s + p.mean * p.count, 0) / count : 0, count };
}

/**
 * The HTTP figures of the run from every client (the coordinator's, which starts offer cycles, and
 * each worker's): counts and rates added; latency percentiles the highest client's (see mergeLatency).
 */
export function mergeHttpMetrics(parts: HttpMetrics[]): HttpMetrics | null {
  const first = parts[0];
  if (!first) return null;
  const shared = parts.every((p) => p.rate_limit.shared === true);
  const sum = (k: 'requests' | 'calls' | 'requests_per_second' | 'errors' | 'rejected' | 'retries_429' | 'effective_rate' | 'timeouts' | 'network_errors' | 'in_flight' | 'queued') =>
    Math.round(parts.reduce((n, p) => n + p[k], 0) * 10) / 10;
  const endpoints: Record<string, EndpointLatency> = {};
  for (const name of new Set(parts.flatMap((p) => Object.keys(p.endpoints)))) {
    const list = parts.map((p) => p.endpoints[name]).filter((e): e is EndpointLatency => e !== undefined);
    endpoints[name] = {
      count: list.reduce((n, e) => n + e.count, 0),
      errors: list.reduce((n, e) => n + e.errors, 0),
      rejected: list.reduce((n, e) => n + e.rejected, 0),
      latency_ms: mergeLatency(list.map((e) => e.latency_ms)),
      latency_ms_from_due: mergeLatency(list.map((e) => e.latency_ms_from_due)),
    };
  }
  const httpErrors: Record<string, number> = {};
  for (const p of parts) for (const [status, n] of Object.entries(p.http_errors)) httpErrors[status] = (httpErrors[status] ?? 0) + n;
  const recent = parts.map((p) => (p as HttpMetrics & { recent_latency_ms?: LatencySummary }).recent_latency_ms).filter((r): r is LatencySummary => r !== undefined);
  return {
    ...first,
    requests: sum('requests'),
    calls: sum('calls'),
    requests_per_second: sum('requests_per_second'),
    latency_ms: mergeLatency(parts.map((p) => p.latency_ms)),
    latency_ms_from_due: mergeLatency(parts.map((p) => p.latency_ms_from_due)),
    ...(recent.length > 0 ? { recent_latency_ms: mergeLatency(recent) } : {}),
    errors: sum('errors'),
    rejected: sum('rejected'),
    endpoints,
    http_errors: httpErrors,
    retries_429: sum('retries_429'),
    // Clients on one shared schedule (--workers N threads) pace together: their rate is the run's, once.
    effective_rate: shared ? Math.max(...parts.map((p) => p.effective_rate)) : sum('effective_rate'),
    timeouts: sum('timeouts'),
    network_errors: sum('network_errors'),
    in_flight: sum('in_flight'),
    queued: sum('queued'),
    rate_limit: shared ? { rate: first.rate_limit.rate, burst: first.rate_limit.burst, shared: true } : { rate: parts.reduce((n, p) => n + p.rate_limit.rate, 0), burst: first.rate_limit.burst },
  };
}
