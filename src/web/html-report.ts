/**
 * The HTML report (`shopsim report --html FILE`, `shopsim run --report-html FILE`): one
 * self-contained file — uPlot, the web page's map code (assets/map.js), the report's script and
 * styles and the run's data all inlined, no outside URL (its Content-Security-Policy allows no
 * fetch at all), so it opens from file:// with the network unplugged and can be sent as is.
 *
 * The data comes from a run's summary (latency, per-endpoint figures, histogram, DB commits,
 * threshold results, final occupancy), its public config (scrubbed again here: no secret can
 * reach the file) and its funnel and conversion by simulated hour and weekday — from the
 * database when the run was recorded in one, else from the run's per-cycle reports.
 */
import { accessSync, constants, readFileSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { atomicWriteFile } from '../checkpoint/atomic-write.ts';
import { scrubConfig } from '../db/scrub.ts';
import type { Report } from '../db/report.ts';
import { inputError } from '../errors.ts';
import type { HistogramBucket, LatencySummary } from '../metrics/latency.ts';
import type { CycleReport } from '../model/run.ts';
import { runGraphs, type MachineGraph } from './machine-graph.ts';

export interface HtmlReportData {
  runId: string;
  generatedAt: string;
  /** Facts about the run, as label → value. */
  facts: [string, string][];
  funnel: { step: string; count: number }[];
  byHour: { hour: number; sessions: number; checkouts: number; conversion: number | null }[];
  byWeekday: { weekday: string; sessions: number; checkouts: number; conversion: number | null }[];
  /** Per completed cycle (run --report-html only; empty from the database). */
  cycles: { cycle: number; simulatedTime: string; sessions: number; checkouts: number; abandoned: number; failed: number }[];
  latency: LatencySummary | null;
  histogram: HistogramBucket[];
  endpoints: { endpoint: string; count: number; errors: number; rejected: number; p50: number; p95: number; p99: number; max: number }[];
  dbCommit: LatencySummary | null;
  config: Record<string, unknown>;
  thresholds: { threshold: string; actual: number | null; ok: boolean }[];
  graphs: MachineGraph[];
  occupancy: { counts: Record<string, number>; total: number } | null;
  /** The run's workers (`--workers N` threads or `shopsim worker` processes) as the summary left them; empty in one process. */
  workers: { id: string; status: string; cohorts: number; agentCycles: number; agentCyclesPerS: number; requests: number; requestsPerS: number; memoryMb: number; memoryKind: string }[];
  workersTotal: { workers: number; live: number; cohorts: number; agentCycles: number; agentCyclesPerS: number; requests: number; requestsPerS: number; memoryMb: number } | null;
}

const WEEKDAYS = ['Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat', 'Sun'];
type Rec = Record<string, unknown>;
const num = (v: unknown): number => (typeof v === 'number' && Number.isFinite(v) ? v : 0);
const obj = (v: unknown): Rec | null => (v && typeof v === 'object' && !Array.isArray(v) ? (v as Rec) : null);
const conv = (c: number, s: number) => (s > 0 ? Math.round((c / s) * 10_000) / 10_000 : null);

function latencyOf(v: unknown): LatencySummary | null {
  const o = obj(v);
  if (!o || num(o['count']) === 0) return null;
  return { p50: num(o['p50']), p95: num(o['p95']), p99: num(o['p99']), max: num(o['max']), mean: num(o['mean']), count: num(o['count']) };
}

/** What the report keeps of a cycle report. */
export type CycleFigures = Pick<CycleReport, 'cycle' | 'simulatedTime'> & { totals: Pick<CycleReport['totals'], 'sessions' | 'checkouts' | 'abandoned' | 'failed'> };

export interface ReportSources {
  /** The run's summary: the in-memory one at the end of a run, or runs.summary from the database. */
  summary: Rec;
  /** The run's public config (runs.config or publicConfig()). */
  config: Rec | null;
  /** The database's report of the run, when it was recorded in one. */
  db?: Report | null;
  /** The run's cycle reports (run --report-html): the funnel by hour and weekday without a database. */
  cycles?: readonly CycleFigures[];
  generatedAt?: string;
}

/** The report's data from what a run left. */
export function htmlReportData(src: ReportSources): HtmlReportData {
  const s = src.summary;
  const cycles = (src.cycles ?? []).map((r) => ({
    cycle: r.cycle,
    simulatedTime: r.simulatedTime,
    sessions: r.totals.sessions,
    checkouts: r.totals.checkouts,
    abandoned: r.totals.abandoned,
    failed: r.totals.failed,
  }));
  let funnel: HtmlReportData['funnel'];
  let byHour: HtmlReportData['byHour'];
  let byWeekday: HtmlReportData['byWeekday'];
  if (src.db) {
    const f = src.db.funnel;
    funnel = [
      { step: 'sessions', count: f.sessions },
      { step: 'browse-only', count: f.browse_only },
      { step: 'carts', count: f.carts },
      { step: 'coupons applied', count: f.coupons_applied },
      { step: 'checkouts', count: f.checkouts },
      { step: 'abandoned', count: f.abandoned },
      { step: 'failed', count: f.failed },
    ];
    byHour = src.db.by_hour.map((h) => ({ hour: h.hour, sessions: h.sessions, checkouts: h.checkouts, conversion: conv(h.checkouts, h.sessions) }));
    byWeekday = src.db.by_weekday.map((d) => ({ weekday: d.weekday, sessions: d.sessions, checkouts: d.checkouts, conversion: conv(d.checkouts, d.sessions) }));
  } else {
    funnel = [
      { step: 'sessions', count: num(s['sessions_created']) },
      { step: 'browse-only', count: num(s['idle_browses']) },
      { step: 'carts', count: num(s['carts_created']) },
      { step: 'coupons applied', count: num(s['coupons_applied']) },
      { step: 'checkouts', count: num(s['checkouts_completed']) },
      { step: 'abandoned', count: num(s['sessions_abandoned']) },
      { step: 'failed', count: num(s['sessions_failed']) },
    ];
    // A cycle is one simulated hour: its sessions go to the hour and weekday it started at (UTC).
    const hours = Array.from({ length: 24 }, () => ({ sessions: 0, checkouts: 0 }));
    const days = Array.from({ length: 7 }, () => ({ sessions: 0, checkouts: 0 }));
    for (const c of cycles) {
      const start = new Date(Date.parse(c.simulatedTime) - 3_600_000);
      if (Number.isNaN(start.getTime())) continue;
      const h = hours[start.getUTCHours()]!;
      const d = days[(start.getUTCDay() + 6) % 7]!;
      h.sessions += c.sessions;
      h.checkouts += c.checkouts;
      d.sessions += c.sessions;
      d.checkouts += c.checkouts;
    }
    byHour = hours.map((h, hour) => ({ hour, ...h, conversion: conv(h.checkouts, h.sessions) }));
    byWeekday = days.map((d, i) => ({ weekday: WEEKDAYS[i]!, ...d, conversion: conv(d.checkouts, d.sessions) }));
  }
  const endpoints = Object.entries(obj(s['endpoints']) ?? {}).map(([endpoint, e]) => {
    const o = obj(e) ?? {};
    const l = latencyOf(o['latency_ms']);
    return { endpoint, count: num(o['count']), errors: num(o['errors']), rejected: num(o['rejected']), p50: l?.p50 ?? 0, p95: l?.p95 ?? 0, p99: l?.p99 ?? 0, max: l?.max ?? 0 };
  });
  const histogram = Array.isArray(s['latency_histogram_ms'])
    ? (s['latency_histogram_ms'] as unknown[]).map((b) => ({ le: obj(b)?.['le'] === null ? null : num(obj(b)?.['le']), count: num(obj(b)?.['count']) }))
    : [];
  const thresholds = Array.isArray(s['thresholds'])
    ? (s['thresholds'] as unknown[]).map((t) => {
        const o = obj(t) ?? {};
        return { threshold: String(o['threshold'] ?? ''), actual: typeof o['actual'] === 'number' ? o['actual'] : null, ok: o['ok'] === true };
      })
    : [];
  const occ = obj(s['final_occupancy']);
  const str = (v: unknown, d = '') => (typeof v === 'string' ? v.slice(0, 80) : typeof v === 'number' ? String(v) : d);
  const workers = Array.isArray(s['workers'])
    ? (s['workers'] as unknown[]).map((w) => {
        const o = obj(w) ?? {};
        return { id: scrubText(str(o['id'])), status: str(o['status'], '?'), cohorts: num(o['cohorts']), agentCycles: num(o['agent_cycles']), agentCyclesPerS: num(o['agent_cycles_per_s']), requests: num(o['requests']), requestsPerS: num(o['requests_per_s']), memoryMb: num(o['memory_mb']), memoryKind: str(o['memory_kind'], 'rss') };
      })
    : [];
  const wt = obj(s['workers_total']);
  const workersTotal = wt ? { workers: num(wt['workers']), live: num(wt['live']), cohorts: num(wt['cohorts']), agentCycles: num(wt['agent_cycles']), agentCyclesPerS: num(wt['agent_cycles_per_s']), requests: num(wt['requests']), requestsPerS: num(wt['requests_per_s']), memoryMb: num(wt['memory_mb']) } : null;
  const fact = (label: string, v: unknown): [string, string] | null => (v === undefined || v === null || v === '' ? null : [label, String(v)]);
  const breaker = obj(s['breaker']);
  const facts = [
    fact('run', s['run_id']),
    fact('exit', s['exit_reason']),
    fact('agents', s['agents']),
    fact('cycles', s['cycles_completed'] !== undefined ? `${num(s['cycles_completed'])} of ${num(s['cycles_total'])}` : undefined),
    fact('simulated', s['simulated_start'] ? `${String(s['simulated_start'])} → ${String(s['simulated_end'])}` : undefined),
    fact('wall seconds', s['wall_seconds']),
    fact('seed', s['seed']),
    fact('digest', s['digest']),
    fact('store', s['store']),
    fact('database', s['database']),
    fact('requests', s['requests']),
    fact('revenue (cents)', s['revenue_cents']),
    fact('agent failures', s['agent_failures']),
    fact('breaker', breaker ? `${String(breaker['state'])}, trips ${num(breaker['trips'])}` : undefined),
  ].filter((x): x is [string, string] => x !== null);
  return {
    runId: String(s['run_id'] ?? src.db?.run.id ?? ''),
    generatedAt: src.generatedAt ?? new Date().toISOString(),
    facts: facts.map(([k, v]) => [k, scrubText(v)]),
    funnel,
    byHour,
    byWeekday,
    cycles,
    latency: latencyOf(s['latency_ms']),
    histogram,
    endpoints,
    dbCommit: latencyOf(obj(s['db_writes'])?.['commit_ms']),
    // Secret keys dropped and URL keys redacted (scrubConfig), then credentials cut out of any
    // other string that holds a URL (the public config's `database` is one).
    config: scrubStrings(scrubConfig(src.config ?? {})) as Rec,
    thresholds,
    graphs: runGraphs(),
    occupancy: occ ? { counts: (obj(occ['counts']) ?? {}) as Record<string, number>, total: num(occ['total']) } : null,
    workers,
    workersTotal,
  };
}

function scrubStrings(v: unknown): unknown {
  if (typeof v === 'string') return scrubText(v);
  if (Array.isArray(v)) return v.map(scrubStrings);
  if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, scrubStrings(x)]));
  return v;
}

/** A free-text value (store, database) with any user:password@ in a URL cut out. */
function scrubText(v: string): string {
  return v.replace(/(\b[a-z][a-z0-9+.-]*:\/\/)[^/@\s]*@/gi, '$1');
}

const ASSETS = join(import.meta.dirname, 'assets');
const UPLOT_DIST = dirname(createRequire(import.meta.url).resolve('uplot'));
const read = (p: string) => readFileSync(p, 'utf8');
const inlineScript = (js: string) => `<script>${js.replace(/<\/(script)/gi, '<\\/$1')}</script>`;
const inlineStyle = (css: string) => `<style>${css.replace(/<\/(style)/gi, '<\\/$1')}</style>`;

/** The report as one HTML document. */
export function renderHtmlReport(data: HtmlReportData): string {
  const json = JSON.stringify(data).replace(/</g, '\\u003c').replace(/\u2028/g, '\\u2028').replace(/\u2029/g, '\\u2029');
  const title = `shopsim report · ${data.runId}`.replace(/[<>&"]/g, '');
  // No fetch, no frame, nothing outside the file: scripts and styles are inline.
  const csp = "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'";
  return [
    '<!DOCTYPE html>',
    '<html lang="en">',
    '<head>',
    '<meta charset="utf-8">',
    `<meta http-equiv="Content-Security-Policy" content="${csp}">`,
    `<title>${title}</title>`,
    inlineStyle(read(join(UPLOT_DIST, 'uPlot.min.css'))),
    inlineStyle(read(join(ASSETS, 'app.css'))),
    inlineStyle(read(join(ASSETS, 'report.css'))),
    '</head>',
    '<body>',
    '<header><h1>shopsim report <span id="run-id"></span></h1><div id="generated"></div></header>',
    '<main id="report"></main>',
    `<script type="application/json" id="report-data">${json}</script>`,
    inlineScript(read(join(UPLOT_DIST, 'uPlot.iife.min.js'))),
    inlineScript(read(join(ASSETS, 'map.js'))),
    inlineScript(read(join(ASSETS, 'report.js'))),
    '</body>',
    '</html>',
    '',
  ].join('\n');
}

/**
 * Checks, before anything runs, that FILE can be written: not a directory, its directory exists
 * and is writable (one line naming `flag` and FILE, exit 2).
 */
export function checkReportFile(file: string, flag: string): string {
  const path = resolve(file);
  const bad = (why: string) => inputError(`${flag} ${file}: ${why}`);
  let st;
  try {
    st = statSync(path);
  } catch {
    st = null;
  }
  if (st?.isDirectory()) throw bad('is a directory; give a file name such as report.html');
  const dir = dirname(path);
  let dst;
  try {
    dst = statSync(dir);
  } catch {
    throw bad(`its directory ${dir} does not exist`);
  }
  if (!dst.isDirectory()) throw bad(`${dir} is not a directory`);
  try {
    accessSync(st ? path : dir, constants.W_OK);
  } catch {
    throw bad(st ? 'is not writable' : `its directory ${dir} is not writable`);
  }
  return path;
}

/** Writes the report (atomically: a reader never sees half a file). */
export function writeHtmlReport(file: string, data: HtmlReportData): { path: string; bytes: number } {
  const html = renderHtmlReport(data);
  const path = resolve(file);
  atomicWriteFile(path, html);
  return { path, bytes: Buffer.byteLength(html) };
}
