/**
 * One measured run of BENCH=bullmq's throughput part, in its own process:
 *   tsx test/bench/bullmq-run.ts <in-process|bullmq> <agents> <cycles> <dir> <redis-url> <prefix>
 * Mock store and database, --fast, cohorts of 500. `bullmq`: the cohorts on the workers already
 * started (by test/bench/bullmq.bench.ts) under <prefix>; <dir> holds the personas/products files.
 * Prints one JSON object.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Persona, Product } from '../../src/model/types.ts';
import { createBullmqCohortTransport } from '../../src/scale/bullmq-cohort-transport.ts';
import { openCoordinator } from '../../src/scale/bullmq-transport.ts';
import { createRemoteExecutor } from '../../src/scale/remote-cohort.ts';
import { createSimulation, DEFAULT_SIMULATION_CONFIG } from '../../src/simulation/create-simulation.ts';
import { createMockRecorder } from '../../src/simulation/mock-recorder.ts';
import { createMockStore } from '../../src/store/mock-store.ts';

const [mode = 'in-process', agentsArg = '20000', cyclesArg = '24', dir = '.', url = 'redis://127.0.0.1:6379', prefix = 'shopsim-bench'] = process.argv.slice(2);
const agents = Number(agentsArg);
const cycles = Number(cyclesArg);
const seed = 42;
const personas = (JSON.parse(readFileSync(join(dir, 'personas.json'), 'utf8')) as Persona[]).slice(0, agents);
const products = JSON.parse(readFileSync(join(dir, 'products.json'), 'utf8')) as Product[];
const store = createMockStore({ seed, products, agentIds: personas.map((p) => p.id) });
const coordinator = mode === 'bullmq' ? await openCoordinator({ url, prefix, runId: `bench-run-${agents}`, identity: { version: 'bench', fingerprint: 'bench' }, runConfig: { seed, agents, mockFailRate: 0 } }) : null;
if (coordinator) await coordinator.waitForWorkers(2, 60_000);
const executor = coordinator ? createRemoteExecutor(createBullmqCohortTransport(coordinator, { mockStore: store })) : null;
let peakRss = 0;
const sample = () => {
  peakRss = Math.max(peakRss, process.memoryUsage().rss);
};
const timer = setInterval(sample, 50);
let startedAt = 0;
let agentCycles = 0;
const durations: number[] = [];
const sim = createSimulation(
  { ...DEFAULT_SIMULATION_CONFIG, runId: 'bench-bullmq', seed, fast: true, cycles, cohortSize: 500, warmupCycles: 0, breakerAction: 'exit', breakerPercent: 100, checkpointInterval: 0 },
  { personas, products, store, recorder: createMockRecorder(), ...(executor ? { executor } : {}) },
);
let cpuAtStart = 0;
const cpuNow = () => {
  const u = process.cpuUsage();
  return u.user + u.system;
};
sim.events.on('started', () => {
  startedAt = performance.now();
  cpuAtStart = cpuNow();
});
let firstCycleMs = 0;
sim.events.on('cycle', (r) => {
  if (durations.length === 0) firstCycleMs = performance.now() - startedAt;
  durations.push(r.durationSeconds);
  agentCycles += r.active;
  sample();
});
const summary = await sim.run();
const end = performance.now();
const cpuRun = cpuNow() - cpuAtStart;
// The workers' CPU from their heartbeats (one more beat after the last job: they are idle now).
if (coordinator) await new Promise((r) => setTimeout(r, 1.5 * coordinator.heartbeatMs));
const workers = coordinator ? coordinator.workerTally().map((w) => ({ jobs: w.jobs, rss_mb: Math.round(w.worker.rssBytes / 1048576), cpu_s: Math.round((w.worker.cpuUs ?? 0) / 1e4) / 100 })) : null;
const workersCpuUs = coordinator ? coordinator.workerTally().reduce((a, w) => a + (w.worker.cpuUs ?? 0), 0) : 0;
await executor?.close?.();
clearInterval(timer);
const sorted = [...durations].sort((a, b) => a - b);
const runSeconds = (end - startedAt) / 1000;
process.stdout.write(
  `${JSON.stringify({
    executor: mode,
    agents,
    cycles,
    cohorts: Math.ceil(agents / 500),
    // From this process's start (data read, coordinator joined, workers waited for) to the run's start, and its first cycle (on workers: the cohorts built there from their bases).
    startup_s: Math.round(startedAt) / 1000,
    agent_cycles: agentCycles,
    first_cycle_s: Math.round(firstCycleMs) / 1000,
    run_s: Math.round(runSeconds * 1000) / 1000,
    agent_cycles_per_s: Math.round(agentCycles / runSeconds),
    cycle_median_ms: Math.round((sorted[Math.floor(sorted.length / 2)] ?? 0) * 1e6) / 1000,
    // CPU per agent-cycle, less sensitive to a shared machine's load than wall time: the
    // coordinator's (this process) and, on workers, theirs from start (joining, building cohorts included).
    cpu_us_per_agent_cycle: Math.round(cpuRun / agentCycles),
    ...(coordinator ? { worker_cpu_us_per_agent_cycle: Math.round(workersCpuUs / agentCycles), total_cpu_us_per_agent_cycle: Math.round((cpuRun + workersCpuUs) / agentCycles) } : {}),
    coordinator_peak_rss_mb: Math.round(peakRss / 1048576),
    workers,
    sessions: summary.sessions_created,
    digest: summary.digest,
  })}\n`,
);
process.exit(0);
