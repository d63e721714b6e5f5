/**
 * Live progress figures for the dashboard and the per-cycle lines: rates over a sliding
 * wall-clock window, the error rate, a progress bar with an ETA and the per-endpoint table.
 * Pure functions fed with timestamps (the wall clock is read in src/cli, never in machines).
 */
import { visitProbability } from '../model/personas.ts';
import type { Persona } from '../model/types.ts';

/**
 * Expected work of each cycle (one simulated hour) from the calendar: the sum over personas
 * of their chance to visit at that hour and weekday, plus a floor for the cycle's fixed cost.
 */
export function calendarWeights(personas: readonly Persona[], startMs: number, cycles: number): number[] {
  const out: number[] = [];
  for (let i = 0; i < cycles; i++) {
    const d = new Date(startMs + i * 3_600_000);
    const wd = d.getUTCDay();
    let w = 0;
    for (const p of personas) w += visitProbability(p, d.getUTCHours(), wd, wd === 0 || wd === 6);
    // The floor: a cycle with no expected visitor still costs its scheduling (1% of the agents).
    out.push(w + 0.01 * Math.max(1, personas.length));
  }
  return out;
}

/** Cumulative counters read at one instant (milliseconds since any fixed origin). */
export interface RateSample {
  atMs: number;
  requests: number;
  sessions: number;
  calls: number;
  errors: number;
}

export interface WindowRates {
  /** Requests per second over the window; null when the window holds under two samples. */
  requestsPerSecond: number | null;
  sessionsPerMinute: number | null;
  /** Failed calls / calls in the window, in %. */
  errorPercent: number | null;
  paused: boolean;
}

/** Keeps the samples newer than `windowMs` before `nowMs` (plus the one just before, as the base). */
export function trimSamples(samples: readonly RateSample[], nowMs: number, windowMs: number): RateSample[] {
  const from = nowMs - windowMs;
  let first = 0;
  while (first < samples.length - 1 && samples[first + 1]!.atMs <= from) first++;
  return samples.slice(first);
}

/** Rates between the oldest and newest sample of the window. While paused no rate is given. */
export function windowRates(samples: readonly RateSample[], nowMs: number, windowMs: number, paused = false): WindowRates {
  if (paused) return { requestsPerSecond: null, sessionsPerMinute: null, errorPercent: null, paused: true };
  const w = trimSamples(samples, nowMs, windowMs);
  if (w.length < 2) return { requestsPerSecond: null, sessionsPerMinute: null, errorPercent: null, paused: false };
  const a = w[0]!;
  const b = w[w.length - 1]!;
  const seconds = (b.atMs - a.atMs) / 1000;
  if (seconds <= 0) return { requestsPerSecond: null, sessionsPerMinute: null, errorPercent: null, paused: false };
  const calls = b.calls - a.calls;
  return {
    requestsPerSecond: (b.requests - a.requests) / seconds,
    sessionsPerMinute: ((b.sessions - a.sessions) / seconds) * 60,
    errorPercent: calls > 0 ? ((b.errors - a.errors) / calls) * 100 : 0,
    paused: false,
  };
}

/** A sliding window of samples; `add` drops what fell out of it. */
export function createRateWindow(windowMs = 30_000) {
  let samples: RateSample[] = [];
  return {
    windowMs,
    add(s: RateSample): void {
      if (samples.length > 0 && s.atMs < samples[samples.length - 1]!.atMs) return;
      samples.push(s);
      samples = trimSamples(samples, s.atMs, windowMs);
    },
    /** A pause leaves a gap: the window restarts after it, so rates don't decay. */
    clear(): void {
      samples = [];
    },
    rates(nowMs: number, paused = false): WindowRates {
      return windowRates(samples, nowMs, windowMs, paused);
    },
  };
}

export function formatRate(x: number | null, paused: boolean, digits = 1): string {
  if (paused) return 'paused';
  return x === null || !Number.isFinite(x) ? '–' : x.toFixed(digits);
}

/** Cumulative error rate in % (0 when no call was made). */
export function errorPercent(errors: number, calls: number): number {
  return calls > 0 ? (errors / calls) * 100 : 0;
}

/**
 * Expected remaining work from the calendar: `weights[i]` is the expected work of cycle i
 * (from the personas' affinities for that simulated hour); the measured seconds per unit of
 * work so far (`elapsedSeconds / doneWeight`) corrects it. Without weights every cycle counts 1.
 */
export function etaSeconds(cyclesDone: number, totalCycles: number, elapsedSeconds: number, weights?: readonly number[]): number | null {
  if (cyclesDone <= 0 || totalCycles <= 0 || cyclesDone >= totalCycles) return cyclesDone >= totalCycles ? 0 : null;
  const w = (i: number) => (weights && weights.length > 0 ? (weights[i % weights.length] ?? 1) : 1);
  let done = 0;
  for (let i = 0; i < cyclesDone; i++) done += w(i);
  let left = 0;
  for (let i = cyclesDone; i < totalCycles; i++) left += w(i);
  if (done <= 0) return null;
  return (elapsedSeconds / done) * left;
}

/** `[#########---------]  45%` in `width` columns. */
export function progressBar(done: number, total: number, width: number): string {
  const frac = total > 0 ? Math.min(1, Math.max(0, done / total)) : 0;
  const pct = `${String(Math.floor(frac * 100)).padStart(3)}%`;
  const inner = Math.max(1, width - pct.length - 3);
  const full = Math.round(frac * inner);
  return `[${'#'.repeat(full)}${'-'.repeat(inner - full)}] ${pct}`;
}

export function formatDuration(seconds: number | null): string {
  if (seconds === null || !Number.isFinite(seconds)) return '–';
  const s = Math.max(0, Math.round(seconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  return h > 0 ? `${h}h${String(m).padStart(2, '0')}m` : `${m}m${String(s % 60).padStart(2, '0')}s`;
}

export interface EndpointRow {
  count?: number;
  errors?: number;
  latency_ms?: { p50?: number; p95?: number; p99?: number };
}

function cellMs(x: number | undefined): string {
  return typeof x === 'number' && Number.isFinite(x) ? (x >= 100 ? String(Math.round(x)) : x.toFixed(1)) : '–';
}

/** The per-endpoint table (calls, errors, p50/p95/p99 ms); never wider than `width` (min 60). */
export function endpointTable(endpoints: Record<string, EndpointRow>, width = 80, maxRows = 8): string[] {
  const numW = 8;
  const nameW = Math.max(12, Math.min(40, width - 5 * (numW + 1)));
  const row = (cells: string[]) => cells[0]!.padEnd(nameW).slice(0, nameW) + cells.slice(1).map((c) => ` ${c.padStart(numW).slice(-numW)}`).join('');
  const lines = [row(['endpoint', 'calls', 'errors', 'p50 ms', 'p95 ms', 'p99 ms'])];
  const entries = Object.entries(endpoints).sort((a, b) => (b[1].count ?? 0) - (a[1].count ?? 0) || a[0].localeCompare(b[0]));
  for (const [name, e] of entries.slice(0, maxRows)) {
    const shown = name.length > nameW - 1 ? `${name.slice(0, nameW - 2)}…` : name;
    lines.push(row([shown, String(e.count ?? 0), String(e.errors ?? 0), cellMs(e.latency_ms?.p50), cellMs(e.latency_ms?.p95), cellMs(e.latency_ms?.p99)]));
  }
  if (entries.length > maxRows) lines.push(`… ${entries.length - maxRows} more endpoints (--json for all)`);
  return lines;
}
