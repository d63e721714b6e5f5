/**
 * The application layer: composing a run or a replay in one place, for `shopsim run`,
 * `shopsim replay` and any other process that runs a simulation (a test, a worker).
 *
 *   prepareRun(resolved) / prepareReplay(file, options)  → RunPlan       (reads and validates inputs)
 *   openRun(plan)                                        → OpenedRun     (opens the store and database,
 *                                                                         restores the edges' state)
 *   opened.simulate({ breakerAction, inspect })          → a Simulation and execute(), which records
 *                                                                         the run's start and end
 * Every input problem is a ShopsimError with exit code 2, raised before anything is written.
 */
import { runRates, type WorkerTable } from '../monitor/worker-rows.ts';
import { randomBytes } from 'node:crypto';
import { statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { InspectionEvent } from 'xstate';
import { DEFAULTS, fromPublicConfig, publicConfig, simulationConfigOf, totalCycles, type ResolvedConfig, type RunConfig } from '../config.ts';
import { readCheckpoint, restoreStateOf, validateCheckpoint } from '../checkpoint/load.ts';
import type { Checkpoint, MemoryStoreSection } from '../checkpoint/format.ts';
import { userIdsHash } from '../server/memory-backend.ts';
import { probeWritableDir, removeStaleTempFiles } from '../checkpoint/atomic-write.ts';
import { parseCheckpointFileName } from '../checkpoint/format.ts';
import { CheckpointError, inputError, oneLine, ShopsimError } from '../errors.ts';
import type { RestoreState, RunSummary } from '../model/run.ts';
import type { DbWriteMetrics, Persona, Product, Recorder, StoreApi } from '../model/types.ts';
import { answersFileName } from '../store/answer-format.ts';
import type { AnswersWriter } from '../store/answers-writer.ts';
import { createReplayStore, readRecordedAnswers, type RecordedAnswers, type ReplayStore } from '../store/replay-store.ts';
import type { Simulation } from '../simulation/types.ts';
import type { CohortExecutor } from '../scale/executor.ts';
import type { MockStore, MockStoreState } from '../store/mock-store.ts';
import type { HttpMetrics } from '../store/http-store.ts';
import type { ThreadExecutor } from '../scale/thread-executor.ts';
import { applyProfile, validateProfile, type Profile } from '../model/profiles.ts';
import { loadPersonas, loadProducts, loadProfile, selectAgents } from './load-data.ts';
import type { Backends } from './open-backends.ts';
import { planResume, type ResumePlan } from './plan-resume.ts';
import { clearCartsThroughStore, clearedCartsLine } from './resume-store.ts';
import { readRunStatus, writeRunStatus, type RunStatusValue } from './run-status.ts';

export interface RunPlan {
  /** The options in force (a resume's carried from its checkpoint). */
  config: RunConfig;
  cycles: number;
  runId: string;
  /** The personas as the profile made them (the file's as written under the seed profile). */
  personas: Persona[];
  /** The personas as the file holds them: what the checkpoint's personas_hash covers (same-data). */
  filePersonas: Persona[];
  products: Product[];
  /** The run's profile: recorded with the run (profile_spec) and taken from its checkpoint on resume and replay. */
  profile: Profile;
  /** The checkpoint this run continues, or null for a new run; `chosen` says how it was picked. */
  resume: { file: string; checkpoint: Checkpoint; chosen?: string } | null;
  restore: RestoreState | null;
  /** Lines for stderr: skipped checkpoints, options a resume changes. */
  warnings: string[];
  /** Write checkpoints and record the run (false for a replay). */
  durable: boolean;
  /** A replay of a real-store run: the recorded answers it is served (null: the mock store). */
  answers?: RecordedAnswers | null;
}

/** The recorded answers of a checkpoint's run: the file beside the checkpoint (docs/checkpoints.md). */
export function answersBeside(checkpointFile: string, checkpoint: Checkpoint): string {
  return join(dirname(checkpointFile), answersFileName(checkpoint.simulation_state.run_id));
}

/** The checkpoint's store state names only the run's shoppers and the catalog's products (it is written back into the database). */
export function checkStoreState(file: string, checkpoint: Checkpoint, personas: Persona[], products: Product[]): void {
  const carts = checkpoint.store_state?.carts;
  if (!carts) return;
  const agents = new Set(personas.map((p) => p.id));
  const catalog = new Set(products.map((p) => p.id));
  for (const [user, lines] of carts) {
    if (!agents.has(user)) throw new CheckpointError(file, `store_state.carts names ${JSON.stringify(user)}, not a shopper of this run`);
    for (const [product] of lines) if (!catalog.has(product)) throw new CheckpointError(file, `store_state.carts: the cart of ${user} holds ${JSON.stringify(product)}, not a product of the catalog`);
  }
  for (const [product] of checkpoint.store_state?.stock ?? []) {
    if (!catalog.has(product)) throw new CheckpointError(file, `store_state.stock names ${JSON.stringify(product)}, not a product of the catalog`);
  }
  const memory = checkpoint.store_state?.memory;
  if (memory) checkMemoryStoreState(file, memory, checkpoint.store_state?.offer_cycle ?? null, personas, agents);
}

/**
 * The in-memory store's part (`store_state.memory`) names only the run's shoppers, holds each
 * order's idempotency key once per shopper, and its offer cycles were started for this run's
 * shoppers (their offers are planned again from them) and end with the store's offer cycle.
 */
function checkMemoryStoreState(file: string, memory: MemoryStoreSection, offerCycle: number | null, personas: Persona[], agents: Set<string>): void {
  for (const [user] of memory.redeemed) {
    if (!agents.has(user)) throw new CheckpointError(file, `store_state.memory.redeemed names ${JSON.stringify(user)}, not a shopper of this run`);
  }
  const keys = new Set<string>();
  for (const [user, key] of memory.orders) {
    if (!agents.has(user)) throw new CheckpointError(file, `store_state.memory.orders names ${JSON.stringify(user)}, not a shopper of this run`);
    const k = `${user}\u0000${key}`;
    if (keys.has(k)) throw new CheckpointError(file, `store_state.memory.orders holds two orders of ${user} with the idempotency key ${JSON.stringify(key)}`);
    keys.add(k);
  }
  const last = memory.offer_cycles[memory.offer_cycles.length - 1];
  if ((last?.[0] ?? null) !== offerCycle) {
    throw new CheckpointError(file, `store_state.memory.offer_cycles ends with ${last ? `offer cycle ${last[0]}` : 'no offer cycle'}, not the store's offer cycle ${String(offerCycle)}`);
  }
  const users = memory.offer_cycles.length > 0 ? userIdsHash(personas.map((p) => p.id)) : '';
  for (const [n, , , hash] of memory.offer_cycles) {
    if (hash !== users) throw new CheckpointError(file, `store_state.memory.offer_cycles: offer cycle ${n} was started for other shoppers than this run's (users ${hash}, this run's ${users})`);
  }
}

/** True when the run records the store's answers: a real store, recording on, a run (not a replay). */
function records(config: RunConfig, durable: boolean): boolean {
  return durable && !config.mockApi && config.recordAnswers;
}

export function newRunId(now = new Date()): string {
  const stamp = now.toISOString().replace(/[-:]/g, '').replace(/\..*$/, '').replace('T', '-');
  return `run-${stamp}-${randomBytes(3).toString('hex')}`;
}

/**
 * The profile of a run: a checkpoint's recorded profile_spec when it has one (so a resumed or
 * replayed run keeps its targets even if the file changed since), else `--profile`. A
 * checkpoint written before profiles existed ran the seed's behaviour.
 */
function profileOf(config: RunConfig, checkpoint: { file: string; checkpoint: Checkpoint } | null): Profile {
  const recorded = checkpoint?.checkpoint.simulation_config['profile_spec'];
  if (checkpoint && recorded !== undefined) return validateProfile(recorded, `checkpoint ${checkpoint.file}: simulation_config.profile_spec`);
  return loadProfile(config.profile);
}

/**
 * The checkpoint directory, checked at start: writable (else exit 2 now, not at the first
 * checkpoint, cycles later), and rid of the temporary files interrupted writes left (a kill
 * during a write). Returns the warnings to print.
 */
export function prepareCheckpointDir(dir: string): string[] {
  try {
    probeWritableDir(dir);
  } catch (err) {
    throw inputError(`--checkpoint-dir ${dir}: cannot write checkpoints there (${(err as NodeJS.ErrnoException).code ?? oneLine(err)})`, err);
  }
  const removed = removeStaleTempFiles(dir, (name) => parseCheckpointFileName(name) !== null || name === 'shopsim-probe');
  return removed.length > 0 ? [`removed ${removed.length} temporary file${removed.length === 1 ? '' : 's'} of interrupted checkpoint writes in ${dir}`] : [];
}

/** A new or resumed run of `shopsim run`: plans the resume, loads and checks the data. */
export function prepareRun(resolved: ResolvedConfig): RunPlan {
  // --resume / --resume-from: options not given again come from the checkpoint.
  const plan: ResumePlan | null = planResume(resolved);
  const sources = resolved.sources;
  const config = plan ? plan.config : resolved.config;
  if (plan && !('profile' in plan.checkpoint.simulation_config) && sources.profile === undefined) config.profile = 'seed';
  const warnings = plan ? [...plan.warnings] : [];
  for (const c of plan?.changed ?? []) warnings.push(`resuming with ${c.flag} ${String(c.to)} (the checkpoint has ${String(c.from)}); it applies from the next cycle`);
  const cycles = totalCycles(config, sources);
  const profile = profileOf(config, plan ? { file: plan.file, checkpoint: plan.checkpoint } : null);
  const filePersonas = selectAgents(loadPersonas(config.personas), config.agents, config.personas);
  const personas = applyProfile(filePersonas, profile);
  const products = loadProducts(config.products);
  let restore: RestoreState | null = null;
  if (plan) {
    // The hash covers the file as read, so a changed file is refused even where the profile
    // overrides what changed; the profile itself is the recorded profile_spec.
    validateCheckpoint(plan.file, plan.checkpoint, { personas: filePersonas, products });
    restore = restoreStateOf(plan.file, plan.checkpoint, personas);
    checkStoreState(plan.file, plan.checkpoint, personas, products);
    // Said here, before anything is written: openRun truncates the answers file to the checkpoint
    // (or copies it up to there into another --checkpoint-dir). The answers are the ones beside
    // the checkpoint they belong to, wherever the resumed run writes its own checkpoints.
    const pos = plan.checkpoint.answers ?? null;
    if (records(config, true) && pos) {
      const path = answersBeside(plan.file, plan.checkpoint);
      let size = -1;
      try {
        size = statSync(path).size;
      } catch {}
      if (size < pos.bytes) {
        const what = `the recorded store answers through cycle ${pos.cycle} (${path}) are ${size < 0 ? 'missing' : `shorter than the checkpoint says (${size} of ${pos.bytes} bytes)`}`;
        // Refused unless asked: resuming would leave a run that can no longer be replayed exactly.
        if (!config.allowMissingAnswers) throw new CheckpointError(plan.file, `${what}; the run could no longer be replayed exactly (--allow-missing-answers resumes anyway)`);
        warnings.push(`warning: ${what}; recording starts again at cycle ${pos.cycle + 1} (--allow-missing-answers)`);
      }
    }
  }
  warnings.push(...prepareCheckpointDir(config.checkpointDir));
  return {
    config,
    cycles,
    runId: plan ? plan.checkpoint.simulation_state.run_id : newRunId(),
    personas,
    filePersonas,
    products,
    profile,
    resume: plan ? { file: plan.file, checkpoint: plan.checkpoint, chosen: plan.chosen } : null,
    restore,
    warnings,
    durable: true,
  };
}

export interface ReplayRequest {
  untilCycle?: number;
  /** Replay a real-store run against the mock store instead of its recorded answers. */
  mockApi?: boolean;
  personas?: string;
  products?: string;
}

/**
 * A replay: the checkpoint's run, restored and driven forward as fast as possible, writing
 * nothing, with no database. A real-store run is served its recorded answers (read from the
 * checkpoint's position in answers_<run>.jsonl) and stops where they end; a mock run, or any
 * run with `mockApi`, uses the deterministic mock store.
 */
export function prepareReplay(file: string, request: ReplayRequest = {}): RunPlan {
  const checkpoint = readCheckpoint(file);
  const recorded = fromPublicConfig(checkpoint.simulation_config, `checkpoint ${file}`);
  const config: RunConfig = {
    ...DEFAULTS,
    ...recorded,
    ...('profile' in checkpoint.simulation_config ? {} : { profile: 'seed' }),
    ...(request.personas !== undefined ? { personas: request.personas } : {}),
    ...(request.products !== undefined ? { products: request.products } : {}),
    mockApi: true,
    mockDb: true,
    fast: true,
    checkpointInterval: 0,
    breakerAction: 'wait',
  };
  let personas: Persona[];
  let filePersonas: Persona[];
  let profile: Profile;
  try {
    profile = profileOf(config, { file, checkpoint });
    filePersonas = selectAgents(loadPersonas(config.personas), config.agents, config.personas);
    personas = applyProfile(filePersonas, profile);
  } catch (err) {
    throw new ShopsimError('E_CHECKPOINT', `checkpoint ${file}: ${oneLine(err)}`, { cause: err, exitCode: 2 });
  }
  const products = loadProducts(config.products);
  validateCheckpoint(file, checkpoint, { personas: filePersonas, products });
  const fromCycle = checkpoint.simulation_state.current_cycle;
  const total = checkpoint.simulation_state.total_cycles ?? recorded.cycles ?? fromCycle;
  let until = request.untilCycle ?? total;
  if (!Number.isInteger(until) || until <= fromCycle) throw inputError(`--until-cycle ${until}: expected a cycle after the checkpoint's cycle ${fromCycle}`);
  const warnings: string[] = [];
  let answers: RecordedAnswers | null = null;
  if (checkpoint.simulation_config['mock_api'] === false) {
    if (request.mockApi) {
      warnings.push(`warning: ${file} was written against a real store; --mock-api replays it against the mock store, so its decisions (and --verify) follow the mock store's answers`);
    } else {
      const position = checkpoint.answers ?? null;
      if (!position) {
        throw new CheckpointError(file, 'the run recorded no store answers after this checkpoint (--no-record-answers, or an older shopsim), so it cannot be replayed exactly; replay it with --mock-api to use the mock store');
      }
      answers = readRecordedAnswers(file, checkpoint.simulation_state.run_id, position);
      if (answers.throughCycle <= fromCycle) {
        throw new CheckpointError(file, `no store answers were recorded after its cycle ${fromCycle} in ${answers.path}${answers.note ? ` (${answers.note})` : ''}`);
      }
      if (until > answers.throughCycle) {
        warnings.push(`the recorded store answers end at cycle ${answers.throughCycle}${answers.note ? ` (${answers.note})` : ''}: the replay stops there, not at cycle ${until}`);
        until = answers.throughCycle;
      }
    }
  }
  return {
    answers,
    config,
    cycles: until,
    runId: checkpoint.simulation_state.run_id,
    personas,
    filePersonas,
    products,
    profile,
    resume: { file, checkpoint },
    restore: restoreStateOf(file, checkpoint, personas),
    warnings,
    durable: false,
  };
}

export interface SimulateOptions {
  /** What the run does when its breaker opens (a terminal waits for the user). */
  breakerAction: 'exit' | 'wait';
  inspect?: (event: InspectionEvent) => void;
  /** A failure to record the end of the run (the run itself is over): reported, not fatal. */
  onEndRunError?: (err: unknown) => void;
  /** Adds to the summary before it is recorded (the CLI: threshold results, the final occupancy). */
  completeSummary?: (summary: RunSummary) => RunSummary;
  /** How the cohorts run (src/scale/executor.ts); in-process when absent. A remote one's mock-store slices go into the checkpoints. */
  executor?: CohortExecutor & { mockStoreState?: (coordinator: MockStoreState) => MockStoreState };
  /** The per-worker rows of a distributed run (the threads' come from the thread executor): in the stats' metrics as `workers`. */
  workerTable?: () => WorkerTable;
  /** A distributed run's worker-side store clients: their figures join this process's in the summary. */
  workerHttpMetrics?: () => HttpMetrics[];
  /** A distributed run's worker pools writing to the run's database directly: their write figures join this process's (`db_writes`). */
  workerDbWrites?: () => DbWriteMetrics[];
}

export interface SimulatedRun {
  sim: Simulation;
  /** Records the run's start, runs it, records its end; the summary names the store and database. */
  execute(): Promise<RunSummary>;
}

/** `metrics` with the write figures of worker pools writing to the database themselves added to `db_writes`. */
function withDbWritesOf(metrics: () => Record<string, unknown>, workers: () => DbWriteMetrics[]): () => Record<string, unknown> {
  return () => {
    const own = metrics();
    const parts = [own['db_writes'] as DbWriteMetrics | undefined, ...workers()].filter((p): p is DbWriteMetrics => p !== undefined);
    return parts.length > 0 ? { ...own, db_writes: sumDbWrites(parts) } : own;
  };
}

/** Write figures of several recorders: counts added; commit latency percentiles the highest (an upper bound), the mean weighted. */
function sumDbWrites(parts: DbWriteMetrics[]): DbWriteMetrics {
  const n = (k: 'commits' | 'failed' | 'statements' | 'events' | 'retried' | 'in_doubt' | 'in_doubt_removed') => parts.reduce((a, p) => a + p[k], 0);
  const count = parts.reduce((a, p) => a + p.commit_ms.count, 0);
  const max = (k: 'p50' | 'p95' | 'p99' | 'max') => Math.max(...parts.map((p) => p.commit_ms[k]));
  return {
    commits: n('commits'), failed: n('failed'), statements: n('statements'), events: n('events'), retried: n('retried'), in_doubt: n('in_doubt'), in_doubt_removed: n('in_doubt_removed'),
    commit_ms: { p50: max('p50'), p95: max('p95'), p99: max('p99'), max: max('max'), mean: count > 0 ? parts.reduce((a, p) => a + p.commit_ms.mean * p.commit_ms.count, 0) / count : 0, count },
  };
}

export interface OpenedRun {
  plan: RunPlan;
  backends: Backends;
  /** The store the agents call: the backends' store, wrapped to record or serving recorded answers. */
  store: StoreApi;
  /** A replay served recorded answers: its store, which reports divergences per cycle. */
  replayStore: ReplayStore | null;
  /** The run's recorded answers, when it records them. */
  answersWriter: AnswersWriter | null;
  /** Lines to tell the user before the run starts (what a resume did to the user's store). */
  notices: string[];
  /** With --workers N: the worker threads the cohorts run on (null: in this thread). */
  executor: ThreadExecutor | null;
  simulate(options: SimulateOptions): SimulatedRun;
  close(): Promise<void>;
}

export interface OpenRunOptions {
  /** Put around the store the agents call (outermost), e.g. to watch one agent's calls. */
  wrapStore?: (store: StoreApi) => StoreApi;
  wrapRecorder?: (recorder: Recorder) => Recorder;
}

/** The mock store as a checkpoint sees it: with the carts and coupons of cohorts held elsewhere. */
function remoteCheckpointMockStore(store: MockStore | null, executor: SimulateOptions['executor']): MockStore | null {
  const remote = executor?.mockStoreState;
  if (!store || !remote) return store;
  return { ...store, exportState: () => remote(store.exportState()) };
}

/** Opens the run's store and database, and restores the edges' state a checkpoint carries. */
export async function openRun(plan: RunPlan, options: OpenRunOptions = {}): Promise<OpenedRun> {
  // The heavy modules (the database driver and PGlite, fastify, undici, XState and the machines)
  // load here, after the plan is made: `run` prints its banner, and bad input its one line, first.
  const [{ preflightRun }, { openBackends }, { createSimulation }, { createCheckpointer }, { createAnswersWriter }, { createRecordingStore }] = await Promise.all([
    import('./preflight.ts'),
    import('./open-backends.ts'),
    import('../simulation/create-simulation.ts'),
    import('../checkpoint/save.ts'),
    import('../store/answers-writer.ts'),
    import('../store/recording-store.ts'),
  ]);
  // Before anything is written: the user's store answers; a resume's database is the run's.
  await preflightRun(plan);
  // Cart changes carry a key per call (the run and this process): a store that keeps keyed answers
  // applies a call that a lost worker's re-run sends again only once (docs/store-api.md).
  const callKeyPrefix = `${plan.runId}:${randomBytes(4).toString('hex')}`;
  const backends = await openBackends(plan.config, plan.personas, plan.products, { callKeyPrefix });
  const mockState = plan.resume?.checkpoint.mock_store_state;
  if (mockState && backends.mockStore) backends.mockStore.importState(mockState);
  const { config, cycles, runId, personas, products } = plan;
  const notices: string[] = [];
  // The bundled store in this process's memory (--mock-db): every checkpoint carries its whole
  // state, and a resume puts it back before the first re-run cycle (nothing has called it yet),
  // so the re-run cycles get the answers the uninterrupted run got.
  const memoryStore = !config.mockApi && config.apiUrl === null && !plan.answers ? backends.memoryStore : null;
  if (plan.resume && memoryStore) {
    const kept = plan.resume.checkpoint.store_state;
    if (kept?.memory) {
      const { planOffers } = await import('../model/offers.ts');
      memoryStore.importState({ ...kept, memory: kept.memory }, (request) => planOffers(config.seed, request), personas.map((p) => p.id));
    } else {
      notices.push(`warning: ${plan.resume.file} carries no state of the in-memory store (written before checkpoints had it): the store starts from the catalog, so the re-run cycles see fresh stock, no orders and empty carts, and the digest can differ from the uninterrupted run's`);
    }
  }
  // A resume against the user's store (its tables are out of reach): the killed run's carts are
  // emptied through the store API before the first re-run cycle (src/run/resume-store.ts).
  if (plan.resume && config.apiUrl && !config.mockApi && !plan.answers) {
    const at = plan.resume.checkpoint.simulation_state;
    const cleared = await clearCartsThroughStore(backends.store, personas, at.current_cycle, at.simulated_datetime, config.connections);
    notices.push(clearedCartsLine(cleared, personas.length, at.current_cycle));
  }
  // The profile is recorded whole, so a resume or replay keeps its targets and `report` shows them; the
  // database's identity goes into the checkpoints: a resume checks it (src/run/preflight.ts).
  const recorded = { ...publicConfig(config, cycles), profile_spec: plan.profile, ...(backends.db ? { database_id: backends.db.databaseId } : {}) };
  let store: StoreApi = backends.store;
  let replayStore: ReplayStore | null = null;
  let writer: AnswersWriter | null = null;
  try {
    if (plan.answers) {
      replayStore = createReplayStore(plan.answers, { agentIds: personas.map((p) => p.id), products });
      store = replayStore;
      backends.describe.store = `recorded answers (${plan.answers.path})`;
    } else if (records(config, plan.durable)) {
      const ck = plan.resume?.checkpoint;
      writer = createAnswersWriter({
        dir: config.checkpointDir,
        runId,
        agents: personas.length,
        resume: ck && plan.resume ? { cycle: ck.simulation_state.current_cycle, position: ck.answers ?? null, from: answersBeside(plan.resume.file, ck) } : null,
      });
      store = createRecordingStore(backends.store, writer);
    }
  } catch (err) {
    await backends.close();
    throw new ShopsimError('E_INPUT', `cannot open the recorded store answers in ${config.checkpointDir}: ${oneLine(err)}`, { cause: err, exitCode: 2 });
  }
  const answersWriter = writer;
  // A real store's HTTP figures of clients elsewhere (worker threads, distributed workers) are merged with this process's.
  const mergeHttpMetricsOf: (parts: HttpMetrics[]) => HttpMetrics | null = backends.storeUrl !== null ? (await import('../scale/thread-executor.ts')).mergeHttpMetrics : () => null;
  // The bundled store on the run's database: its carts, stock and offer cycle go into every
  // checkpoint and a resume puts them back (an abandoned session keeps its cart; the resume's
  // clean-up empties every cart; a killed run may have gone past a restock and a new offer cycle).
  const storePool = !config.mockApi && config.apiUrl === null && backends.db && !plan.answers ? backends.db.pool : null;
  const agentIds = personas.map((p) => p.id);
  const storeState = storePool
    ? async () => {
        const { exportStoreState } = await import('../db/store-repository.ts');
        return exportStoreState(storePool, agentIds);
      }
    : memoryStore
      ? async () => memoryStore.exportState()
      : undefined;
  if (options.wrapStore) store = options.wrapStore(store);
  const recorder = options.wrapRecorder ? options.wrapRecorder(backends.recorder) : backends.recorder;
  // --workers N (a run, not a replay): the cohorts on worker threads, each with its own store
  // client; their sessions are written by this thread's recorder (one connection for PGlite).
  let executor: ThreadExecutor | null = null;
  if (config.workers > 0 && plan.durable && !plan.answers) {
    const { startThreadExecutor } = await import('../scale/thread-executor.ts');
    executor = startThreadExecutor({
      workers: config.workers,
      keepSnapshots: true,
      recorder: config.mockDb ? null : recorder,
      answers: answersWriter,
      store: backends.storeUrl === null
        ? { kind: 'mock', seed: config.seed, products, agentIds: personas.map((p) => p.id), failRate: config.mockFailRate, state: plan.resume?.checkpoint.mock_store_state ?? null }
        : {
            kind: 'http', baseUrl: backends.storeUrl, connections: Math.max(1, Math.ceil(config.connections / config.workers)), requestTimeoutMs: config.requestTimeout * 1000,
            // --rate-limit is the run's total: every worker's client takes its releases from the
            // one schedule this process's client paces on (src/store/rate-limiter.ts, `shared`).
            rateLimit: config.rateLimit, burst: config.burst, products, limiterState: backends.limiterState, callKeyPrefix,
          },
      // PostgreSQL: each worker writes its cohorts' sessions through its own pool (the embedded PGlite: through this thread).
      ...(config.databaseUrl && !config.mockDb ? { directDb: { databaseUrl: config.databaseUrl, poolSize: config.workerDbPool, writeTimeoutMs: config.dbWriteTimeout * 1000, groupCommit: config.dbGroupCommit } } : {}),
    });
  }
  const threads = executor;
  try {
    await threads?.ready();
  } catch (err) {
    await threads?.close?.();
    await backends.close();
    throw err;
  }
  // The HTTP figures are every store client's: this thread's (offer cycles) and each worker's.
  let metrics = backends.metrics;
  if (threads && backends.storeUrl !== null && backends.metrics) {
    const { mergeHttpMetrics } = await import('../scale/thread-executor.ts');
    const base = backends.metrics;
    metrics = () => {
      const own = base();
      return { ...own, ...(mergeHttpMetrics([own as unknown as HttpMetrics, ...threads.workerHttpMetrics()]) ?? {}) };
    };
  }
  // Worker threads writing to PostgreSQL themselves: their write figures join this thread's recorder's (summary db_writes).
  if (threads && config.databaseUrl && !config.mockDb && metrics) metrics = withDbWritesOf(metrics, () => threads.workerDbWrites());
  // A checkpoint's mock-store state is the workers' (carts, coupons, calls) with this thread's offer cycle.
  const checkpointMockStore: MockStore | null =
    backends.mockStore && threads ? ({ ...backends.mockStore, exportState: () => threads.mockStoreState((backends.mockStore as MockStore).exportState()) } as MockStore) : backends.mockStore;
  return {
    plan,
    backends,
    store,
    replayStore,
    answersWriter,
    notices,
    executor,
    close: async () => {
      await threads?.close?.();
      answersWriter?.close();
      await backends.close();
    },
    simulate(options) {
      let runMetrics = metrics;
      const remoteHttp = options.workerHttpMetrics;
      if (remoteHttp && backends.storeUrl !== null && metrics) {
        const base = metrics;
        runMetrics = () => {
          const own = base();
          return { ...own, ...(mergeHttpMetricsOf([own as unknown as HttpMetrics, ...remoteHttp()]) ?? {}) };
        };
      }
      const remoteDb = options.workerDbWrites;
      if (remoteDb && config.databaseUrl && !config.mockDb && runMetrics) runMetrics = withDbWritesOf(runMetrics, remoteDb);
      // The per-worker rows (dashboard, web page, /metrics) ride in the stats' metrics as `workers`.
      const workerTable = options.workerTable ?? (threads ? () => threads.workerTable() : null);
      const withWorkers = workerTable ? () => ({ ...(runMetrics?.() ?? {}), workers: workerTable() }) : runMetrics;
      const sim = createSimulation(simulationConfigOf(config, { cycles, runId, breakerAction: options.breakerAction }), {
        personas,
        products,
        store,
        recorder,
        ...(withWorkers ? { metrics: withWorkers } : {}),
        ...(options.inspect ? { inspect: options.inspect } : {}),
        ...(plan.restore ? { restore: plan.restore } : {}),
        ...(threads ? { executor: threads } : {}),
        // A distributed run's executor (src/scale/distributed-run.ts; never with --workers).
        ...(options.executor ? { executor: options.executor } : {}),
        ...(plan.durable
          ? {
              checkpointer: createCheckpointer({
                dir: config.checkpointDir,
                keep: config.keepCheckpoints,
                publicConfig: recorded,
                personas: plan.filePersonas,
                products,
                mockStore: options.executor ? remoteCheckpointMockStore(backends.mockStore, options.executor) : checkpointMockStore,
                ...(answersWriter ? { answers: () => answersWriter.position() } : {}),
                ...(storeState ? { storeState } : {}),
                isReplay: plan.resume !== null,
                resumedFrom: plan.resume?.file ?? null,
              }),
            }
          : {}),
      });
      // First listener of every cycle: the cycle's answers are on disk before anything else
      // (the interval checkpoint, which records their position) sees the cycle.
      if (answersWriter) sim.events.on('cycle', (r) => answersWriter.sealCycle(r.cycle));
      return {
        sim,
        async execute() {
          await recorder.beginRun({
            runId,
            seed: config.seed,
            config: recorded,
            isReplay: plan.resume !== null,
            resumedFrom: plan.resume?.file ?? null,
            startedAt: new Date().toISOString(),
            personas,
            products,
          });
          if (plan.resume) {
            await recorder.prepareResume(runId, plan.resume.checkpoint.simulation_state.current_cycle);
            const kept = plan.resume.checkpoint.store_state;
            if (storePool && kept) {
              const { restoreStoreState } = await import('../db/store-repository.ts');
              await restoreStoreState(storePool, agentIds, kept);
            }
          }
          // The run's status beside its checkpoints (src/run/run-status.ts): "running" once it has
          // checkpoints (a resume has), its exit reason at the end.
          const statusDir = config.checkpointDir;
          let statusWritten = false;
          const writeStatus = (status: RunStatusValue, done: number) => {
            if (!plan.durable) return;
            try {
              writeRunStatus(statusDir, { run_id: runId, status, cycles_completed: done, total_cycles: cycles, updated_at: new Date().toISOString() });
              statusWritten = true;
            } catch (err) {
              options.onEndRunError?.(err);
            }
          };
          if (plan.resume) writeStatus('running', plan.resume.checkpoint.simulation_state.current_cycle);
          const onCheckpoint = (e: { cycle: number }) => {
            if (!statusWritten) writeStatus('running', e.cycle);
          };
          sim.events.on('checkpoint', onCheckpoint);
          let summary: RunSummary;
          try {
            summary = await sim.run();
          } catch (err) {
            if (statusWritten || readRunStatus(statusDir, runId)) writeStatus('error', sim.stats().cyclesCompleted);
            throw err;
          } finally {
            sim.events.off('checkpoint', onCheckpoint);
          }
          if (statusWritten || summary.last_checkpoint) writeStatus(summary.exit_reason, summary.cycles_completed);
          // The money figures' unit, in --json and in the stored summary (shopsim report shows it).
          summary['currency'] = plan.config.currency;
          if (options.completeSummary) summary = options.completeSummary(summary);
          try {
            await recorder.endRun(runId, summary);
          } catch (err) {
            // The run itself is over and its checkpoint written; a database that went away only
            // loses the run row's end time and summary (written again by a resumed run).
            options.onEndRunError?.(err);
          }
          if (threads) {
            // The monitoring's rows at the end, rates over the whole run; the executor's own counts as before.
            const table = threads.workerTable();
            const rows = new Map(table.rows.map((r) => [r.id, r]));
            summary['workers'] = threads.workerStats().map((w) => ({ ...runRates(rows.get(String(w.index)), summary.real_elapsed_seconds), index: w.index, alive: w.alive, cohorts: w.cohorts, agent_cycles: w.agentCycles, exit_code: w.exitCode }));
            summary['workers_total'] = runRates(table.totals, summary.real_elapsed_seconds);
          }
          summary['store'] = backends.describe.store;
          summary['database'] = backends.describe.database;
          if (answersWriter) {
            answersWriter.position(); // fsync: the completed run's answers are on disk
            const w = answersWriter.written();
            summary['recorded_answers'] = {
              file: answersWriter.path,
              answers: w.answers,
              bytes: w.bytes,
              bytes_per_answer: w.answers > 0 ? Math.round((w.bytes / w.answers) * 10) / 10 : 0,
              write_seconds: Math.round(w.sealSeconds * 1000) / 1000,
              problem: answersWriter.problem(),
            };
          }
          return summary;
        },
      };
    },
  };
}
