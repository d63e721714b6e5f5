/**
 * Latency per endpoint and overall in HdrHistograms (microsecond resolution, 3 significant
 * digits), twice: from when the call was due to be sent per the rate limiter (the intended
 * start: coordinated-omission corrected) and from when it was actually sent. Errors are
 * counted per endpoint; a failed call's latency is recorded too (a timeout is a slow call).
 */
import { build, type Histogram } from 'hdr-histogram-js';

export interface LatencySummary {
  p50: number;
  p95: number;
  p99: number;
  max: number;
  mean: number;
  count: number;
}

export interface EndpointLatency {
  count: number;
  /** Calls that failed (5xx, timeout, network, 429 retries exhausted). */
  errors: number;
  /** Calls the store refused (4xx business rules). */
  rejected: number;
  latency_ms: LatencySummary;
  latency_ms_from_due: LatencySummary;
}

export interface LatencyReport {
  count: number;
  errors: number;
  rejected: number;
  latency_ms: LatencySummary;
  latency_ms_from_due: LatencySummary;
  endpoints: Record<string, EndpointLatency>;
  /** Latency (from the send) of the calls that ended in the last `windowMs` (when record() got times). */
  recent_latency_ms?: LatencySummary;
  /** Calls by latency from the send: `le` the bucket's upper bound in ms (null: above the last). */
  latency_histogram_ms: HistogramBucket[];
}

export interface HistogramBucket {
  le: number | null;
  count: number;
}

/** Upper bounds (ms) of the latency histogram's buckets (1-2-5 steps); one more bucket above the last. */
export const HISTOGRAM_BOUNDS_MS = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10_000, 30_000];

/** The recent window: calls ending in the last 30 s, kept in 10 s buckets. */
export const RECENT_WINDOW_MS = 30_000;
const BUCKET_MS = 10_000;

interface Pair {
  sent: Histogram;
  due: Histogram;
  count: number;
  errors: number;
  rejected: number;
}

/** An HdrHistogram of microseconds, 1 µs .. 1 h (also used for database commits). */
export function latencyHistogram(): Histogram {
  // 1 µs .. 1 h; autoResize keeps a pathological value from throwing.
  return build({ lowestDiscernibleValue: 1, highestTrackableValue: 3_600_000_000, numberOfSignificantValueDigits: 3, autoResize: true });
}

function pair(): Pair {
  return { sent: latencyHistogram(), due: latencyHistogram(), count: 0, errors: 0, rejected: 0 };
}

const round = (us: number) => Math.round(us) / 1000;

/** p50/p95/p99/max/mean in milliseconds (3 decimals) of a latencyHistogram. */
export function summarizeLatency(h: Histogram): LatencySummary {
  if (h.totalCount === 0) return { p50: 0, p95: 0, p99: 0, max: 0, mean: 0, count: 0 };
  // A percentile is its bucket's highest equivalent value; never report one above the max seen.
  const at = (p: number) => round(Math.min(h.getValueAtPercentile(p), h.maxValue));
  return {
    p50: at(50),
    p95: at(95),
    p99: at(99),
    max: round(h.maxValue),
    mean: round(h.mean),
    count: h.totalCount,
  };
}

export type CallOutcome = 'ok' | 'rejected' | 'failed';

export interface LatencyTracker {
  /** Milliseconds (fractions allowed), measured from the intended start and from the send. */
  record(endpoint: string, fromSentMs: number, fromDueMs: number, outcome: CallOutcome, endedAtMs?: number): void;
  /** With `nowMs` (the same clock as record()'s `endedAtMs`) the report has recent_latency_ms. */
  report(nowMs?: number): LatencyReport;
  reset(): void;
}

export function createLatencyTracker(): LatencyTracker {
  let overall = pair();
  let byEndpoint = new Map<string, Pair>();
  // Bucket index (endedAtMs / 10 s) → histogram of the calls that ended in it; the newest few kept.
  let buckets = new Map<number, Histogram>();
  let histogram = new Array<number>(HISTOGRAM_BOUNDS_MS.length + 1).fill(0);

  function recent(nowMs: number): LatencySummary {
    const from = Math.floor((nowMs - RECENT_WINDOW_MS) / BUCKET_MS);
    const h = latencyHistogram();
    for (const [k, b] of buckets) if (k > from) h.add(b);
    return summarizeLatency(h);
  }

  function add(p: Pair, sentUs: number, dueUs: number, outcome: CallOutcome): void {
    p.sent.recordValue(sentUs);
    p.due.recordValue(dueUs);
    p.count++;
    if (outcome === 'failed') p.errors++;
    else if (outcome === 'rejected') p.rejected++;
  }

  return {
    record(endpoint, fromSentMs, fromDueMs, outcome, endedAtMs) {
      const sentUs = Math.max(1, Math.round(fromSentMs * 1000));
      const dueUs = Math.max(sentUs, Math.round(fromDueMs * 1000));
      if (endedAtMs !== undefined && Number.isFinite(endedAtMs)) {
        const k = Math.floor(endedAtMs / BUCKET_MS);
        let b = buckets.get(k);
        if (!b) {
          buckets.set(k, (b = latencyHistogram()));
          for (const old of buckets.keys()) if (old <= k - RECENT_WINDOW_MS / BUCKET_MS - 1) buckets.delete(old);
        }
        b.recordValue(sentUs);
      }
      let i = 0;
      while (i < HISTOGRAM_BOUNDS_MS.length && sentUs > (HISTOGRAM_BOUNDS_MS[i] as number) * 1000) i++;
      histogram[i] = (histogram[i] ?? 0) + 1;
      let p = byEndpoint.get(endpoint);
      if (!p) byEndpoint.set(endpoint, (p = pair()));
      add(p, sentUs, dueUs, outcome);
      add(overall, sentUs, dueUs, outcome);
    },

    report(nowMs) {
      const endpoints: Record<string, EndpointLatency> = {};
      for (const [name, p] of [...byEndpoint].sort(([a], [b]) => a.localeCompare(b))) {
        endpoints[name] = { count: p.count, errors: p.errors, rejected: p.rejected, latency_ms: summarizeLatency(p.sent), latency_ms_from_due: summarizeLatency(p.due) };
      }
      const out: LatencyReport = { count: overall.count, errors: overall.errors, rejected: overall.rejected, latency_ms: summarizeLatency(overall.sent), latency_ms_from_due: summarizeLatency(overall.due), endpoints,
        latency_histogram_ms: histogram.map((count, i) => ({ le: HISTOGRAM_BOUNDS_MS[i] ?? null, count })) };
      if (nowMs !== undefined) out.recent_latency_ms = recent(nowMs);
      return out;
    },

    reset() {
      overall = pair();
      byEndpoint = new Map();
      buckets = new Map();
      histogram = histogram.map(() => 0);
    },
  };
}
