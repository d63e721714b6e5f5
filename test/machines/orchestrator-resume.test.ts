/**
 * RUN_RESUMED: a restored orchestrator is told it resumes. Pure transitions (XState's
 * initialTransition / transition): no actor runs, no I/O.
 */
import { describe, expect, it } from 'vitest';
import { initialTransition, transition } from 'xstate';
import { orchestratorMachine, type OrchestratorContext } from '../../machines/orchestrator.machine.ts';
import { generatePersonas } from '../../src/model/personas.ts';

const personas = generatePersonas(372, 42);
const input = {
  runId: 'run-resume', seed: 42, personas, totalCycles: 24, startMs: Date.parse('2024-01-01T00:00:00Z'),
  warmupCycles: 0, breakerPercent: 5, cohortSize: 100, maxConcurrentAgents: 1000, offerCycleDays: 7,
};
const resumed = (over: Partial<{ totalCycles: number; breakerPercent: number; maxConcurrentAgents: number }> = {}) =>
  ({ type: 'RUN_RESUMED' as const, totalCycles: 24, breakerPercent: 5, maxConcurrentAgents: 1000, ...over });

function start() {
  const [snap] = initialTransition(orchestratorMachine, input);
  return snap;
}

/** The SET_WINDOW events the transition sends to the cohorts. */
function windowsSent(actions: { type: string; params?: unknown }[]): { to: string; window: number }[] {
  return actions
    .filter((a) => a.type === 'xstate.sendTo')
    .map((a) => a.params as { to: { id: string }; event: { type: string; window: number } })
    .filter((p) => p.event.type === 'SET_WINDOW')
    .map((p) => ({ to: p.to.id, window: p.event.window }));
}

describe('orchestrator RUN_RESUMED', () => {
  it('recomputes the breaker threshold from the new percent (372 agents: 5% → 18, 1% → 3)', () => {
    const s0 = start();
    expect((s0.context as OrchestratorContext).threshold).toBe(18);
    const [s1] = transition(orchestratorMachine, s0, resumed({ breakerPercent: 1 }));
    const c = s1.context as OrchestratorContext;
    expect(c.breakerPercent).toBe(1);
    expect(c.threshold).toBe(3);
  });

  it('shares a new concurrency window out over the cohorts (4 cohorts: 1000 → 250 each, 40 → 10 each)', () => {
    const s0 = start();
    const [, a0] = transition(orchestratorMachine, s0, resumed());
    expect(windowsSent(a0 as never).map((w) => w.window)).toEqual([250, 250, 250, 250]);
    const [s1, a1] = transition(orchestratorMachine, s0, resumed({ maxConcurrentAgents: 40 }));
    const sent = windowsSent(a1 as never);
    expect(sent).toEqual([
      { to: 'cohort-0000', window: 10 },
      { to: 'cohort-0001', window: 10 },
      { to: 'cohort-0002', window: 10 },
      { to: 'cohort-0003', window: 10 },
    ]);
    expect((s1.context as OrchestratorContext).maxConcurrentAgents).toBe(40);
  });

  it('runs again: a stopped, paused or breaker-open tree goes back to running and closed', () => {
    let s = start();
    [s] = transition(orchestratorMachine, s, { type: 'PAUSE' });
    [s] = transition(orchestratorMachine, s, { type: 'BREAKER_TRIP' });
    expect(s.matches({ control: 'paused' })).toBe(true);
    expect(s.matches({ breaker: 'open' })).toBe(true);
    [s] = transition(orchestratorMachine, s, resumed());
    expect(s.matches({ control: 'running' })).toBe(true);
    expect(s.matches({ breaker: 'closed' })).toBe(true);
    expect((s.context as OrchestratorContext).breakerTrips).toBe(1); // the trip stays counted

    [s] = transition(orchestratorMachine, s, { type: 'STOP' });
    expect(s.matches({ control: 'stopped' })).toBe(true); // at a cycle boundary: stopped at once
    [s] = transition(orchestratorMachine, s, resumed());
    expect(s.matches({ control: 'running' })).toBe(true);
  });

  it('takes the new run length: a shorter one ends at once, a longer one leaves done', () => {
    const s0 = start();
    const [s1] = transition(orchestratorMachine, s0, resumed({ totalCycles: 0 }));
    expect(s1.matches({ cycle: 'done' })).toBe(true);
    const [s2] = transition(orchestratorMachine, s1, resumed({ totalCycles: 48 }));
    expect(s2.matches({ cycle: 'waiting' })).toBe(true);
    expect((s2.context as OrchestratorContext).totalCycles).toBe(48);
  });
});
