/**
 * The distributed transport: cohort cycles run by `shopsim worker` processes on any number of
 * machines, through BullMQ on Redis (docs/scaling.md).
 *
 *  - Per (run, cycle) one FlowProducer flow: a parent job `run:cycle:barrier` on the barrier
 *    queue with one child per slot (a worker thread's own queue, or the shared one), holding the
 *    ordered list of the cohorts given to that slot (at most `cohortsPerJob`: a slot with more has
 *    several), job id `run:cycle:<first cohort>` (a flow added twice — a coordinator retrying
 *    after a lost answer — is de-duplicated by the ids). The parent is the durable barrier: it
 *    becomes processable only when every child has completed; the coordinator's barrier worker
 *    takes it and reads the results back, cohort by cohort.
 *  - Jobs carry references, not blobs: the cohort's snapshot before the cycle is the Redis key
 *    `…:snap:run:cohort:cycle-1`; the worker writes the snapshot after it under
 *    `…:snap:run:cohort:cycle` and the report (totals and event-log entries) under
 *    `…:result:run:cycle:cohort`. Inputs are never overwritten within a cycle, so a cohort run
 *    twice (a stalled job re-run, a retry) computes the same outputs from the same input.
 *  - A job runs its cohorts one after another on one thread and writes each cohort's outputs as
 *    soon as it is done; a job run again (retried, taken over) runs all of them again from the
 *    same inputs, with the same outputs.
 *  - A child that fails is retried (attempts, fixed backoff); after the last attempt it fails
 *    its parent (failParentOnFailure), which the coordinator sees as a clear run failure rather
 *    than a parent waiting for its children forever.
 *  - Workers run cohorts in worker threads (./thread-pool.ts) so a CPU-bound cycle never starves
 *    the lock renewal; a worker that dies (SIGKILL, a lost machine) stops renewing, its job's
 *    lock expires (lockDuration) and another worker's stalled check (stalledInterval) puts the
 *    job back to wait, to be run again from the same input snapshot.
 *  - Join: the coordinator publishes the run (`…:run-current`, `…:run:<id>`: version, data
 *    fingerprint, queues); a worker whose version or data differ refuses itself with one line.
 *    A joined worker beats every heartbeat interval (a key with a TTL of two intervals, in Redis
 *    time); the coordinator checks four times per interval and sees a lost worker within one
 *    interval of its first missed beat.
 */
import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import { FlowProducer, Job, Queue, Worker } from 'bullmq';
import { Redis, type RedisOptions } from 'ioredis';
import { inputError, oneLine, ShopsimError } from '../errors.ts';
import { redactUrl } from '../url.ts';
import { createThreadPool, runningStatesOf, type RunningStates, type ThreadOutput, type ThreadPool, type ThreadWork } from './thread-pool.ts';

export interface RedisTarget {
  host: string;
  port: number;
  username?: string;
  password?: string;
  db?: number;
  tls?: Record<string, never>;
}

/** redis://[user:pass@]host[:port][/db] or rediss://…; anything else is one line, exit 2. */
export function parseRedisUrl(url: string, flag = '--redis'): RedisTarget {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw inputError(`${flag}: expected a redis:// URL such as redis://127.0.0.1:6379, got ${JSON.stringify(redactUrl(url))}`);
  }
  if (u.protocol !== 'redis:' && u.protocol !== 'rediss:') throw inputError(`${flag}: expected a redis:// or rediss:// URL, got protocol ${u.protocol}`);
  const db = u.pathname && u.pathname !== '/' ? Number(u.pathname.slice(1)) : undefined;
  if (db !== undefined && (!Number.isInteger(db) || db < 0)) throw inputError(`${flag}: expected a database number after the host (redis://host:6379/0), got ${JSON.stringify(u.pathname)}`);
  return {
    host: u.hostname || '127.0.0.1',
    port: u.port ? Number(u.port) : 6379,
    ...(u.username ? { username: decodeURIComponent(u.username) } : {}),
    ...(u.password ? { password: decodeURIComponent(u.password) } : {}),
    ...(db !== undefined ? { db } : {}),
    ...(u.protocol === 'rediss:' ? { tls: {} } : {}),
  };
}

/** Who a process is, for the join handshake: both sides must agree on all of it. */
export interface Identity {
  /** shopsim's version. */
  version: string;
  /** sha256 over the persona and product data (src/scale/fingerprint.ts). */
  fingerprint: string;
  /** The machine's host name (default os.hostname(); tests set it). */
  host?: string;
}

export interface TransportTiming {
  /** Worker heartbeat interval, ms (default 1000). */
  heartbeatMs?: number;
  /** BullMQ lock duration of a cohort job, ms (default 10000); a dead worker's job is taken over after about this long. */
  lockDurationMs?: number;
  /** How often workers look for stalled jobs, ms (default 5000). */
  stalledIntervalMs?: number;
}

const DEFAULT_TIMING = { heartbeatMs: 1000, lockDurationMs: 10_000, stalledIntervalMs: 5000 } as const;

/**
 * Jobs a slot queue's Worker holds at once: the one its thread runs and the next one, prefetched
 * (a slot has more than one job in a cycle only past DEFAULT_COHORTS_PER_JOB cohorts; within a
 * job the next cohort is handed to the thread while one runs; with one job per cohort this was 4:
 * 137–160 ms per cycle against 198–214 ms with 2 at 200 cohorts). BullMQ renews a job's lock by
 * job id: after an outage longer than the lock, spare concurrency lets a worker fetch a stalled job
 * again while its stale attempt still waits for the thread, and that attempt's end stopped the
 * renewal of the new one (which then stalled until it failed: the Redis-restart test of
 * test/scale/bullmq-transport.test.ts, with 4); each attempt therefore also renews its own lock
 * with its own token while it is in flight (processJob).
 */
const SLOT_PREFETCH = 2;

/**
 * Cohorts per job, at most (the default of CoordinatorOptions.cohortsPerJob). A job costs about
 * the same whatever it holds (~50 Redis calls and ~6 ms of a worker's main thread, measured with
 * one cohort a job: BullMQ's fetch, lock, completion and flow bookkeeping), so a slot's cohorts go
 * in as few jobs as this allows. The cap bounds what one job is: its time on a thread (32 cohorts
 * of 500 shoppers: ~0.5–1 s of shopping), what a job run again after a lost worker or a failure
 * runs twice, and its data (~10 bytes a cohort). A run of 1,000,000 agents in 2,000 cohorts on
 * 8 threads: 250 cohorts a slot, 8 jobs a slot per cycle.
 */
export const DEFAULT_COHORTS_PER_JOB = 32;

/** BullMQ forbids ':' in queue names' keys and allows only `a:b:c` job ids: a run id is made safe for both. */
function safe(id: string): string {
  return id.replace(/[^\w.-]/g, '_');
}

export function transportKeys(prefix: string, runId: string) {
  const run = safe(runId);
  return {
    current: `${prefix}:run-current`,
    /** The live coordinator's run id, with a TTL it keeps renewing (a second run on the same prefix is refused). */
    coordinator: `${prefix}:coordinator`,
    run: `${prefix}:run:${run}`,
    workers: `${prefix}:workers:${run}`,
    worker: (id: string) => `${prefix}:worker:${run}:${id}`,
    snapshot: (cohort: number, cycle: number) => `${prefix}:snap:${run}:${cohort}:${cycle}`,
    /** A cohort's immutable base for the run (what its per-cycle snapshots may be put over). */
    base: (cohort: number) => `${prefix}:base:${run}:${cohort}`,
    result: (cycle: number, cohort: number) => `${prefix}:result:${run}:${cycle}:${cohort}`,
    /** The shared queue every worker consumes: the fallback when no worker publishes slot queues. */
    cohortsQueue: `cohorts-${run}`,
    /** A worker thread's own queue (cohort affinity): only that thread takes its jobs, unless its worker is lost. */
    slotQueue: (workerId: string, slot: number) => `cohorts-${run}-${safe(workerId)}-${slot}`,
    /** Set: every slot queue a worker published in the run (cleared at start and close). */
    queues: `${prefix}:queues:${run}`,
    /** Set: slot queues of lost or departed workers, consumed by every live worker until the next cycle starts. */
    orphans: `${prefix}:orphans:${run}`,
    barrierQueue: `barrier-${run}`,
    /** The id of the cycle's job whose first cohort is `cohort` (a job holds one slot's cohorts, in cohort order). */
    childId: (cycle: number, cohort: number) => `${run}:${cycle}:${cohort}`,
    parentId: (cycle: number) => `${run}:${cycle}:barrier`,
  };
}

/**
 * The data of one job: the cohorts of one slot for one cycle, in cohort order — numbers and small
 * inputs only, no state (asserted in the tests). Each cohort's keys follow from the run, the cycle
 * and its number (transportKeys): its state in `snapshot(cohort, cycle - 1)`, its base
 * `base(cohort)`; the job writes `snapshot(cohort, cycle)` and `result(cycle, cohort)`.
 */
export interface CohortJobData {
  runId: string;
  cycle: number;
  /** The cohorts, in cohort order. */
  cohorts: number[];
  /** What the cycle needs besides the state (the RUN_CYCLE event): small JSON, the same for every cohort of the job … */
  input: unknown;
  /** … except these (cohort → its own input), when one differs (a window set for it). */
  inputs?: Record<string, unknown>;
}

/** The cohorts of one job with their inputs (a cohort's own, else the job's). */
function jobCohorts(jd: CohortJobData): { cohort: number; input: unknown }[] {
  return jd.cohorts.map((cohort) => ({ cohort, input: jd.inputs && String(cohort) in jd.inputs ? jd.inputs[String(cohort)] : jd.input }));
}

/** The job data of cohorts (in cohort order): the first one's input shared, the others' given only where they differ. */
function jobData(runId: string, cycle: number, work: CycleWork[]): CohortJobData {
  const shared = JSON.stringify(work[0]?.input ?? null);
  const inputs: Record<string, unknown> = {};
  let differ = false;
  for (const w of work) {
    if (JSON.stringify(w.input ?? null) === shared) continue;
    inputs[String(w.cohort)] = w.input;
    differ = true;
  }
  return { runId, cycle, cohorts: work.map((w) => w.cohort), input: work[0]?.input ?? null, ...(differ ? { inputs } : {}) };
}

/** A worker as the coordinator sees it (its heartbeat record). */
export interface WorkerInfo {
  id: string;
  host: string;
  pid: number;
  version: string;
  fingerprint: string;
  runId: string;
  concurrency: number;
  /** Cohorts of the jobs running now not done yet, and cohort cycles done so far. */
  active: number;
  done: number;
  /** Agent-cycles and store calls of the cohort jobs it completed (cumulative; absent from an older worker). */
  agentCycles?: number;
  requests?: number;
  rssBytes: number;
  /** The process's CPU time so far (user + system, all its threads), µs (absent from an older worker). */
  cpuUs?: number;
  /** The worker's clock at the beat (informative only: loss is judged by the key's TTL, in Redis time). */
  beatAt: string;
  /** Its last beat: it was stopped (SIGINT/SIGTERM) and finished its jobs. */
  left?: boolean;
  /** Its threads' own queues, slot by slot (absent: an older worker; it takes the shared queue's jobs only). */
  slots?: string[];
  /** The shoppers by state of the cohorts its threads run now, by cohort id (their last beats; the web map). */
  running?: RunningStates;
}

export type CoordinatorEvent =
  | { type: 'worker-joined'; worker: WorkerInfo }
  | { type: 'worker-lost'; worker: WorkerInfo }
  | { type: 'worker-left'; worker: WorkerInfo }
  | { type: 'worker-ignored'; worker: WorkerInfo; why: string }
  | { type: 'no-workers'; cycle: number }
  | { type: 'redis-down'; cycle: number; message: string }
  | { type: 'redis-back'; cycle: number; downSeconds: number }
  | { type: 'cohort-retried'; cycle: number; cohort: number; attempt: number; reason: string };

/** One line for a coordinator event (what `shopsim run` prints). */
export function coordinatorEventLine(e: CoordinatorEvent, url: string): string {
  const w = (x: WorkerInfo) => `${x.id} (${x.host}, pid ${x.pid})`;
  switch (e.type) {
    case 'worker-joined':
      return `worker ${w(e.worker)} joined (concurrency ${e.worker.concurrency})`;
    case 'worker-lost':
      return `worker ${w(e.worker)} lost: no heartbeat; its cohort jobs are taken over by the other workers when their locks expire`;
    case 'worker-left':
      return `worker ${w(e.worker)} left (stopped after finishing its jobs)`;
    case 'worker-ignored':
      return `worker ${w(e.worker)} not counted: ${e.why}`;
    case 'no-workers':
      return `no worker left: cycle ${e.cycle} waits for one to join (shopsim worker --redis ${redactUrl(url)})`;
    case 'redis-down':
      return `Redis at ${redactUrl(url)} does not answer (${e.message}); the run is paused in cycle ${e.cycle} until it is back`;
    case 'redis-back':
      return `Redis at ${redactUrl(url)} is back after ${e.downSeconds.toFixed(1)} s; the run continues with cycle ${e.cycle}`;
    case 'cohort-retried':
      return `cohort ${e.cohort} of cycle ${e.cycle} failed (attempt ${e.attempt}: ${e.reason}); retrying`;
  }
}

/** A run-time fault of the transport the run stops on (exit 1), with the message to print. */
export class TransportError extends ShopsimError {
  constructor(message: string, options: { cause?: unknown; exitCode?: number } = {}) {
    super('E_INPUT', message, { cause: options.cause, exitCode: options.exitCode ?? 1 });
    this.name = 'TransportError';
  }
}

function redisOptions(target: RedisTarget, extra: RedisOptions = {}): RedisOptions {
  return { ...target, connectTimeout: 3000, ...extra } as RedisOptions;
}

/** Answers within the timeout or throws one line, exit 2 (Redis unreachable at start). */
export async function probeRedis(url: string, timeoutMs = 3000): Promise<void> {
  const target = parseRedisUrl(url);
  const r = new Redis(redisOptions(target, { lazyConnect: true, retryStrategy: () => null, maxRetriesPerRequest: 0, enableOfflineQueue: false, connectTimeout: timeoutMs }));
  let cause: unknown = null;
  r.on('error', (err) => {
    cause ??= err;
  });
  try {
    await r.connect();
    const pong = await r.ping();
    if (pong !== 'PONG') throw new Error(`PING answered ${JSON.stringify(pong)}`);
  } catch (caught) {
    const err = cause ?? caught;
    const code = (err as NodeJS.ErrnoException).code;
    throw inputError(`--redis ${redactUrl(url)}: Redis does not answer (${code ?? oneLine(err)}); nothing was written`, err);
  } finally {
    r.disconnect();
  }
}

async function deleteMatching(redis: Redis, pattern: string): Promise<void> {
  const stream = redis.scanStream({ match: pattern, count: 500 });
  for await (const batch of stream as AsyncIterable<string[]>) if (batch.length) await redis.del(...batch);
}

/** A client for the transport's own commands: fails fast while Redis is away instead of queueing. */
async function commandClient(target: RedisTarget): Promise<Redis> {
  const r = new Redis(redisOptions(target, { lazyConnect: true, maxRetriesPerRequest: 1, enableOfflineQueue: false, retryStrategy: (n) => Math.min(200 * n, 1000) }));
  r.on('error', () => {});
  await r.connect();
  return r;
}

/** BullMQ's own connections: blocking commands need maxRetriesPerRequest null; errors are handled by the transport's checks. */
function bullConnection(target: RedisTarget) {
  return { ...target, maxRetriesPerRequest: null, connectTimeout: 3000, retryStrategy: (n: number) => Math.min(200 * n, 1000) };
}

export interface CoordinatorOptions extends TransportTiming {
  url: string;
  /** Key prefix of everything the transport writes (default "shopsim"). */
  prefix?: string;
  runId: string;
  identity: Identity;
  /** Run-wide settings the workers' processors need (the public config): small JSON. */
  runConfig?: unknown;
  /**
   * What of this run only the coordinator's machine can reach (its loopback: the bundled store
   * in its process, the commit relay of the embedded database), or null: a worker on another
   * host is refused at join, naming it.
   */
  loopbackOnly?: string | null;
  /** Tries of a job before its cycle fails the run (default 3). */
  attempts?: number;
  /** Cohorts a job holds at most (default DEFAULT_COHORTS_PER_JOB): a slot given more has several jobs per cycle. */
  cohortsPerJob?: number;
  /** How long Redis may be away before the run stops (default 300 s). */
  redisDownLimitMs?: number;
  onEvent?: (e: CoordinatorEvent) => void;
}

export interface CycleWork {
  cohort: number;
  input: unknown;
}

/** One job of a cycle: the cohorts of one slot (or of the shared queue), in cohort order. */
export interface CycleJob {
  queue: string;
  id: string;
  cohorts: number[];
}

export interface Coordinator {
  readonly runId: string;
  /** Stores a cohort's snapshot as of the end of `cycle` (0 = the start), the input of cycle + 1. */
  putSnapshot(cohort: number, cycle: number, snapshot: string): Promise<void>;
  getSnapshot(cohort: number, cycle: number): Promise<string | null>;
  /** A cohort's base for the run: written once, read by the worker with every snapshot (absent: null). */
  putBase(cohort: number, base: string): Promise<void>;
  getBase(cohort: number): Promise<string | null>;
  /** Runs one cycle of every cohort given; the results in cohort order (never completion order). */
  runCycle(cycle: number, work: CycleWork[]): Promise<unknown[]>;
  /** Waits until `count` workers have joined; `onWaiting` is told the count now and then. */
  waitForWorkers(count: number, timeoutMs: number, onWaiting?: (have: number) => void): Promise<WorkerInfo[]>;
  workers(): WorkerInfo[];
  /** The workers' heartbeat interval, ms. */
  readonly heartbeatMs: number;
  /** Every worker seen in the run (lost ones too) with the cohort cycles it completed (`jobs`), counted at the barriers. */
  workerTally(): { worker: WorkerInfo; lost: boolean; jobs: number }[];
  /** The queue each cohort's job of the last cycle went to (a worker thread's slot queue, or the shared queue). */
  assignments(): ReadonlyMap<number, string>;
  /** The jobs of the last cycle: each one's queue, job id and cohorts (in cohort order). */
  jobs(): readonly CycleJob[];
  /** Marks the run done (workers go back to waiting for a run), removes its queues and keys, closes. */
  close(options?: { keepData?: boolean }): Promise<void>;
}

export async function openCoordinator(options: CoordinatorOptions): Promise<Coordinator> {
  const timing = { ...DEFAULT_TIMING, ...options };
  const prefix = options.prefix ?? 'shopsim';
  const target = parseRedisUrl(options.url);
  await probeRedis(options.url);
  const keys = transportKeys(prefix, options.runId);
  const redis = await commandClient(target);
  const connection = bullConnection(target);
  const attempts = options.attempts ?? 3;
  const perJob = Math.max(1, Math.floor(options.cohortsPerJob ?? DEFAULT_COHORTS_PER_JOB));
  const downLimit = options.redisDownLimitMs ?? 300_000;
  const emit = (e: CoordinatorEvent) => options.onEvent?.(e);

  // One run at a time per prefix: another live coordinator (its key renewed within the last
  // seconds) is a refusal, before anything of this run is written.
  const live = await redis.get(keys.coordinator);
  if (live !== null && live !== options.runId) {
    redis.disconnect();
    throw inputError(`--redis ${redactUrl(options.url)}: run ${live} is running there with the key prefix ${prefix} (one run at a time per prefix: give this one another --redis-prefix); nothing was written`);
  }
  const coordinatorTtl = Math.max(3000, 3 * timing.heartbeatMs);
  await redis.set(keys.coordinator, options.runId, 'PX', coordinatorTtl);
  const flows = new FlowProducer({ connection, prefix });
  const cohortsQueue = new Queue(keys.cohortsQueue, { connection, prefix });
  const barrierQueue = new Queue(keys.barrierQueue, { connection, prefix });
  flows.on('error', () => {});
  cohortsQueue.on('error', () => {});
  barrierQueue.on('error', () => {});
  // The slot queues' handles (a failed child's reason, obliterate), on one shared connection.
  const slotConnection = new Redis(connection);
  slotConnection.on('error', () => {});
  const slotQueues = new Map<string, Queue>();
  const queueNamed = (name: string): Queue => {
    if (name === keys.cohortsQueue) return cohortsQueue;
    let q = slotQueues.get(name);
    if (!q) {
      q = new Queue(name, { connection: slotConnection, prefix });
      q.on('error', () => {});
      slotQueues.set(name, q);
    }
    return q;
  };
  /** Removes the run's slot queues (those the workers published), their jobs and their keys. */
  const obliterateSlotQueues = async () => {
    const names = await redis.smembers(keys.queues);
    for (const name of names) if (name.startsWith(`${keys.cohortsQueue}-`)) await queueNamed(name).obliterate({ force: true });
  };
  // A run id seen before (a resumed run whose coordinator was killed) starts clean: the jobs,
  // snapshots and results a previous coordinator left are from cycles the checkpoint will run
  // again, and a completed child kept for de-duplication would never be re-run for a new parent.
  await cohortsQueue.obliterate({ force: true });
  await barrierQueue.obliterate({ force: true });
  await obliterateSlotQueues();
  await redis.del(keys.orphans);
  await deleteMatching(redis, `${prefix}:snap:${safe(options.runId)}:*`);
  await deleteMatching(redis, `${prefix}:result:${safe(options.runId)}:*`);
  await deleteMatching(redis, `${prefix}:base:${safe(options.runId)}:*`);

  await redis.hset(keys.run, {
    run_id: options.runId,
    version: options.identity.version,
    fingerprint: options.identity.fingerprint,
    cohorts_queue: keys.cohortsQueue,
    barrier_queue: keys.barrierQueue,
    heartbeat_ms: String(timing.heartbeatMs),
    lock_duration_ms: String(timing.lockDurationMs),
    stalled_interval_ms: String(timing.stalledIntervalMs),
    run_config: JSON.stringify(options.runConfig ?? null),
    host: options.identity.host ?? hostname(),
    loopback_only: options.loopbackOnly ?? '',
    status: 'running',
  });
  await redis.set(keys.current, options.runId);

  const jobsDone = new Map<string, number>();
  /** Every worker seen in this run, the lost ones too. */
  const seen = new Map<string, WorkerInfo & { lost: boolean }>();
  /** Barrier waiters by cycle: resolved by the barrier worker, rejected by the checks. */
  const barriers = new Map<number, { resolve: () => void; reject: (e: Error) => void }>();
  const barrierWorker = new Worker(
    keys.barrierQueue,
    async (job: Job) => {
      // Which worker completed each cohort (exact, from the children's return values: the attempt that completed a job ran all its cohorts).
      const values = (await job.getChildrenValues()) as Record<string, { worker?: string; cohorts?: number }>;
      for (const v of Object.values(values)) if (v?.worker) jobsDone.set(v.worker, (jobsDone.get(v.worker) ?? 0) + (v.cohorts ?? 1));
      barriers.get((job.data as { cycle: number }).cycle)?.resolve();
      return { ok: true };
    },
    { connection, prefix, concurrency: 1, drainDelay: 1, lockDuration: 30_000 },
  );
  barrierWorker.on('error', () => {});

  // Workers: joined, lost, ignored — from their heartbeat keys.
  const known = new Map<string, WorkerInfo>();
  const ignored = new Set<string>();
  let redisDownSince: number | null = null;
  let fatalError: Error | null = null;
  let currentCycle = 0;
  let closed = false;
  const checkEvery = Math.max(50, Math.floor(timing.heartbeatMs / 4));

  // Cohort affinity: cohort → slot (a worker thread's own queue), kept while its worker lives.
  /** The slot each cohort was last given (a slot key: the slot queue's name, or `shared#worker#i` for a worker without slot queues). */
  const assignment = new Map<number, string>();
  /** The queue each cohort's job of the last cycle went to. */
  let lastQueues = new Map<number, string>();
  /** The jobs of the cycle running now: queue, id and cohorts (a failed one is looked up by them). */
  let lastJobs: CycleJob[] = [];
  /** Slot queues this coordinator put in the orphan set (removed when the next cycle starts). */
  const orphaned = new Set<string>();
  const queueOfSlot = (slot: string) => (slot.includes('#') ? keys.cohortsQueue : slot);
  /** The live workers' slots, interleaved (every worker's slot 0, then every worker's slot 1, …) so an even spread is over workers first. */
  const liveSlots = (): string[] => {
    const per = [...known.values()].map((w) => (w.slots?.length ? w.slots : Array.from({ length: Math.max(1, w.concurrency) }, (_, i) => `${keys.cohortsQueue}#${w.id}#${i}`)));
    const out: string[] = [];
    for (let i = 0; per.some((l) => i < l.length); i++) for (const l of per) if (i < l.length) out.push(l[i]!);
    return out;
  };
  /**
   * The slot of each cohort of this cycle: a cohort keeps its slot while its worker is alive; the
   * others (new, or their worker lost or gone), and as many as it takes to even the counts (a
   * worker joined), are given to the slots holding fewest, in cohort order. No live worker: every
   * cohort on the shared queue.
   */
  function assign(cohorts: number[]): { queues: Map<number, string>; slots: Map<string, number[]> } {
    const slots = liveSlots();
    const queues = new Map<number, string>();
    if (slots.length === 0) {
      for (const c of cohorts) queues.set(c, keys.cohortsQueue);
      return { queues, slots: new Map([[keys.cohortsQueue, [...cohorts].sort((a, b) => a - b)]]) };
    }
    const held = new Map(slots.map((q) => [q, [] as number[]]));
    const free: number[] = [];
    for (const c of cohorts) {
      const list = held.get(assignment.get(c) ?? '');
      if (list) list.push(c);
      else free.push(c);
    }
    // Caps: floor(n / S) each, one more for the (n mod S) slots that hold most already (ties: slot order).
    const base = Math.floor(cohorts.length / slots.length);
    const extra = cohorts.length % slots.length;
    const rank = new Map(slots.map((q, i) => [q, i]));
    const byLoad = [...slots].sort((a, b) => held.get(b)!.length - held.get(a)!.length || rank.get(a)! - rank.get(b)!);
    const cap = new Map(byLoad.map((q, i) => [q, base + (i < extra ? 1 : 0)]));
    for (const q of slots) {
      const list = held.get(q)!;
      while (list.length > cap.get(q)!) free.push(list.pop()!);
    }
    free.sort((a, b) => a - b);
    let i = 0;
    for (const c of free) {
      while (held.get(slots[i % slots.length]!)!.length >= cap.get(slots[i % slots.length]!)!) i++;
      const q = slots[i % slots.length]!;
      held.get(q)!.push(c);
      assignment.set(c, q);
      i++;
    }
    for (const [q, list] of held) {
      list.sort((a, b) => a - b);
      for (const c of list) queues.set(c, queueOfSlot(q));
    }
    return { queues, slots: held };
  }
  /**
   * The cycle's jobs: each slot's cohorts in cohort order, in runs of at most `perJob` (a slot
   * with more has several jobs; the shared queue's cohorts, when no worker publishes slots, are
   * cut the same way, and any thread takes them). Deterministic for a cycle: a flow added again
   * has the same job ids.
   */
  function jobsOf(cycle: number, slots: Map<string, number[]>): CycleJob[] {
    const jobs: CycleJob[] = [];
    for (const [slot, list] of slots) {
      for (let i = 0; i < list.length; i += perJob) {
        const cohorts = list.slice(i, i + perJob);
        jobs.push({ queue: queueOfSlot(slot), id: keys.childId(cycle, cohorts[0]!), cohorts });
      }
    }
    return jobs.sort((a, b) => a.cohorts[0]! - b.cohorts[0]!);
  }
  /** A lost or departed worker's slot queues: every live worker takes their jobs (waiting, or active with an expired lock). */
  async function orphan(info: WorkerInfo): Promise<void> {
    const qs = (info.slots ?? []).filter((q) => q.startsWith(`${keys.cohortsQueue}-`));
    if (!qs.length) return;
    for (const q of qs) orphaned.add(q);
    await redis.sadd(keys.orphans, ...qs);
  }

  async function checkWorkers(): Promise<void> {
    const ids = await redis.smembers(keys.workers);
    const values = ids.length ? await redis.mget(...ids.map((id) => keys.worker(id))) : [];
    const alive = new Set<string>();
    ids.forEach((id, i) => {
      const raw = values[i];
      if (!raw) return;
      let info: WorkerInfo;
      try {
        info = JSON.parse(raw) as WorkerInfo;
      } catch {
        return;
      }
      if (!info || typeof info !== 'object') return;
      info.running = runningStatesOf(info.running);
      if (info.version !== options.identity.version || info.fingerprint !== options.identity.fingerprint) {
        if (!ignored.has(id)) {
          ignored.add(id);
          emit({ type: 'worker-ignored', worker: info, why: info.version !== options.identity.version ? `shopsim ${info.version}, this run is ${options.identity.version}` : 'other personas/products data' });
        }
        return;
      }
      if (info.left) {
        if (known.delete(id)) {
          seen.set(id, { ...info, lost: false });
          // Jobs still waiting in its slot queues (it stopped mid-cycle) are run by the others.
          void orphan(info).catch(() => {});
          emit({ type: 'worker-left', worker: info });
          if (known.size === 0 && !closed) emit({ type: 'no-workers', cycle: currentCycle });
        }
        return;
      }
      alive.add(id);
      const before = known.get(id);
      known.set(id, info);
      seen.set(id, { ...info, lost: false });
      if (!before) emit({ type: 'worker-joined', worker: info });
    });
    for (const [id, info] of known) {
      if (alive.has(id)) continue;
      // Out of the assignment first (synchronously), then its queues are orphans: a cycle that
      // starts in between gives it nothing, and one that started before finds them taken over.
      known.delete(id);
      seen.set(id, { ...info, lost: true });
      await orphan(info);
      await redis.srem(keys.workers, id);
      emit({ type: 'worker-lost', worker: info });
      if (known.size === 0 && !closed) emit({ type: 'no-workers', cycle: currentCycle });
    }
  }

  /** One check: Redis answers (else paused, then a stop past the limit), workers. Never throws. */
  async function check(): Promise<Error | null> {
    try {
      await redis.set(keys.coordinator, options.runId, 'PX', coordinatorTtl);
      if (redisDownSince !== null) {
        const down = (Date.now() - redisDownSince) / 1000;
        redisDownSince = null;
        const exists = await redis.exists(keys.run);
        if (!exists) return new TransportError(`Redis at ${redactUrl(options.url)} came back without this run's data (restarted without persistence?); the run stops at the last checkpoint`);
        emit({ type: 'redis-back', cycle: currentCycle, downSeconds: down });
      }
      await checkWorkers();
      return null;
    } catch (err) {
      if (redisDownSince === null) {
        redisDownSince = Date.now();
        emit({ type: 'redis-down', cycle: currentCycle, message: oneLine(err) });
      } else if (Date.now() - redisDownSince > downLimit) {
        return new TransportError(`Redis at ${redactUrl(options.url)} has not answered for ${Math.round((Date.now() - redisDownSince) / 1000)} s; the run stops at the last checkpoint`);
      }
      return null;
    }
  }

  let ticker: NodeJS.Timeout | null = null;
  let checking = false;
  const tick = async () => {
    if (checking || closed) return;
    checking = true;
    try {
      const err = await check();
      // Sticky: a later cycle fails at once too (the run's data is gone, or Redis is).
      if (err) {
        fatalError ??= err;
        for (const b of barriers.values()) b.reject(err);
      }
    } finally {
      checking = false;
    }
  };
  ticker = setInterval(() => void tick(), checkEvery);
  ticker.unref();

  /** Why a cycle's parent failed: its failed child's reason. */
  async function failureOf(cycle: number, jobs: CycleJob[]): Promise<Error | null> {
    const parent = await Job.fromId(barrierQueue, keys.parentId(cycle));
    if (!parent) return null;
    const state = await parent.getState();
    if (state !== 'failed') return null;
    for (const j of jobs) {
      const child = await Job.fromId(queueNamed(j.queue), j.id);
      if (child && (await child.getState()) === 'failed') {
        // The worker names the cohort that threw (`cohort K: reason`).
        const m = /^cohort (\d+): ([\s\S]*)$/.exec(child.failedReason ?? '');
        const what = m ? `cohort ${m[1]}` : `the job of cohorts ${j.cohorts.join(', ')}`;
        const reason = m ? m[2] : child.failedReason;
        return new TransportError(`${what} of cycle ${cycle} failed ${child.attemptsMade} time${child.attemptsMade === 1 ? '' : 's'} (last: ${reason}); the run stops at cycle ${cycle - 1}`);
      }
    }
    return new TransportError(`cycle ${cycle} failed in the queue (${parent.failedReason}); the run stops at cycle ${cycle - 1}`);
  }

  const coordinator: Coordinator = {
    runId: options.runId,
    async putSnapshot(cohort, cycle, snapshot) {
      await redis.set(keys.snapshot(cohort, cycle), snapshot);
    },
    async getSnapshot(cohort, cycle) {
      return redis.get(keys.snapshot(cohort, cycle));
    },
    async putBase(cohort, base) {
      await redis.set(keys.base(cohort), base);
    },
    async getBase(cohort) {
      return redis.get(keys.base(cohort));
    },
    workers: () => [...known.values()],
    heartbeatMs: timing.heartbeatMs,
    workerTally: () => [...seen.values()].map(({ lost, ...worker }) => ({ worker, lost, jobs: jobsDone.get(worker.id) ?? 0 })),
    assignments: () => lastQueues,
    jobs: () => lastJobs,

    async waitForWorkers(count, timeoutMs, onWaiting) {
      const t0 = Date.now();
      let said = -1;
      for (;;) {
        await tick();
        if (known.size >= count) return [...known.values()];
        if (known.size !== said) {
          said = known.size;
          onWaiting?.(known.size);
        }
        if (Date.now() - t0 > timeoutMs) {
          throw new ShopsimError('E_INPUT', `--workers-expected ${count}: ${known.size} worker${known.size === 1 ? '' : 's'} joined within ${Math.round(timeoutMs / 1000)} s (start them with: shopsim worker --redis ${redactUrl(options.url)}); nothing was written`, { exitCode: 2 });
        }
        await new Promise((r) => setTimeout(r, checkEvery));
      }
    },

    async runCycle(cycle, work) {
      if (fatalError) throw fatalError;
      currentCycle = cycle;
      const sorted = [...work].sort((a, b) => a.cohort - b.cohort);
      // The previous cycle's barrier has passed: no job is left in an orphaned queue, and the
      // assignment below gives lost workers' cohorts to live ones.
      if (orphaned.size) {
        const qs = [...orphaned];
        orphaned.clear();
        await redis.srem(keys.orphans, ...qs).catch(() => {
          for (const q of qs) orphaned.add(q);
        });
      }
      const { queues, slots } = assign(sorted.map((w) => w.cohort));
      lastQueues = queues;
      const jobs = jobsOf(cycle, slots);
      lastJobs = jobs;
      const workOf = new Map(sorted.map((w) => [w.cohort, w]));
      const done = new Promise<void>((resolve, reject) => barriers.set(cycle, { resolve, reject }));
      // A failed parent is looked for on every check while the barrier is open.
      const failWatch = setInterval(() => {
        void failureOf(cycle, jobs).then(
          (err) => err && barriers.get(cycle)?.reject(err),
          () => {},
        );
      }, Math.max(100, checkEvery * 2));
      try {
        // Added again after a Redis outage (the flow may or may not have been written): the ids de-duplicate.
        const add = () =>
          flows.add({
            name: 'barrier',
            queueName: keys.barrierQueue,
            data: { runId: options.runId, cycle, cohorts: sorted.length },
            opts: { jobId: keys.parentId(cycle), removeOnComplete: true },
            children: jobs.map((j) => ({
              name: 'cohorts',
              queueName: j.queue,
              data: jobData(options.runId, cycle, j.cohorts.map((c) => workOf.get(c)!)) satisfies CohortJobData,
              // Completed children are kept for two cycles: the de-duplication window of a flow added twice.
              opts: { jobId: j.id, attempts, backoff: { type: 'fixed', delay: 200 }, failParentOnFailure: true, removeOnComplete: { count: 2 * jobs.length } },
            })),
          });
        // While Redis is away BullMQ queues the command; the checks stop the run past the limit.
        const stopped = done.then(
          () => new Promise<never>(() => {}),
          (e: Error) => Promise.reject(e),
        );
        stopped.catch(() => {});
        for (;;) {
          try {
            await Promise.race([add(), stopped]);
            break;
          } catch (err) {
            if (err instanceof TransportError) throw err;
            await Promise.race([new Promise((r) => setTimeout(r, 500)), stopped]);
          }
        }
        await done;
        const raw = await redis.mget(...sorted.map((w) => keys.result(cycle, w.cohort)));
        const results = raw.map((r, i) => {
          if (r === null) throw new TransportError(`cohort ${sorted[i]!.cohort} of cycle ${cycle} completed without a result in Redis`);
          return JSON.parse(r) as unknown;
        });
        // The previous cycle's snapshots and this cycle's results are no longer needed.
        const stale = [...sorted.map((w) => keys.result(cycle, w.cohort)), ...(cycle > 1 ? sorted.map((w) => keys.snapshot(w.cohort, cycle - 1)) : [])];
        await redis.del(...stale);
        return results;
      } finally {
        clearInterval(failWatch);
        barriers.delete(cycle);
      }
    },

    async close(closeOptions = {}) {
      closed = true;
      if (ticker) clearInterval(ticker);
      try {
        await redis.hset(keys.run, 'status', 'done');
        const current = await redis.get(keys.current);
        if (current === options.runId) await redis.del(keys.current);
        if ((await redis.get(keys.coordinator)) === options.runId) await redis.del(keys.coordinator);
      } catch {
        // Redis away: the workers see the run record gone or stale.
      }
      await barrierWorker.close().catch(() => {});
      await flows.close().catch(() => {});
      if (!closeOptions.keepData) {
        await cohortsQueue.obliterate({ force: true }).catch(() => {});
        await barrierQueue.obliterate({ force: true }).catch(() => {});
        await obliterateSlotQueues().catch(() => {});
        try {
          await deleteMatching(redis, `${prefix}:*:${safe(options.runId)}:*`);
          await redis.del(keys.workers, keys.run, keys.queues, keys.orphans);
        } catch {
          // best effort
        }
      }
      await cohortsQueue.close().catch(() => {});
      await barrierQueue.close().catch(() => {});
      for (const q of slotQueues.values()) await q.close().catch(() => {});
      slotConnection.disconnect();
      redis.disconnect();
    },
  };
  return coordinator;
}

// ————— the worker side —————

export type WorkerEvent =
  | { type: 'waiting-for-run' }
  | { type: 'joined'; runId: string; workerId: string }
  | { type: 'run-ended'; runId: string; done: number }
  | { type: 'cohort-started'; cycle: number; cohort: number; attempt: number; queue?: string }
  | { type: 'cohort-done'; cycle: number; cohort: number; ms: number; queue?: string }
  /** A job (one slot's cohorts of a cycle, in cohort order) taken, and completed: every cohort's outputs written. */
  | { type: 'job-started'; cycle: number; cohorts: number[]; attempt: number; queue: string }
  | { type: 'job-done'; cycle: number; cohorts: number[]; ms: number; queue: string }
  | { type: 'redis-down'; message: string }
  | { type: 'redis-back' };

export interface CohortWorkerOptions extends TransportTiming {
  url: string;
  prefix?: string;
  identity: Identity;
  /** Worker threads (default 1): each has its own slot queue and runs one cohort at a time. */
  concurrency?: number;
  /** A module exporting createProcessor (./thread-pool.ts). */
  processorUrl: string;
  /** This worker's own settings for the processor (its data files). */
  local?: unknown;
  /** Give up waiting for a run after this long (default: never). */
  waitForRunMs?: number;
  /** Serve one run, then resolve `finished` (default: serve runs until closed). */
  once?: boolean;
  onEvent?: (e: WorkerEvent) => void;
}

export interface CohortWorker {
  readonly id: string;
  /** Resolves when the worker stops (closed, or after one run with `once`); rejects on a refused join. */
  readonly finished: Promise<void>;
  close(): Promise<void>;
}

/** The one line a refused worker prints (exit 2). */
export class JoinRefusedError extends ShopsimError {
  constructor(message: string) {
    super('E_INPUT', message, { exitCode: 2 });
    this.name = 'JoinRefusedError';
  }
}

const cpuNow = () => {
  const u = process.cpuUsage();
  return u.user + u.system;
};

export async function startCohortWorker(options: CohortWorkerOptions): Promise<CohortWorker> {
  const prefix = options.prefix ?? 'shopsim';
  const target = parseRedisUrl(options.url);
  await probeRedis(options.url);
  const redis = await commandClient(target);
  // The jobs' reads and writes wait for Redis through an outage (queued, retried) instead of
  // failing the attempt: the job completes when Redis is back.
  const data = new Redis(redisOptions(target, { maxRetriesPerRequest: null, retryStrategy: (n) => Math.min(200 * n, 1000) }));
  data.on('error', () => {});
  const connection = bullConnection(target);
  const id = `${hostname()}-${process.pid}-${randomBytes(2).toString('hex')}`;
  const emit = (e: WorkerEvent) => options.onEvent?.(e);
  const concurrency = Math.max(1, options.concurrency ?? 1);
  let closing = false;
  let wake: (() => void) | null = null;
  const sleep = (ms: number) =>
    new Promise<void>((r) => {
      const t = setTimeout(r, ms);
      wake = () => {
        clearTimeout(t);
        r();
      };
    });

  async function serveOne(): Promise<'again' | 'stop'> {
    // Wait for a run to join.
    const t0 = Date.now();
    let runId: string | null = null;
    let record: Record<string, string> = {};
    let said = false;
    while (!closing) {
      try {
        runId = await redis.get(`${prefix}:run-current`);
        if (runId) {
          record = await redis.hgetall(transportKeys(prefix, runId).run);
          if (record['status'] === 'running') break;
        }
      } catch {
        // Redis away: keep waiting
      }
      if (!said) {
        said = true;
        emit({ type: 'waiting-for-run' });
      }
      if (options.waitForRunMs !== undefined && Date.now() - t0 > options.waitForRunMs) throw new JoinRefusedError(`no run started on Redis at ${redactUrl(options.url)} within ${Math.round(options.waitForRunMs / 1000)} s`);
      await sleep(250);
    }
    if (closing || !runId) return 'stop';
    const keys = transportKeys(prefix, runId);
    // The handshake: same shopsim, same data, or one line and out.
    if (record['version'] !== options.identity.version) {
      throw new JoinRefusedError(`worker refused by run ${runId} on ${redactUrl(options.url)}: this worker is shopsim ${options.identity.version}, the run is ${record['version']} (install the same version on every machine)`);
    }
    if (record['fingerprint'] !== options.identity.fingerprint) {
      throw new JoinRefusedError(
        `worker refused by run ${runId} on ${redactUrl(options.url)}: its personas/products data differ (fingerprint ${options.identity.fingerprint.slice(0, 19)}… here, ${String(record['fingerprint']).slice(0, 19)}… in the run; give the same --personas and --products files)`,
      );
    }
    const here = options.identity.host ?? hostname();
    if (record['loopback_only'] && record['host'] && record['host'] !== here) {
      throw new JoinRefusedError(
        `worker refused by run ${runId} on ${redactUrl(options.url)}: its ${record['loopback_only']} listen on 127.0.0.1 of ${record['host']}, not reachable from this machine (${here}); run workers on ${record['host']}, or start the run with --api-url (a store every machine reaches) and --database-url (PostgreSQL)`,
      );
    }
    const heartbeatMs = Number(record['heartbeat_ms']) || DEFAULT_TIMING.heartbeatMs;
    const lockDuration = options.lockDurationMs ?? (Number(record['lock_duration_ms']) || DEFAULT_TIMING.lockDurationMs);
    const stalledInterval = options.stalledIntervalMs ?? (Number(record['stalled_interval_ms']) || DEFAULT_TIMING.stalledIntervalMs);
    let runConfig: unknown = null;
    try {
      runConfig = JSON.parse(record['run_config'] ?? 'null');
    } catch {
      throw new JoinRefusedError(`run ${runId} on ${redactUrl(options.url)}: its run_config is not JSON`);
    }
    const pool: ThreadPool = await createThreadPool({ size: concurrency, processorUrl: options.processorUrl, context: { runId, runConfig, local: options.local ?? null }, beatMs: heartbeatMs });
    // Each thread's own queue (cohort affinity): the coordinator sends a cohort's jobs to the same
    // thread while this worker lives, so the thread runs the cohort as it holds it.
    const slotNames = Array.from({ length: concurrency }, (_, slot) => keys.slotQueue(id, slot));
    await redis.sadd(keys.queues, ...slotNames);
    let active = 0;
    let done = 0;
    let agentCycles = 0;
    let requests = 0;
    const beat = async (left = false) => {
      const running = pool.occupancy();
      const info: WorkerInfo = {
        id,
        host: hostname(),
        pid: process.pid,
        version: options.identity.version,
        fingerprint: options.identity.fingerprint,
        runId,
        concurrency,
        active,
        done,
        agentCycles,
        requests,
        rssBytes: process.memoryUsage.rss(),
        cpuUs: cpuNow(),
        beatAt: new Date().toISOString(),
        ...(left ? { left: true } : {}),
        slots: slotNames,
        ...(Object.keys(running).length > 0 ? { running } : {}),
      };
      // The set expires 4 beats after the last worker's beat: a beat that races the coordinator's
      // close (which deletes the set) leaves nothing behind for long.
      await redis.multi().set(keys.worker(id), JSON.stringify(info), 'PX', heartbeatMs * (left ? 4 : 2)).sadd(keys.workers, id).pexpire(keys.workers, heartbeatMs * 4).exec();
    };
    await beat();
    emit({ type: 'joined', runId, workerId: id });
    let down = false;
    let ended = false;
    const beater = setInterval(() => {
      void (async () => {
        try {
          await beat();
          if (!ended && !closing) await takeOver();
          const status = await redis.hget(keys.run, 'status');
          const current = await redis.get(keys.current);
          if (down) {
            down = false;
            emit({ type: 'redis-back' });
          }
          if (status !== 'running' || current !== runId) {
            ended = true;
            wake?.();
          }
        } catch (err) {
          if (!down) {
            down = true;
            emit({ type: 'redis-down', message: oneLine(err) });
          }
        }
      })();
    }, heartbeatMs);
    /**
     * One job: its cohorts, one after another, on the thread `run` gives. Every cohort's state is
     * read in one round trip (MGET); the next cohort is handed to the thread while one runs (the
     * thread never waits on the main thread between two); each cohort's state out and result are
     * written as soon as it is done (one pipeline, not awaited before the next), all of them before
     * the job completes. A cohort that throws fails the job (`cohort K: reason`): the job is run
     * again, all its cohorts, from the same inputs (never overwritten in a cycle), with the same outputs.
     */
    const processJob = async (job: Job, token: string | undefined, run: (work: ThreadWork) => Promise<ThreadOutput>, queue: string) => {
      const jd = job.data as CohortJobData;
      const t = Date.now();
      const cohorts = jobCohorts(jd);
      const attempt = job.attemptsStarted;
      // This attempt's own lock renewal (see SLOT_PREFETCH); a stale attempt's fails and changes nothing.
      const renew = token ? setInterval(() => void job.extendLock(token, lockDuration).catch(() => 0), Math.max(100, Math.floor(lockDuration / 2))) : null;
      let open = cohorts.length;
      active += open;
      emit({ type: 'job-started', cycle: jd.cycle, cohorts: jd.cohorts, attempt, queue });
      const writes: Promise<void>[] = [];
      let next: Promise<ThreadOutput> | null = null;
      try {
        const states = await data.mget(...cohorts.map((c) => keys.snapshot(c.cohort, jd.cycle - 1)));
        states.forEach((state, i) => {
          if (state === null) throw new Error(`cohort ${cohorts[i]!.cohort}: snapshot ${keys.snapshot(cohorts[i]!.cohort, jd.cycle - 1)} is missing in Redis`);
        });
        const handOver = (i: number): Promise<ThreadOutput> => {
          const { cohort, input } = cohorts[i]!;
          const work: ThreadWork = { runId: jd.runId, cycle: jd.cycle, cohort, input, snapshot: states[i]! };
          states[i] = null;
          emit({ type: 'cohort-started', cycle: jd.cycle, cohort, attempt, queue });
          return (async () => {
            try {
              // The base (~250 KB at 500 shoppers) is read only when the thread asks for it (it has not parsed it yet).
              const out = await run(work);
              return out.needBase ? await run({ ...work, base: await data.get(keys.base(cohort)) }) : out;
            } catch (err) {
              throw new Error(`cohort ${cohort}: ${oneLine(err)}`);
            }
          })();
        };
        next = cohorts.length ? handOver(0) : null;
        let since = Date.now();
        for (let i = 0; i < cohorts.length; i++) {
          const current: Promise<ThreadOutput> = next!;
          next = i + 1 < cohorts.length ? handOver(i + 1) : null;
          const out = await current;
          const { cohort } = cohorts[i]!;
          const ms = Date.now() - since;
          since = Date.now();
          // A pipeline, not MULTI (2 calls a cohort, not 4): nothing reads them before the job completes,
          // and a cohort written by half by a lost attempt is written whole, with the same values, by the next.
          writes.push(
            data
              .pipeline()
              .set(keys.snapshot(cohort, jd.cycle), out.snapshot)
              .set(keys.result(jd.cycle, cohort), JSON.stringify(out.result))
              .exec()
              .then((replies) => {
                const failed = replies?.find(([err]) => err);
                if (failed) throw new Error(`cohort ${cohort}: its state and result were not written (${oneLine(failed[0])})`);
                done++;
                open--;
                active--;
                const r = out.result as { agentCycles?: number; report?: { totals?: { calls?: number } } };
                agentCycles += r.agentCycles ?? 0;
                requests += r.report?.totals?.calls ?? 0;
                emit({ type: 'cohort-done', cycle: jd.cycle, cohort, ms, queue });
              }),
          );
        }
        await Promise.all(writes);
        emit({ type: 'job-done', cycle: jd.cycle, cohorts: jd.cohorts, ms: Date.now() - t, queue });
        return { worker: id, ms: Date.now() - t, queue, cohorts: cohorts.length };
      } catch (err) {
        // Nothing of this attempt is left running or writing when it fails (a retry may start at once).
        await Promise.allSettled([next, ...writes]);
        throw err;
      } finally {
        if (renew) clearInterval(renew);
        active -= open;
      }
    };
    const workerOn = (queue: string, run: (work: ThreadWork) => Promise<ThreadOutput>, slots: number) => {
      const w = new Worker(queue, (job: Job, token?: string) => processJob(job, token, run, queue), { connection, prefix, concurrency: slots, lockDuration, stalledInterval, maxStalledCount: 3, drainDelay: 1, name: id });
      w.on('error', () => {});
      return w;
    };
    // The shared queue (any thread): jobs sent while the coordinator knew no slot queues.
    const shared = workerOn(keys.cohortsQueue, (work) => pool.run(work), concurrency);
    // Concurrency SLOT_PREFETCH on a slot's queue, one thread behind it: the next jobs are fetched
    // and their state read while the thread runs the current one (it waits for the thread, its lock renewed here),
    // so the thread does not sit idle through the Redis round trips between two jobs.
    const own = slotNames.map((queue, slot) => workerOn(queue, (work) => pool.runOn(slot, work), SLOT_PREFETCH));
    /** Other workers' slot queues the coordinator orphaned (that worker lost or gone): taken over here until the next cycle starts. */
    const adopted = new Map<string, Worker>();
    const takeOver = async () => {
      const orphans = new Set((await redis.smembers(keys.orphans)).filter((q) => q.startsWith(`${keys.cohortsQueue}-`) && !slotNames.includes(q)));
      // Stopping (its Workers are being closed): none opened now.
      if (ended || closing) return;
      for (const q of orphans) if (!adopted.has(q)) adopted.set(q, workerOn(q, (work) => pool.run(work), concurrency));
      for (const [q, w] of adopted) {
        if (orphans.has(q)) continue;
        adopted.delete(q);
        void w.close().catch(() => {});
      }
    };
    try {
      while (!closing && !ended) await sleep(heartbeatMs);
    } finally {
      clearInterval(beater);
      const queues = [keys.cohortsQueue, ...slotNames, ...adopted.keys()];
      await Promise.all([shared, ...own, ...adopted.values()].map((w) => w.close().catch(() => {})));
      await pool.close().catch(() => {});
      // A run the coordinator removed: what this worker's queue connections wrote back (their meta) goes too.
      if ((await redis.exists(keys.run).catch(() => 1)) === 0) await redis.del(...queues.map((q) => `${prefix}:${q}:meta`)).catch(() => 0);
      // A last beat saying it left (the coordinator says so and forgets it), unless the run is gone.
      if (ended) await redis.multi().del(keys.worker(id)).srem(keys.workers, id).exec().catch(() => {});
      else await beat(true).catch(() => {});
    }
    emit({ type: 'run-ended', runId, done });
    return closing || options.once ? 'stop' : 'again';
  }

  const finished = (async () => {
    try {
      while ((await serveOne()) === 'again');
    } finally {
      redis.disconnect();
      data.disconnect();
    }
  })();
  return {
    id,
    finished,
    async close() {
      closing = true;
      wake?.();
      await finished.catch(() => {});
    },
  };
}
