/**
 * Worker threads writing through the coordinator's database recorder (embedded PGlite; and
 * PostgreSQL with TEST_DATABASE_URL): a worker lost mid-cycle, some of its sessions of that cycle
 * already written, has its cohorts' cycle run again on the other (writing those sessions again:
 * the writes are keyed per (run, agent, cycle)), and the database holds each session once — the same sessions and events as an
 * in-process run of the same seed (mock store), and what the summary counts.
 */
import { describe, expect, it } from 'vitest';
import type { Database } from '../../src/db/connection.ts';
import { generatePersonas } from '../../src/model/personas.ts';
import { startThreadExecutor } from '../../src/scale/thread-executor.ts';
import { createSimulation, DEFAULT_SIMULATION_CONFIG, type SimulationConfig } from '../../src/simulation/create-simulation.ts';
import { createMockStore } from '../../src/store/mock-store.ts';
import { embeddedTarget, postgresTarget, runCounts, useDatabase } from '../db/helpers.ts';
import { products } from '../helpers.ts';

const personas = generatePersonas(600, 13);
const agentIds = personas.map((p) => p.id);
const base: Omit<SimulationConfig, 'runId'> = {
  ...DEFAULT_SIMULATION_CONFIG, seed: 3, fast: true, cycles: 5, startMs: Date.parse('2024-01-06T11:00:00Z'), cohortSize: 100,
  breakerAction: 'wait', breakerPercent: 100, checkpointInterval: 0,
};

for (const target of [embeddedTarget(), postgresTarget()]) {
  describe.skipIf(target.skip)(`worker threads and the ${target.name} database`, () => {
    let db: Database;
    useDatabase(target, (d) => {
      db = d;
    });

    async function run(runId: string, workers: number, direct = false) {
      await db.recorder.beginRun({ runId, seed: base.seed, config: { agents: personas.length }, isReplay: false, resumedFrom: null, startedAt: new Date().toISOString(), personas, products });
      const store = createMockStore({ seed: base.seed, products, agentIds, failRate: 0.01 });
      const executor = workers > 0
        ? startThreadExecutor({ workers, recorder: db.recorder, keepSnapshots: true, exitAfterCommits: [undefined, 60],
            ...(direct ? { directDb: { databaseUrl: target.url() as string, poolSize: 2, writeTimeoutMs: 30_000, groupCommit: 0 } } : {}), store: { kind: 'mock', seed: base.seed, products, agentIds, failRate: 0.01, state: null } })
        : null;
      const commitsBefore = db.recorder.metrics?.().commits ?? 0;
      const sim = createSimulation({ ...base, runId }, { personas, products, store, recorder: db.recorder, ...(executor ? { executor } : {}) });
      const s = await sim.run();
      const recoveries = executor?.recoveries() ?? null;
      const commits = (db.recorder.metrics?.().commits ?? 0) - commitsBefore;
      const workerCommits = executor?.workerDbWrites().reduce((n, w) => n + w.commits, 0) ?? 0;
      await executor?.close?.();
      return { s, recoveries, commits, workerCommits };
    }

    it('a worker lost mid-cycle: each session written once, as in-process', async () => {
      const inProcess = await run(`run-db-inproc-${target.name}`, 0);
      const lost = await run(`run-db-lost-${target.name}`, 2);
      // Worker 1 (cohorts 1, 3, 5) died with 60 of its sessions written and its cycle unfinished.
      expect(lost.recoveries?.cohortsMoved).toBe(3);
      expect(lost.recoveries?.cyclesRerun).toBeGreaterThan(0);
      // Some of the re-run cohorts' sessions had been written before the loss: written twice, held once.
      expect(inProcess.commits).toBe(inProcess.s.sessions_created);
      expect(lost.commits).toBeGreaterThan(lost.s.sessions_created);
      expect(lost.s.digest).toBe(inProcess.s.digest);
      expect(lost.s.sessions_created).toBe(inProcess.s.sessions_created);
      expect(inProcess.s.sessions_created).toBeGreaterThan(100);
      const counts = runCounts(() => db);
      for (const { s } of [inProcess, lost]) {
        expect(await counts.sessionsOf(s.run_id)).toBe(s.sessions_created);
        expect(await counts.eventsOf(s.run_id)).toBe(s.events_created);
      }
    }, 180_000);

    it.skipIf(target.name !== 'postgres')('PostgreSQL: workers writing through their own pools, one lost mid-cycle: each session written once, as in-process', async () => {
      const inProcess = await run(`run-db-inproc2-${target.name}`, 0);
      const lost = await run(`run-db-direct-${target.name}`, 2, true);
      expect(lost.recoveries?.cohortsMoved).toBe(3);
      expect(lost.recoveries?.cyclesRerun).toBeGreaterThan(0);
      // The coordinator's recorder wrote none of them; the workers did (the lost one's last report is counted too).
      expect(lost.commits).toBe(0);
      expect(lost.workerCommits).toBeGreaterThan(0);
      expect(lost.s.digest).toBe(inProcess.s.digest);
      expect(lost.s.sessions_created).toBe(inProcess.s.sessions_created);
      const counts = runCounts(() => db);
      expect(await counts.sessionsOf(lost.s.run_id)).toBe(lost.s.sessions_created);
      expect(await counts.eventsOf(lost.s.run_id)).toBe(lost.s.events_created);
    }, 180_000);
  });
}
