/** `--mock-db` (and replay): a recorder that writes nothing anywhere. */
import type { Recorder } from '../model/types.ts';

export function createMockRecorder(): Recorder {
  return {
    async beginRun() {},
    async commitSession() {},
    async prepareResume() {
      return { orphanedSessions: 0, discardedSessions: 0 };
    },
    async endRun() {},
    async close() {},
  };
}
