/**
 * The live dashboard as a string: a pure function of the run's stats (plus memory, notices
 * and the breaker banner). Only src/cli (attach-monitor.ts) writes it to a terminal.
 * It fits 80×24 and uses colour only when asked to.
 */
import { DEFAULT_CURRENCY, formatMoney } from './money.ts';
import Table from 'cli-table3';
import type { SimulationStats } from '../model/run.ts';
import type { DbWriteMetrics } from '../model/types.ts';
import { formatThresholdActual } from '../thresholds/thresholds.ts';
import { formatMemory, memoryWarning, type MemoryReading } from './memory.ts';
import { workerLines, workerTableOf, type WorkerTable } from './worker-rows.ts';
import { endpointTable, errorPercent, formatDuration, formatRate, progressBar, type EndpointRow, type WindowRates } from './live-rates.ts';

export interface DashboardView {
  stats: SimulationStats;
  memory: MemoryReading | null;
  /** RSS warning threshold, MB (the warning line shows above it). */
  memoryWarningMb?: number;
  /** Warm-up ramp length, to say "warm-up" while it runs. */
  warmupCycles?: number;
  /** Whether keys work (a TTY with raw mode): shows the key header. */
  keys?: boolean;
  /** Last few messages (checkpoint written, stats line, signals…), newest last. */
  notices?: string[];
  /** Overrides the status shown (e.g. "QUITTING" once q was pressed). */
  statusOverride?: string | null;
  /** Sliding-window rates (src/cli samples the wall clock) and the ETA; absent: no progress row. */
  live?: { rates: WindowRates; etaSeconds: number | null } | null;
  /** ISO 4217 code of the revenue shown beside the checkouts (default USD). */
  currency?: string;
  /** The --threshold results on the run's figures so far (one line: each, its figure, ok/FAILED). */
  thresholds?: readonly { text: string; actual: number | null; ok: boolean }[];
}

export interface DashboardOptions {
  width?: number;
  /** Rows available (default 24, at most 60): a taller terminal gets more endpoint rows and notices. */
  height?: number;
  color?: boolean;
}

const ESC = '\u001b[';
const paint = (on: boolean, code: string, s: string) => (on ? `${ESC}${code}m${s}${ESC}0m` : s);

/** Strips ANSI escapes (to measure what a terminal shows). */
export function visibleText(s: string): string {
  // eslint-disable-next-line no-control-regex
  return s.replace(/\u001b\[[0-9;?]*[A-Za-z]/g, '');
}

function n(x: number | undefined | null): string {
  return typeof x === 'number' && Number.isFinite(x) ? x.toLocaleString('en-US') : '–';
}

function hms(seconds: number): string {
  const s = Math.max(0, Math.floor(seconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  return `${String(h).padStart(2, '0')}:${String(m).padStart(2, '0')}:${String(s % 60).padStart(2, '0')}`;
}

function simTime(iso: string): string {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  const day = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'][d.getUTCDay()];
  return `${iso.slice(0, 10)} ${iso.slice(11, 16)} ${day}`;
}

/** Keeps the end of a long value (paths): "…/checkpoints/run-…-c0012.json". */
function tail(s: string, max: number): string {
  return s.length <= max ? s : `…${s.slice(s.length - max + 1)}`;
}

function head(s: string, max: number): string {
  return s.length <= max ? s : `${s.slice(0, max - 1)}…`;
}

export const STATUS_LABELS: Record<SimulationStats['status'], string> = {
  starting: 'STARTING',
  running: 'RUNNING',
  paused: 'PAUSED',
  breaker_open: 'BREAKER OPEN',
  stopping: 'STOPPING',
  stopped: 'STOPPED',
  completed: 'COMPLETED',
  failed: 'FAILED',
};

function statusColor(status: SimulationStats['status']): string {
  if (status === 'running' || status === 'completed') return '32;1';
  if (status === 'breaker_open' || status === 'failed') return '31;1';
  return '33;1';
}

interface HttpMetrics {
  requests?: number;
  requestsPerSecond?: number;
  latency?: { p50?: number; p95?: number; p99?: number };
  /** Over the last 30 s (the store client's recent window). */
  recentLatency?: { p50?: number; p95?: number; p99?: number; count?: number };
  httpErrors?: number;
  retries429?: number;
  effectiveRate?: number;
  calls?: number;
  errors?: number;
  endpoints?: Record<string, EndpointRow>;
}

/** The HTTP figures another part of the run puts into stats.metrics (absent with --mock-api). */
export function httpMetrics(metrics: Record<string, unknown>): HttpMetrics {
  const num = (k: string) => (typeof metrics[k] === 'number' ? (metrics[k] as number) : undefined);
  const lat = metrics['latency_ms'];
  const out: HttpMetrics = {};
  const requests = num('requests');
  if (requests !== undefined) out.requests = requests;
  const rps = num('requests_per_second');
  if (rps !== undefined) out.requestsPerSecond = rps;
  if (lat && typeof lat === 'object') out.latency = lat as HttpMetrics['latency'] & object;
  const recent = metrics['recent_latency_ms'];
  if (recent && typeof recent === 'object') out.recentLatency = recent as HttpMetrics['recentLatency'] & object;
  // The HTTP store reports errors by status ({"503": 4}); a total, 0 when there are none.
  const byStatus = metrics['http_errors'];
  const errs =
    byStatus && typeof byStatus === 'object' ? Object.values(byStatus).reduce<number>((a, v) => a + (typeof v === 'number' ? v : 0), 0) : num('http_errors');
  if (errs !== undefined) out.httpErrors = errs;
  const calls = num('calls');
  if (calls !== undefined) out.calls = calls;
  const failed = num('errors');
  if (failed !== undefined) out.errors = failed;
  const eps = metrics['endpoints'];
  if (eps && typeof eps === 'object') out.endpoints = eps as Record<string, EndpointRow>;
  const r429 = num('retries_429');
  if (r429 !== undefined) out.retries429 = r429;
  const eff = num('effective_rate');
  if (eff !== undefined) out.effectiveRate = eff;
  return out;
}

/** The database recorder's figures in stats.metrics (`db_writes`; absent with --mock-db). */
export function dbWriteMetrics(metrics: Record<string, unknown>): DbWriteMetrics | null {
  const m = metrics['db_writes'];
  return m && typeof m === 'object' && typeof (m as DbWriteMetrics).commits === 'number' ? (m as DbWriteMetrics) : null;
}

/** "12.3 (avg 10.1)": the window's rate beside the run's average; "paused" while paused. */
function reqPerSec(http: HttpMetrics, rates: WindowRates | undefined): string {
  const avg = http.requestsPerSecond === undefined ? '–' : String(Math.round(http.requestsPerSecond * 10) / 10);
  if (!rates) return avg;
  return `${formatRate(rates.requestsPerSecond, rates.paused)} (avg ${avg})`;
}

/** "0" with none (the real store reports a total; the mock store none: "–"). */
function httpErrorsText(http: HttpMetrics): string {
  if (http.httpErrors === undefined) return '–';
  return http.retries429 ? `${n(http.httpErrors)} (429s ${n(http.retries429)})` : n(http.httpErrors);
}

function errorRateText(http: HttpMetrics, rates: WindowRates): string {
  const total = http.calls !== undefined && http.errors !== undefined ? `${errorPercent(http.errors, http.calls).toFixed(1)}%` : '–';
  const now = rates.paused ? 'paused' : rates.errorPercent === null ? '–' : `${rates.errorPercent.toFixed(1)}%`;
  return `${now} (all ${total})`;
}

function pcts(l: { p50?: number; p95?: number; p99?: number; count?: number } | undefined, paused: boolean): string {
  if (paused) return 'paused';
  if (l && l.count === 0) return 'no calls';
  return `${ms(l?.p50)} / ${ms(l?.p95)} / ${ms(l?.p99)} ms`;
}

function ms(x: number | undefined): string {
  return typeof x === 'number' && Number.isFinite(x) ? (x >= 100 ? String(Math.round(x)) : String(Math.round(x * 10) / 10)) : '–';
}

/** The thresholds line: "Thresholds  http_p95_ms<500 12.3 ok · error_rate<0.05 0.06120 FAILED" (null: none given). */
export function thresholdsLine(results: DashboardView['thresholds'], width: number, color: boolean): string | null {
  if (!results || results.length === 0) return null;
  const failed = results.filter((r) => !r.ok).length;
  const label = failed > 0 ? `Thresholds (${failed} FAILED)` : 'Thresholds';
  // Failed ones first; what does not fit is counted ("+2 more"), never cut mid-verdict.
  const parts = [...results.filter((r) => !r.ok), ...results.filter((r) => r.ok)].map((r) => `${r.text} ${formatThresholdActual(r.actual)} ${r.ok ? 'ok' : 'FAILED'}`);
  let text = `${label} `;
  for (let i = 0; i < parts.length; i++) {
    const sep = i === 0 ? ' ' : ' · ';
    const rest = parts.length - i - 1;
    const more = rest > 0 ? ` · +${rest} more` : '';
    if (text.length + sep.length + (parts[i] as string).length + more.length <= width) text += sep + (parts[i] as string);
    else {
      text += `${sep}+${parts.length - i} more`;
      break;
    }
  }
  text = head(text, width);
  if (!color) return text;
  // Colour each verdict of the (possibly cut) line.
  return text.replace(/ (ok|FAILED)(?= ·|$)/g, (_m, v: string) => ` ${paint(true, v === 'ok' ? '32' : '31;1', v)}`);
}

/** The most frequent failure messages of the last cycle: "12× checkout: store returned 503". */
export function topFailures(stats: SimulationStats, limit = 3): string[] {
  const samples = stats.lastCycle?.totals.failureSamples ?? [];
  const counts = new Map<string, number>();
  for (const f of samples) {
    const key = `${f.step}: ${f.message}`;
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  return [...counts.entries()]
    .sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))
    .slice(0, limit)
    .map(([msg, count]) => `${count}× ${msg}`);
}

/** The breaker-open banner lines (also printed on stderr without a terminal). */
export function breakerBanner(stats: SimulationStats, resumeHint: string): string[] {
  const failed = stats.breaker.lastCycleFailures;
  const lines = [
    `CIRCUIT BREAKER OPEN: ${n(failed)} agents failed in cycle ${n(stats.lastCycle?.cycle ?? stats.cyclesCompleted)} ` +
      `(threshold ${n(stats.breaker.threshold)} = ${stats.breaker.percent}% of ${n(stats.totalAgents)})`,
  ];
  const top = topFailures(stats);
  if (top.length > 0) {
    lines.push(`Most frequent errors (of ${n(stats.lastCycle?.totals.failureSamples.length ?? 0)} sampled):`);
    for (const t of top) lines.push(`  ${t}`);
  }
  lines.push(resumeHint);
  return lines;
}

/** "268 · $1,234.56": checkouts and revenue; without the cents, then abbreviated ($1.2M), when the cell is too narrow. */
function checkoutsText(checkouts: number, revenueCents: number, currency: string, room: number): string {
  const full = `${n(checkouts)} · ${formatMoney(revenueCents, currency)}`;
  if (full.length <= room) return full;
  const whole = `${n(checkouts)} · ${formatMoney(revenueCents, currency, 0)}`;
  if (whole.length <= room) return whole;
  const short = new Intl.NumberFormat('en-US', { style: 'currency', currency, notation: 'compact', maximumFractionDigits: 1 }).format(revenueCents / 100).replace(/\u00a0/g, ' ');
  return `${n(checkouts)} · ${short}`;
}

export const KEYS_HEADER = 'p pause  r resume  c checkpoint  s stats  q quit';

/**
 * Renders the dashboard. `width` is the terminal's columns (80 by default; the layout is
 * never wider than `width` and at most 100 columns).
 */
export function renderDashboard(view: DashboardView, options: DashboardOptions = {}): string {
  const width = Math.max(60, Math.min(100, options.width ?? 80));
  // One row is left for the cursor's line after the frame (src/cli/terminal.ts draws a newline after it).
  const height = options.height === undefined ? 24 : Math.max(24, Math.min(60, options.height - 1));
  const color = options.color === true;
  const s = view.stats;
  const http = httpMetrics(s.metrics);
  const db = dbWriteMetrics(s.metrics);
  const lines: string[] = [];

  const warming = (view.warmupCycles ?? 0) > 0 && s.cyclesCompleted < (view.warmupCycles ?? 0);
  const statusText = (view.statusOverride ?? STATUS_LABELS[s.status]) + (warming && s.status === 'running' ? ` · WARM-UP ${s.cyclesCompleted}/${view.warmupCycles}` : '');
  const title = `shopsim ${s.runId}${s.isReplay ? ' (resumed)' : ''}`;
  const left = `${paint(color, '1', head(title, width - statusText.length - 4))}`;
  const pad = Math.max(1, width - visibleText(left).length - statusText.length);
  lines.push(`${left}${' '.repeat(pad)}${paint(color, statusColor(s.status), statusText)}`);
  if (view.live) {
    const eta = s.status === 'completed' ? 'done' : `ETA ${formatDuration(view.live.etaSeconds)}`;
    lines.push(`${progressBar(s.cyclesCompleted, s.totalCycles, width - eta.length - 1)} ${eta}`);
  }
  lines.push(view.keys ? paint(color, '2', `keys: ${KEYS_HEADER}`) : paint(color, '2', 'no keyboard: signals USR1 checkpoint, USR2 pause/resume, INT/TERM stop'));

  // Four columns: label, value, label, value. 5 borders + widths = width.
  const labelW = 15;
  const valueW = Math.floor((width - 5 - 2 * labelW) / 2);
  const valueW2 = width - 5 - 2 * labelW - valueW;
  const wide = labelW + valueW2 + valueW; // content width of a value spanning three columns
  const t = new Table({
    colWidths: [labelW, valueW, labelW, valueW2],
    wordWrap: false,
    style: { compact: true, 'padding-left': 1, 'padding-right': 1, head: [], border: color ? ['grey'] : [] },
  });

  const active = s.activeAgents;
  const total = s.totalAgents;
  const pct = total > 0 ? Math.round((active / total) * 100) : 0;
  const agents = `${n(active)} / ${n(total)} (${pct}%${warming ? ' ramp' : ''})`;
  const failedCell = s.totals.failed > 0 ? paint(color, '31', n(s.totals.failed)) : n(s.totals.failed);
  const errors = http.httpErrors ?? s.totals.failed;
  const memory = view.memory ? formatMemory(view.memory) : '–';
  const breakerOpen = s.breaker.state === 'open';
  const breakerText =
    `${breakerOpen ? 'OPEN' : 'closed'} · this cycle ${n(s.breaker.lastCycleFailures)} / ${n(s.breaker.threshold)} failures ` +
    `(${s.breaker.percent}%) · trips ${n(s.breaker.trips)}`;

  t.push(
    ['Cycles', `${n(s.cyclesCompleted)} / ${n(s.totalCycles)}`, 'Simulated', simTime(s.simulatedTime)],
    ['Real elapsed', hms(s.realElapsedSeconds), 'Cycle lag', `${s.cycleLagSeconds.toFixed(2)} s (max ${s.cycleLagMaxSeconds.toFixed(2)})`],
    ['Agents', agents, 'Sessions', n(s.totals.sessions)],
    ['Checkouts', checkoutsText(s.totals.checkouts, s.totals.revenueCents, view.currency ?? DEFAULT_CURRENCY, valueW - 2), 'Abandoned', n(s.totals.abandoned)],
    ['Failed', failedCell, 'Errors', n(errors)],
    ['Offers', n(s.offer.offers_assigned), 'Events', n(s.totals.events)],
    ['Memory', { content: head(memory, wide), colSpan: 3 }],
    ...(http.recentLatency ? [['p50/95/99 30s', pcts(http.recentLatency, s.status === 'paused'), 'Requests', n(http.requests ?? s.totals.calls)]] : []),
    [http.recentLatency ? 'p50/95/99 all' : 'p50/p95/p99', pcts(http.latency, false), ...(http.recentLatency ? ['Retries 429', `${n(http.retries429)}${http.effectiveRate ? ` · pace ${http.effectiveRate}/s` : ''}`] : ['Requests', n(http.requests ?? s.totals.calls)])],
    ['Req/s', reqPerSec(http, view.live?.rates), 'HTTP errors', httpErrorsText(http)],
    ...(view.live ? [['Sessions/min', formatRate(view.live.rates.sessionsPerMinute, view.live.rates.paused), 'Error rate', errorRateText(http, view.live.rates)]] : []),
    db
      ? ['DB writes', `${n(db.commits)} ok · ${db.failed > 0 ? paint(color, '31', n(db.failed)) : '0'} failed`, 'Commit ms', `${ms(db.commit_ms.p50)} / ${ms(db.commit_ms.p95)} (p50/p95)`]
      : ['DB writes', { content: 'none (--mock-db)', colSpan: 3 }],
    ['Breaker', { content: paint(color && breakerOpen, '31;1', head(breakerText, wide)), colSpan: 3 }],
    ['Checkpoint', { content: s.lastCheckpoint ? tail(s.lastCheckpoint, wide) : 'none yet', colSpan: 3 }],
  );
  lines.push(...t.toString().split('\n'));
  const thresholds = thresholdsLine(view.thresholds, width, color);
  if (thresholds) lines.push(thresholds);
  // The workers (--workers N, --redis): a row each while they fit, else one line; lost and stale ones always named.
  const workers = workerTableOf(s.metrics);
  if (workers) lines.push(...workersBlock(workers, width, height - lines.length - 1, color));
  // The per-endpoint table: as many rows as leave room for its header, the "more" line and one notice.
  if (http.endpoints && Object.keys(http.endpoints).length > 0) {
    const rows = height - lines.length - 3;
    if (rows >= 1) lines.push(...endpointTable(http.endpoints, width, rows).map((l) => head(l, width)));
  }

  if (breakerOpen) {
    const banner = breakerBanner(s, view.keys ? 'Press r to resume, q to quit (a checkpoint is written).' : 'Send SIGUSR2 to resume (kill -USR2 <pid>), SIGTERM to stop.');
    for (const l of banner.slice(0, 6)) lines.push(paint(color, '31;1', head(l, width)));
  }
  const warn = view.memory && view.memoryWarningMb ? memoryWarning(view.memory, view.memoryWarningMb) : null;
  if (warn) lines.push(paint(color, '33', head(warn, width)));
  const room = height - lines.length;
  // Notices wrap (a checkpoint path matters in full); the newest that fit are shown.
  const wrapped: string[] = [];
  for (const msg of view.notices ?? []) {
    wrapped.push(msg.slice(0, width));
    for (let i = width; i < msg.length; i += width - 2) wrapped.push(`  ${msg.slice(i, i + width - 2)}`);
  }
  if (room > 0) lines.push(...wrapped.slice(-room));
  return lines.join('\n');
}


/** The workers in at most `room` lines (at least one): the table, or a line of totals naming the workers not ok. */
export function workersBlock(t: WorkerTable, width: number, room: number, color: boolean): string[] {
  const bad = t.rows.filter((r) => r.status !== 'ok' && r.status !== 'busy');
  if (room >= 3) {
    return workerLines(t, width, room - 2).map((l) => (/^.{22} LOST /.test(l) ? paint(color, '31;1', l) : /^.{22} STALE/.test(l) ? paint(color, '33', l) : l));
  }
  const x = t.totals;
  const named = bad.length ? ` · ${bad.map((r) => `${r.id} ${r.status.toUpperCase()}`).join(', ')}` : '';
  return [paint(color && bad.length > 0, '33', head(`Workers ${x.live}/${x.workers} ok · ${x.agent_cycles_per_s.toFixed(1)} agent-cyc/s · ${x.requests_per_s.toFixed(1)} req/s · ${Math.round(x.memory_mb)} MB${named}`, width))];
}
