import { EventEmitter } from 'node:events';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { logSimulationEvents } from '../../src/monitor/log-events.ts';
import type { SimulationEvents } from '../../src/simulation/types.ts';
import { sampleMemory, sampleStats } from './fixtures.ts';

function memoryLogger() {
  const records: Record<string, unknown>[] = [];
  const logger = pino({ base: null, timestamp: false }, { write: (line: string) => void records.push(JSON.parse(line)) });
  return { logger, records };
}

function fakeSim() {
  return { config: { runId: 'r', warmupCycles: 0 } as never, events: new EventEmitter<SimulationEvents>() };
}

describe('logSimulationEvents', () => {
  it('writes one record per start, cycle, failed agents, breaker trip and checkpoint', () => {
    const sim = fakeSim();
    const { logger, records } = memoryLogger();
    const stop = logSimulationEvents(sim, logger, { readMemory: () => sampleMemory });
    sim.events.emit('started', { startupSeconds: 0.5 });
    const s = sampleStats();
    sim.events.emit('cycle', { cycle: 7, simulatedTime: s.simulatedTime, active: 150, totals: s.lastCycle!.totals, runTotals: s.totals, threshold: 18, breakerOpen: false, lagSeconds: 0, durationSeconds: 0.1, digest: 'd' });
    const open = sampleStats({ status: 'breaker_open', breaker: { state: 'open', threshold: 18, percent: 5, trips: 1, lastCycleFailures: 25 } });
    sim.events.emit('breaker-open', open);
    sim.events.emit('breaker-open', open);
    sim.events.emit('checkpoint', { path: 'data/checkpoints/x.json', trigger: 'interval', cycle: 7 });
    expect(records.map((r) => [r['level'], r['event'], r['msg']])).toEqual([
      [30, 'started', 'simulation started'],
      [30, 'cycle', 'cycle complete'],
      [50, 'agent-failures', '1 agents failed in cycle 7'],
      [50, 'breaker-open', 'circuit breaker open'],
      [30, 'checkpoint', 'checkpoint written'],
    ]);
    expect(records[0]).toMatchObject({ startupSeconds: 0.5, config: { runId: 'r' } });
    expect(records[1]).toMatchObject({ cycle: 7, active: 150, sessions: 92, failed: 1, threshold: 18, rssMb: 212.4, digest: 'd' });
    expect(records[2]).toMatchObject({ samples: [{ agentIndex: 12, step: 'checkout', message: 'store returned 503' }] });
    expect(records[3]).toMatchObject({ cycle: 7, failures: 25, threshold: 18 });
    expect(records[4]).toMatchObject({ path: 'data/checkpoints/x.json', trigger: 'interval', cycle: 7 });

    stop();
    expect(sim.events.eventNames()).toEqual([]);
    sim.events.emit('started', { startupSeconds: 1 });
    expect(records).toHaveLength(5);
  });

  it('logs a cycle without memory figures when none are given', () => {
    const sim = fakeSim();
    const { logger, records } = memoryLogger();
    logSimulationEvents(sim, logger);
    const s = sampleStats();
    sim.events.emit('cycle', { cycle: 1, simulatedTime: s.simulatedTime, active: 1, totals: { ...s.totals, failed: 0 }, runTotals: s.totals, threshold: 0, breakerOpen: false, lagSeconds: 0, durationSeconds: 0, digest: '' });
    expect(records).toHaveLength(1);
    expect(records[0]).not.toHaveProperty('rssMb');
  });
});
