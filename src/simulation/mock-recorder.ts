/**
 * `--mock-db`: a recorder that writes nothing anywhere. It keeps counts so a dry run can
 * still report what it would have written.
 */
import type { Recorder } from '../model/types.ts';

export interface MockRecorder extends Recorder {
  readonly sessionsWritten: number;
  readonly eventsWritten: number;
}

export function createMockRecorder(): MockRecorder {
  let sessions = 0;
  let events = 0;
  return {
    get sessionsWritten() {
      return sessions;
    },
    get eventsWritten() {
      return events;
    },
    async beginRun() {},
    async commitSession(record) {
      sessions++;
      events += record.events.length;
    },
    async prepareResume() {
      return { orphanedSessions: 0, discardedSessions: 0 };
    },
    async endRun() {},
    async close() {},
  };
}
