/**
 * The simulated calendar. One cycle = one simulated hour; all simulated times are UTC.
 * Real pacing (3600 s / time-scale per cycle) lives in src/simulation, not here.
 */
export const HOUR_MS = 3_600_000;

export interface CycleInfo {
  /** 1-based number of the cycle being run. */
  cycle: number;
  /** Simulated start of the cycle (ISO, UTC). */
  at: string;
  atMs: number;
  hour: number;
  /** 0 = Sunday … 6 = Saturday. */
  weekday: number;
  weekend: boolean;
}

/** Cycle N (1-based) covers [start + (N-1) h, start + N h). */
export function cycleInfo(startMs: number, cycle: number): CycleInfo {
  const atMs = startMs + (cycle - 1) * HOUR_MS;
  const d = new Date(atMs);
  const weekday = d.getUTCDay();
  return { cycle, at: d.toISOString(), atMs, hour: d.getUTCHours(), weekday, weekend: weekday === 0 || weekday === 6 };
}

/** Simulated time at the end of `cyclesCompleted` cycles. */
export function simulatedTimeAfter(startMs: number, cyclesCompleted: number): string {
  return new Date(startMs + cyclesCompleted * HOUR_MS).toISOString();
}

/** Real seconds between cycle starts at a time-scale (simulated hours per real hour). */
export function cycleIntervalSeconds(timeScale: number): number {
  return 3600 / timeScale;
}
