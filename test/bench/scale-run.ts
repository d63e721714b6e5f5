/**
 * One measured run of the scale benchmark in its own process (fresh heap; RSS counts its worker threads):
 *   tsx test/bench/scale-run.ts <workers> <agents> <cycles> <cohortSize>
 * Mock store, mock database, --fast. Prints one JSON object.
 */
import { performance } from 'node:perf_hooks';
import { getHeapStatistics } from 'node:v8';
import { generateProducts } from '../../src/model/catalog.ts';
import { generatePersonas } from '../../src/model/personas.ts';
import { startThreadExecutor } from '../../src/scale/thread-executor.ts';
import { createSimulation, DEFAULT_SIMULATION_CONFIG } from '../../src/simulation/create-simulation.ts';
import { createMockRecorder } from '../../src/simulation/mock-recorder.ts';
import { createMockStore } from '../../src/store/mock-store.ts';

const [workersArg = '0', agentsArg = '20000', cyclesArg = '24', cohortArg = '500'] = process.argv.slice(2);
const workers = Number(workersArg);
const agents = Number(agentsArg);
const cycles = Number(cyclesArg);
const cohortSize = Number(cohortArg);
const seed = 42;
const tData = performance.now();
const personas = generatePersonas(agents, seed);
const products = generateProducts(240, seed);
const agentIds = personas.map((p) => p.id);
const store = createMockStore({ seed, products, agentIds });
// SCALE_KEEP=0: without the per-cycle snapshots (what they cost; a lost worker then fails the run).
const keepSnapshots = process.env['SCALE_KEEP'] !== '0';
const dataSeconds = (performance.now() - tData) / 1000;
const tw = performance.now();
const executor = workers > 0 ? startThreadExecutor({ workers, recorder: null, keepSnapshots, store: { kind: 'mock', seed, products, agentIds, failRate: 0, state: null } }) : null;
await executor?.ready();
const workerStartup = (performance.now() - tw) / 1000;
let peakRss = 0;
let peakHeap = 0;
const sample = () => {
  peakRss = Math.max(peakRss, process.memoryUsage().rss);
  peakHeap = Math.max(peakHeap, getHeapStatistics().total_heap_size);
};
const timer = setInterval(sample, 50);
const t0 = performance.now();
let startedAt = 0;
const durations: number[] = [];
let agentCycles = 0;
const sim = createSimulation(
  { ...DEFAULT_SIMULATION_CONFIG, runId: 'bench-scale', seed, fast: true, cycles, cohortSize, warmupCycles: 0, breakerAction: 'exit', breakerPercent: 100, checkpointInterval: 0 },
  { personas, products, store, recorder: createMockRecorder(), ...(executor ? { executor } : {}) },
);
sim.events.on('started', () => {
  startedAt = performance.now();
});
sim.events.on('cycle', (r) => {
  durations.push(r.durationSeconds);
  agentCycles += r.active;
  sample();
});
// This thread's busy time (event-loop utilisation): all the work in-process, the coordinator's with workers.
const elu0 = performance.eventLoopUtilization();
// CPU time of the whole process (every thread): steadier than wall time on a shared machine.
let cpu0 = process.cpuUsage();
sim.events.on('started', () => {
  cpu0 = process.cpuUsage();
});
const summary = await sim.run();
const end = performance.now();
const cpu = process.cpuUsage(cpu0);
const elu = performance.eventLoopUtilization(elu0);
const mb = (b: number) => Math.round(b / 1048576);
const workerRows = executor ? executor.workerStats().map((w) => ({ index: w.index, cohorts: w.cohorts, agent_cycles: w.agentCycles, heap_peak_used_mb: mb(w.peakHeapUsedBytes), heap_peak_committed_mb: mb(w.peakHeapTotalBytes), heap_after_gc_mb: mb(w.heapAfterGcBytes) })) : null;
await executor?.close?.();
clearInterval(timer);
const sorted = [...durations].sort((a, b) => a - b);
const median = sorted[Math.floor(sorted.length / 2)] ?? 0;
const runSeconds = (end - startedAt) / 1000;
const r3 = (x: number) => Math.round(x * 1000) / 1000;
process.stdout.write(
  `${JSON.stringify({
    executor: executor ? executor.name : 'in-process',
    workers,
    keep_snapshots: executor ? keepSnapshots : null,
    worker_startup_s: executor ? Math.round(workerStartup * 1000) / 1000 : null,
    agents,
    cycles,
    cohorts: Math.ceil(agents / cohortSize),
    cohort_size: cohortSize,
    agent_cycles: agentCycles,
    data_s: r3(dataSeconds),
    startup_s: r3((startedAt - t0) / 1000),
    run_s: r3(runSeconds),
    agent_cycles_per_s: Math.round(agentCycles / runSeconds),
    cpu_s: r3((cpu.user + cpu.system) / 1e6),
    cpu_us_per_agent_cycle: r3((cpu.user + cpu.system) / agentCycles),
    cycle_median_ms: r3(median * 1000),
    main_thread_busy_ms_per_cycle: r3(elu.active / cycles),
    main_thread_utilization: r3(elu.utilization),
    cycle_max_ms: r3((sorted[sorted.length - 1] ?? 0) * 1000),
    peak_rss_mb: mb(peakRss),
    // The threads share the process (its RSS): each one's own V8 heap, and the coordinator thread's.
    coordinator_heap_peak_committed_mb: mb(peakHeap),
    workers_heap: workerRows,
    sessions: summary.sessions_created,
    digest: summary.digest,
    ...(process.env["SCALE_DURATIONS"] ? { durations_ms: durations.map((d) => Math.round(d * 1000)) } : {}),
  })}\n`,
);
