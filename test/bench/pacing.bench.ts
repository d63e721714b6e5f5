/**
 * Pacing against a store that enforces the same limit (issue 17), one JSON object per line.
 * The reference store runs in a child process (`shopsim serve --mock-db --port 0 --max-rps R`,
 * a sliding 1-s window: beyond R requests in any second it answers 429 with Retry-After); the
 * full simulation runs here with its HTTP client at rate limit R, in fast mode, over the busiest
 * simulated hours of a weekday (time-scale 48: one cycle is one simulated hour).
 * Prints the achieved rate (dispatches over the span from first to last), the 429s and their
 * share of requests, the rate over the seconds where callers were queued at the limiter
 * throughout (the pacing's own rate, apart from start-up, cycle barriers and a starved client),
 * the busiest sliding second of dispatches and of arrivals at the store (the
 * store's own clock: what its limit sees), the one-way delay from dispatch to arrival (its
 * spread is the jitter a pacing margin has to absorb), and the limiter's pace at the end.
 * Where the rest of the span went: `start_idle_ms` (first dispatch, the offer-cycle request, to
 * the first 100 ms at ≥ 90% of the rate: the offer cycle's answer, then every active shopper
 * starting in one synchronous step), per cycle barrier the longest pause between dispatches around
 * it and the idle time until the rate is back, and the event-loop blocks
 * over 40 ms (what stops the limiter's timers and the answers alike).
 * BENCH_PACING_RATES=50,1000 · BENCH_PACING_CYCLES=2 · BENCH_PACING_AGENTS_50=372 ·
 * BENCH_PACING_AGENTS_1000=8000 · BENCH_PACING_WINDOW=release (the limiter's window on release
 * times only, answers not reported: the comparison) · BENCH_PACING_DEBUG=1 (per-second dispatch
 * counts, and the store's busiest second request by request, on stderr).
 *
 * BENCH_PACING_WORKERS=N (issue 15; BENCH_PACING_COHORT_SIZE, default 100 at 50 req/s and 1000
 * above, so every worker holds cohorts): instead, `shopsim run --workers N --api-url <that store>
 * --rate-limit R --mock-db --fast` in a child process (the run's limit split over N worker
 * threads, each with its own client): the rate and busiest sliding second as the store saw them
 * (its arrival clock), over the span of arrivals and over the seconds the run was busy at the
 * barrier-free middle (first and last second dropped), against R and R + burst. With
 * BENCH_PACING_DEBUG=1 also, on stderr: the arrivals per second, when each request the store
 * refused arrived (a request id the store saw again later: its retry after the 429), and where
 * the busiest sliding second starts (s after the first arrival).
 */
import { subscribe } from 'node:diagnostics_channel';
import { generateProducts } from '../../src/model/catalog.ts';
import { generatePersonas } from '../../src/model/personas.ts';
import { createSimulation, DEFAULT_SIMULATION_CONFIG } from '../../src/simulation/create-simulation.ts';
import { createMockRecorder } from '../../src/simulation/mock-recorder.ts';
import { createHttpStore } from '../../src/store/http-store.ts';
import { createRateLimiter } from '../../src/store/rate-limiter.ts';
import { maxInWindow } from '../store/max-in-window.ts';
import { recordingDispatcher, startBenchStore } from './store-child.ts';

// When undici writes a request's headers to its socket (vs when it was dispatched), and how many
// connections it opened: the client's share of the dispatch → arrival delay.
const written: { at: number; id: string }[] = [];
let connects = 0;
subscribe('undici:client:sendHeaders', (m) => {
  const h = (m as { headers: string }).headers;
  const i = h.indexOf('x-request-id: ');
  written.push({ at: performance.now(), id: i < 0 ? '' : h.slice(i + 14, h.indexOf('\r\n', i)) });
});
subscribe('undici:client:connected', () => {
  connects++;
});
const emit = (o: Record<string, unknown>) => process.stdout.write(`${JSON.stringify(o)}\n`);
const r3 = (n: number) => Math.round(n * 1000) / 1000;
const rates = (process.env['BENCH_PACING_RATES'] ?? '50,1000').split(',').map(Number);
const cycles = Number(process.env['BENCH_PACING_CYCLES'] ?? 2);

/** Dispatch → arrival at the store (ms), matched by x-request-id and occurrence (429 retries reuse the id). */
function oneWayDelays(sent: number[], sentIds: string[], arrived: number[], arrivedIds: string[]) {
  const at = new Map<string, number[]>();
  arrivedIds.forEach((id, i) => {
    const l = at.get(id);
    if (l) l.push(arrived[i] as number);
    else at.set(id, [arrived[i] as number]);
  });
  const seen = new Map<string, number>();
  const d: number[] = [];
  sentIds.forEach((id, i) => {
    const k = seen.get(id) ?? 0;
    seen.set(id, k + 1);
    const a = at.get(id)?.[k];
    if (a !== undefined) d.push(a - (performance.timeOrigin + (sent[i] as number)));
  });
  d.sort((x, y) => x - y);
  const q = (p: number) => r3(d[Math.min(d.length - 1, Math.floor(p * d.length))] ?? 0);
  return { matched: d.length, min: q(0), p50: q(0.5), p99: q(0.99), p999: q(0.999), max: q(1), spread_p999: r3(q(0.999) - q(0)) };
}

/** ms from `from` to the start of the first 100-ms bucket, at or after it, holding ≥ 90% of the rate's share. */
function idleUntilPaced(times: number[], from: number, rate: number): number {
  const need = 0.09 * rate;
  const buckets = new Map<number, number>();
  for (const t of times) if (t >= from) buckets.set(Math.floor((t - from) / 100), (buckets.get(Math.floor((t - from) / 100)) ?? 0) + 1);
  const last = Math.max(-1, ...buckets.keys());
  for (let b = 0; b <= last; b++) if ((buckets.get(b) ?? 0) >= need) return b * 100;
  return (last + 1) * 100;
}

/**
 * Per barrier (cycle event, the last one excepted): the longest pause between two dispatches from
 * 1 s before it to 2 s after (the barrier itself, then the next cycle's shoppers starting), and
 * the idle time from it until the rate is back.
 */
function barriers(times: number[], cycleAt: number[], rate: number) {
  return cycleAt.slice(0, -1).map((c, i) => {
    let gap = 0;
    for (let j = 1; j < times.length; j++) {
      const a = times[j - 1] as number;
      const b = times[j] as number;
      if (b >= c - 1000 && a <= c + 2000 && b - a > gap) gap = b - a;
    }
    return { cycle: i + 1, longest_gap_ms: r3(gap), idle_ms: idleUntilPaced(times, c, rate) };
  });
}

/** Event-loop blocks within the span (ms each): how many, their sum and the longest. */
function loopBlocks(ms: number[]) {
  return { count: ms.length, total_ms: Math.round(ms.reduce((a, b) => a + b, 0)), max_ms: Math.round(Math.max(0, ...ms)) };
}

/** Dispatches per second over the whole seconds (from the first dispatch) where every 50-ms sample saw callers queued at the limiter. */
function saturatedRate(times: number[], queuedAt: number[]): { seconds: number; rps: number } {
  const t0 = times[0] as number;
  const samples = new Map<number, number>();
  for (const q of queuedAt) {
    const b = Math.floor((q - t0) / 1000);
    samples.set(b, (samples.get(b) ?? 0) + 1);
  }
  const full = new Set([...samples].filter(([, n]) => n >= 19).map(([b]) => b));
  let n = 0;
  for (const t of times) if (full.has(Math.floor((t - t0) / 1000))) n++;
  return { seconds: full.size, rps: full.size > 0 ? r3(n / full.size) : 0 };
}

const workers = Number(process.env['BENCH_PACING_WORKERS'] ?? 0);
if (workers > 0) {
  const { spawn } = await import('node:child_process');
  const { mkdtempSync, rmSync, writeFileSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const { join } = await import('node:path');
  const dir = mkdtempSync(join(tmpdir(), 'shopsim-bench-pacing-'));
  try {
    for (const rate of rates) {
      const agents = Number(process.env[`BENCH_PACING_AGENTS_${rate}`] ?? (rate <= 50 ? 372 : 8000));
      writeFileSync(join(dir, 'personas.json'), JSON.stringify(generatePersonas(agents, 42)));
      writeFileSync(join(dir, 'products.json'), JSON.stringify(generateProducts(240, 42)));
      const server = await startBenchStore(rate);
      try {
        const args = ['bin/shopsim.js', 'run', '--workers', String(workers), '--cohort-size', process.env['BENCH_PACING_COHORT_SIZE'] ?? (rate <= 50 ? '100' : '1000'), '--api-url', server.url, '--rate-limit', String(rate), '--mock-db', '--fast', '--json', '-t', '48', '-c', String(cycles),
          '--start', process.env['BENCH_PACING_START'] ?? '2024-01-03T11:00:00Z', '--breaker-percent', '100', '--personas', join(dir, 'personas.json'), '--products', join(dir, 'products.json'),
          '--checkpoint-dir', join(dir, `ck-${rate}`), '--log-dir', join(dir, `logs-${rate}`), '--no-record-answers'];
        const out = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
          const c = spawn(process.execPath, args, { env: { ...process.env, SHOPSIM_FROM_SOURCE: '1', NO_COLOR: '1' }, stdio: ['ignore', 'pipe', 'pipe'] });
          let stdout = '';
          let stderr = '';
          c.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
          c.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
          c.on('exit', (code) => resolve({ code, stdout, stderr }));
        });
        const summary = out.stdout.trim() ? (JSON.parse(out.stdout) as Record<string, unknown>) : {};
        const at = await server.arrivals();
        const arrivals = [...at.arrivals].sort((a, b) => a - b);
        const first = arrivals[0] as number;
        const last = arrivals[arrivals.length - 1] as number;
        const achieved = arrivals.length > 1 ? (arrivals.length - 1) / ((last - first) / 1000) : 0;
        // Whole seconds between the first and the last (start-up and the end dropped).
        const perSecond = new Map<number, number>();
        for (const t of arrivals) perSecond.set(Math.floor((t - first) / 1000), (perSecond.get(Math.floor((t - first) / 1000)) ?? 0) + 1);
        const inner = [...perSecond].filter(([sec]) => sec > 0 && sec < Math.floor((last - first) / 1000)).map(([, n]) => n);
        const innerRps = inner.length > 0 ? inner.reduce((a, b) => a + b, 0) / inner.length : 0;
        if (process.env['BENCH_PACING_DEBUG']) {
          process.stderr.write(`rate ${rate}, workers ${workers}, per second at the store: ${[...Array(Math.floor((last - first) / 1000) + 1).keys()].map((k) => perSecond.get(k) ?? 0).join(' ')}\n`);
          // The requests the store refused (a request id seen again later: the retry after its 429), s after the first arrival,
          // and where the busiest sliding second starts.
          const seen = new Map<string, number>();
          const refused: number[] = [];
          at.ids.forEach((id, i) => {
            if (!id) return;
            const before = seen.get(id);
            if (before !== undefined) refused.push(((at.arrivals[before] as number) - first) / 1000);
            seen.set(id, i);
          });
          let best = 0;
          let bestAt = 0;
          for (let i = 0, j = 0; i < arrivals.length; i++) {
            while ((arrivals[i] as number) - (arrivals[j] as number) >= 1000) j++;
            if (i - j + 1 > best) [best, bestAt] = [i - j + 1, ((arrivals[j] as number) - first) / 1000];
          }
          process.stderr.write(`rate ${rate}: refused at ${refused.map((x) => x.toFixed(3)).join(' ') || '-'} s; busiest ${best} from ${bestAt.toFixed(3)} s\n`);
        }
        const burst = 1;
        const busiest = maxInWindow(arrivals, 1000);
        emit({
          bench: 'pacing-workers',
          workers,
          rate,
          store_max_rps: rate,
          agents,
          cohort_size: Number(args[args.indexOf('--cohort-size') + 1]),
          simulated_hours: cycles,
          exit_code: out.code,
          requests_at_store: arrivals.length,
          achieved_rps: r3(achieved),
          achieved_share: r3(achieved / rate),
          inner_seconds: inner.length,
          inner_rps_median: inner.length > 0 ? [...inner].sort((a, b) => a - b)[Math.floor(inner.length / 2)] : 0,
          inner_rps_mean: r3(innerRps),
          inner_share: r3(innerRps / rate),
          busiest_sliding_second_at_store: busiest,
          // One schedule for the run (the workers share it): the bound is the run's limit + burst.
          limit_plus_burst: rate + burst,
          store_429s: at.rateLimited,
          retries_429: summary['retries_429'] ?? null,
          digest: summary['digest'] ?? null,
          // Within 2 % over the seconds the pacing decides (the median second: barriers, where one worker waits for the other's last cohort, pull the mean down).
          ok: Math.abs(Number(inner.length > 0 ? [...inner].sort((a, b) => a - b)[Math.floor(inner.length / 2)] : 0) / rate - 1) <= 0.02 + 1e-9 && busiest <= rate + burst,
          ...(out.code !== 0 ? { stderr: out.stderr.split('\n').slice(-5).join(' | ') } : {}),
        });
      } finally {
        await server.stop();
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  process.exit(0);
}

for (const rate of rates) {
  const agents = Number(process.env[`BENCH_PACING_AGENTS_${rate}`] ?? (rate <= 50 ? 372 : 8000));
  const server = await startBenchStore(rate);
  const times: number[] = [];
  const ids: string[] = [];
  written.length = 0;
  connects = 0;
  const dispatcher = recordingDispatcher(times, ids);
  try {
    // BENCH_PACING_WINDOW=release: the window on release times only (answers not reported), to compare
    const limiter = createRateLimiter({ rate });
    if (process.env['BENCH_PACING_WINDOW'] === 'release') limiter.arrivedBy = () => {};
    // BENCH_PACING_DEBUG: each release's request id and its reported arrival bound, to check the
    // bound against the store's own arrival time (the window's guarantee assumes bound ≥ arrival).
    const seqId = new Map<number, string>();
    const bounds = new Map<number, number>();
    if (process.env['BENCH_PACING_DEBUG']) {
      const wrap = (f?: (g: { seq: number }) => void) => (g: { seq: number }) => {
        const n = ids.length;
        f?.(g);
        if (ids.length > n) seqId.set(g.seq, ids[ids.length - 1] as string);
      };
      const tryAcquire = limiter.tryAcquire.bind(limiter);
      const acquire = limiter.acquire.bind(limiter);
      const arrivedBy = limiter.arrivedBy.bind(limiter);
      limiter.tryAcquire = (onRelease) => tryAcquire(wrap(onRelease as (g: { seq: number }) => void));
      limiter.acquire = (signal, onRelease) => acquire(signal, wrap(onRelease as (g: { seq: number }) => void));
      limiter.arrivedBy = (seq, atMs) => {
        if (!bounds.has(seq)) bounds.set(seq, atMs);
        arrivedBy(seq, atMs);
      };
    }
    const store = createHttpStore({ baseUrl: server.url, limiter, dispatcher });
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
    // Every 50 ms: was anything waiting for the limiter? A second where it always was is one the
    // limiter alone decided (demand above the limit, the client keeping up); the rate over those
    // seconds is the pacing's own, apart from start-up, cycle barriers and a starved client.
    const queuedAt: number[] = [];
    const sampler = setInterval(() => {
      if (limiter.pending > 0) queuedAt.push(performance.now());
    }, 50);
    // Every 10 ms: how late the timer ran (a block of the event loop over 40 ms).
    const stalls: { end: number; ms: number }[] = [];
    let lastTick = performance.now();
    const ticker = setInterval(() => {
      const now = performance.now();
      if (now - lastTick > 40) stalls.push({ end: now, ms: now - lastTick });
      lastTick = now;
    }, 10);
    const cycleAt: number[] = [];
    sim.events.on('cycle', () => cycleAt.push(performance.now()));
    const summary = await sim.run();
    clearInterval(sampler);
    clearInterval(ticker);
    const m = store.metrics();
    await store.close();
    limiter.close();
    const first = times[0] as number;
    const last = times[times.length - 1] as number;
    const achieved = times.length > 1 ? (times.length - 1) / ((last - first) / 1000) : 0;
    const r429 = m.http_errors['429'] ?? 0;
    const busiest = maxInWindow(times, 1000);
    const saturated = saturatedRate(times, queuedAt);
    const at = await server.arrivals();
    const delays = oneWayDelays(times, ids, at.arrivals, at.ids);
    const writeDelays = oneWayDelays(times, ids, written.map((w) => performance.timeOrigin + w.at), written.map((w) => w.id));
    const wireDelays = oneWayDelays(written.map((w) => w.at), written.map((w) => w.id), at.arrivals, at.ids);
    emit({
      bench: 'pacing',
      rate,
      store_max_rps: rate,
      agents,
      simulated_hours: cycles,
      requests: m.requests,
      achieved_rps: r3(achieved),
      achieved_share: r3(achieved / rate),
      saturated_seconds: saturated.seconds,
      achieved_rps_saturated: saturated.rps,
      achieved_share_saturated: r3(saturated.rps / rate),
      responses_429: r429,
      share_429_pct: r3((r429 / Math.max(1, m.requests)) * 100),
      busiest_sliding_second_dispatched: busiest,
      busiest_sliding_second_at_store: maxInWindow(at.arrivals, 1000),
      store_429s: at.rateLimited,
      dispatch_to_arrival_ms: delays,
      dispatch_to_write_ms: writeDelays,
      write_to_arrival_ms: wireDelays,
      busiest_sliding_second_written: maxInWindow(written.map((w) => w.at), 1000),
      connections_opened: connects,
      writes: written.length,
      arrivals: at.arrivals.length,
      effective_rate_at_end: m.effective_rate,
      limiter_backoffs: limiter.backOffs,
      start_idle_ms: idleUntilPaced(times, first, rate),
      barriers: barriers(times, cycleAt, rate),
      loop_blocks_over_40ms: loopBlocks(stalls.filter((b) => b.end > first).map((b) => Math.min(b.ms, b.end - first))),
      ok: achieved >= 0.95 * rate && r429 <= 0.01 * m.requests,
      ok_saturated: saturated.rps >= 0.95 * rate && r429 <= 0.01 * m.requests,
      exit_reason: summary.exit_reason,
      failed_calls: m.errors,
    });
    if (process.env['BENCH_PACING_DEBUG']) {
      const perSecond: number[] = [];
      for (const t of times) perSecond[Math.floor((t - (times[0] as number)) / 1000)] = (perSecond[Math.floor((t - (times[0] as number)) / 1000)] ?? 0) + 1;
      process.stderr.write(`per second: ${perSecond.map((n) => n ?? 0).join(' ')}\n`);
      process.stderr.write(`cycles: ${JSON.stringify(cycleAt.map((c) => Math.round(c - (times[0] as number))))}\n`);
      // Reported bound vs the store's arrival, per release (the k-th release of an id is its k-th arrival).
      const arrivalsOf = new Map<string, number[]>();
      at.ids.forEach((id, i) => arrivalsOf.set(id, [...(arrivalsOf.get(id) ?? []), at.arrivals[i] as number]));
      const nth = new Map<string, number>();
      const worst: { seq: number; id: string; d: number }[] = [];
      let unreported = 0;
      for (const [seq, id] of [...seqId].sort((a, b) => a[0] - b[0])) {
        const k = nth.get(id) ?? 0;
        nth.set(id, k + 1);
        const arrival = arrivalsOf.get(id)?.[k];
        const bound = bounds.get(seq);
        if (bound === undefined) unreported++;
        else if (arrival !== undefined) worst.push({ seq, id, d: arrival - (performance.timeOrigin + bound) });
      }
      const checked = worst.length;
      const late = worst.map((w) => w.d);
      worst.sort((a, b) => b.d - a.d);
      const first0 = times[0] as number;
      for (const w of worst.slice(0, 12)) {
        const di = ids.indexOf(w.id);
        const wi = written.findIndex((x) => x.id === w.id);
        process.stderr.write(`late bound: seq ${w.seq} ${w.id} by ${r3(w.d)} ms; dispatch ${r3((times[di] as number) - first0)} write ${wi < 0 ? '-' : r3((written[wi] as { at: number }).at - first0)} bound ${r3((bounds.get(w.seq) as number) - first0)} ms after the first dispatch\n`);
      }
      late.sort((a, b) => a - b);
      const over = (ms: number) => late.filter((x) => x > ms).length;
      process.stderr.write(`bounds: ${checked} checked, ${unreported} releases never reported; arrival after its bound: ${over(0)} (> 1 ms ${over(1)}, > 5 ms ${over(5)}), most ${r3(late[late.length - 1] ?? 0)} ms, median ${r3(late[Math.floor(late.length / 2)] ?? 0)} ms\n`);
      // the store's busiest second, request by request: dispatch, write and arrival (ms from the first dispatch)
      const t0 = performance.timeOrigin + (times[0] as number);
      const arr = at.arrivals.map((a, i) => ({ a, id: at.ids[i] as string })).sort((x, y) => x.a - y.a);
      let best = 0;
      let bi = 0;
      for (let i = 0, j = 0; i < arr.length; i++) {
        while ((arr[i] as { a: number }).a - (arr[j] as { a: number }).a >= 1000) j++;
        if (i - j + 1 > best) [best, bi] = [i - j + 1, j];
      }
      for (const x of arr.slice(Math.max(0, bi - 3), bi + best + 3)) {
        const di = ids.indexOf(x.id);
        const wi = written.findIndex((w) => w.id === x.id);
        process.stderr.write(`${x.id}\tdispatch ${r3(performance.timeOrigin + (times[di] as number) - t0)}\twrite ${wi < 0 ? '-' : r3(performance.timeOrigin + (written[wi] as { at: number }).at - t0)}\tarrive ${r3(x.a - t0)}\n`);
      }
    }
  } finally {
    await dispatcher.close();
    await server.stop();
  }
}
