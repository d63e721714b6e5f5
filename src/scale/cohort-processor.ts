/**
 * The processor a `shopsim worker` runs in its worker threads (./thread-pool.ts): one cycle of one
 * cohort per job, from the snapshot the job names, through the cohort runner (./cohort-runner.ts)
 * with the edges the job names (./job-edges.ts): the mock store, seeded like the coordinator's, or
 * a store client of this thread's to the run's store; sessions written nowhere (--mock-db) or
 * through the coordinator's commit relay (docs/scaling.md).
 *
 * What is stored in Redis per cohort: its base, once (`{ spec }` for a new run, `{ id, snapshot }`
 * restored from a checkpoint), and per cycle a small StoredState — the cohort's compact
 * CohortState (./cohort-runner.ts: ~110 bytes a shopper against ~870 for a full snapshot; null
 * before its first cycle), the mock store's carts and redeemed coupons of its agents with the
 * offer cycle they belong to, and the token of the thread that wrote it. A job whose offer cycle
 * is newer than the state's starts that offer cycle on the slice first (the coordinator's store
 * did it for every agent: coupons dropped, redeemed cleared), so the cohort sees exactly what it
 * would have seen in one process. A thread that still holds the cohort as it left it (same token)
 * runs it as it is; any other rebuilds it from the base with the state put over it.
 */
import type { CycleInfo } from '../model/calendar.ts';
import { createMockRecorder } from '../simulation/mock-recorder.ts';
import { createMockStore, type MockStoreState } from '../store/mock-store.ts';
import { loadPersonas, loadProducts, selectAgents } from '../run/load-data.ts';
import { randomBytes } from 'node:crypto';
import { createCohortRunner, type CohortMockState, type CohortRunner, type CohortSource, type CohortState } from './cohort-runner.ts';
import type { Processor, ProcessorContext, RunningStates, ThreadOutput, ThreadWork } from './thread-pool.ts';
import type { Entry } from '../simulation/event-log.ts';
import type { CohortReport } from '../../machines/cohort.machine.ts';
import type { CallContext, DbWriteMetrics, Product, Recorder, StoreApi } from '../model/types.ts';
import { servedFirstStore } from './served-answers.ts';
import type { Entry as AnswerEntry } from '../store/answer-format.ts';
import { createHttpStore, type HttpMetrics, type HttpStore } from '../store/http-store.ts';
import { createRecordingStore } from '../store/recording-store.ts';
import type { Database } from '../db/connection.ts';
import { MOCK_EDGES, relayRecorder, type JobEdges } from './job-edges.ts';

/** The run settings a cohort job needs (published by the coordinator). */
export interface DistributedRunConfig {
  seed: number;
  agents: number | null;
  mockFailRate: number;
}

/** The worker's own data files (verified against the run by the fingerprint at join). */
export interface WorkerLocal {
  personas: string;
  products: string;
  /** This worker's own PostgreSQL URL (--database-url / DATABASE_URL), used when it is the run's database. */
  databaseUrl?: string | null;
}

export type OfferCycle = MockStoreState['offerCycle'];

/** The cohort as stored between cycles. */
/** A cohort's base for the run (written once by the coordinator). */
export type StoredBase = { spec: Extract<CohortSource, { spec: unknown }>['spec'] } | { id: string; snapshot: unknown };

/** A cohort between two cycles. */
export interface StoredState {
  id: string;
  /** Null: the base as it is (before the cohort's first cycle here). */
  state: CohortState | null;
  mockState: CohortMockState | null;
  offerCycle: OfferCycle;
  /** Written by the thread that made this state; that thread still holds the cohort in it. Null: the coordinator's. */
  token: string | null;
  /** Which base this state goes over (a new one whenever the coordinator writes a base: a resumed run has other bases). */
  baseToken: string;
}

/** Cohorts a thread keeps after their job (most recent last), to skip restoring them from the snapshot when their next job comes here. */
const KEEP = 32;
/** Cohort bases a thread keeps parsed (a few MB each at 500 shoppers). */
const KEEP_BASES = 64;

/** A job's input (small): the RUN_CYCLE, the window when it changed, the coordinator's offer cycle. */
export interface CohortJobInput {
  info: CycleInfo;
  activeCount: number;
  window?: number;
  offerCycle: OfferCycle;
  /** The store and database this job reaches (./job-edges.ts); absent: mock store, no writes. */
  edges?: JobEdges;
}

/** A job's result, read back by the coordinator at the barrier. */
export interface CohortJobResult {
  report: CohortReport;
  entries: Entry[];
  /** Mock-store calls this job made. */
  mockCalls: number;
  seconds: number;
  agentCycles: number;
  /** The store answers of this job's calls (with edges.recordAnswers), for the run's answers file. */
  answers?: [CallContext, AnswerEntry][];
  /** This thread's store-client figures so far (a real store), under the client's id. */
  http?: { client: string; metrics: HttpMetrics } | null;
  /** This thread's own database pool's write figures so far (direct writes), under the pool's id. */
  dbWrites?: { client: string; metrics: DbWriteMetrics } | null;
  /** Where this job's sessions went: the worker's own pool on the run's database, the coordinator's relay, or nowhere. */
  writes?: 'direct' | 'relay' | 'none';
  /** Calls answered from the record of an earlier attempt of this job (a real store; ./served-answers.ts). */
  served?: number;
  /** The cohort's shoppers by state after the cycle (the web map's counts between cycles). */
  states?: Record<string, number>;
}

/** The delegating store and recorder a thread's cohorts are built with: the edges of the job running now behind them. */
function currentEdges(mockStore: StoreApi, databaseUrl: string | null, catalog: ReadonlyMap<string, Product>) {
  let store: StoreApi = mockStore;
  let recorder: Recorder = createMockRecorder();
  let http: { key: string; client: HttpStore; id: string } | null = null;
  let relay: { key: string; recorder: ReturnType<typeof relayRecorder> } | null = null;
  let answerLog: { key: string; client: ReturnType<typeof relayRecorder> } | null = null;
  let serving: ReturnType<typeof servedFirstStore> | null = null;
  /** This thread's own pool on the run's database (null: not opened, or not the run's database: the relay then). */
  let direct: { key: string; db: Database | null; id: string } | null = null;
  let answers: [CallContext, AnswerEntry][] | null = null;
  const METHODS = ['listProducts', 'getProduct', 'getCart', 'addToCart', 'removeFromCart', 'clearCart', 'listOffers', 'applyCoupon', 'checkout', 'startOfferCycle'] as const;
  const through = (pick: () => StoreApi): StoreApi =>
    Object.fromEntries(METHODS.map((m) => [m, (...a: unknown[]) => (pick()[m] as (...x: unknown[]) => unknown)(...a)])) as unknown as StoreApi;
  const recording = createRecordingStore(through(() => store), { add: (ctx, entry) => void (ctx && answers?.push([ctx, entry])) });
  const delegate = through(() => (answers ? recording : store));
  const recorderProxy: Recorder = { ...createMockRecorder(), commitSession: (r) => recorder.commitSession(r) };
  return {
    store: delegate,
    recorder: recorderProxy,
    /** Puts this job's edges behind the delegates (clients kept while the job's edges name the same place). */
    async set(edges: JobEdges, job: { cycle: number; cohort: number }): Promise<void> {
      const s = edges.store;
      if (s.kind === 'http') {
        const key = JSON.stringify([s.baseUrl, s.connections, s.requestTimeoutMs, s.rateLimit, s.burst, s.callKeyPrefix ?? null]);
        if (http?.key !== key) {
          void http?.client.close();
          // A 429's Retry-After is the run's: told to the coordinator, which hands it to every worker (with their next answers).
          const client = createHttpStore({ baseUrl: s.baseUrl, connections: s.connections, requestTimeoutMs: s.requestTimeoutMs, rateLimit: s.rateLimit, ...(s.burst !== null ? { burst: s.burst } : {}),
            ...(s.callKeyPrefix !== undefined ? { callKeyPrefix: s.callKeyPrefix } : {}),
            onRetryAfter: (ms) => void answerLog?.client.broadcastHold(ms).catch(() => undefined) });
          http = { key, client, id: randomBytes(6).toString('hex') };
        }
        store = http.client;
        serving = null;
        const log = edges.answerLog;
        if (log) {
          const logKey = `${log.url}\n${log.token}`;
          if (answerLog?.key !== logKey) {
            void answerLog?.client.closeRelay();
            answerLog = { key: logKey, client: relayRecorder(log) };
          }
          const client = answerLog.client;
          // A job run again is served what its first attempt was answered (no second purchase); a first attempt gets none.
          const recorded = await client.recordedAnswers(job.cycle, job.cohort).catch(() => new Map<string, AnswerEntry>());
          const own = http.client;
          serving = servedFirstStore(own, recorded, { catalog, post: (ctx, e) => client.postAnswer(job.cycle, job.cohort, ctx, e).then((hold) => own.holdFor(hold)) });
          store = serving;
        }
      } else store = mockStore;
      const d = edges.db;
      if (d.kind === 'direct' && databaseUrl) {
        const key = JSON.stringify([d.databaseId, d.poolSize, d.writeTimeoutMs, d.groupCommit]);
        if (direct?.key !== key) {
          void direct?.db?.close();
          let db: Database | null = null;
          try {
            const { openDatabase } = await import('../db/connection.ts');
            db = await openDatabase({ databaseUrl, poolSize: d.poolSize, writeTimeoutMs: d.writeTimeoutMs, groupCommit: d.groupCommit, migrate: false });
            if (db.databaseId !== d.databaseId) {
              await db.close();
              db = null;
            }
          } catch {
            // unreachable from here: the coordinator writes them (the relay)
            db = null;
          }
          direct = { key, db, id: randomBytes(6).toString('hex') };
        }
      }
      const relayEdge = d.kind === 'relay' ? d : d.kind === 'direct' ? d.relay : null;
      if (d.kind === 'direct' && direct?.db) recorder = direct.db.recorder;
      else if (relayEdge) {
        const key = `${relayEdge.url}\n${relayEdge.token}`;
        if (relay?.key !== key) {
          void relay?.recorder.closeRelay();
          relay = { key, recorder: relayRecorder(relayEdge) };
        }
        recorder = relay.recorder;
      } else recorder = createMockRecorder();
      answers = edges.recordAnswers ? [] : null;
    },
    /** The answers recorded since set(), handed over once. */
    takeAnswers(): [CallContext, AnswerEntry][] | undefined {
      const a = answers;
      answers = null;
      return a ?? undefined;
    },
    /** Settles writes of this job whose outcome was unknown (./pg-recorder.ts reconcile), so the database holds what the job counted. */
    settle: async (): Promise<void> => {
      if (direct?.db && recorder === direct.db.recorder) await recorder.reconcile?.().catch(() => undefined);
    },
    /** Calls of this job answered from the record of an earlier attempt. */
    served: (): number => serving?.served() ?? 0,
    /** How this job's sessions were written. */
    writes: (): 'direct' | 'relay' | 'none' => (direct?.db && recorder === direct.db.recorder ? 'direct' : relay && recorder === relay.recorder ? 'relay' : 'none'),
    dbFigures: (): { client: string; metrics: DbWriteMetrics } | null => {
      const m = direct?.db ? direct.db.recorder.metrics?.() : undefined;
      return direct && m ? { client: direct.id, metrics: m } : null;
    },
    httpFigures: (): { client: string; metrics: HttpMetrics } | null => (http && (store === http.client || store === serving) ? { client: http.id, metrics: http.client.metrics() } : null),
  };
}

export function createProcessor(context: ProcessorContext): Processor {
  const run = context.runConfig as DistributedRunConfig;
  const local = context.local as WorkerLocal;
  const products = loadProducts(local.products);
  const agentIds = selectAgents(loadPersonas(local.personas), run.agents, local.personas).map((p) => p.id);
  const mockStore = createMockStore({ seed: run.seed, products, agentIds, failRate: run.mockFailRate });
  const edges = currentEdges(mockStore, local.databaseUrl ?? null, new Map(products.map((p) => [p.id, p])));
  const held = new Map<string, { token: string; runner: CohortRunner }>();
  /** Each cohort's base as a persisted snapshot, made once per thread (a spec is spawned once, not at every rebuild). */
  const bases = new Map<string, unknown>();
  const baseOf = (id: string, baseToken: string, raw: string | null): unknown => {
    const key = `${id}\n${baseToken}`;
    const cached = bases.get(key);
    if (cached !== undefined) {
      // Most recently used last.
      bases.delete(key);
      bases.set(key, cached);
      return cached;
    }
    if (raw === null) throw new Error(`cohort ${id}: its base is missing in Redis`);
    const parsed = JSON.parse(raw) as StoredBase;
    let snapshot: unknown;
    if ('spec' in parsed) {
      const r = createCohortRunner({ store: mockStore, recorder: createMockRecorder() });
      r.open({ spec: parsed.spec });
      snapshot = r.snapshot(id);
      r.close(id);
    } else snapshot = parsed.snapshot;
    bases.set(key, snapshot);
    while (bases.size > KEEP_BASES) bases.delete(bases.keys().next().value as string);
    return snapshot;
  };
  /** The cohorts running a cycle now (at most one a thread; read by the thread's beat). */
  const running = new Map<string, CohortRunner>();
  const processor = async (work: ThreadWork): Promise<ThreadOutput> => {
    const input = work.input as CohortJobInput;
    const stored = JSON.parse(work.snapshot) as StoredState;
    // Sent without its base (not read from Redis yet): asked for only when this thread must rebuild
    // the cohort and has not parsed that base before. Nothing is changed before this answer.
    const keptHere = held.get(stored.id);
    const reuses = keptHere !== undefined && stored.token !== null && stored.token === keptHere.token;
    if (!reuses && work.base === undefined && !bases.has(`${stored.id}\n${stored.baseToken}`)) return { needBase: true, result: null, snapshot: '' };
    const jobEdges = input.edges ?? MOCK_EDGES;
    const mock = jobEdges.store.kind === 'mock';
    await edges.set(jobEdges, { cycle: work.cycle, cohort: work.cohort });
    if (mock) {
      const slice = stored.mockState ?? { carts: [], redeemed: [] };
      const before = stored.offerCycle ?? null;
      mockStore.importState({ offerCycle: before, carts: slice.carts, redeemed: slice.redeemed, calls: 0 });
      if (input.offerCycle && input.offerCycle.number !== before?.number) {
        await mockStore.startOfferCycle({ offer_cycle: input.offerCycle.number, starts_at: input.offerCycle.startsAt, ends_at: input.offerCycle.endsAt, user_ids: [] });
      }
    }
    // The cohort's actor as this thread left it after the previous cycle (its token matches the
    // stored state's), or rebuilt from the base with the state over it. Actors are never stopped
    // here (XState's stop() is quadratic in children); a dropped idle cohort is simply collected.
    const id = stored.id;
    const kept = held.get(id);
    held.delete(id);
    let runner: CohortRunner;
    if (kept && stored.token !== null && stored.token === kept.token) runner = kept.runner;
    else {
      const base = baseOf(id, stored.baseToken, work.base ?? null);
      runner = createCohortRunner({ store: edges.store, recorder: edges.recorder, ...(mock ? { mockStore } : {}) });
      // open() puts the state over a copy of the base (and a base alone is copied here): the cached one stays as it was.
      runner.open(stored.state ? { id, snapshot: base, state: stored.state } : { id, snapshot: structuredClone(base) });
    }
    if (input.window !== undefined) runner.setWindow(id, input.window);
    running.set(id, runner);
    let r: Awaited<ReturnType<CohortRunner['runCycle']>>;
    try {
      r = await runner.runCycle(id, { info: input.info, activeCount: input.activeCount }, { state: true });
    } finally {
      running.delete(id);
    }
    await edges.settle();
    const token = randomBytes(8).toString('hex');
    held.set(id, { token, runner });
    while (held.size > KEEP) held.delete(held.keys().next().value as string);
    const after: StoredState = { id, state: r.state ?? null, mockState: r.mockState ?? null, offerCycle: input.offerCycle, token, baseToken: stored.baseToken };
    const answers = edges.takeAnswers();
    const result: CohortJobResult = {
      report: r.report,
      entries: r.entries,
      mockCalls: mock ? mockStore.exportState().calls : 0,
      seconds: r.seconds,
      agentCycles: r.agentCycles,
      ...(answers ? { answers } : {}),
      http: edges.httpFigures(),
      dbWrites: edges.dbFigures(),
      writes: edges.writes(),
      ...(edges.served() > 0 ? { served: edges.served() } : {}),
      states: runner.occupancy(),
    };
    return { snapshot: JSON.stringify(after), result };
  };
  return Object.assign(processor, {
    occupancy: (): RunningStates => Object.fromEntries([...running].map(([cohortId, r]) => [cohortId, r.occupancy()])),
  });
}
