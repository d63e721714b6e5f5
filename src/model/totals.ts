/** Folding shopper results into cycle totals (cohort) and cycle totals into run totals (orchestrator). */
import type { CycleTotals, ShopperCycleResult } from './types.ts';

export const MAX_FAILURE_SAMPLES = 20;

export function emptyTotals(): CycleTotals {
  return { agents: 0, sessions: 0, idleBrowses: 0, carts: 0, couponsApplied: 0, checkouts: 0, abandoned: 0, failed: 0, refusals: 0, events: 0, calls: 0, revenueCents: 0, failureSamples: [] };
}

/** Mutates and returns `t`. */
export function foldResult(t: CycleTotals, r: ShopperCycleResult): CycleTotals {
  t.agents += 1;
  t.events += r.events;
  t.calls += r.calls;
  if (r.outcome !== 'skip') t.sessions += 1;
  if (r.outcome === 'browse') t.idleBrowses += 1;
  else if (r.outcome === 'checkout') t.checkouts += 1;
  else if (r.outcome === 'abandon') t.abandoned += 1;
  else if (r.outcome === 'failed') {
    t.failed += 1;
    if (r.failure?.refusal === true) t.refusals = (t.refusals ?? 0) + 1;
    if (r.failure?.step === 'write') {
      t.unwritten = (t.unwritten ?? 0) + 1;
      t.unwrittenEvents = (t.unwrittenEvents ?? 0) + r.events;
    }
    if (r.failure && t.failureSamples.length < MAX_FAILURE_SAMPLES) {
      t.failureSamples.push({ agentIndex: r.agentIndex, step: r.failure.step, message: r.failure.message.slice(0, 200) });
    }
  }
  if (r.carted) t.carts += 1;
  if (r.couponApplied) t.couponsApplied += 1;
  t.revenueCents += r.revenueCents;
  return t;
}

/** Mutates and returns `into`. Failure samples keep the lowest agent indexes, so the result is order-independent. */
export function mergeTotals(into: CycleTotals, t: CycleTotals): CycleTotals {
  into.agents += t.agents;
  into.sessions += t.sessions;
  into.idleBrowses += t.idleBrowses;
  into.carts += t.carts;
  into.couponsApplied += t.couponsApplied;
  into.checkouts += t.checkouts;
  into.abandoned += t.abandoned;
  into.failed += t.failed;
  into.refusals = (into.refusals ?? 0) + (t.refusals ?? 0);
  if (t.unwritten) into.unwritten = (into.unwritten ?? 0) + t.unwritten;
  if (t.unwrittenEvents) into.unwrittenEvents = (into.unwrittenEvents ?? 0) + t.unwrittenEvents;
  into.events += t.events;
  into.calls += t.calls;
  into.revenueCents += t.revenueCents;
  if (t.failureSamples.length > 0) {
    into.failureSamples = [...into.failureSamples, ...t.failureSamples]
      .sort((a, b) => a.agentIndex - b.agentIndex)
      .slice(0, MAX_FAILURE_SAMPLES);
  }
  return into;
}

/**
 * The figures of what is in the database: sessions, failed sessions and events without the
 * agent-cycles whose commit failed (rolled back). The summary's `sessions_created` is the
 * number of session rows the run wrote.
 */
export function writtenOf(t: CycleTotals): { sessions: number; failed: number; events: number; unwritten: number } {
  const unwritten = t.unwritten ?? 0;
  return { sessions: t.sessions - unwritten, failed: t.failed - unwritten, events: t.events - (t.unwrittenEvents ?? 0), unwritten };
}

export type BreakerCounts = 'faults' | 'all';

/**
 * The failures the circuit breaker compares with its threshold: faults only (store rule
 * refusals left out, the default), or every failed session (`--breaker-on all`).
 */
export function breakerFailures(t: CycleTotals, counts: BreakerCounts | undefined): number {
  return counts === 'all' ? t.failed : t.failed - (t.refusals ?? 0);
}
