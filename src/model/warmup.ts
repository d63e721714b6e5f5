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
