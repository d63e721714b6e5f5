/**
 * HTTP benchmark (issue 5), all on loopback, one JSON object per line. The reference store
 * runs in a child process (`shopsim serve --mock-db --port 0`), so client and server each
 * have a core.
 *  - rate accuracy: the client at --rate-limit 50 and 1000 for BENCH_RATE_SECONDS (30) each:
 *    achieved rate (steady state and whole window) and the most requests in any 1-s window;
 *  - throughput, limit off: shopsim's client vs autocannon on the same 4-request flow, same store,
 *    same users and headers; CPU per request of each client and of the store;
 *  - the seed's target: 372 agents, time-scale 48, 50 req/s, the busiest cycles of a weekday:
 *    duration of each cycle's store work (the cycle is 75 s).
 * BENCH_HTTP=rate,throughput,target narrows it.
 */
import { readFileSync } from 'node:fs';
import autocannon from 'autocannon';
import { generateProducts } from '../../src/model/catalog.ts';
import { generatePersonas } from '../../src/model/personas.ts';
import { createSimulation, DEFAULT_SIMULATION_CONFIG, type CycleReport } from '../../src/simulation/create-simulation.ts';
import { createMockRecorder } from '../../src/simulation/mock-recorder.ts';
import { createHttpStore } from '../../src/store/http-store.ts';
import type { CallContext } from '../../src/model/types.ts';
import { maxInWindow } from '../store/max-in-window.ts';
import { recordingDispatcher, startStore } from './store-child.ts';

const only = process.env['BENCH_HTTP']?.split(',');
const want = (name: string) => !only || only.includes(name);
const RATE_SECONDS = Number(process.env['BENCH_RATE_SECONDS'] ?? 30);
const THROUGHPUT_SECONDS = Number(process.env['BENCH_THROUGHPUT_SECONDS'] ?? 10);
const WARMUP_SECONDS = Number(process.env['BENCH_THROUGHPUT_WARMUP_SECONDS'] ?? 3);
const emit = (o: Record<string, unknown>) => process.stdout.write(`${JSON.stringify(o)}\n`);
const r3 = (n: number) => Math.round(n * 1000) / 1000;



const ctxOf = (i: number, n: number): CallContext => ({ agentId: `agent_${String(i).padStart(4, '0')}`, agentIndex: i, cycle: 1, at: '2024-01-01T10:00:00.000Z', callSeq: n });

async function rateAccuracy(url: string, rate: number): Promise<void> {
  const times: number[] = [];
  const dispatcher = recordingDispatcher(times);
  const store = createHttpStore({ baseUrl: url, rateLimit: rate, dispatcher });
  const deadline = performance.now() + RATE_SECONDS * 1000;
  const workers = Math.min(200, rate * 2);
  await Promise.all(
    Array.from({ length: workers }, async (_, w) => {
      for (let n = 1; performance.now() < deadline; n++) await store.getProduct(ctxOf(w, n), `prod_${String((n % 240) + 1).padStart(4, '0')}`);
    }),
  );
  const m = store.metrics();
  await store.close();
  await dispatcher.close();
  const inWindow = times.filter((t) => t < deadline);
  const first = inWindow[0] as number;
  const last = inWindow[inWindow.length - 1] as number;
  const burst = store.metrics().rate_limit.burst;
  const steady = (inWindow.length - burst) / ((last - first) / 1000);
  const whole = inWindow.length / RATE_SECONDS;
  const maxWin = maxInWindow(inWindow, 1000);
  emit({
    bench: 'http-rate',
    rate,
    burst,
    seconds: RATE_SECONDS,
    requests: inWindow.length,
    achieved_rps: r3(steady),
    achieved_rps_whole_window: r3(whole),
    error_pct: r3(((steady - rate) / rate) * 100),
    within_1pct: Math.abs(steady - rate) / rate <= 0.01,
    max_in_any_1s: maxWin,
    limit_rate_plus_capacity: rate + burst,
    window_ok: maxWin <= rate + burst,
    latency_ms: m.latency_ms,
    latency_ms_from_due: m.latency_ms_from_due,
  });
}

const FLOW = (i: number) => [
  { method: 'GET', path: '/products?category=books&page=1&page_size=20' },
  { method: 'GET', path: `/products/prod_${String((i % 240) + 1).padStart(4, '0')}` },
  { method: 'GET', path: '/cart' },
  { method: 'GET', path: '/offers' },
];

const SIM_TIME = '2024-01-01T10:00:00.000Z';
const userOf = (i: number) => `agent_${String(i).padStart(4, '0')}`;

/** CPU ms (user + system) of a process so far, from /proc (Linux); null elsewhere. */
function cpuMsOf(pid: number | undefined): number | null {
  try {
    const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return ((Number(f[11]) + Number(f[12])) * 1000) / 100; // clock ticks (USER_HZ = 100)
  } catch {
    return null;
  }
}

async function throughput(url: string, serverPid: number | undefined): Promise<void> {
  const connections = 50;
  // Both sides send the same requests: the same 4 GETs, one user per connection (agent_0000 ..
  // agent_0049, as shopsim's 50 workers), the headers shopsim sends (accept, x-user-id,
  // x-sim-time, an x-request-id of the same length — autocannon's is fixed per connection so
  // its requests stay prebuilt). Per request: shopsim's client and the store's CPU (from /proc).
  let nextUser = 0;
  const perReq = (ms: number | null, n: number) => (ms === null ? null : r3((ms * 1000) / n));
  const runAutocannon = (duration: number) =>
    (autocannon as unknown as (o: Record<string, unknown>) => Promise<{ requests: { total: number; average: number }; errors: number; non2xx: number; duration: number }>)({
      url,
      connections,
      duration,
      requests: FLOW(7),
      setupClient: (client: { setRequests(r: unknown[]): void }) => {
        const user = userOf(nextUser++ % connections);
        const headers = { accept: 'application/json', 'x-user-id': user, 'x-sim-time': SIM_TIME, 'x-request-id': `${user}:1:1` };
        client.setRequests(FLOW(7).map((r) => ({ ...r, headers })));
      },
    });
  // The store is a fresh process: warm it up (JIT, lazily compiled routes) before either side is
  // measured, or whichever runs first measures a cold store.
  if (WARMUP_SECONDS > 0) await runAutocannon(WARMUP_SECONDS);
  let s0 = cpuMsOf(serverPid);
  let c0 = process.cpuUsage();
  const ac = await runAutocannon(THROUGHPUT_SECONDS);
  const acRps = ac.requests.total / ac.duration;
  const acCpu = process.cpuUsage(c0);
  const acServer = s0 === null ? null : (cpuMsOf(serverPid) as number) - s0;
  emit({
    bench: 'http-throughput',
    tool: 'autocannon',
    connections,
    seconds: r3(ac.duration),
    requests: ac.requests.total,
    rps: r3(acRps),
    errors: ac.errors,
    non2xx: ac.non2xx,
    client_cpu_us_per_request: perReq((acCpu.user + acCpu.system) / 1000, ac.requests.total),
    server_cpu_us_per_request: perReq(acServer, ac.requests.total),
  });

  const runShopsim = async (duration: number) => {
    const store = createHttpStore({ baseUrl: url, rateLimit: 0, connections });
    const t0 = performance.now();
    const deadline = t0 + duration * 1000;
    await Promise.all(
      Array.from({ length: connections }, async (_, w) => {
        const ctx = ctxOf(w, 1);
        for (let n = 0; performance.now() < deadline; n++) {
          await store.listProducts(ctx, { category: 'books', page: 1, pageSize: 20 });
          await store.getProduct(ctx, `prod_${String((n % 240) + 1).padStart(4, '0')}`);
          await store.getCart(ctx);
          await store.listOffers(ctx);
        }
      }),
    );
    const seconds = (performance.now() - t0) / 1000;
    const m = store.metrics();
    await store.close();
    return { seconds, m };
  };
  // The same warm-up for shopsim's client as autocannon had (its code runs JIT-compiled).
  if (WARMUP_SECONDS > 0) await runShopsim(WARMUP_SECONDS);
  s0 = cpuMsOf(serverPid);
  c0 = process.cpuUsage();
  const { seconds, m } = await runShopsim(THROUGHPUT_SECONDS);
  const cpu = process.cpuUsage(c0);
  const serverMs = s0 === null ? null : (cpuMsOf(serverPid) as number) - s0;
  const rps = m.requests / seconds;
  emit({
    bench: 'http-throughput',
    tool: 'shopsim',
    connections,
    seconds: r3(seconds),
    requests: m.requests,
    rps: r3(rps),
    errors: m.errors,
    client_cpu_us_per_request: perReq((cpu.user + cpu.system) / 1000, m.requests),
    server_cpu_us_per_request: perReq(serverMs, m.requests),
    latency_ms: m.latency_ms,
  });
  emit({ bench: 'http-throughput-ratio', shopsim_over_autocannon: r3(rps / acRps), target: 0.7, ok: rps / acRps >= 0.7 });
}

async function seedTarget(url: string): Promise<void> {
  const personas = generatePersonas(372, 42);
  const products = generateProducts(240, 42);
  const store = createHttpStore({ baseUrl: url, rateLimit: 50 });
  const cycles = Number(process.env['BENCH_TARGET_CYCLES'] ?? 3);
  // Weekday 11:00–14:00 UTC: the busiest hours of the personas' hour affinities.
  const startMs = Date.parse(process.env['BENCH_TARGET_START'] ?? '2024-01-03T11:00:00Z');
  const sim = createSimulation(
    { ...DEFAULT_SIMULATION_CONFIG, runId: 'bench-target', fast: true, timeScale: 48, cycles, startMs, breakerAction: 'exit' },
    { personas, products, store, recorder: createMockRecorder(), metrics: () => ({ ...store.metrics() }) },
  );
  const perCycle: { cycle: number; active: number; seconds: number; requests: number }[] = [];
  let prevRequests = 0;
  sim.events.on('cycle', (r: CycleReport) => {
    const req = store.metrics().requests;
    perCycle.push({ cycle: r.cycle, active: r.active, seconds: r3(r.durationSeconds), requests: req - prevRequests });
    prevRequests = req;
  });
  const summary = await sim.run();
  await store.close();
  const busiest = perCycle.reduce((a, b) => (b.requests > a.requests ? b : a));
  emit({
    bench: 'http-seed-target',
    agents: 372,
    time_scale: 48,
    rate_limit: 50,
    cycle_interval_s: 75,
    cycles: perCycle,
    busiest_cycle_requests: busiest.requests,
    busiest_cycle_store_work_s: busiest.seconds,
    share_of_cycle: r3(busiest.seconds / 75),
    ok: busiest.seconds < 75 * 0.5,
    exit_reason: summary.exit_reason,
    checkouts: summary.checkouts_completed,
    latency_ms: summary['latency_ms'],
    latency_ms_from_due: summary['latency_ms_from_due'],
  });
}

const server = await startStore();
try {
  if (want('rate')) {
    await rateAccuracy(server.url, 50);
    await rateAccuracy(server.url, 1000);
  }
  if (want('throughput')) await throughput(server.url, server.child.pid);
  if (want('target')) await seedTarget(server.url);
} finally {
  await server.stop();
}
