import type { SimulationStats } from '../../src/simulation/create-simulation.ts';

const emptyTotals = () => ({ agents: 0, sessions: 0, idleBrowses: 0, carts: 0, couponsApplied: 0, checkouts: 0, abandoned: 0, failed: 0, events: 0, calls: 0, revenueCents: 0, failureSamples: [] as { agentIndex: number; step: string; message: string }[] });

/** A fixed mid-run stats object (372 agents, cycle 7 of 24, HTTP figures present). */
export function sampleStats(over: Partial<SimulationStats> = {}): SimulationStats {
  return {
    runId: 'run-20240101-000000-abcdef',
    status: 'running',
    cyclesCompleted: 7,
    totalCycles: 24,
    simulatedStart: '2024-01-01T00:00:00.000Z',
    simulatedTime: '2024-01-01T07:00:00.000Z',
    realElapsedSeconds: 3725.4,
    activeAgents: 150,
    totalAgents: 372,
    totals: { ...emptyTotals(), agents: 1050, sessions: 640, idleBrowses: 270, carts: 360, couponsApplied: 88, checkouts: 268, abandoned: 99, failed: 3, events: 4301, calls: 3290, revenueCents: 1823456 },
    lastCycle: { cycle: 7, active: 150, totals: { ...emptyTotals(), agents: 150, sessions: 92, failed: 1, failureSamples: [{ agentIndex: 12, step: 'checkout', message: 'store returned 503' }] } },
    breaker: { state: 'closed', threshold: 18, percent: 5, trips: 0, lastCycleFailures: 1 },
    offer: { current_offer_cycle: 1, cycle_started_at: '2024-01-01T00:00:00.000Z', cycle_ends_at: '2024-01-08T00:00:00.000Z', offers_assigned: 569, last_error: null },
    digest: 'sha256:abc',
    cycleLagSeconds: 0.012,
    cycleLagMaxSeconds: 0.25,
    lastCheckpoint: 'data/checkpoints/run-20240101-000000-abcdef/checkpoint-c000005.json',
    isReplay: false,
    resumedFrom: null,
    metrics: { requests: 3290, requests_per_second: 12.345, latency_ms: { p50: 41.2, p95: 180.7, p99: 412 }, http_errors: 2, retries_429: 1,
      db_writes: { commits: 2204, failed: 3, statements: 2207, events: 14778, commit_ms: { p50: 1.25, p95: 7.5, p99: 31, max: 40, mean: 2, count: 2207 } } },
    ...over,
  };
}

export const sampleMemory = { rssMb: 212.4, heapUsedMb: 120.2, heapTotalMb: 160.9, systemTotalMb: 16384, percentOfSystem: 1.3 };
