/**
 * The end-of-run summary: one screen (about 25 lines at 80 columns), outcome first, then the
 * funnel, the store's rates and per-endpoint latency, the database writes, the breaker, the last
 * checkpoint's full path (never truncated: it is meant to be pasted), the digest and the commands
 * that come next. A pure renderer; the JSON form is the RunSummary itself.
 */
import type { RunSummary } from '../model/run.ts';
import { dbWriteMetrics } from './dashboard.ts';
import { DEFAULT_CURRENCY, formatMoney } from './money.ts';
import { formatThresholdActual } from '../thresholds/thresholds.ts';
import { workerLines, type WorkerRow, type WorkerTable } from './worker-rows.ts';

export interface SummaryOptions {
  color?: boolean;
  /** Columns available (default 80); the endpoint table and wrapped lines fit them. */
  width?: number;
  /** Flags `shopsim report` needs to find the run's database (`--data-dir DIR`), if not the defaults. */
  reportArgs?: string;
  /**
   * Given (even ''): a run that did not complete is continued with `shopsim run --resume RUN_ID`
   * plus these flags (its database and checkpoint dir, when not the defaults), which fits the
   * screen; absent: with `--resume-from PATH`.
   */
  resumeArgs?: string;
  /** Screen rows the summary may take (default 25); the endpoint rows that do not fit are left to --json. */
  rows?: number;
}

type Latency = { p50?: number; p95?: number; p99?: number; count?: number };
type Endpoint = { count?: number; errors?: number; latency_ms?: Latency };

const n = (x: unknown) => (typeof x === 'number' ? x.toLocaleString('en-US') : '–');
const ms = (x: number | undefined) => (typeof x === 'number' && Number.isFinite(x) ? (x >= 100 ? String(Math.round(x)) : x.toFixed(1)) : '–');
const pct = (a: number, b: number) => (b > 0 ? `${((a / b) * 100).toFixed(1)}%` : '–');
const when = (iso: string) => `${iso.slice(0, 16).replace('T', ' ')}`;

function outcome(s: RunSummary): string {
  switch (s.exit_reason) {
    case 'completed':
      return 'completed';
    case 'stopped':
      return 'stopped by the user (state saved)';
    case 'breaker':
      return `stopped: the circuit breaker opened (more than ${s.breaker.threshold} agent failures in one cycle)`;
    case 'checkpoint_failed':
      return `stopped: checkpoints could not be written (${s.checkpoint_failures} failed writes); the last good one is kept`;
    default:
      return 'ended by an error';
  }
}

/** Rows a line takes on a terminal `width` columns wide (colour codes take none). */
export function screenRows(line: string, width: number): number {
  // eslint-disable-next-line no-control-regex
  return Math.max(1, Math.ceil(line.replace(/\u001b\[[0-9;]*m/g, '').length / width));
}

/** "label      text", text wrapped at spaces to `width` under its own column. */
function row(label: string, text: string, width: number): string[] {
  const pad = 12;
  const room = Math.max(20, width - pad);
  const out: string[] = [];
  let line = '';
  for (const word of text.split(' ')) {
    if (line && line.length + 1 + word.length > room) {
      out.push(line);
      line = word;
    } else line = line ? `${line} ${word}` : word;
  }
  out.push(line);
  return out.map((l, i) => `${(i === 0 ? label : '').padEnd(pad)}${l}`);
}

export function renderSummary(s: RunSummary, options: SummaryOptions = {}): string {
  const width = options.width ?? 80;
  const bold = (t: string) => (options.color ? `\x1b[1m${t}\x1b[22m` : t);
  const tone = (t: string) => (!options.color ? t : s.exit_reason === 'completed' ? `\x1b[32m${t}\x1b[39m` : `\x1b[33m${t}\x1b[39m`);
  const lines: string[] = [];
  lines.push(`${bold(`Run ${s.run_id}`)}: ${tone(outcome(s))}`);
  // One line as a rule: the end's date only when it differs; time-scale and lag only when a cycle started late.
  const span =
    `${n(s.cycles_completed)}/${n(s.cycles_total)} cycles, ${when(s.simulated_start)} → ${s.simulated_end.slice(0, 10) === s.simulated_start.slice(0, 10) ? s.simulated_end.slice(11, 16) : when(s.simulated_end)} UTC, ` +
    `${n(s.agents)} agents, seed ${s.seed}, wall ${s.wall_seconds.toFixed(1)} s` +
    (s.cycle_lag_max_s >= 0.1 ? `, time-scale ${s.time_scale}, max lag ${s.cycle_lag_max_s.toFixed(1)} s` : '');
  lines.push(...(span.length + 2 <= width ? [`  ${span}`] : row('', span, width).map((l) => `  ${l.trimStart()}`)));
  lines.push(
    ...row(
      'Funnel',
      `${n(s.sessions_created)} sessions: ${n(s.checkouts_completed)} checkouts (${pct(s.checkouts_completed, s.sessions_created)}), ` +
        `${n(s.sessions_abandoned)} abandoned, ${n(s.idle_browses)} browse only, ${n(s.sessions_failed)} failed` +
        (s.sessions_not_written ? ` (and ${n(s.sessions_not_written)} not written: their commit failed)` : '') + '; ' +
        `${n(s.carts_created)} carts, ${n(s.coupons_applied)} coupons, ${n(s.events_created)} events, ${n(s.offers_assigned)} offers`,
      width,
    ),
  );
  const currency = typeof s['currency'] === 'string' ? (s['currency'] as string) : DEFAULT_CURRENCY;
  const money = (cents: number) => formatMoney(cents, currency);
  lines.push(...row('Revenue', `${money(s.revenue_cents)} ${currency}${s.checkouts_completed > 0 ? ` (average order ${money(Math.round(s.revenue_cents / s.checkouts_completed))})` : ''}`, width));
  const endpoints = (s['endpoints'] ?? null) as Record<string, Endpoint> | null;
  const all = s['latency_ms'] as Latency | undefined;
  // Where the store and the database were is the banner's first lines; here only when there are no figures.
  const store = typeof s['store'] === 'string' ? `${s['store'] as string}: ` : '';
  if (typeof s['requests_per_second'] === 'number') {
    const errors = typeof s['errors'] === 'number' ? (s['errors'] as number) : 0;
    lines.push(
      ...row(
        'Store',
        `${n(s.requests)} requests, ${(s['requests_per_second'] as number).toFixed(1)}/s, ${n(errors)} errors (${pct(errors, s.requests)}), ` +
          `${n(s['timeouts'])} timeouts, ${n(s['retries_429'])} retried 429s`,
        width,
      ),
    );
  } else lines.push(...row('Store', `${store}${n(s.requests)} calls`, width));
  // The endpoint table goes here once the rest is known: it gets the rows left on the screen.
  const tableAt = lines.length;
  let table: (room: number) => string[] = () => [];
  if (endpoints && Object.keys(endpoints).length > 0) {
    const nameWidth = Math.max(8, Math.min(width - 12 - 38, Math.max(...Object.keys(endpoints).map((k) => k.length))));
    const fmt = (name: string, calls: string, errs: string, a: string, b: string, c: string) =>
      `${''.padEnd(12)}${name.length > nameWidth ? `${name.slice(0, nameWidth - 1)}…` : name.padEnd(nameWidth)} ${calls.padStart(8)} ${errs.padStart(6)} ${a.padStart(7)} ${b.padStart(7)} ${c.padStart(7)}`;
    const sorted = Object.entries(endpoints).sort((a, b) => (b[1].count ?? 0) - (a[1].count ?? 0));
    table = (room) => {
      // Header and the "all" row always; then the busiest endpoints that fit (at least three; all of them in --json).
      const fit = Math.min(sorted.length, Math.max(3, room - 1 - (all ? 1 : 0)));
      const more = sorted.length - fit;
      const out = [`${'Latency ms'.padEnd(12)}${fmt(more > 0 ? `top ${fit} of ${sorted.length}` : 'endpoint', 'calls', 'errors', 'p50', 'p95', 'p99').slice(12)}`];
      for (const [name, e] of sorted.slice(0, fit)) out.push(fmt(name, n(e.count), n(e.errors ?? 0), ms(e.latency_ms?.p50), ms(e.latency_ms?.p95), ms(e.latency_ms?.p99)));
      if (all) out.push(fmt('all', n(all.count ?? s.requests), n(s['errors'] ?? 0), ms(all.p50), ms(all.p95), ms(all.p99)));
      return out;
    };
  } else if (all && typeof all.p50 === 'number') {
    lines.push(...row('Latency', `p50 ${ms(all.p50)} ms, p95 ${ms(all.p95)} ms, p99 ${ms(all.p99)} ms`, width));
  }
  const db = dbWriteMetrics(s);
  const database = typeof s['database'] === 'string' ? (s['database'] as string) : null;
  if (db) {
    lines.push(
      ...row(
        'Database',
        `${n(db.commits)} agent-cycles, ${n(db.events)} events, ${n(db.failed)} failed; commit p95/p99 ${ms(db.commit_ms.p95)}/${ms(db.commit_ms.p99)} ms`,
        width,
      ),
    );
  } else if (database) lines.push(...row('Database', database, width));
  lines.push(
    ...row(
      'Breaker',
      `${s.breaker.state}, ${s.breaker.trips} trips (limit ${s.breaker.threshold} failing agents/cycle, ${s.breaker.percent}%); ${n(s.agent_failures)} agent failures` +
        (s.store_refusals ? `, ${n(s.store_refusals)} store refusals (not counted)` : ''),
      width,
    ),
  );
  const thresholds = Array.isArray(s['thresholds']) ? (s['thresholds'] as { threshold: string; actual: number | null; ok: boolean }[]) : [];
  thresholds.forEach((t, i) => {
    lines.push(`${(i === 0 ? 'Thresholds' : '').padEnd(12)}${t.ok ? 'ok' : 'FAILED'} ${t.threshold} (${formatThresholdActual(t.actual)})`);
  });
  if (s.checkpoint_failures > 0) lines.push(...row('Checkpoints', `${n(s.checkpoint_failures)} writes failed (retried at the next cycle)`, width));
  // Paths are never cut: a line holding one may be wider than the screen.
  if (s.resumed_from) lines.push(`${'Resumed'.padEnd(12)}${s.resumed_from}`);
  if (s.last_checkpoint) lines.push(`${'Checkpoint'.padEnd(12)}${s.last_checkpoint}`);
  lines.push(`Digest      ${s.digest}`.length <= width ? `Digest      ${s.digest}` : `Digest ${s.digest}`);
  const next: string[] = [];
  if (db) next.push(`shopsim report --run ${s.run_id}${options.reportArgs ? ` ${options.reportArgs}` : ''}`);
  if (s.exit_reason !== 'completed' && s.last_checkpoint) {
    next.push(options.resumeArgs !== undefined ? `shopsim run --resume ${s.run_id}${options.resumeArgs ? ` ${options.resumeArgs}` : ''}` : `shopsim run --resume-from ${s.last_checkpoint}`);
  }
  if (s.last_checkpoint) next.push(`shopsim replay ${s.last_checkpoint} --verify`);
  next.forEach((c, i) => lines.push(`${(i === 0 ? 'Next' : '').padEnd(12)}${c}`));
  // What a terminal of `width` columns shows: a line longer than that (one holding a whole path) takes more rows.
  const used = lines.reduce((a, l) => a + screenRows(l, width), 0);
  lines.splice(tableAt, 0, ...table((options.rows ?? 25) - used));
  return lines.join('\n');
}

/**
 * The per-worker rows after the summary (a run with --workers N or --redis): one line per worker
 * (thread index or host:pid, state, cohorts held at the end, agent-cycles/s and req/s over the
 * run, memory, heartbeat age) and the merged totals; a distributed run's lines also name the
 * cohort jobs each completed. Nothing for an in-process run.
 */
export function workerSummaryLines(s: RunSummary, width = 80): string[] {
  const rows = (s['workers'] as Record<string, unknown>[] | undefined) ?? [];
  const totals = s['workers_total'] as WorkerTable['totals'] | undefined;
  if (rows.length === 0 || !totals || totals.workers === undefined) return [];
  const table: WorkerTable = {
    heartbeat_ms: 0,
    rows: rows.filter((r) => typeof r['id'] === 'string' && typeof r['status'] === 'string') as unknown as WorkerRow[],
    totals,
  };
  const out = workerLines(table, width);
  for (const r of rows) if (typeof r['cohort_cycles'] === 'number') out.push(`worker ${String(r['id'])}: ${n(r['cohort_cycles'])} cohort jobs${r['lost'] ? ' (lost)' : ''}, last heartbeat ${String(r['last_heartbeat'])}`.slice(0, width));
  return out;
}
