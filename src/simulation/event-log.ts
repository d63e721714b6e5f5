/**
 * The run's canonical event log, reduced to a digest. Each committed session is hashed when it
 * commits (its header line and its events in sequence order: cycle, agent id, seq, type,
 * simulated time, payload) and only that hash is kept. Sealing a cycle hashes the session
 * hashes in agent order (persona-file order), then chains:
 * digest_n = sha256(digest_{n-1} ‖ cycle hash). Keeping hashes instead of whole records keeps
 * memory flat at 100,000 agents; a chain (not one running hash) lets a checkpoint carry the
 * digest and a resumed run extend it.
 */
import { createHash } from 'node:crypto';
import type { SessionRecord } from '../model/types.ts';

/** One committed session's hash: what a cohort run elsewhere sends back with its report. */
export interface Entry {
  cycle: number;
  agentIndex: number;
  agentId: string;
  hash: string;
}

export function sessionHash(r: SessionRecord): string {
  // One string, one update: the same bytes as an update per line (so the same hash), without a
  // call into the native hash per event.
  const prefix = `${r.cycle}\t${r.agentId}\t`;
  let text = `${prefix}0\t${r.kind}\t${r.status}\t${r.simStart}\n`;
  for (const e of r.events) text += `${prefix}${e.seq}\t${e.type}\t${e.at}\t${JSON.stringify(e.payload)}\n`;
  return createHash('sha256').update(text).digest('hex');
}

export class EventLog {
  private pending: Entry[] = [];

  add(record: SessionRecord): void {
    this.pending.push({ cycle: record.cycle, agentIndex: record.agentIndex, agentId: record.agentId, hash: sessionHash(record) });
  }

  /** Takes the cycle's entries out (a worker's cohorts, to ship with their reports). */
  take(cycle: number): Entry[] {
    const taken = this.pending.filter((e) => e.cycle === cycle);
    this.pending = this.pending.filter((e) => e.cycle !== cycle);
    return taken;
  }

  /** Adds entries taken from another log (in any order: sealing sorts by agent index). */
  addEntries(entries: readonly Entry[]): void {
    for (const e of entries) this.pending.push({ cycle: e.cycle, agentIndex: e.agentIndex, agentId: e.agentId, hash: e.hash });
  }

  /** Hash of the cycle's sessions, chained onto `previous`. Drops the cycle's entries. */
  seal(cycle: number, previous: string): string {
    const entries = this.pending.filter((e) => e.cycle === cycle).sort((a, b) => a.agentIndex - b.agentIndex);
    this.pending = this.pending.filter((e) => e.cycle !== cycle);
    const h = createHash('sha256');
    h.update(`cycle\t${cycle}\n`);
    for (const e of entries) h.update(`${e.agentId}\t${e.hash}\n`);
    const cycleHex = h.digest('hex');
    return `sha256:${createHash('sha256').update(`${previous}\n${cycleHex}`).digest('hex')}`;
  }
}
