/**
 * The run's `--rate-limit` as per-worker budgets (docs/scaling.md, "Rate limit across workers").
 * Split evenly, a worker with fewer shoppers than the others leaves budget unused while the busy
 * ones are held back (one cohort on two workers: half the limit). So each worker gets the share
 * of the limit its shoppers are of the run's: cohort k (of `cohortSize`, in spawn order) is on
 * worker k mod N. A worker holding none gets an even share (it only shops after it takes over a
 * lost worker's cohorts). 0 stays 0 (no limit).
 */
export function rateShares(rate: number, workers: number, agents: number, cohortSize: number): number[] {
  if (rate <= 0) return Array.from({ length: workers }, () => 0);
  const placed = Array.from({ length: workers }, () => 0);
  for (let k = 0, base = 0; base < agents; k++, base += cohortSize) placed[k % workers] = (placed[k % workers] as number) + Math.min(cohortSize, agents - base);
  const total = placed.reduce((a, b) => a + b, 0);
  return placed.map((n) => (n > 0 && total > 0 ? (rate * n) / total : rate / workers));
}

/**
 * A distributed run's per-thread rate at a barrier: the limit over the threads that can be busy
 * at once — the live workers' threads, but no more than the cycle's cohort jobs (a thread runs
 * one at a time; with fewer jobs than threads the idle ones would hold budget back).
 */
export function threadRate(rate: number, threads: number, jobs: number): number {
  if (rate <= 0) return 0;
  return rate / Math.max(1, Math.min(threads, jobs));
}
