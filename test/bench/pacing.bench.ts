/**
 * Pacing against a store that enforces the same limit (issue 17), one JSON object per line.
 * The reference store runs in a child process (`shopsim serve --mock-db --port 0 --max-rps R`,
 * a sliding 1-s window: beyond R requests in any second it answers 429 with Retry-After); the
 * full simulation runs here with its HTTP client at rate limit R, in fast mode, over the busiest
 * simulated hours of a weekday (time-scale 48: one cycle is one simulated hour).
 * Prints the achieved rate (dispatches over the span from first to last), the 429s and their
 * share of requests, the busiest sliding second of dispatches, and the limiter's pace at the end.
 * BENCH_PACING_RATES=50,1000 · BENCH_PACING_CYCLES=2 · BENCH_PACING_AGENTS_50=372 ·
 * BENCH_PACING_AGENTS_1000=8000.
 */
import { generateProducts } from '../../src/model/catalog.ts';
import { generatePersonas } from '../../src/model/personas.ts';
import { createSimulation, DEFAULT_SIMULATION_CONFIG } from '../../src/simulation/create-simulation.ts';
import { createMockRecorder } from '../../src/simulation/mock-recorder.ts';
import { createHttpStore } from '../../src/store/http-store.ts';
import { maxInWindow } from '../store/max-in-window.ts';
import { recordingDispatcher, startStore } from './store-child.ts';

const emit = (o: Record<string, unknown>) => process.stdout.write(`${JSON.stringify(o)}\n`);
const r3 = (n: number) => Math.round(n * 1000) / 1000;
const rates = (process.env['BENCH_PACING_RATES'] ?? '50,1000').split(',').map(Number);
const cycles = Number(process.env['BENCH_PACING_CYCLES'] ?? 2);


for (const rate of rates) {
  const agents = Number(process.env[`BENCH_PACING_AGENTS_${rate}`] ?? (rate <= 50 ? 372 : 8000));
  const server = await startStore(['--max-rps', String(rate)]);
  const times: number[] = [];
  const dispatcher = recordingDispatcher(times);
  try {
    const store = createHttpStore({ baseUrl: server.url, rateLimit: rate, dispatcher });
    const sim = createSimulation(
      {
        ...DEFAULT_SIMULATION_CONFIG,
        runId: `bench-pacing-${rate}`,
        fast: true,
        timeScale: 48,
        cycles,
        startMs: Date.parse(process.env['BENCH_PACING_START'] ?? '2024-01-03T11:00:00Z'),
        breakerAction: 'exit',
      },
      { personas: generatePersonas(agents, 42), products: generateProducts(240, 42), store, recorder: createMockRecorder(), metrics: () => ({ ...store.metrics() }) },
    );
    const summary = await sim.run();
    const m = store.metrics();
    await store.close();
    const first = times[0] as number;
    const last = times[times.length - 1] as number;
    const achieved = times.length > 1 ? (times.length - 1) / ((last - first) / 1000) : 0;
    const r429 = m.http_errors['429'] ?? 0;
    const busiest = maxInWindow(times, 1000);
    emit({
      bench: 'pacing',
      rate,
      store_max_rps: rate,
      agents,
      simulated_hours: cycles,
      requests: m.requests,
      achieved_rps: r3(achieved),
      achieved_share: r3(achieved / rate),
      responses_429: r429,
      share_429_pct: r3((r429 / Math.max(1, m.requests)) * 100),
      busiest_sliding_second_dispatched: busiest,
      effective_rate_at_end: m.effective_rate,
      ok: achieved >= 0.95 * rate && r429 <= 0.01 * m.requests,
      exit_reason: summary.exit_reason,
      failed_calls: m.errors,
    });
  } finally {
    await dispatcher.close();
    await server.stop();
  }
}
