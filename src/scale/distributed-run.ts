/**
 * `shopsim run --redis URL`: the coordinator's side of a distributed run, composed for the CLI
 * (src/cli/run.ts). Before anything is written: the Redis answers (else one line, exit 2), the run
 * is published for the workers' handshake, and `--workers-expected` workers have joined (a waiting
 * line, then exit 2 after `--workers-timeout`). Then the cohorts run on the workers through the
 * stand-in cohorts (./remote-cohort.ts) over BullMQ (./bullmq-cohort-transport.ts); workers
 * joining, lost, and Redis going away and coming back are said on stderr, one line each.
 */
import { randomBytes } from 'node:crypto';
import type { RunConfig } from '../config.ts';
import { inputError } from '../errors.ts';
import type { DbWriteMetrics, Persona, Product } from '../model/types.ts';
import type { MockStore } from '../store/mock-store.ts';
import { redactUrl } from '../url.ts';
import { packageVersion } from '../version.ts';
import { loadPersonas, loadProducts } from '../run/load-data.ts';
import { createBullmqCohortTransport } from './bullmq-cohort-transport.ts';
import { coordinatorEventLine, openCoordinator, parseRedisUrl, type Coordinator } from './bullmq-transport.ts';
import type { DistributedRunConfig } from './cohort-processor.ts';
import { dataFingerprint } from './fingerprint.ts';
import { createRemoteExecutor, type RemoteExecutor } from './remote-cohort.ts';
import { createWorkerMonitor, type WorkerTable } from '../monitor/worker-rows.ts';

/**
 * The monitoring's rows from the coordinator's heartbeat records: a beat is counted when its
 * record changed (its beatAt), stamped with this clock when seen — the coordinator reads the
 * records every quarter interval, so the age is this host's, never another host's clock.
 */
export function heartbeatMonitor(coordinator: Pick<Coordinator, 'workerTally' | 'heartbeatMs'>, now: () => number = Date.now): () => WorkerTable {
  const monitor = createWorkerMonitor({ heartbeatMs: coordinator.heartbeatMs });
  const beats = new Map<string, string>();
  return () => {
    const at = now();
    for (const { worker: w, lost } of coordinator.workerTally()) {
      const id = `${w.host}:${w.pid}`;
      if (beats.get(id) !== w.beatAt) {
        beats.set(id, w.beatAt);
        monitor.report({ id, cohorts: w.active, agentCycles: w.agentCycles ?? 0, requests: w.requests ?? 0, memoryBytes: w.rssBytes, memoryKind: 'rss' }, at);
      }
      if (lost || w.left) monitor.gone(id, lost ? 'lost' : 'left', at);
    }
    return monitor.table(at);
  };
}
import type { Recorder } from '../model/types.ts';
import type { AnswerSink } from '../store/recording-store.ts';
import type { HttpMetrics } from '../store/http-store.ts';
import { threadRate } from './rate-shares.ts';
import { startCommitRelay, type CommitRelay, type DbEdge, type JobEdges, type StoreEdge } from './job-edges.ts';

/** The coordinator's edges a distributed run's jobs reach (./job-edges.ts). */
export interface CoordinatorEdges {
  mockStore: MockStore | null;
  /** The store's URL (the bundled store's loopback URL or --api-url; null: the mock store). */
  storeUrl: string | null;
  /** The run's recorder (null: --mock-db): the workers' sessions are written through it (the commit relay). */
  recorder: Recorder | null;
  /** The run's answers file, when it records them. */
  answers: AnswerSink | null;
  /** On PostgreSQL (--database-url): the database's identity; workers given the same database write there themselves. */
  postgres: { databaseId: string } | null;
}
/** One worker in the run's summary (`workers` in --json; a line each otherwise). */
export interface WorkerRow {
  id: string;
  host: string;
  pid: number;
  concurrency: number;
  /** Cohort jobs it completed, counted at the barriers. */
  cohort_cycles: number;
  /** Lost during the run (no heartbeat). */
  lost: boolean;
  rss_mb: number;
  last_heartbeat: string;
}

export interface DistributedRun {
  coordinator: Coordinator;
  /** The workers joined now, from their last heartbeats. */
  workerRows(): WorkerRow[];
  /** The per-worker rows of the monitoring (host:pid, jobs running, rates, RSS, heartbeat age, lost), now. */
  workerTable(): WorkerTable;
  /** The executor for the simulation, once the run's store and database are open. */
  executor(edges: CoordinatorEdges): Promise<RemoteExecutor>;
  /** The latest figures of every worker thread's store client (a real store). */
  workerHttpMetrics(): HttpMetrics[];
  /** The latest write figures of every worker pool writing to the run's database directly. */
  workerDbWrites(): DbWriteMetrics[];
  /** Store calls answered from the record of a lost attempt (cohort jobs run again), so far. */
  servedAnswers(): number;
  close(): Promise<void>;
}

/** The checks a distributed run needs of the options (one line, exit 2). */
export function checkDistributedOptions(config: RunConfig): void {
  if (!config.redis) return;
  parseRedisUrl(config.redis);
  if (config.workers > 0) throw inputError(`--redis and --workers ${config.workers}: expected one of them (the cohorts run on \`shopsim worker\` processes, each with --concurrency threads); nothing was written`);
}

/**
 * What of a run only the coordinator's machine reaches: the bundled store (no --api-url: started
 * in this process on 127.0.0.1), a store URL on loopback, and the embedded database (sessions
 * written through this process's relay on 127.0.0.1). Null when every edge is reachable from
 * elsewhere (or mock).
 */
export function loopbackOnlyOf(config: Pick<RunConfig, 'mockApi' | 'apiUrl' | 'mockDb' | 'databaseUrl'>): string | null {
  const parts: string[] = [];
  if (!config.mockApi) {
    if (config.apiUrl === null) parts.push('bundled store (in the coordinator)');
    else if (/^(localhost|127\.\d+\.\d+\.\d+|\[::1\])$/i.test(new URL(config.apiUrl).hostname)) parts.push(`store ${redactUrl(config.apiUrl)}`);
  }
  if (!config.mockDb && !config.databaseUrl) parts.push('the embedded database (written through the coordinator)');
  return parts.length > 0 ? parts.join(' and ') : null;
}

export async function openDistributedRun(args: { config: RunConfig; runId: string; personas: Persona[]; products: Product[]; say: (line: string) => void }): Promise<DistributedRun> {
  const { config, runId, say } = args;
  const url = config.redis as string;
  // Cart changes carry a key per call (the run and this coordinator process): the bundled store
  // applies a call that a lost worker's re-run sends again only once (docs/store-api.md).
  const callKeyPrefix = `${runId}:${randomBytes(4).toString('hex')}`;
  checkDistributedOptions(config);
  // The fingerprint covers the files as read (the workers read theirs the same way).
  const fingerprint = dataFingerprint(loadPersonas(config.personas), loadProducts(config.products));
  const runConfig: DistributedRunConfig = { seed: config.seed, agents: config.agents, mockFailRate: config.mockFailRate };
  const lockMs = Math.round(config.workerLockTimeout * 1000);
  const coordinator = await openCoordinator({
    url,
    prefix: config.redisPrefix,
    runId,
    identity: { version: packageVersion(), fingerprint },
    runConfig,
    loopbackOnly: loopbackOnlyOf(config),
    lockDurationMs: lockMs,
    stalledIntervalMs: Math.max(250, Math.round(lockMs / 2)),
    onEvent: (e) => say(coordinatorEventLine(e, url)),
  });
  try {
    await coordinator.waitForWorkers(config.workersExpected, config.workersTimeout * 1000, (have) =>
      say(`waiting for ${config.workersExpected} worker${config.workersExpected === 1 ? '' : 's'} on ${redactUrl(url)} (${have} joined; start them with: shopsim worker --redis ${redactUrl(url)}; up to ${config.workersTimeout} s)`),
    );
  } catch (err) {
    await coordinator.close();
    throw err;
  }
  let made: RemoteExecutor | null = null;
  const table = heartbeatMonitor(coordinator);
  let transport: ReturnType<typeof createBullmqCohortTransport> | null = null;
  let relay: CommitRelay | null = null;
  let served = 0;
  /** The live workers' threads (at least one): the run's --rate-limit and --connections are split over them at every barrier. */
  const threads = () => Math.max(1, coordinator.workerTally().filter((t) => !t.lost).reduce((n, t) => n + t.worker.concurrency, 0));
  return {
    coordinator,
    workerTable: table,
    workerRows: () =>
      coordinator
        .workerTally()
        .map(({ worker: w, lost, jobs }) => ({ id: w.id, host: w.host, pid: w.pid, concurrency: w.concurrency, cohort_cycles: jobs, lost, rss_mb: Math.round(w.rssBytes / 1048576), last_heartbeat: w.beatAt }))
        .sort((a, b) => a.id.localeCompare(b.id)),
    async executor(edges) {
      if (made) return made;
      // The relay writes the sessions (a database) and holds the answers of cohort jobs that may run again (a real store).
      if (edges.recorder || edges.storeUrl !== null) relay = await startCommitRelay(edges.recorder);
      const db: DbEdge = relay && edges.recorder
        ? edges.postgres
          ? { kind: 'direct', databaseId: edges.postgres.databaseId, poolSize: config.workerDbPool, writeTimeoutMs: config.dbWriteTimeout * 1000, groupCommit: config.dbGroupCommit, relay: relay.edge }
          : relay.edge
        : { kind: 'mock' };
      let saidRelayed = false;
      const storeUrl = edges.storeUrl;
      const jobEdges = (jobs: number): JobEdges => {
        let store: StoreEdge = { kind: 'mock' };
        if (storeUrl !== null) {
          // The run's --rate-limit over the threads busy at once, recomputed at every barrier (workers joined or lost since).
          const n = threads();
          store = { kind: 'http', baseUrl: storeUrl, connections: Math.max(1, Math.ceil(config.connections / Math.min(n, Math.max(1, jobs)))), requestTimeoutMs: config.requestTimeout * 1000, rateLimit: threadRate(config.rateLimit, n, jobs), burst: config.burst, callKeyPrefix };
        }
        return { store, db, recordAnswers: edges.answers !== null, answerLog: storeUrl !== null ? relay?.edge ?? null : null };
      };
      transport = createBullmqCohortTransport(coordinator, {
        mockStore: edges.mockStore,
        edges: jobEdges,
        answers: edges.answers,
        onBarrier: (cycle, { writes, served: n }) => {
          // The cycle's barrier is passed: none of its jobs runs again.
          relay?.forget(cycle);
          if (n > 0) {
            served += n;
            say(`cycle ${cycle}: ${n} store call${n === 1 ? '' : 's'} of cohort jobs run again answered from their lost attempt's record (not sent to the store again)`);
          }
          // On PostgreSQL each worker should write itself; one that cannot (no --database-url of this database) is said once.
          const relayed = writes['relay'] ?? 0;
          if (db.kind !== 'direct' || relayed === 0 || saidRelayed) return;
          saidRelayed = true;
          say(`${relayed} cohort job${relayed === 1 ? '' : 's'} of cycle ${cycle} wrote their sessions through this process: their workers have no --database-url (or DATABASE_URL) for the run's database; give it to them to write directly with --worker-db-pool ${config.workerDbPool} connections per thread`);
        },
      });
      const t = transport;
      // The web map's counts: the cohorts in flight from the live workers' beats, the others from their last results.
      made = Object.assign(createRemoteExecutor(t), {
        occupancy: () => {
          const live: Record<string, Record<string, number>> = {};
          for (const w of coordinator.workerTally()) if (!w.lost && w.worker.running) Object.assign(live, w.worker.running);
          return t.occupancy(live);
        },
      });
      return made;
    },
    workerHttpMetrics: () => transport?.workerHttpMetrics() ?? [],
    workerDbWrites: () => transport?.workerDbWrites() ?? [],
    servedAnswers: () => served,
    close: async () => {
      await (made ? made.close?.() ?? coordinator.close() : coordinator.close());
      await relay?.close();
    },
  };
}
