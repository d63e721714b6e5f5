/**
 * What the web page shows, folded from the simulation: a 1 Hz sample (stats, occupancy, rates,
 * memory) kept in a bounded history for late viewers, and one point per completed cycle
 * (simulated hour). Subscribes to the simulation's typed events; reads stats() and occupancy();
 * never sends anything to the actors.
 */
import type { CycleReport, SimulationStats } from '../model/run.ts';
import type { Simulation } from '../simulation/types.ts';
import type { Occupancy } from '../simulation/occupancy.ts';
import { workerTableOf, type WorkerTable } from '../monitor/worker-rows.ts';
import { evaluateThresholds, thresholdFigures, type Threshold } from '../thresholds/thresholds.ts';

export interface SecondPoint {
  /** Unix seconds. */
  t: number;
  rps: number;
  /** The limiter's pace now, req/s (the limit unless 429s cut it); null without a limit or an HTTP store. */
  pace: number | null;
  /** 429 answers per second since the previous sample. */
  r429: number;
  p50: number | null;
  p95: number | null;
  p99: number | null;
  active: number;
  breakerOpen: number;
  rssMb: number;
  /** p95 per endpoint (ms), when the store is HTTP. */
  endpoints: Record<string, number>;
  /** p50 and p99 per endpoint (ms), beside `endpoints`' p95 (the page's percentile picker). */
  endpointsP50: Record<string, number>;
  endpointsP99: Record<string, number>;
  /** Database commit latency since the start (ms), when the run records to a database. */
  commitP50: number | null;
  commitP95: number | null;
}

export interface HourPoint {
  cycle: number;
  simulatedTime: string;
  sessions: number;
  checkouts: number;
  abandoned: number;
  failed: number;
  conversion: number | null;
  durationSeconds: number;
}

export interface WebState {
  runId: string;
  status: SimulationStats['status'];
  cycle: number;
  totalCycles: number;
  simulatedTime: string;
  realElapsedSeconds: number;
  etaSeconds: number | null;
  activeAgents: number;
  totalAgents: number;
  breaker: SimulationStats['breaker'] & { recentErrors: { message: string; count: number }[] };
  totals: SimulationStats['totals'];
  occupancy: Occupancy | null;
  /** The store client's pacing: the limit, the pace now (AIMD after 429s), 429 answers and retries so far; null with the mock store. */
  pacing: { limit: number; pace: number; responses429: number; retried429: number } | null;
  /** The orchestrator's region states, e.g. { cycle: 'executing', control: 'running', breaker: 'closed' }. */
  orchestrator: Record<string, string> | null;
  lastCheckpoint: string | null;
  /** How long the last occupancy walk took, ms (shown on the page; the cost of this view). */
  sampleMs: number;
  /** The --threshold results on the run's figures so far (empty: none given). */
  thresholds: { threshold: string; actual: number | null; ok: boolean }[];
  /** The cohorts' workers (--workers N, --redis): a row each (lost and stale marked) and the totals; null in-process. */
  workers: WorkerTable | null;
}

export interface WebSampler {
  current(): WebState;
  seconds(): SecondPoint[];
  hours(): HourPoint[];
  /** Takes one sample now (the timer calls it at 1 Hz). */
  sample(): { state: WebState; point: SecondPoint };
  /** New hour points since index `from`. */
  hoursSince(from: number): HourPoint[];
  stop(): void;
}

const MAX_SECONDS = 3600;
const MAX_HOURS = 10_000;

function num(v: unknown): number | null {
  return typeof v === 'number' && Number.isFinite(v) ? v : null;
}

export function createWebSampler(sim: Simulation, options: { now?: () => number; thresholds?: readonly Threshold[] } = {}): WebSampler {
  const thresholds = options.thresholds ?? [];
  const now = options.now ?? (() => performance.timeOrigin + performance.now());
  const seconds: SecondPoint[] = [];
  const hours: HourPoint[] = [];
  const errorCounts = new Map<string, number>();
  let lastRequests: { t: number; n: number; n429: number } | null = null;
  let state: WebState | null = null;

  const onCycle = (r: CycleReport) => {
    const t = r.totals;
    hours.push({
      cycle: r.cycle,
      simulatedTime: r.simulatedTime,
      sessions: t.sessions,
      checkouts: t.checkouts,
      abandoned: t.abandoned,
      failed: t.failed,
      conversion: t.sessions > 0 ? t.checkouts / t.sessions : null,
      durationSeconds: r.durationSeconds,
    });
    if (hours.length > MAX_HOURS) hours.shift();
    for (const f of t.failureSamples) {
      const key = `${f.step}: ${f.message}`.slice(0, 200);
      errorCounts.set(key, (errorCounts.get(key) ?? 0) + 1);
    }
  };
  sim.events.on('cycle', onCycle);

  function sample(): { state: WebState; point: SecondPoint } {
    const s = sim.stats();
    const t0 = performance.now();
    const occ = sim.occupancy();
    const sampleMs = performance.now() - t0;
    const m = s.metrics as Record<string, unknown>;
    const requests = num(m['requests']) ?? s.totals.calls;
    const tMs = now();
    const rps = lastRequests && tMs > lastRequests.t ? ((requests - lastRequests.n) * 1000) / (tMs - lastRequests.t) : 0;
    const n429 = num((m['http_errors'] as Record<string, unknown> | undefined)?.['429']) ?? 0;
    const r429 = lastRequests && tMs > lastRequests.t ? ((n429 - lastRequests.n429) * 1000) / (tMs - lastRequests.t) : 0;
    lastRequests = { t: tMs, n: requests, n429 };
    const limit = num((m['rate_limit'] as Record<string, unknown> | undefined)?.['rate']);
    const pace = num(m['effective_rate']);
    const pacing = limit !== null && pace !== null ? { limit, pace, responses429: n429, retried429: num(m['retries_429']) ?? 0 } : null;
    const lat = (m['latency_ms'] ?? {}) as Record<string, unknown>;
    const endpoints: Record<string, number> = {};
    const endpointsP50: Record<string, number> = {};
    const endpointsP99: Record<string, number> = {};
    for (const [name, e] of Object.entries((m['endpoints'] ?? {}) as Record<string, { latency_ms?: { p50?: unknown; p95?: unknown; p99?: unknown } }>)) {
      const p50 = num(e?.latency_ms?.p50);
      const p95 = num(e?.latency_ms?.p95);
      const p99 = num(e?.latency_ms?.p99);
      if (p95 !== null) endpoints[name] = p95;
      if (p50 !== null) endpointsP50[name] = p50;
      if (p99 !== null) endpointsP99[name] = p99;
    }
    const commit = ((m['db_writes'] ?? {}) as { commit_ms?: Record<string, unknown> }).commit_ms ?? {};
    const commits = num((commit as Record<string, unknown>)['count']) ?? 0;
    const point: SecondPoint = {
      t: Math.round(tMs) / 1000,
      rps: Math.max(0, Math.round(rps * 10) / 10),
      pace: pacing && pacing.limit > 0 ? pacing.pace : null,
      r429: Math.max(0, Math.round(r429 * 10) / 10),
      p50: num(lat['p50']),
      p95: num(lat['p95']),
      p99: num(lat['p99']),
      active: s.activeAgents,
      breakerOpen: s.breaker.state === 'open' ? 1 : 0,
      rssMb: Math.round(process.memoryUsage.rss() / 1048576),
      endpoints,
      endpointsP50,
      endpointsP99,
      commitP50: commits > 0 ? num(commit['p50']) : null,
      commitP95: commits > 0 ? num(commit['p95']) : null,
    };
    seconds.push(point);
    if (seconds.length > MAX_SECONDS) seconds.shift();
    const remaining = Math.max(0, s.totalCycles - s.cyclesCompleted);
    const perCycle = hours.length > 0 ? hours.reduce((a, h) => a + h.durationSeconds, 0) / hours.length : null;
    const orchestrator = occ?.orchestrator && typeof occ.orchestrator === 'object' ? (occ.orchestrator as Record<string, string>) : null;
    state = {
      runId: s.runId,
      status: s.status,
      cycle: s.cyclesCompleted,
      totalCycles: s.totalCycles,
      simulatedTime: s.simulatedTime,
      realElapsedSeconds: s.realElapsedSeconds,
      // Paced runs: the remaining cycles at their interval; --fast: at the mean cycle duration so far.
      etaSeconds: sim.config.fast ? (perCycle === null ? null : remaining * perCycle) : (remaining * 3600) / sim.config.timeScale,
      activeAgents: s.activeAgents,
      totalAgents: s.totalAgents,
      breaker: { ...s.breaker, recentErrors: [...errorCounts].sort((a, b) => b[1] - a[1]).slice(0, 5).map(([message, count]) => ({ message, count })) },
      totals: s.totals,
      occupancy: occ ? { counts: occ.counts, samples: occ.samples, total: occ.total } : null,
      pacing,
      orchestrator,
      lastCheckpoint: s.lastCheckpoint,
      sampleMs: Math.round(sampleMs * 100) / 100,
      thresholds: evaluateThresholds(thresholds, thresholdFigures(s)).map((r) => ({ threshold: r.text, actual: r.actual, ok: r.ok })),
      workers: workerTableOf(m),
    };
    return { state, point };
  }

  return {
    current: () => state ?? sample().state,
    seconds: () => seconds,
    hours: () => hours,
    sample,
    hoursSince: (from) => hours.slice(from),
    stop: () => {
      sim.events.off('cycle', onCycle);
    },
  };
}
