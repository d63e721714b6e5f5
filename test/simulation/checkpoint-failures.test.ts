import { describe, expect, it } from 'vitest';
import type { Checkpointer } from '../../src/model/run.ts';
import { CHECKPOINT_FAILURE_LIMIT, createSimulation, DEFAULT_SIMULATION_CONFIG } from '../../src/simulation/create-simulation.ts';
import { createMockRecorder } from '../../src/simulation/mock-recorder.ts';
import { createMockStore } from '../../src/store/mock-store.ts';
import { personas372, products } from '../helpers.ts';

const ps = personas372.slice(0, 60);

/** A checkpointer whose writes fail (ENOSPC) for the cycles in `failAt`; records the cycles it was asked for. */
function flaky(failAt: (cycle: number) => boolean) {
  const asked: number[] = [];
  const written: number[] = [];
  const checkpointer: Checkpointer = async ({ stats }) => {
    asked.push(stats.cyclesCompleted);
    if (failAt(stats.cyclesCompleted)) throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
    written.push(stats.cyclesCompleted);
    return `/ck/${stats.cyclesCompleted}`;
  };
  return { checkpointer, asked, written };
}

function simulate(checkpointer: Checkpointer, cycles = 12) {
  const sim = createSimulation(
    { ...DEFAULT_SIMULATION_CONFIG, runId: 'ck-fail', fast: true, cycles, checkpointInterval: 4, breakerAction: 'exit' },
    { personas: ps, products, store: createMockStore({ seed: 42, products, agentIds: ps.map((p) => p.id) }), recorder: createMockRecorder(), checkpointer },
  );
  const failures: { cycle: number; inARow: number }[] = [];
  sim.events.on('checkpoint-failed', (f) => failures.push({ cycle: f.cycle, inARow: f.inARow }));
  return { sim, failures };
}

describe('a checkpoint that cannot be written', () => {
  it('is retried at the next boundary until one is written; the run goes on', async () => {
    const k = flaky((c) => c === 4 || c === 5);
    const { sim, failures } = simulate(k.checkpointer);
    const s = await sim.run();
    expect(s.exit_reason).toBe('completed');
    expect(k.asked).toEqual([4, 5, 6, 8]);
    expect(k.written).toEqual([6, 8]);
    expect(failures).toEqual([{ cycle: 4, inARow: 1 }, { cycle: 5, inARow: 2 }]);
    expect(s.checkpoint_failures).toBe(2);
    expect(s.last_checkpoint).toBe('/ck/8');
  });

  it(`stops the run cleanly after ${CHECKPOINT_FAILURE_LIMIT} in a row (exit reason checkpoint_failed), keeping the last good one`, async () => {
    const k = flaky((c) => c >= 8);
    const { sim } = simulate(k.checkpointer, 20);
    const s = await sim.run();
    expect(s.exit_reason).toBe('checkpoint_failed');
    expect(s.cycles_completed).toBe(10);
    expect(k.asked).toEqual([4, 8, 9, 10]);
    expect(s.checkpoint_failures).toBe(3);
    expect(s.last_checkpoint).toBe('/ck/4');
  });
});
