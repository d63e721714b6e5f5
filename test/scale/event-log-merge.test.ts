/**
 * A cohort run elsewhere ships its sessions' hashes with its report: a coordinator log that
 * receives them (cohorts in any order) seals the same cycle digest as one log that saw every
 * session commit.
 */
import { describe, expect, it } from 'vitest';
import type { SessionRecord } from '../../src/model/types.ts';
import { EventLog } from '../../src/simulation/event-log.ts';

function record(cycle: number, agentIndex: number): SessionRecord {
  return {
    runId: 'r', sessionId: `s-${cycle}-${agentIndex}`, agentId: `agent-${agentIndex}`, agentIndex, cycle,
    kind: 'shop', status: 'completed', simStart: '2026-01-01T00:00:00.000Z', simEnd: '2026-01-01T00:10:00.000Z', notes: null,
    events: [{ seq: 1, type: 'browse', at: '2026-01-01T00:01:00.000Z', payload: { n: agentIndex % 7 } }],
    order: null,
  };
}

describe('event log entries shipped between processes', () => {
  it('cohort logs merged in reverse order seal the digest of one log', () => {
    const one = new EventLog();
    const cohorts = [new EventLog(), new EventLog(), new EventLog()];
    for (const cycle of [1, 2]) {
      // Commit order interleaves cohorts, as concurrent shoppers do.
      for (let i = 0; i < 30; i++) {
        const agent = (i * 7) % 30;
        one.add(record(cycle, agent));
        (cohorts[Math.floor(agent / 10)] as EventLog).add(record(cycle, agent));
      }
    }
    const coordinator = new EventLog();
    let single = 'sha256:genesis';
    let merged = 'sha256:genesis';
    for (const cycle of [1, 2]) {
      for (const log of [...cohorts].reverse()) coordinator.addEntries(log.take(cycle));
      single = one.seal(cycle, single);
      merged = coordinator.seal(cycle, merged);
      expect(merged).toBe(single);
    }
    // take() removed what it shipped: a cohort log has nothing left of those cycles.
    expect(cohorts.every((log) => log.take(1).length === 0 && log.take(2).length === 0)).toBe(true);
    // The merge is not vacuous: a cycle missing one session seals another digest.
    const full = new EventLog();
    const partial = new EventLog();
    for (let a = 0; a < 30; a++) full.add(record(1, a));
    for (let a = 1; a < 30; a++) partial.add(record(1, a));
    expect(partial.seal(1, 'sha256:genesis')).not.toBe(full.seal(1, 'sha256:genesis'));
  });
});
