/**
 * The run's `--rate-limit` across BullMQ workers (docs/scaling.md, "Rate limit across workers").
 * (Thread workers need no split: they share one schedule in shared memory,
 * src/store/rate-limiter.ts `shared`.)
 */

/**
 * A distributed run's per-thread rate at a barrier: the limit over the threads that can be busy
 * at once — the live workers' threads, but no more than the cycle's cohort jobs (a thread runs
 * one at a time; with fewer jobs than threads the idle ones would hold budget back).
 */
export function threadRate(rate: number, threads: number, jobs: number): number {
  if (rate <= 0) return 0;
  return rate / Math.max(1, Math.min(threads, jobs));
}
