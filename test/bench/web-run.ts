/**
 * One measured run for web.bench.ts, in its own process:
 *   tsx test/bench/web-run.ts <web|none> <agents> <cycles>
 * Fast mock mode. With `web`, the --web server samples at 1 Hz and one viewer (a separate
 * process, like a browser) reads the event stream. Prints one JSON object.
 */
import { spawn } from 'node:child_process';
import { generateProducts } from '../../src/model/catalog.ts';
import { generatePersonas } from '../../src/model/personas.ts';
import { createSimulation, DEFAULT_SIMULATION_CONFIG } from '../../src/simulation/create-simulation.ts';
import { createMockRecorder } from '../../src/simulation/mock-recorder.ts';
import { createMockStore } from '../../src/store/mock-store.ts';
import { startWebServer } from '../../src/web/server.ts';

const [mode = 'none', agentsArg = '10000', cyclesArg = '48'] = process.argv.slice(2);
const agents = Number(agentsArg);
const cycles = Number(cyclesArg);
const personas = generatePersonas(agents, 42);
const products = generateProducts(240, 42);
const store = createMockStore({ seed: 42, products, agentIds: personas.map((p) => p.id) });
const sim = createSimulation({ ...DEFAULT_SIMULATION_CONFIG, runId: 'bench', fast: true, cycles, breakerAction: 'exit' }, { personas, products, store, recorder: createMockRecorder() });
let startup = 0;
sim.events.on('started', (e: { startupSeconds: number }) => (startup = e.startupSeconds));

let web: Awaited<ReturnType<typeof startWebServer>> | null = null;
let viewer: ReturnType<typeof spawn> | null = null;
let viewerBytes = 0;
const sampleMs: number[] = [];
let stateTimer: NodeJS.Timeout | undefined;
if (mode === 'web') {
  web = await startWebServer({ port: 0, runId: 'bench' });
  web.attach(sim);
  const script = `const r=await fetch(${JSON.stringify(`${web.origin}/api/events`)},{headers:{authorization:'Bearer ${web.token}'}});let n=0;for await (const c of r.body){n+=c.length;process.stdout.write(String(n)+'\\n')}`;
  viewer = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  viewer.stdout?.on('data', (d: Buffer) => {
    const last = d.toString().trim().split('\n').pop();
    if (last) viewerBytes = Number(last);
  });
  stateTimer = setInterval(() => {
    fetch(`${web?.origin}/api/state`, { headers: { authorization: `Bearer ${web?.token}` } })
      .then(async (r) => sampleMs.push(((await r.json()) as { sampleMs: number }).sampleMs))
      .catch(() => {});
  }, 1000);
}
const t0 = performance.now();
const cpu0 = process.cpuUsage();
const s = await sim.run();
const wall = (performance.now() - t0) / 1000;
const cpu = process.cpuUsage(cpu0);
clearInterval(stateTimer);
viewer?.kill();
await web?.close();
sampleMs.sort((a, b) => a - b);
process.stdout.write(
  `${JSON.stringify({
    mode,
    agents,
    cycles: s.cycles_completed,
    run_s: Math.round((wall - startup) * 1000) / 1000,
    agent_cycles_per_s: Math.round((agents * s.cycles_completed) / (wall - startup)),
    // CPU time of this process (startup included), less sensitive than wall time to other load.
    cpu_s: Math.round((cpu.user + cpu.system) / 1000) / 1000,
    digest: s.digest,
    ...(mode === 'web' ? { occupancy_walk_ms_median: sampleMs[Math.floor(sampleMs.length / 2)] ?? null, occupancy_walk_ms_max: sampleMs.at(-1) ?? null, samples: sampleMs.length, viewer_bytes: viewerBytes } : {}),
  })}\n`,
);
process.exit(0);
