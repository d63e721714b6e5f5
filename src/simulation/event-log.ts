/**
 * The run's canonical event log, reduced to a digest. Each committed session is buffered for
 * its cycle; sealing a cycle hashes its sessions ordered by (agent index = persona-file order,
 * per-agent sequence), then chains: digest_n = sha256(digest_{n-1} ‖ sha256(cycle n)). A chain
 * (not one running hash) is what lets a checkpoint carry the digest and a resumed run extend it.
 */
import { createHash } from 'node:crypto';
import type { SessionRecord } from '../model/types.ts';

export class EventLog {
  private pending: SessionRecord[] = [];
  sealedCycles = 0;

  add(record: SessionRecord): void {
    this.pending.push(record);
  }

  /** Hash of the cycle's sessions, then chained onto `previous`. Clears the buffer. */
  seal(cycle: number, previous: string): string {
    const records = this.pending.filter((r) => r.cycle === cycle).sort((a, b) => a.agentIndex - b.agentIndex);
    this.pending = this.pending.filter((r) => r.cycle !== cycle);
    const h = createHash('sha256');
    h.update(`cycle\t${cycle}\n`);
    for (const r of records) {
      h.update(`${r.cycle}\t${r.agentId}\t0\t${r.kind}\t${r.status}\t${r.simStart}\n`);
      for (const e of r.events) h.update(`${r.cycle}\t${r.agentId}\t${e.seq}\t${e.type}\t${e.at}\t${JSON.stringify(e.payload)}\n`);
    }
    const cycleHex = h.digest('hex');
    this.sealedCycles++;
    return `sha256:${createHash('sha256').update(`${previous}\n${cycleHex}`).digest('hex')}`;
  }
}
