/**
 * One measured client of BENCH=e2e in its own process (so its CPU time and peak RSS are its own):
 *   tsx test/bench/e2e-client.ts shopsim <url> <agents> <cycles> <startIso> <connections>
 *   tsx test/bench/e2e-client.ts autocannon <url> <seconds> <connections>
 * shopsim: the full simulation (engine, decisions, bookkeeping, HTTP client at --rate-limit 0,
 * fast mode, mock recorder) against the store at <url>. autocannon: GET /products/:id with the
 * headers shopsim sends, one user per connection. Prints one JSON object: requests, seconds
 * (first request to last answer for shopsim; autocannon's own duration), CPU seconds of this
 * process over that span, peak RSS.
 */
import autocannon from 'autocannon';
import { generateProducts } from '../../src/model/catalog.ts';
import { generatePersonas } from '../../src/model/personas.ts';
import { createSimulation, DEFAULT_SIMULATION_CONFIG } from '../../src/simulation/create-simulation.ts';
import { createMockRecorder } from '../../src/simulation/mock-recorder.ts';
import { createHttpStore } from '../../src/store/http-store.ts';

const [tool, url] = process.argv.slice(2) as [string, string];
// Peak RSS from the kernel (getrusage's ru_maxrss, KiB): exact, and free. Sampling
// process.memoryUsage() every 50 ms, as this did, cost 2.2 % of the client's CPU (it reads
// /proc and walks V8's heap spaces), counted in the figure it was measuring.
const out = (o: Record<string, unknown>) => {
  process.stdout.write(`${JSON.stringify({ ...o, peak_rss_mb: Math.round(process.resourceUsage().maxRSS / 1024) })}\n`);
};
const cpuSeconds = (u: NodeJS.CpuUsage) => (u.user + u.system) / 1e6;

if (tool === 'shopsim') {
  const [agents, cycles, startIso, connections] = process.argv.slice(4);
  const personas = generatePersonas(Number(agents), 42);
  const products = generateProducts(240, 42);
  const store = createHttpStore({ baseUrl: url, rateLimit: 0, connections: Number(connections) });
  const sim = createSimulation(
    { ...DEFAULT_SIMULATION_CONFIG, runId: 'bench-e2e', fast: true, cycles: Number(cycles), startMs: Date.parse(startIso as string), breakerAction: 'exit' },
    { personas, products, store, recorder: createMockRecorder(), metrics: () => ({ ...store.metrics() }) },
  );
  // Measured from start-up's end (agents created) to the run's end.
  let c0 = process.cpuUsage();
  let t0 = performance.now();
  sim.events.on('started', () => {
    c0 = process.cpuUsage();
    t0 = performance.now();
  });
  const summary = await sim.run();
  const cpu = cpuSeconds(process.cpuUsage(c0));
  const seconds = (performance.now() - t0) / 1000;
  const m = store.metrics();
  await store.close();
  out({ tool, requests: m.requests, seconds, cpu_s: cpu, errors: m.errors, digest: summary.digest, exit_reason: summary.exit_reason });
} else {
  const [seconds, connections] = process.argv.slice(4).map(Number) as [number, number];
  let nextUser = 0;
  const c0 = process.cpuUsage();
  const r = (await autocannon({
    url,
    connections,
    duration: seconds,
    setupClient: (client: { setRequests(r: unknown[]): void }) => {
      const n = nextUser++;
      const user = `agent_${String((n % 372) + 1).padStart(6, '0')}`;
      const headers = { accept: 'application/json', 'x-user-id': user, 'x-sim-time': '2024-01-03T11:00:00.000Z', 'x-request-id': `${user}:1:1` };
      client.setRequests([{ method: 'GET', path: `/products/prod_${String((n % 240) + 1).padStart(4, '0')}`, headers }]);
    },
  })) as unknown as { requests: { total: number }; duration: number; errors: number; non2xx: number };
  out({ tool, requests: r.requests.total, seconds: r.duration, cpu_s: cpuSeconds(process.cpuUsage(c0)), errors: r.errors + r.non2xx });
}
process.exit(0);
