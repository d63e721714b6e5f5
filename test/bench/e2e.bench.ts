/**
 * End to end (issue 17), one JSON object per line: against one freshly started bundled store
 * (test/bench/store-server.ts: `serve --mock-db` in a child process), interleaved ×3 with the
 * store's stock, carts and orders reset before each run:
 *  - shopsim's full simulation at --rate-limit 0 (fast mode, mock recorder, the busiest
 *    weekday hours by default), in a child process of its own;
 *  - autocannon on GET /products/:id with the same connection count, for as long as that
 *    shopsim run took, in a child process of its own.
 * Per run: req/s, client CPU per 1k req/s (% of a core: the client process's CPU time over its
 * span, per 1,000 req/s it achieved), peak RSS, the store's CPU per request. Then the medians
 * and shopsim / autocannon (targets: ≥ 0.45, ≤ 10% of a core per 1k req/s).
 * BENCH_E2E_AGENTS=372 · BENCH_E2E_CYCLES=12 · BENCH_E2E_START=2024-01-03T08:00:00Z ·
 * BENCH_E2E_CONNECTIONS=50 · BENCH_E2E_ROUNDS=3.
 */
import { execFile } from 'node:child_process';
import { startBenchStore } from './store-child.ts';

const agents = Number(process.env['BENCH_E2E_AGENTS'] ?? 372);
const cycles = Number(process.env['BENCH_E2E_CYCLES'] ?? 12);
const start = process.env['BENCH_E2E_START'] ?? '2024-01-03T08:00:00Z';
const connections = Number(process.env['BENCH_E2E_CONNECTIONS'] ?? 50);
const rounds = Number(process.env['BENCH_E2E_ROUNDS'] ?? 3);
const emit = (o: Record<string, unknown>) => process.stdout.write(`${JSON.stringify(o)}\n`);
const r3 = (n: number) => Math.round(n * 1000) / 1000;
const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? (s[(s.length - 1) / 2] as number) : ((s[s.length / 2 - 1] as number) + (s[s.length / 2] as number)) / 2;
};

interface ClientResult {
  tool: string;
  requests: number;
  seconds: number;
  cpu_s: number;
  peak_rss_mb: number;
  errors: number;
}

function client(args: string[]): Promise<ClientResult> {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, ['--max-old-space-size=4096', '--import', 'tsx', 'test/bench/e2e-client.ts', ...args], { maxBuffer: 1 << 20 }, (err, stdout) => {
      if (err) reject(err);
      else resolve(JSON.parse(stdout.trim().split('\n').pop() as string) as ClientResult);
    });
  });
}

const store = await startBenchStore(0);
const runs: Record<string, { rps: number; cpuPer1k: number; rss: number }[]> = { shopsim: [], autocannon: [] };
try {
  // Warm the store (JIT, lazily compiled routes) so whichever client goes first is not measured against a cold one.
  await client(['autocannon', store.url, '2', String(connections)]);
  let lastShopsimSeconds = 10;
  for (let round = 1; round <= rounds; round++) {
    for (const tool of ['shopsim', 'autocannon'] as const) {
      await store.reset();
      const s0 = await store.cpu();
      const r =
        tool === 'shopsim'
          ? await client(['shopsim', store.url, String(agents), String(cycles), start, String(connections)])
          : await client(['autocannon', store.url, String(Math.max(3, Math.round(lastShopsimSeconds))), String(connections)]);
      const s1 = await store.cpu();
      if (tool === 'shopsim') lastShopsimSeconds = r.seconds;
      const rps = r.requests / r.seconds;
      // % of a core per 1,000 req/s
      const cpuPer1k = ((r.cpu_s / r.seconds) * 100) / (rps / 1000);
      const storeCpuUs = ((s1.cpu.user - s0.cpu.user + s1.cpu.system - s0.cpu.system) / r.requests);
      runs[tool]!.push({ rps, cpuPer1k, rss: r.peak_rss_mb });
      emit({
        bench: 'e2e',
        round,
        tool,
        connections,
        ...(tool === 'shopsim' ? { agents, cycles, start, rate_limit: 0 } : { endpoint: 'GET /products/:id' }),
        requests: r.requests,
        seconds: r3(r.seconds),
        rps: r3(rps),
        client_cpu_pct_core_per_1k_rps: r3(cpuPer1k),
        client_cpu_s: r3(r.cpu_s),
        peak_rss_mb: r.peak_rss_mb,
        store_cpu_us_per_request: r3(storeCpuUs),
        errors: r.errors,
      });
    }
  }
} finally {
  await store.stop();
}
const sRps = median(runs['shopsim']!.map((x) => x.rps));
const aRps = median(runs['autocannon']!.map((x) => x.rps));
const sCpu = median(runs['shopsim']!.map((x) => x.cpuPer1k));
emit({
  bench: 'e2e-ratio',
  rounds,
  shopsim_rps_median: r3(sRps),
  autocannon_rps_median: r3(aRps),
  shopsim_over_autocannon: r3(sRps / aRps),
  shopsim_cpu_pct_core_per_1k_rps_median: r3(sCpu),
  autocannon_cpu_pct_core_per_1k_rps_median: r3(median(runs['autocannon']!.map((x) => x.cpuPer1k))),
  shopsim_peak_rss_mb_median: median(runs['shopsim']!.map((x) => x.rss)),
  autocannon_peak_rss_mb_median: median(runs['autocannon']!.map((x) => x.rss)),
  targets: { ratio: 0.45, cpu_pct_core_per_1k_rps: 10 },
  ok: sRps / aRps >= 0.45 && sCpu <= 10,
});
