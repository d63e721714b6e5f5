/**
 * One measured run for web.bench.ts, in its own process:
 *   tsx test/bench/web-run.ts <web|page|none> <agents> <cycles>
 * Fast mock mode. With `web`, the --web server samples at 1 Hz and one viewer (a separate
 * process, like a browser) reads the event stream; with `page`, the viewer is the page itself in
 * headless Chromium (/usr/bin/chromium, driven by playwright-core), and the run also reports the
 * page's own update time (the data-render-ms it measures per message). Prints one JSON object.
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
let browser: import('playwright-core').BrowserContext | null = null;
let page: import('playwright-core').Page | null = null;
let profileDir: string | null = null;
if (mode === 'web' || mode === 'page') {
  web = await startWebServer({ port: 0, runId: 'bench' });
  web.attach(sim);
}
if (mode === 'page' && web) {
  const { chromium } = await import('playwright-core');
  const { mkdtempSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const { join } = await import('node:path');
  profileDir = mkdtempSync(join(tmpdir(), 'shopsim-bench-profile-'));
  browser = await chromium.launchPersistentContext(profileDir, {
    executablePath: '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run', '--disable-quic'],
  });
  page = await browser.newPage();
  await page.goto(web.pageUrl);
  await page.waitForSelector('[data-state-count="idle"]');
}
if (mode === 'web' && web) {
  const script = `const r=await fetch(${JSON.stringify(`${web.origin}/api/events`)},{headers:{authorization:'Bearer ${web.token}'}});let n=0;for await (const c of r.body){n+=c.length;process.stdout.write(String(n)+'\\n')}`;
  viewer = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  viewer.stdout?.on('data', (d: Buffer) => {
    const last = d.toString().trim().split('\n').pop();
    if (last) viewerBytes = Number(last);
  });
}
if (web) {
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
// The page's own figures: its last update and the slowest of its last 60, in ms.
let render: { render_ms_last: number | null; render_ms_max_last_60: number | null; page_updates_seen: boolean } | null = null;
if (page) {
  const last = await page.getAttribute('body', 'data-render-ms');
  const max = await page.getAttribute('body', 'data-render-ms-max');
  render = { render_ms_last: last === null ? null : Number(last), render_ms_max_last_60: max === null ? null : Number(max), page_updates_seen: last !== null };
  await browser?.close();
  if (profileDir) (await import('node:fs')).rmSync(profileDir, { recursive: true, force: true });
}
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
    ...(render ?? {}),
    ...(mode !== 'none' ? { occupancy_walk_ms_median: sampleMs[Math.floor(sampleMs.length / 2)] ?? null, occupancy_walk_ms_max: sampleMs.at(-1) ?? null, samples: sampleMs.length, viewer_bytes: viewerBytes } : {}),
  })}\n`,
);
process.exit(0);
