/**
 * `shopsim run --redis URL`: the coordinator's side of a distributed run, composed for the CLI
 * (src/cli/run.ts). Before anything is written: the Redis answers (else one line, exit 2), the run
 * is published for the workers' handshake, and `--workers-expected` workers have joined (a waiting
 * line, then exit 2 after `--workers-timeout`). Then the cohorts run on the workers through the
 * stand-in cohorts (./remote-cohort.ts) over BullMQ (./bullmq-cohort-transport.ts); workers
 * joining, lost, and Redis going away and coming back are said on stderr, one line each.
 */
import type { RunConfig } from '../config.ts';
import { inputError } from '../errors.ts';
import type { Persona, Product } from '../model/types.ts';
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
  /** The executor for the simulation, once the run's mock store exists. */
  executor(mockStore: MockStore | null): RemoteExecutor;
  close(): Promise<void>;
}

/** The checks a distributed run needs of the options (one line, exit 2). */
export function checkDistributedOptions(config: RunConfig): void {
  if (!config.redis) return;
  parseRedisUrl(config.redis);
  if (config.workers > 0) throw inputError(`--redis and --workers ${config.workers}: expected one of them (the cohorts run on \`shopsim worker\` processes, each with --concurrency threads); nothing was written`);
  if (!config.mockApi || !config.mockDb) {
    throw inputError('--redis: a distributed run needs --mock-api and --mock-db for now (workers with their own store clients and database writes are not built yet; docs/scaling.md); nothing was written');
  }
}

export async function openDistributedRun(args: { config: RunConfig; runId: string; personas: Persona[]; products: Product[]; say: (line: string) => void }): Promise<DistributedRun> {
  const { config, runId, say } = args;
  const url = config.redis as string;
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
  return {
    coordinator,
    workerTable: table,
    workerRows: () =>
      coordinator
        .workerTally()
        .map(({ worker: w, lost, jobs }) => ({ id: w.id, host: w.host, pid: w.pid, concurrency: w.concurrency, cohort_cycles: jobs, lost, rss_mb: Math.round(w.rssBytes / 1048576), last_heartbeat: w.beatAt }))
        .sort((a, b) => a.id.localeCompare(b.id)),
    executor(mockStore) {
      made ??= createRemoteExecutor(createBullmqCohortTransport(coordinator, { mockStore }));
      return made;
    },
    close: () => (made ? made.close?.() ?? coordinator.close() : coordinator.close()),
  };
}
