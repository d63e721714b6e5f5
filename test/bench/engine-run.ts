/**
 * One measured run in its own process (so peak RSS and heap belong to it alone):
 *   tsx test/bench/engine-run.ts <xstate|plain> <agents> <cycles> [startIso]
 * Prints one JSON object.
 */
import { generateProducts } from '../../src/model/catalog.ts';
import { generatePersonas } from '../../src/model/personas.ts';
import { createSimulation, DEFAULT_SIMULATION_CONFIG } from '../../src/simulation/create-simulation.ts';
import { createMockRecorder } from '../../src/simulation/mock-recorder.ts';
import { createMockStore } from '../../src/store/mock-store.ts';
import { runPlainLoop } from './plain-loop.ts';

const [engine = 'xstate', agentsArg = '372', cyclesArg = '24', startArg] = process.argv.slice(2);
// Optional 4th argument: the first simulated hour (ISO), e.g. a weekday's busy hours for a profile.
const startMs = startArg ? Date.parse(startArg) : DEFAULT_SIMULATION_CONFIG.startMs;
const agents = Number(agentsArg);
const cycles = Number(cyclesArg);
const personas = generatePersonas(agents, 42);
const products = generateProducts(240, 42);
const store = createMockStore({ seed: 42, products, agentIds: personas.map((p) => p.id) });
let peakRss = 0;
let peakHeap = 0;
const sample = () => {
  const m = process.memoryUsage();
  peakRss = Math.max(peakRss, m.rss);
  peakHeap = Math.max(peakHeap, m.heapUsed);
};
const timer = setInterval(sample, 50);
const t0 = performance.now();
const cpu0 = process.cpuUsage();
let cpuAtStart = cpu0;
let startup = 0;
let digest: string;
let agentCycles: number;
if (engine === 'xstate') {
  const sim = createSimulation(
    { ...DEFAULT_SIMULATION_CONFIG, runId: 'bench', fast: true, cycles, startMs, breakerAction: 'exit' },
    { personas, products, store, recorder: createMockRecorder() },
  );
  sim.events.on('started', (e: { startupSeconds: number }) => {
    startup = e.startupSeconds;
    cpuAtStart = process.cpuUsage();
    sample();
  });
  sim.events.on('cycle', sample);
  const s = await sim.run();
  digest = s.digest;
  agentCycles = agents * s.cycles_completed;
} else {
  const r = await runPlainLoop({ runId: 'bench', seed: 42, personas, cycles, startMs, warmupCycles: 0, breakerPercent: 5, offerCycleDays: 7, store, recorder: createMockRecorder() });
  digest = r.digest;
  agentCycles = agents * cycles;
}
const wall = (performance.now() - t0) / 1000;
// CPU seconds of this process (all threads: GC helpers too) after start-up: on a loaded machine
// steadier than wall time, which counts the time other processes had the cores.
const cpuEnd = process.cpuUsage();
const runCpu = (cpuEnd.user - cpuAtStart.user + cpuEnd.system - cpuAtStart.system) / 1e6;
sample();
clearInterval(timer);
process.stdout.write(
  `${JSON.stringify({
    engine,
    agents,
    cycles,
    startup_s: Math.round(startup * 1000) / 1000,
    wall_s: Math.round(wall * 1000) / 1000,
    run_s: Math.round((wall - startup) * 1000) / 1000,
    agent_cycles_per_s: Math.round(agentCycles / (wall - startup)),
    run_cpu_s: Math.round(runCpu * 1000) / 1000,
    agent_cycles_per_cpu_s: Math.round(agentCycles / runCpu),
    peak_rss_mb: Math.round(peakRss / 1048576),
    peak_heap_mb: Math.round(peakHeap / 1048576),
    rss_per_agent_kb: Math.round(peakRss / agents / 102.4) / 10,
    digest,
  })}\n`,
);
process.exit(0);
