/**
 * Memory monitor: RSS, heap and share of system memory, and the warning line shown when RSS
 * passes --memory-warning-mb (the seed's MEMORY_WARNING_MB, default 12000). Figures in,
 * lines out: whoever holds the terminal and the logger prints them.
 */
import { totalmem } from 'node:os';

export interface MemoryReading {
  rssMb: number;
  heapUsedMb: number;
  heapTotalMb: number;
  systemTotalMb: number;
  /** RSS as a percentage of the machine's memory. */
  percentOfSystem: number;
}

const MB = 1024 * 1024;

function round1(x: number): number {
  return Math.round(x * 10) / 10;
}

/** One reading of this process's memory. */
export function readMemory(usage: NodeJS.MemoryUsage = process.memoryUsage(), systemBytes = totalmem()): MemoryReading {
  return {
    rssMb: round1(usage.rss / MB),
    heapUsedMb: round1(usage.heapUsed / MB),
    heapTotalMb: round1(usage.heapTotal / MB),
    systemTotalMb: Math.round(systemBytes / MB),
    percentOfSystem: systemBytes > 0 ? round1((usage.rss / systemBytes) * 100) : 0,
  };
}

/** The warning line when RSS is above the threshold, else null. */
export function memoryWarning(reading: MemoryReading, thresholdMb: number): string | null {
  if (reading.rssMb <= thresholdMb) return null;
  return `memory warning: RSS ${Math.round(reading.rssMb)} MB > --memory-warning-mb ${thresholdMb} (${reading.percentOfSystem}% of ${reading.systemTotalMb} MB)`;
}

/**
 * The warning at most once per interval (default a minute), so a run that stays above the
 * threshold does not repeat it every cycle and every redraw. The returned function is given
 * the reading and the current time (ms) and answers the line when one is due, else null.
 */
export function memoryWarnings(thresholdMb: number, intervalMs = 60_000): (reading: MemoryReading, nowMs: number) => string | null {
  let lastAt = -Infinity;
  return (reading, nowMs) => {
    const warning = memoryWarning(reading, thresholdMb);
    if (!warning || nowMs - lastAt < intervalMs) return null;
    lastAt = nowMs;
    return warning;
  };
}

/** `rss 210 MB · heap 120/160 MB · 1.3% of system` */
export function formatMemory(reading: MemoryReading): string {
  return `${Math.round(reading.rssMb)} MB RSS · heap ${Math.round(reading.heapUsedMb)}/${Math.round(reading.heapTotalMb)} MB · ${reading.percentOfSystem}%`;
}
