/**
 * A worker thread of `shopsim run --workers N` (started by ./thread-executor.ts): it holds the
 * cohorts the coordinator places here in a cohort runner (./cohort-runner.ts), with edges of its
 * own — a mock store, or its own HTTP client (undici pool) to the store — and relays what must be
 * the coordinator's: session writes (the coordinator's recorder writes them, one answer per
 * session, so a failed write stays that agent's failure) and recorded store answers (sent with
 * the cohort's report). Messages are in ./thread-messages.ts.
 */
import { getHeapStatistics } from 'node:v8';
import { parentPort, workerData } from 'node:worker_threads';
import type { CallContext, Recorder, StoreApi } from '../model/types.ts';
import { createGcPolicy } from '../simulation/gc-policy.ts';
import { createMockRecorder } from '../simulation/mock-recorder.ts';
import type { Entry as AnswerEntry } from '../store/answer-format.ts';
import { createHttpStore, type HttpStore } from '../store/http-store.ts';
import { createMockStore, type MockStore } from '../store/mock-store.ts';
import { createRecordingStore } from '../store/recording-store.ts';
import { answerKey, servedFirstStore } from './served-answers.ts';
import { createCohortRunner, type CohortMockState, type CohortState } from './cohort-runner.ts';
import type { RunOrder, RunReport, ToCoordinator, ToWorker, WorkerFigures, WorkerSetup } from './thread-messages.ts';

const port = parentPort;
if (!port) throw new Error('thread-worker.ts runs in a worker thread');
const setup = workerData as WorkerSetup;
const post = (m: ToCoordinator) => port.postMessage(m);

let mockStore: MockStore | null = null;
/** Answers a lost worker was given this cycle, by answerKey (./served-answers.ts). */
const served = new Map<string, AnswerEntry>();
let http: HttpStore | null = null;
let dying = false;
/** `s` whose calls, once the worker is dying, are never sent (see dieBetweenCalls). */
function gated<T extends object>(s: T): T {
  return new Proxy(s, {
    get(target, key, receiver) {
      const v = Reflect.get(target, key, receiver) as unknown;
      if (typeof v !== 'function') return v;
      // exitLosingAnswer: once dying, a cart change still goes to the store, and the worker dies
      // as its answer arrives — applied by the store, never seen by the coordinator.
      // Every other call goes on as usual meanwhile (the shoppers reach their next cart change).
      if (setup.exitLosingAnswer) {
        if (key !== 'addToCart' && key !== 'removeFromCart' && key !== 'applyCoupon') return v;
        return (...a: unknown[]) => {
          const sent = (v as (...x: unknown[]) => Promise<unknown>).apply(target, a);
          if (!dying) return sent;
          return sent.then(() => process.exit(1), () => process.exit(1));
        };
      }
      return (...a: unknown[]) => (dying ? new Promise(() => {}) : (v as (...x: unknown[]) => unknown).apply(target, a));
    },
  });
}
let store: StoreApi;
if (setup.store.kind === 'mock') {
  mockStore = createMockStore({ seed: setup.store.seed, products: setup.store.products, agentIds: setup.store.agentIds, failRate: setup.store.failRate });
  // Calls are counted from 0 here: the coordinator adds this worker's count to the checkpoint's.
  if (setup.store.state) mockStore.importState({ ...setup.store.state, calls: 0 });
  store = mockStore;
} else {
  http = createHttpStore({ baseUrl: setup.store.baseUrl, connections: setup.store.connections, requestTimeoutMs: setup.store.requestTimeoutMs, rateLimit: setup.store.rateLimit, ...(setup.store.burst !== null ? { burst: setup.store.burst } : {}),
    // The run's one rate schedule (shared memory with the coordinator and the other workers).
    ...(setup.store.limiterState ? { limiterState: setup.store.limiterState } : {}),
    ...(setup.store.callKeyPrefix !== undefined ? { callKeyPrefix: setup.store.callKeyPrefix } : {}),
    // A 429's Retry-After is the run's: the coordinator holds the other workers as long.
    onRetryAfter: (ms) => post({ t: 'retry-after', ms }) });
  // Every answer goes to the coordinator before the shopper reads it, and a cohort run again here
  // after its worker was lost is answered first from what that worker had been answered.
  store = servedFirstStore(setup.exitAfterCommits !== undefined ? gated(http) : http, served, { catalog: new Map((setup.store.products ?? []).map((p) => [p.id, p])), post: async (ctx, entry) => post({ t: 'answer', ctx, entry }) });
}

/**
 * Fault injection (tests: `exitAfterCommits`): the worker dies between store calls — it sends no
 * new call, waits for the answers of those in flight (each is sent to the coordinator before its
 * shopper reads it), then exits. A call whose answer a dead worker never got may have changed the
 * store, and its cohort's re-run sends it again with the same Idempotency-Key (a store that keeps
 * keyed answers applies it once: docs/scaling.md, "A worker lost mid-cycle"). `exitLosingAnswer`
 * dies that way on purpose (see gated).
 */
function dieBetweenCalls(): void {
  dying = true;
  // exitLosingAnswer: the next cart change's answer ends the worker (see gated); a worker that makes none within 2 s dies then.
  if (setup.exitLosingAnswer) {
    setTimeout(() => process.exit(1), 2000);
    return;
  }
  const wait = () => (http && http.metrics().in_flight > 0 ? setTimeout(wait, 1) : process.exit(1));
  wait();
}

/** Recorded answers by agent index, until their cohort's report takes them. */
const answers = new Map<number, [CallContext, AnswerEntry][]>();
if (setup.recordAnswers) {
  store = createRecordingStore(store, {
    add(ctx, entry) {
      if (!ctx) return;
      let list = answers.get(ctx.agentIndex);
      if (!list) answers.set(ctx.agentIndex, (list = []));
      list.push([ctx, entry]);
    },
  });
}

let nextCommit = 1;
let acked = 0;
const commits = new Map<number, { resolve: () => void; reject: (e: Error) => void }>();
// PostgreSQL: this worker's own pool on the run's database (a thread that cannot open it fails to start, as the run would).
const direct = typeof setup.db === 'object' ? await (await import('../db/connection.ts')).openDatabase({ databaseUrl: setup.db.databaseUrl, poolSize: setup.db.poolSize, writeTimeoutMs: setup.db.writeTimeoutMs, groupCommit: setup.db.groupCommit, migrate: false }) : null;
let written = 0;
const recorder: Recorder = direct
  ? {
      ...direct.recorder,
      async commitSession(record) {
        await direct.recorder.commitSession(record);
        // Fault injection (tests): the worker dies mid-cycle once this many of its sessions are written.
        if (setup.exitAfterCommits !== undefined && ++written >= setup.exitAfterCommits) dieBetweenCalls();
      },
    }
  : setup.db === 'relay'
    ? {
        ...createMockRecorder(),
        commitSession(record) {
          const req = nextCommit++;
          return new Promise<void>((resolve, reject) => {
            commits.set(req, { resolve, reject });
            post({ t: 'commit', req, record });
          });
        },
      }
    : createMockRecorder();

const runner = createCohortRunner({ store, recorder, mockStore });
const heap = { peakUsedBytes: 0, peakTotalBytes: 0, afterGcUsedBytes: 0 };
const sampleHeap = () => {
  const h = getHeapStatistics();
  heap.peakUsedBytes = Math.max(heap.peakUsedBytes, h.used_heap_size);
  heap.peakTotalBytes = Math.max(heap.peakTotalBytes, h.total_heap_size);
};
setInterval(sampleHeap, 100).unref();
/**
 * When none of its cohorts is running (its share of a cycle is done): the coordinator's policy
 * (src/simulation/gc-policy.ts) — a full collection once the heap has grown well past what the
 * last one left — so a big worker's heap stays near its live set, as an in-process run's does.
 */
const gcPolicy = createGcPolicy();
let running = 0;
/**
 * Reports of the cohorts done in this turn of the event loop: sent as one `done` once the turn's
 * callbacks have run (setImmediate), with this worker's figures once — a message and a figures
 * reading a cohort had cost the coordinator's barrier ~0.3 ms a cohort (issue 15).
 */
let outbox: RunReport[] = [];
let flushQueued = false;
const flush = () => {
  flushQueued = false;
  // Cohorts still to be started: the last start sends what is done by then.
  if (toStart.length > 0) return;
  const reports = outbox;
  outbox = [];
  if (reports.length > 0) {
    sampleHeap();
    post({ t: 'done', reports, http: http ? http.metrics() : null, figures: figures(running === 0 || performance.now() - statesAt > 500), heap: { ...heap }, dbWrites: direct?.recorder.metrics?.() ?? null });
  }
  if (running === 0 && gcPolicy.atCycleBoundary() > 0) heap.afterGcUsedBytes = getHeapStatistics().used_heap_size;
};
const scheduleFlush = () => {
  if (!flushQueued) {
    flushQueued = true;
    setImmediate(flush);
  }
};
/** A cohort's cycle ended (its report, if any, is in the outbox). */
const cohortDone = () => {
  running--;
  scheduleFlush();
};
/**
 * The cohorts of a `runs` message, started one a turn of the event loop (what is synchronous
 * of a cohort's cycle — in mock mode all of it — runs before the next one starts), as when
 * each came in a message of its own: started all at once, their shoppers' cycles interleave
 * and a worker of 10 cohorts of 500 held all their sessions in flight at once (~25% more CPU
 * an agent-cycle, in the collector).
 */
const toStart: RunOrder[] = [];
const startNext = () => {
  const r = toStart.shift();
  if (r) run(r);
  if (toStart.length > 0) setImmediate(startNext);
  else scheduleFlush();
};
post({ t: 'ready' });

/** Agent-cycles and (mock store) calls of the cycles this worker finished. */
let agentCycles = 0;
let calls = 0;
/** When this worker last said where its shoppers are (figures' `states`). */
let statesAt = -Infinity;
const figures = (withStates = true): WorkerFigures => {
  const f: WorkerFigures = {
    cohorts: runner.ids().length,
    agentCycles,
    requests: http ? http.metrics().requests : calls,
    // The isolate's heap in use (= process.memoryUsage().heapUsed, without its RSS read: ~0.25 ms a call in a busy process).
    heapBytes: getHeapStatistics().used_heap_size,
  };
  if (withStates) {
    // A walk of every shopper held here (~1 ms at 10,000): not with every report.
    f.states = runner.occupancy();
    statesAt = performance.now();
  }
  return f;
};
// The beat: how this worker is doing, also while a long cycle runs (unref'd: it keeps nothing alive).
const beater = setInterval(() => post({ t: 'beat', figures: figures() }), setup.heartbeatMs ?? 1000);
beater.unref();
post({ t: 'beat', figures: figures() });

function run(m: RunOrder): void {
  const t0 = performance.now();
  running++;
  runner.runCycle(m.id, { info: m.info, activeCount: m.activeCount }).then(
    async (result) => {
      // As JSON text straight from the live cohort (no copies: the text is all that leaves), before anything is awaited.
      const stateJson = m.state ? runner.stateJson(m.id) : null;
      const mockJson = m.state ? runner.mockStateJson(m.id) : null;
      // Writes whose answer was lost are settled before the report: what it counts is what the database holds.
      if (direct) await direct.recorder.reconcile?.().catch(() => undefined);
      const base = result.report.baseIndex;
      const taken: [CallContext, AnswerEntry][] = [];
      for (let i = base; i < base + m.size; i++) {
        const list = answers.get(i);
        if (list) {
          taken.push(...list);
          answers.delete(i);
        }
      }
      agentCycles += result.agentCycles;
      calls += result.report.totals.calls;
      outbox.push({ req: m.req, result, answers: taken, seconds: (performance.now() - t0) / 1000, stateJson, mockJson });
      cohortDone();
    },
    (err: unknown) => {
      post({ t: 'run-failed', req: m.req, message: err instanceof Error ? err.message : String(err) });
      cohortDone();
    },
  );
}

port.on('message', (m: ToWorker) => {
  // What the coordinator sent after a `runs` finds its cohorts started, as it would in order.
  if (m.t === 'close') toStart.length = 0;
  else if (m.t !== 'runs' && m.t !== 'commit-ack' && m.t !== 'hold') while (toStart.length > 0) run(toStart.shift() as RunOrder);
  switch (m.t) {
    case 'open':
      runner.open(m.stateJson ? { ...m.source, state: JSON.parse(m.stateJson) as CohortState } : m.source);
      post({ t: 'opened', id: 'spec' in m.source ? m.source.spec.id : m.source.id });
      break;
    case 'window':
      runner.setWindow(m.id, m.window);
      break;
    case 'offer':
      void runner.offerCycleStarted(m.request);
      break;
    case 'runs': {
      if (m.runs.some((r) => setup.exitOnCycle === r.info.cycle)) process.exit(1);
      // Answers of earlier cycles are never asked for again.
      const first = Math.min(...m.runs.map((r) => r.info.cycle));
      for (const k of served.keys()) if (Number(k.slice(0, k.indexOf(':'))) < first) served.delete(k);
      const wasIdle = toStart.length === 0;
      toStart.push(...m.runs);
      if (wasIdle) startNext();
      break;
    }
    case 'commit-ack': {
      if (setup.exitAfterCommits !== undefined && ++acked >= setup.exitAfterCommits) dieBetweenCalls();
      const c = commits.get(m.req);
      commits.delete(m.req);
      if (!c) break;
      if (m.error === null) c.resolve();
      else c.reject(new Error(m.error));
      break;
    }
    case 'gather': {
      const snapshots: Record<string, unknown> = {};
      const mockStates: CohortMockState[] = [];
      for (const id of runner.ids()) {
        snapshots[id] = runner.snapshot(id);
        const s = runner.mockState(id);
        if (s) mockStates.push(s);
      }
      post({ t: 'gathered', req: m.req, snapshots, mockStates, mockCalls: mockStore?.exportState().calls ?? 0 });
      break;
    }
    case 'served':
      for (const [ctx, entry] of m.answers) served.set(answerKey(ctx), entry);
      break;
    case 'hold':
      http?.holdFor(m.ms);
      break;
    case 'close':
      clearInterval(beater);
      runner.closeAll();
      void Promise.all([http ? http.close() : Promise.resolve(), direct ? direct.close().catch(() => undefined) : Promise.resolve()]).finally(() => {
        post({ t: 'closed' });
        port.close();
      });
      break;
  }
});
