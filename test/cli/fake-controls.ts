/** A stand-in for what the CLI steers (RunControls): records each call and moves the status as a run would. */
import type { RunControls } from '../../src/cli/controls.ts';
import type { SimulationStats } from '../../src/model/run.ts';
import { sampleStats } from '../monitor/fixtures.ts';

export function fakeControls(initial: Partial<SimulationStats> = {}) {
  let stats = sampleStats(initial);
  const calls: string[] = [];
  let settle: { resolve(p: string | null): void; reject(e: unknown): void } = { resolve: () => {}, reject: () => {} };
  const target: RunControls = {
    stats: () => stats,
    pause: () => {
      calls.push('pause');
      stats = { ...stats, status: 'paused' };
    },
    resume: () => {
      calls.push('resume');
      stats = { ...stats, status: 'running' };
    },
    stop: () => {
      calls.push('stop');
      stats = { ...stats, status: 'stopping' };
    },
    checkpointNow: () => {
      calls.push('checkpoint');
      return new Promise<string | null>((resolve, reject) => (settle = { resolve, reject }));
    },
  };
  return { target, calls, settle: () => settle, set: (s: Partial<SimulationStats>) => (stats = { ...stats, ...s }) };
}
