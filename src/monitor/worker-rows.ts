/**
 * The per-worker rows of a run whose cohorts run elsewhere (`--workers N` threads, `shopsim
 * worker` processes over Redis), as the coordinator's monitoring shows them: the dashboard, the
 * web page, /metrics and the end summary all read one WorkerTable. Workers report cumulative
 * figures in their heartbeats and cycle results; the coordinator stamps each report with its own
 * clock when it arrives (no clock of another host is compared), and this module turns the reports
 * into rows: rates over a sliding window of reports, the heartbeat's age, and a status — `lost`
 * or `left` when the executor says so (a thread that exited; a process whose heartbeat key
 * expired, or that said it left), `stale` as soon as a beat is more than half an interval late,
 * so a worker gone silent shows within one heartbeat interval. Pure: the clock is passed in.
 */

/** What a worker said of itself, as the coordinator received it. */
export interface WorkerReport {
  /** Thread index ("0", "1", …) or host:pid. */
  id: string;
  /** Cohorts held now (threads) or cohort jobs running now (processes). */
  cohorts: number;
  /** Agent-cycles run so far (cumulative). */
  agentCycles: number;
  /** Store requests made so far (cumulative). */
  requests: number;
  /** Its memory: the process's RSS (a worker process), or its isolate's heap (a thread, whose RSS is the process's). */
  memoryBytes: number;
  memoryKind: 'rss' | 'heap';
}

/**
 * `busy`: its beat is late but the executor knows it is running a cycle and alive (a worker
 * thread beats only when its event loop turns, which a long cohort cycle — thousands of shoppers
 * on the mock store, all promise continuations — may not do for seconds); it counts as ok.
 */
export type WorkerStatus = 'ok' | 'busy' | 'stale' | 'lost' | 'left';

export interface WorkerRow {
  id: string;
  status: WorkerStatus;
  cohorts: number;
  agent_cycles: number;
  agent_cycles_per_s: number;
  requests: number;
  requests_per_s: number;
  memory_mb: number;
  memory_kind: 'rss' | 'heap';
  /** Seconds since its last report reached the coordinator. */
  heartbeat_age_s: number;
}

export interface WorkerTable {
  heartbeat_ms: number;
  rows: WorkerRow[];
  /** Merged: counts and rates added over every row (lost ones keep their figures; their rates are 0), memory over the live ones. */
  totals: { workers: number; live: number; cohorts: number; agent_cycles: number; agent_cycles_per_s: number; requests: number; requests_per_s: number; memory_mb: number };
}

interface Sample {
  at: number;
  agentCycles: number;
  requests: number;
}

interface WorkerState {
  last: WorkerReport;
  heardAt: number;
  samples: Sample[];
  gone: 'lost' | 'left' | null;
}

export interface WorkerMonitor {
  /** A report arrived at `at` (coordinator clock, ms). */
  report(r: WorkerReport, at: number): void;
  /** The cohorts a worker holds changed on the coordinator's side (moved to it off a lost worker). */
  holds(id: string, cohorts: number): void;
  /** The executor says the worker is gone (a thread exited, a heartbeat key expired, it left). */
  gone(id: string, why: 'lost' | 'left', at: number): void;
  /** `busy(id)`: the executor knows the worker alive and in a cycle (a late beat is then `busy`, not `stale`). */
  table(now: number, busy?: (id: string) => boolean): WorkerTable;
}

/** Rates are over the reports of the last `windowMs` (default 10 s). */
export function createWorkerMonitor(options: { heartbeatMs: number; windowMs?: number }): WorkerMonitor {
  const window = options.windowMs ?? 10_000;
  const workers = new Map<string, WorkerState>();
  return {
    report(r, at) {
      let w = workers.get(r.id);
      if (!w) workers.set(r.id, (w = { last: r, heardAt: at, samples: [], gone: null }));
      w.last = r;
      w.heardAt = at;
      // A worker heard again after a loss (a stalled process that came back) is live again.
      if (w.gone === 'lost') w.gone = null;
      w.samples.push({ at, agentCycles: r.agentCycles, requests: r.requests });
      while (w.samples.length > 2 && (w.samples[0] as Sample).at < at - window) w.samples.shift();
    },
    holds(id, cohorts) {
      const w = workers.get(id);
      if (w) w.last = { ...w.last, cohorts };
    },
    gone(id, why, at) {
      const w = workers.get(id);
      if (!w) return;
      w.gone = why;
      // Its rate from now on is 0: the last figures stay.
      w.samples = [{ at, agentCycles: w.last.agentCycles, requests: w.last.requests }];
    },
    table(now, busy) {
      return workerTable(
        [...workers.values()].map((w) => ({ report: w.last, heardAt: w.heardAt, samples: w.samples, gone: w.gone, busy: busy?.(w.last.id) ?? false })),
        now,
        options.heartbeatMs,
      );
    },
  };
}

const round1 = (x: number) => Math.round(x * 10) / 10;

/** The rows and totals of the workers' states at `now` (exported for the tests). */
export function workerTable(states: { report: WorkerReport; heardAt: number; samples: readonly Sample[]; gone: 'lost' | 'left' | null; busy?: boolean }[], now: number, heartbeatMs: number): WorkerTable {
  const rows = states.map(({ report: r, heardAt, samples, gone, busy }): WorkerRow => {
    const age = Math.max(0, now - heardAt);
    const status: WorkerStatus = gone ?? (age > 1.5 * heartbeatMs ? (busy ? 'busy' : 'stale') : 'ok');
    const first = samples[0];
    const last = samples.at(-1);
    const dt = first && last ? (last.at - first.at) / 1000 : 0;
    const live = status === 'ok' || status === 'busy' || status === 'stale';
    const rate = (k: 'agentCycles' | 'requests') => (live && dt > 0 && first && last ? round1((last[k] - first[k]) / dt) : 0);
    return {
      id: r.id,
      status,
      cohorts: live ? r.cohorts : 0,
      agent_cycles: r.agentCycles,
      agent_cycles_per_s: rate('agentCycles'),
      requests: r.requests,
      requests_per_s: rate('requests'),
      memory_mb: round1(r.memoryBytes / 1048576),
      memory_kind: r.memoryKind,
      heartbeat_age_s: round1(age / 1000),
    };
  });
  rows.sort((a, b) => a.id.localeCompare(b.id, 'en', { numeric: true }));
  const sum = (k: 'cohorts' | 'agent_cycles' | 'agent_cycles_per_s' | 'requests' | 'requests_per_s') => round1(rows.reduce((n, r) => n + r[k], 0));
  const liveRows = rows.filter((r) => r.status === 'ok' || r.status === 'busy' || r.status === 'stale');
  return {
    heartbeat_ms: heartbeatMs,
    rows,
    totals: {
      workers: rows.length,
      live: rows.filter((r) => r.status === 'ok' || r.status === 'busy').length,
      cohorts: sum('cohorts'),
      agent_cycles: sum('agent_cycles'),
      agent_cycles_per_s: sum('agent_cycles_per_s'),
      requests: sum('requests'),
      requests_per_s: sum('requests_per_s'),
      memory_mb: round1(liveRows.reduce((n, r) => n + r.memory_mb, 0)),
    },
  };
}

/** The table as a few fixed-width lines (dashboard and end summary): a header, one row per worker, the totals. */
export function workerLines(t: WorkerTable, width: number, maxRows = Infinity): string[] {
  const cols = (id: string, st: string, coh: string, ac: string, rq: string, mem: string, age: string) =>
    `${id.padEnd(22).slice(0, 22)} ${st.padEnd(5)} ${coh.padStart(7)} ${ac.padStart(11)} ${rq.padStart(9)} ${mem.padStart(9)} ${age.padStart(6)}`.slice(0, width);
  const out = [cols('worker', 'state', 'cohorts', 'agent-cyc/s', 'req/s', 'memory', 'beat')];
  // Cut to fit: the workers not ok first, so a lost one is never the one left out.
  const notOk = (r: WorkerRow) => r.status !== 'ok' && r.status !== 'busy';
  const shown = t.rows.length > maxRows ? [...t.rows.filter(notOk), ...t.rows.filter((r) => !notOk(r))].slice(0, Math.max(0, maxRows - 1)) : t.rows;
  for (const r of shown) {
    out.push(cols(r.id, r.status === 'ok' || r.status === 'busy' ? r.status : r.status.toUpperCase(), String(r.cohorts), r.agent_cycles_per_s.toFixed(1), r.requests_per_s.toFixed(1), `${Math.round(r.memory_mb)}M ${r.memory_kind}`, `${r.heartbeat_age_s.toFixed(1)}s`));
  }
  if (shown.length < t.rows.length) out.push(`… ${t.rows.length - shown.length} more workers (${t.rows.filter(notOk).length} not ok)`.slice(0, width));
  const x = t.totals;
  out.push(cols(`all ${x.live}/${x.workers} ok`, '', String(x.cohorts), x.agent_cycles_per_s.toFixed(1), x.requests_per_s.toFixed(1), `${Math.round(x.memory_mb)}M`, ''));
  return out;
}

/** A row or the totals for the end summary: the rates over the whole run (the live window's would say only its last seconds). */
export function runRates<T extends { agent_cycles: number; requests: number; agent_cycles_per_s: number; requests_per_s: number }>(r: T | undefined, elapsedSeconds: number): T | Record<string, never> {
  if (!r) return {};
  const per = (x: number) => (elapsedSeconds > 0 ? round1(x / elapsedSeconds) : 0);
  return { ...r, agent_cycles_per_s: per(r.agent_cycles), requests_per_s: per(r.requests) };
}

/** The per-worker table in the stats' metrics (`workers`), when the cohorts run on workers. */
export function workerTableOf(metrics: Record<string, unknown>): WorkerTable | null {
  const w = metrics['workers'] as WorkerTable | undefined;
  return w && Array.isArray(w.rows) && w.totals ? w : null;
}
