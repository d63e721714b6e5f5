/** The messages between the coordinator and a worker thread of `--workers N` (docs/scaling.md, "Worker threads"). */
import type { CycleInfo } from '../model/calendar.ts';
import type { CallContext, DbWriteMetrics, OfferCycleRequest, Product, SessionRecord } from '../model/types.ts';
import type { Entry as AnswerEntry } from '../store/answer-format.ts';
import type { HttpMetrics } from '../store/http-store.ts';
import type { MockStoreState } from '../store/mock-store.ts';
import type { CohortCycleResult, CohortMockState, CohortSource } from './cohort-runner.ts';

/** What a worker is started with (structured-cloned into it). */
export interface WorkerSetup {
  index: number;
  store:
    | { kind: 'mock'; seed: number; products: Product[]; agentIds: string[]; failRate: number; state: MockStoreState | null }
    /** `products`: the catalog, to decode recorded answers served to a re-run cohort (as a replay does). */
    | { kind: 'http'; baseUrl: string; connections: number; requestTimeoutMs: number; rateLimit: number; burst: number | null; products?: Product[]; limiterState?: SharedArrayBuffer | null; callKeyPrefix?: string };
  /**
   * 'relay': sessions are written by the coordinator's recorder; 'mock': nowhere (--mock-db);
   * direct: PostgreSQL, through this worker's own pool (--worker-db-pool).
   */
  db: 'relay' | 'mock' | { kind: 'direct'; databaseUrl: string; poolSize: number; writeTimeoutMs: number; groupCommit: number };
  /** Record the store's answers and send them with each report (the coordinator writes the file). */
  recordAnswers: boolean;
  /** How often it says how it is doing (a `beat`), ms (default 1000). */
  heartbeatMs?: number;
  /** Fault injection for tests: this worker exits (code 1) when asked to run this cycle, before answering. */
  exitOnCycle?: number;
  /** Fault injection for tests: this worker exits (code 1) once this many of its sessions were written, mid-cycle. */
  exitAfterCommits?: number;
  /** With exitAfterCommits: instead of between calls, the worker dies as the answer of a cart change arrives (the store applied it; the answer is lost). */
  exitLosingAnswer?: boolean;
}

/** A worker thread's own V8 heap (its isolate; the threads share the process's RSS), peaks sampled every 100 ms. */
export interface WorkerHeap {
  peakUsedBytes: number;
  peakTotalBytes: number;
  /** Heap in use right after its last full collection between cycles (~its live set; 0: none yet). */
  afterGcUsedBytes: number;
}

export type ToWorker =
  /** `stateJson`: a CohortState (as the JSON text a worker sent) to put over `source`. */
  | { t: 'open'; source: CohortSource; stateJson?: string | null }
  | { t: 'window'; id: string; window: number }
  | { t: 'offer'; request: OfferCycleRequest }
  /**
   * The cycles asked of this worker's cohorts in one turn of the coordinator (a barrier's
   * RUN_CYCLEs: one message a worker a cycle, not one a cohort), started in this order.
   */
  | { t: 'runs'; runs: RunOrder[] }
  | { t: 'commit-ack'; req: number; error: string | null }
  | { t: 'gather'; req: number }
  /** A lost worker's store answers of the cycle running (a real store): served first to the cohorts it held when their cycle runs again here. */
  | { t: 'served'; answers: [CallContext, AnswerEntry][] }
  /** Another worker was answered 429: send nothing to the store for `ms` (its Retry-After, the run's). */
  | { t: 'hold'; ms: number }
  | { t: 'close' };

/** One cohort's cycle in a `runs` message. */
export interface RunOrder {
  req: number;
  id: string;
  info: CycleInfo;
  activeCount: number;
  /** The cohort's shoppers (to take their recorded answers). */
  size: number;
  /** Send the cohort's CohortState and mock-store slice back with the report. */
  state: boolean;
}

/**
 * One cohort's answer in a `done` message. `stateJson`: the cohort's CohortState (asked with
 * `state`) as JSON text: the coordinator keeps it without parsing (a string crosses threads as one
 * copy; ten thousand small arrays would be rebuilt on its thread). `mockJson`: likewise the
 * cohort's mock-store slice (sent with `state`; `result` has none).
 */
export interface RunReport {
  req: number;
  result: CohortCycleResult;
  answers: [CallContext, AnswerEntry][];
  seconds: number;
  stateJson: string | null;
  mockJson: string | null;
}

/** What a worker says of itself in each beat and cycle report (the coordinator's per-worker rows, src/monitor/worker-rows.ts). */
export interface WorkerFigures {
  /** Cohorts held now. */
  cohorts: number;
  /** Agent-cycles run so far. */
  agentCycles: number;
  /** Store requests so far (its HTTP client's, or the mock store's calls). */
  requests: number;
  /** Its isolate's heap in use, bytes (the RSS is the whole process's). */
  heapBytes: number;
  /**
   * Its shoppers by state (the web map's counts: src/simulation/occupancy.ts, walked here over
   * the cohorts it holds): in every beat, and in a cycle report when its share of the cycle is
   * done or half a second has passed since it last said; absent otherwise.
   */
  states?: Record<string, number>;
}

export type ToCoordinator =
  /** The worker has loaded and built its edges. */
  | { t: 'ready' }
  /** The cohort of an `open` is built (its shoppers spawned). */
  | { t: 'opened'; id: string }
  /**
   * The reports of the cohorts that finished since the last `done` (those done in one turn of the
   * worker's event loop go together: one message, not one a cohort), in the order they finished.
   * `http`: the worker's store-client figures so far (real store only). `dbWrites`: this
   * worker's own recorder's figures so far (direct writes).
   */
  | { t: 'done'; reports: RunReport[]; http: HttpMetrics | null; figures: WorkerFigures; heap: WorkerHeap; dbWrites?: DbWriteMetrics | null }
  /** Every heartbeat interval, between and during cycles. */
  | { t: 'beat'; figures: WorkerFigures }
  | { t: 'run-failed'; req: number; message: string }
  | { t: 'commit'; req: number; record: SessionRecord }
  /** A real store: one answer, sent before the shopper reads it (kept for a re-run of its cohort elsewhere). */
  | { t: 'answer'; ctx: CallContext; entry: AnswerEntry }
  /** This worker was answered 429 with this wait (ms): the coordinator holds every other worker as long. */
  | { t: 'retry-after'; ms: number }
  | { t: 'gathered'; req: number; snapshots: Record<string, unknown>; mockStates: CohortMockState[]; mockCalls: number }
  | { t: 'closed' };
