/**
 * Thresholds, like k6's: `METRIC OP NUMBER` over the run's figures, e.g. `http_p95_ms<500`,
 * `checkout_failed_rate<0.01`, `error_rate<0.05`. A failed threshold ends the run with exit 99
 * (docs/cli.md). A metric the run has no figure for (no store latency in mock mode) is "no data"
 * and does not fail.
 */
import { inputError } from '../errors.ts';
import type { SimulationStats } from '../model/run.ts';
import { runTotalsOf } from '../simulation/project.ts';

export const THRESHOLD_EXIT_CODE = 99;

type Figures = Record<string, unknown>;
const num = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);
const ratio = (a: unknown, b: unknown): number | null => {
  const x = num(a);
  const y = num(b);
  return x === null || y === null || y === 0 ? null : x / y;
};
const latency = (s: Figures, p: 'p50' | 'p95' | 'p99'): number | null => num((s['latency_ms'] as Record<string, unknown> | undefined)?.[p]);

/** The metrics a threshold may name, and how each is read from a run summary. */
export const THRESHOLD_METRICS: Record<string, { description: string; read: (s: Figures) => number | null }> = {
  http_p50_ms: { description: 'median store request latency, ms', read: (s) => latency(s, 'p50') },
  http_p95_ms: { description: '95th percentile store request latency, ms', read: (s) => latency(s, 'p95') },
  http_p99_ms: { description: '99th percentile store request latency, ms', read: (s) => latency(s, 'p99') },
  error_rate: { description: 'failed store requests / requests', read: (s) => ratio(s['errors'], s['requests']) },
  checkout_rate: { description: 'completed checkouts / sessions (conversion)', read: (s) => ratio(s['checkouts_completed'], s['sessions_created']) },
  checkout_failed_rate: { description: 'failed sessions / sessions', read: (s) => ratio(s['sessions_failed'], s['sessions_created']) },
  abandon_rate: { description: 'abandoned sessions / sessions', read: (s) => ratio(s['sessions_abandoned'], s['sessions_created']) },
  agent_failures: { description: 'agent failures counted by the breaker (faults)', read: (s) => num(s['agent_failures']) },
};

export type Operator = '<' | '<=' | '>' | '>=';
export interface Threshold {
  text: string;
  metric: string;
  op: Operator;
  value: number;
}
export interface ThresholdResult extends Threshold {
  actual: number | null;
  /** null: the run has no figure for the metric yet (no data; not a failure). */
  ok: boolean;
}

/** Parses one expression; a bad one is an input error naming it (`where`: the flag or key). */
export function parseThreshold(text: string, where = '--threshold'): Threshold {
  const m = /^\s*([a-z0-9_]+)\s*(<=|>=|<|>)\s*(-?\d+(?:\.\d+)?(?:e-?\d+)?)\s*$/i.exec(text);
  if (!m) throw inputError(`${where} ${JSON.stringify(text)}: expected METRIC OP NUMBER such as http_p95_ms<500 (OP one of < <= > >=)`);
  const metric = m[1]!;
  if (!(metric in THRESHOLD_METRICS)) throw inputError(`${where} ${JSON.stringify(text)}: unknown metric ${metric} (one of ${Object.keys(THRESHOLD_METRICS).join(', ')})`);
  return { text: `${metric}${m[2]}${Number(m[3])}`, metric, op: m[2] as Operator, value: Number(m[3]) };
}

export function evaluateThresholds(thresholds: readonly Threshold[], figures: Figures): ThresholdResult[] {
  return thresholds.map((t) => {
    const actual = THRESHOLD_METRICS[t.metric]!.read(figures);
    const ok =
      actual === null ? true : t.op === '<' ? actual < t.value : t.op === '<=' ? actual <= t.value : t.op === '>' ? actual > t.value : actual >= t.value;
    return { ...t, actual, ok };
  });
}

/** A threshold's figure as the summary prints it: `no data`, an integer, or four significant digits. */
export function formatThresholdActual(actual: number | null): string {
  return actual === null ? 'no data' : Number.isInteger(actual) ? String(actual) : actual.toPrecision(4);
}

/** The figures of a run in progress, under the summary's names (for the per-cycle check). */
export function thresholdFigures(stats: SimulationStats): Figures {
  const totals = runTotalsOf(stats);
  return { ...stats.metrics, ...totals, agent_failures: stats.totals.failed - (stats.totals.refusals ?? 0) };
}
