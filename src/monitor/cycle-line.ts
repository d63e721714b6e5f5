/**
 * The one line per cycle printed on stderr when stdout is not a terminal (CI, pipes, nohup):
 * logfmt key=value pairs, stable keys, easy to grep and to parse.
 */
import type { CycleReport, SimulationStats } from '../model/run.ts';
import { httpMetrics } from './dashboard.ts';
import type { MemoryReading } from './memory.ts';
import { errorPercent, formatDuration, type WindowRates } from './live-rates.ts';

function fixed(x: number | undefined, digits: number): string {
  return typeof x === 'number' && Number.isFinite(x) ? x.toFixed(digits) : '-';
}

/**
 * `cycle=7/24 sim=2024-01-01T07:00:00Z active=150/372 sessions=92 checkouts=40 abandoned=12
 * failures=1/18 events=600 p95_ms=180.7 req_s=12.3 rss_mb=212 duration_s=0.120 lag_s=0.000`
 * Per-cycle figures (sessions, checkouts, failures) are this cycle's; p95 and req/s are the
 * store client's current figures ("-" with the mock store).
 */
export function formatCycleLine(
  r: CycleReport,
  stats: Pick<SimulationStats, 'totalCycles' | 'totalAgents' | 'metrics'>,
  memory?: MemoryReading | null,
  live?: { rates: WindowRates; etaSeconds: number | null } | null,
): string {
  const http = httpMetrics(stats.metrics);
  const sim = r.simulatedTime.replace(/\.000Z$/, 'Z');
  const pct = stats.totalCycles > 0 ? Math.floor((r.cycle / stats.totalCycles) * 100) : 0;
  const win = (x: number | null, d: number) => (live?.rates.paused ? 'paused' : fixed(x ?? undefined, d));
  const liveText = live
    ? ` progress=${pct}% eta=${formatDuration(live.etaSeconds)} win_req_s=${win(live.rates.requestsPerSecond, 1)} ` +
      `win_sessions_min=${win(live.rates.sessionsPerMinute, 1)} win_err_pct=${win(live.rates.errorPercent, 2)}` +
      (http.calls !== undefined && http.errors !== undefined ? ` err_pct=${errorPercent(http.errors, http.calls).toFixed(2)}` : '') +
      (http.recentLatency ? ` win_p50_ms=${fixed(http.recentLatency.p50, 1)} win_p95_ms=${fixed(http.recentLatency.p95, 1)} win_p99_ms=${fixed(http.recentLatency.p99, 1)}` : '') +
      (http.httpErrors !== undefined ? ` http_errors=${http.httpErrors}` : '')
    : '';
  return (
    `cycle=${r.cycle}/${stats.totalCycles} sim=${sim} active=${r.active}/${stats.totalAgents} ` +
    `sessions=${r.totals.sessions} checkouts=${r.totals.checkouts} abandoned=${r.totals.abandoned} ` +
    `failures=${r.totals.failed}/${r.threshold} events=${r.totals.events} ` +
    `p95_ms=${fixed(http.latency?.p95, 1)} req_s=${fixed(http.requestsPerSecond, 1)}` +
    (memory ? ` rss_mb=${Math.round(memory.rssMb)}` : '') +
    ` duration_s=${r.durationSeconds.toFixed(3)} lag_s=${r.lagSeconds.toFixed(3)}` +
    liveText +
    (r.breakerOpen ? ' breaker=open' : '')
  );
}

/** The `s` key / stats line: run totals so far. */
export function formatStatsLine(s: SimulationStats, memory?: MemoryReading | null): string {
  const http = httpMetrics(s.metrics);
  return (
    `stats status=${s.status} cycles=${s.cyclesCompleted}/${s.totalCycles} sim=${s.simulatedTime.replace(/\.000Z$/, 'Z')} ` +
    `active=${s.activeAgents}/${s.totalAgents} sessions=${s.totals.sessions} checkouts=${s.totals.checkouts} ` +
    `abandoned=${s.totals.abandoned} failed=${s.totals.failed} events=${s.totals.events} offers=${s.offer.offers_assigned} ` +
    `requests=${http.requests ?? s.totals.calls} p95_ms=${fixed(http.latency?.p95, 1)} req_s=${fixed(http.requestsPerSecond, 1)}` +
    (memory ? ` rss_mb=${Math.round(memory.rssMb)}` : '') +
    ` breaker=${s.breaker.state} elapsed_s=${s.realElapsedSeconds.toFixed(1)}`
  );
}
