/**
 * Warm-up ramp and circuit-breaker arithmetic, as in the seed plan.
 */
export const DEFAULT_WARMUP_BATCHES = [0.1, 0.25, 0.5, 0.75, 1.0] as const;

/**
 * Active agents in a 1-based cycle. The warm-up cycles are split evenly across the batches:
 * W=10, 372 agents → 37, 37, 93, 93, 186, 186, 279, 279, 372, 372, then 372.
 */
export function activeAgentCount(
  cycle: number,
  totalAgents: number,
  warmupCycles: number,
  batches: readonly number[] = DEFAULT_WARMUP_BATCHES,
): number {
  if (warmupCycles <= 0 || cycle > warmupCycles) return totalAgents;
  const batch = Math.min(batches.length - 1, Math.floor(((cycle - 1) * batches.length) / warmupCycles));
  const fraction = batches[batch] ?? 1;
  return Math.max(1, Math.min(totalAgents, Math.floor(totalAgents * fraction)));
}

/** Failures allowed in one cycle: floor(total × percent / 100). The breaker opens above it. */
export function breakerThreshold(totalAgents: number, percent: number): number {
  return Math.floor((totalAgents * percent) / 100);
}

export function breakerTrips(failures: number, threshold: number): boolean {
  return failures > threshold;
}

/**
 * Sessions that must have failed in a row, with none succeeding in between (across cycles), for
 * a cycle in which every session failed to open the breaker even under the threshold.
 */
export const ALL_FAILED_MIN_IN_A_ROW = 3;

/** Sessions failed in a row after this cycle: a cycle with no session keeps the count. */
export function failedInARowAfter(previous: number, cycle: { sessions: number; failed: number }): number {
  if (cycle.sessions === 0) return previous;
  return cycle.failed === cycle.sessions ? previous + cycle.failed : 0;
}

/**
 * The breaker's rule. It opens after a cycle when
 *  (a) more agents failed than the threshold, floor(agents × percent / 100) (the seed's rule:
 *      18 of 372 at 5 % keeps it closed, 19 opens it), or
 *  (b) every session of the cycle failed and at least ALL_FAILED_MIN_IN_A_ROW (3) sessions
 *      have failed in a row (`failedInARow`, this cycle's included) — a store that cannot be
 *      reached, whatever the agent count (20 agents at 5 % have a threshold of 1, which one or
 *      two sessions a cycle never exceed). Off at --breaker-percent 100, which never opens it.
 */
export function breakerOpens(cycle: { sessions: number; failed: number }, threshold: number, failedInARow: number, percent: number): boolean {
  if (breakerTrips(cycle.failed, threshold)) return true;
  return percent < 100 && cycle.sessions > 0 && cycle.failed === cycle.sessions && failedInARow >= ALL_FAILED_MIN_IN_A_ROW;
}
