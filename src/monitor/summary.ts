/** The end-of-run summary as a cli-table3 table (the JSON form is the RunSummary itself). */
import Table from 'cli-table3';
import type { RunSummary } from '../model/run.ts';
import { dbWriteMetrics } from './dashboard.ts';

function n(x: unknown): string {
  return typeof x === 'number' ? x.toLocaleString('en-US') : String(x ?? '');
}

export function renderSummary(s: RunSummary, options: { color?: boolean } = {}): string {
  const style = options.color === false ? { head: [], border: [] } : { head: ['cyan'] };
  const t = new Table({ head: ['Run summary', s.run_id], style, colWidths: [26, 50], wordWrap: true });
  const lat = s['latency_ms'] as { p50?: number; p95?: number; p99?: number } | undefined;
  const rows: [string, string][] = [
    ['Exit', s.exit_reason],
    ['Agents', n(s.agents)],
    ['Cycles', `${n(s.cycles_completed)} of ${n(s.cycles_total)}`],
    ['Simulated', `${s.simulated_start} → ${s.simulated_end}`],
    ['Sessions created', n(s.sessions_created)],
    ['  browse only', n(s.idle_browses)],
    ['  checkouts', n(s.checkouts_completed)],
    ['  abandoned', n(s.sessions_abandoned)],
    ['  failed', n(s.sessions_failed)],
    ['Carts / coupons applied', `${n(s.carts_created)} / ${n(s.coupons_applied)}`],
    ['Revenue', `${(s.revenue_cents / 100).toLocaleString('en-US', { minimumFractionDigits: 2, maximumFractionDigits: 2 })}`],
    ['Events', n(s.events_created)],
    ['Offers assigned', n(s.offers_assigned)],
    ['Store requests', n(s.requests)],
    ['Agent failures', n(s.agent_failures)],
    ['Store refusals', n(s.store_refusals)],
    ['Breaker', `${s.breaker.state} (threshold ${s.breaker.threshold} per cycle, ${s.breaker.trips} trips)`],
  ];
  if (lat && typeof lat.p50 === 'number') rows.push(['Latency p50/p95/p99 ms', `${lat.p50} / ${lat.p95} / ${lat.p99}`]);
  if (typeof s['requests_per_second'] === 'number') rows.push(['Requests/s', n(Math.round((s['requests_per_second'] as number) * 10) / 10)]);
  const db = dbWriteMetrics(s);
  if (db) {
    rows.push(['Database writes', `${n(db.commits)} agent-cycles, ${n(db.events)} events, ${n(db.failed)} failed, ${n(db.statements)} statements`]);
    rows.push(['Commit p50/p95/p99 ms', `${db.commit_ms.p50} / ${db.commit_ms.p95} / ${db.commit_ms.p99}`]);
  }
  rows.push(['Wall time', `${s.wall_seconds.toFixed(2)} s (max cycle lag ${s.cycle_lag_max_s.toFixed(2)} s)`]);
  if (s.checkpoint_failures > 0) rows.push(['Checkpoint failures', `${n(s.checkpoint_failures)} (not written; retried at the next cycle)`]);
  if (s.resumed_from) rows.push(['Resumed from', s.resumed_from]);
  if (s.last_checkpoint) rows.push(['Last checkpoint', s.last_checkpoint]);
  for (const r of rows) t.push(r);
  return `${t.toString()}\nDigest: ${s.digest}`;
}
