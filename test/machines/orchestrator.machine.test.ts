/**
 * The orchestrator's regions, without shoppers: pure transitions (`initialTransition` /
 * `transition`) with the cohorts' reports and the invoked actors' answers sent as events, and
 * one actor run with stub cohorts and stub invokes for what the machine hands to them.
 */
import { describe, expect, it } from 'vitest';
import { createActor, fromPromise, initialTransition, sendParent, setup, transition, waitFor, type SnapshotFrom } from 'xstate';
import type { CohortInput } from '../../machines/cohort.machine.ts';
import { GENESIS_DIGEST, orchestratorMachine, type OrchestratorInput } from '../../machines/orchestrator.machine.ts';
import { generatePersonas } from '../../src/model/personas.ts';
import { emptyTotals } from '../../src/model/totals.ts';
import type { CycleTotals } from '../../src/model/types.ts';

const START = Date.parse('2024-01-01T00:00:00Z');
const HOUR = 3_600_000;
const personas372 = generatePersonas(372, 5);

/** Stands in for a cohort: never started by a pure transition, so it only has to exist. */
const idleCohort = setup({}).createMachine({});
const machine = orchestratorMachine.provide({ actors: { cohort: idleCohort as never } });
type Snap = SnapshotFrom<typeof machine>;

function input(over: Partial<OrchestratorInput> = {}): OrchestratorInput {
  return {
    runId: 'run-test',
    seed: 1,
    personas: personas372,
    totalCycles: 100,
    startMs: START,
    warmupCycles: 0,
    breakerPercent: 5,
    cohortSize: 500,
    maxConcurrentAgents: 10_000,
    offerCycleDays: 7,
    ...over,
  };
}

function start(over: Partial<OrchestratorInput> = {}): Snap {
  return initialTransition(machine, input(over))[0];
}

function send(s: Snap, event: Parameters<typeof transition<typeof machine>>[2]): Snap {
  return transition(machine, s, event)[0];
}

/** The id of the actor the current cycle state invoked (XState names it after the state). */
function invokeId(s: Snap, state: 'startingOffers' | 'settling'): string {
  const id = Object.keys(s.children).find((k) => k.endsWith(`.cycle.${state}`));
  if (!id) throw new Error(`no ${state} invoke in ${JSON.stringify(s.value)}`);
  return id;
}

function offersDone(s: Snap, offersAssigned: number): Snap {
  return send(s, { type: `xstate.done.actor.${invokeId(s, 'startingOffers')}`, output: { offers_assigned: offersAssigned } } as never);
}

function offersFailed(s: Snap, error: unknown): Snap {
  return send(s, { type: `xstate.error.actor.${invokeId(s, 'startingOffers')}`, error } as never);
}

function settled(s: Snap, digest: string): Snap {
  return send(s, { type: `xstate.done.actor.${invokeId(s, 'settling')}`, output: { digest } } as never);
}

function totals(agents: number, failed: number): CycleTotals {
  return { ...emptyTotals(), agents, sessions: agents, failed, checkouts: agents - failed };
}

/** Every cohort reports: `failed` failures in all, counted against the first cohort. */
function cohortsReport(s: Snap, failed: number): Snap {
  let next = s;
  s.context.cohorts.forEach((_, i) => {
    const base = i * 500;
    const agents = Math.max(0, Math.min(500, next.context.activeCount - base));
    next = send(next, { type: 'COHORT_DONE', baseIndex: base, totals: totals(agents, i === 0 ? failed : 0) });
  });
  return next;
}

/** One whole cycle: NEXT_CYCLE, the offer cycle if due, the cohorts' reports, the settle. */
function runCycle(s: Snap, failed = 0, opts: { offers?: number | Error } = {}): Snap {
  let next = send(s, { type: 'NEXT_CYCLE' });
  if (next.matches({ cycle: 'startingOffers' })) next = opts.offers instanceof Error ? offersFailed(next, opts.offers) : offersDone(next, opts.offers ?? 0);
  expect(next.matches({ cycle: 'executing' })).toBe(true);
  next = cohortsReport(next, failed);
  expect(next.matches({ cycle: 'settling' })).toBe(true);
  return settled(next, `sha256:cycle-${next.context.current?.cycle}`);
}

describe('orchestrator: start', () => {
  it('waits for NEXT_CYCLE, running, breaker closed, with the threshold floor(agents × percent / 100)', () => {
    const s = start();
    expect(s.value).toEqual({ cycle: 'waiting', control: 'running', breaker: 'closed' });
    expect(s.context.threshold).toBe(18);
    expect(s.context.cyclesCompleted).toBe(0);
    expect(s.context.digest).toBe(GENESIS_DIGEST);
  });

  it('spawns one cohort per cohortSize personas, sharing the concurrency window out evenly', () => {
    // A cohort that keeps its input as its context, for the test to read.
    const remember = setup({ types: { input: {} as CohortInput, context: {} as CohortInput } }).createMachine({ context: ({ input }) => input });
    const actor = createActor(orchestratorMachine.provide({ actors: { cohort: remember as never } }), { input: input({ personas: generatePersonas(1200, 5), cohortSize: 500, maxConcurrentAgents: 200 }) });
    actor.start();
    const s = actor.getSnapshot();
    actor.stop();
    expect(Object.keys(s.children).sort()).toEqual(['cohort-0000', 'cohort-0001', 'cohort-0002']);
    // Cohorts of 500, 500 and 200; each may have ceil(200 / 3) = 67 shoppers in a session.
    const cohortInputs = s.context.cohorts.map((c) => (c.getSnapshot() as unknown as { context: CohortInput }).context);
    expect(cohortInputs.map((i) => [i.baseIndex, i.personas.length, i.window, i.seed, i.runId])).toEqual([
      [0, 500, 67, 1, 'run-test'],
      [500, 500, 67, 1, 'run-test'],
      [1000, 200, 67, 1, 'run-test'],
    ]);
  });
});

describe('orchestrator: cycle region', () => {
  it('waiting → planning → startingOffers (first cycle) → executing → settling → waiting', () => {
    let s = send(start(), { type: 'NEXT_CYCLE' });
    expect(s.matches({ cycle: 'startingOffers' })).toBe(true);
    expect(s.context.current?.at).toBe('2024-01-01T00:00:00.000Z');
    s = offersDone(s, 0);
    expect(s.matches({ cycle: 'executing' })).toBe(true);
    expect(s.context.pendingCohorts).toBe(1);
    s = cohortsReport(s, 0);
    expect(s.matches({ cycle: 'settling' })).toBe(true);
    s = settled(s, 'sha256:one');
    expect(s.matches({ cycle: 'waiting' })).toBe(true);
    expect(s.context.cyclesCompleted).toBe(1);
    expect(s.context.digest).toBe('sha256:one');
    expect(s.context.lastCycle).toMatchObject({ cycle: 1, active: 372, totals: { agents: 372 } });
    expect(s.context.totals.agents).toBe(372);
  });

  it('waits for every cohort before settling', () => {
    let s = send(start({ personas: generatePersonas(1200, 5) }), { type: 'NEXT_CYCLE' });
    s = offersDone(s, 0);
    s = send(s, { type: 'COHORT_DONE', baseIndex: 500, totals: totals(500, 1) });
    s = send(s, { type: 'COHORT_DONE', baseIndex: 0, totals: totals(500, 2) });
    expect(s.matches({ cycle: 'executing' })).toBe(true);
    expect(s.context.pendingCohorts).toBe(1);
    s = send(s, { type: 'COHORT_DONE', baseIndex: 1000, totals: totals(200, 0) });
    expect(s.matches({ cycle: 'settling' })).toBe(true);
    expect(s.context.cycleTotals).toMatchObject({ agents: 1200, failed: 3 });
  });

  it('keeps every snapshot\'s own reports: a transition from an older snapshot does not see a later one\'s', () => {
    let s = send(start({ personas: generatePersonas(1500, 5) }), { type: 'NEXT_CYCLE' });
    s = offersDone(s, 0);
    const one = send(s, { type: 'COHORT_DONE', baseIndex: 500, totals: totals(500, 1) });
    // Two branches from `one`: the first appends in place, the second must not see its report.
    const a = send(send(one, { type: 'COHORT_DONE', baseIndex: 0, totals: totals(500, 2) }), { type: 'COHORT_DONE', baseIndex: 1000, totals: totals(500, 0) });
    const b = send(send(one, { type: 'COHORT_DONE', baseIndex: 1000, totals: totals(500, 4) }), { type: 'COHORT_DONE', baseIndex: 0, totals: totals(500, 8) });
    expect(a.matches({ cycle: 'settling' }) && b.matches({ cycle: 'settling' })).toBe(true);
    expect(a.context.cycleTotals).toMatchObject({ agents: 1500, failed: 3 });
    expect(b.context.cycleTotals).toMatchObject({ agents: 1500, failed: 13 });
    expect(one.context.cohortReports?.count).toBe(1);
    expect(a.context.cohortReports).toEqual({ items: [], count: 0 });
  });

  it('merges the reports in cohort order whatever their arrival order (failure samples too)', () => {
    const sample = (agentIndex: number) => ({ agentIndex, step: 'cart', message: `m${agentIndex}` });
    const report = (base: number) => ({ type: 'COHORT_DONE' as const, baseIndex: base, totals: { ...totals(500, 1), failureSamples: [sample(base)] } });
    const order = (bases: number[]) => {
      let s = offersDone(send(start({ personas: generatePersonas(1500, 5) }), { type: 'NEXT_CYCLE' }), 0);
      for (const base of bases) s = send(s, report(base));
      return s.context.cycleTotals;
    };
    const inOrder = order([0, 500, 1000]);
    expect(order([1000, 0, 500])).toEqual(inOrder);
    expect(order([500, 1000, 0])).toEqual(inOrder);
    expect(inOrder.failureSamples.map((f) => f.agentIndex)).toEqual([0, 500, 1000]);
  });

  it('goes to done after the last cycle and ignores NEXT_CYCLE there', () => {
    let s = start({ totalCycles: 2 });
    s = runCycle(s);
    expect(s.matches({ cycle: 'waiting' })).toBe(true);
    s = runCycle(s);
    expect(s.matches({ cycle: 'done' })).toBe(true);
    expect(s.context.cyclesCompleted).toBe(2);
    s = send(s, { type: 'NEXT_CYCLE' });
    expect(s.matches({ cycle: 'done' })).toBe(true);
    expect(s.context.cyclesCompleted).toBe(2);
  });

  it('a run with no cycles left starts in done', () => {
    expect(start({ totalCycles: 0 }).matches({ cycle: 'done' })).toBe(true);
  });

  it('ramps up during warm-up: 37, 37, 93, 93, 186, 186, 279, 279, 372, 372, then 372', () => {
    let s = start({ warmupCycles: 10 });
    const active: number[] = [];
    for (let i = 0; i < 11; i++) {
      s = runCycle(s);
      active.push(s.context.lastCycle?.active as number);
    }
    expect(active).toEqual([37, 37, 93, 93, 186, 186, 279, 279, 372, 372, 372]);
  });
});

describe('orchestrator: breaker region', () => {
  it('stays closed at 18 failures of 372 (5%) and opens at 19, counting the trip', () => {
    let s = runCycle(start(), 18);
    expect(s.matches({ breaker: 'closed' })).toBe(true);
    expect(s.context.breakerTrips).toBe(0);
    s = runCycle(s, 19);
    expect(s.matches({ breaker: 'open' })).toBe(true);
    expect(s.matches({ cycle: 'waiting' })).toBe(true);
    expect(s.context.breakerTrips).toBe(1);
    expect(s.context.lastCycle?.totals.failed).toBe(19);
  });

  it('an open breaker holds the run: NEXT_CYCLE is ignored until RESUME closes it', () => {
    let s = runCycle(start(), 19);
    s = send(s, { type: 'NEXT_CYCLE' });
    expect(s.matches({ cycle: 'waiting' })).toBe(true);
    expect(s.context.cyclesCompleted).toBe(1);
    s = send(s, { type: 'RESUME' });
    expect(s.value).toEqual({ cycle: 'waiting', control: 'running', breaker: 'closed' });
    s = runCycle(s, 0);
    expect(s.context.cyclesCompleted).toBe(2);
    expect(s.context.breakerTrips).toBe(1);
  });

  it('counts every trip of the run', () => {
    let s = start();
    for (let i = 0; i < 3; i++) s = send(runCycle(s, 30), { type: 'RESUME' });
    expect(s.context.breakerTrips).toBe(3);
    expect(s.matches({ breaker: 'closed' })).toBe(true);
  });

  it('the threshold follows the percent: 0% opens on the first failure', () => {
    let s = runCycle(start({ breakerPercent: 0 }), 0);
    expect(s.matches({ breaker: 'closed' })).toBe(true);
    s = runCycle(s, 1);
    expect(s.matches({ breaker: 'open' })).toBe(true);
  });
});

describe('orchestrator: control region', () => {
  it('PAUSE holds NEXT_CYCLE back; RESUME lets it through', () => {
    let s = send(start(), { type: 'PAUSE' });
    expect(s.matches({ control: 'paused' })).toBe(true);
    s = send(s, { type: 'NEXT_CYCLE' });
    expect(s.matches({ cycle: 'waiting' })).toBe(true);
    s = send(s, { type: 'RESUME' });
    expect(s.matches({ control: 'running' })).toBe(true);
    s = send(s, { type: 'NEXT_CYCLE' });
    expect(s.matches({ cycle: 'startingOffers' })).toBe(true);
  });

  it('a pause mid-cycle lets the running cycle finish', () => {
    let s = offersDone(send(start(), { type: 'NEXT_CYCLE' }), 0);
    s = send(s, { type: 'PAUSE' });
    s = settled(cohortsReport(s, 0), 'sha256:x');
    expect(s.value).toEqual({ cycle: 'waiting', control: 'paused', breaker: 'closed' });
    expect(s.context.cyclesCompleted).toBe(1);
  });

  it('STOP between cycles stops at once', () => {
    expect(send(start(), { type: 'STOP' }).matches({ control: 'stopped' })).toBe(true);
    expect(send(send(start(), { type: 'PAUSE' }), { type: 'STOP' }).matches({ control: 'stopped' })).toBe(true);
    expect(send(start({ totalCycles: 0 }), { type: 'STOP' }).matches({ control: 'stopped' })).toBe(true);
  });

  it('STOP mid-cycle is stopping until the cycle boundary, then stopped', () => {
    let s = send(start(), { type: 'NEXT_CYCLE' });
    s = send(s, { type: 'STOP' });
    expect(s.matches({ control: 'stopping' })).toBe(true);
    s = offersDone(s, 0);
    expect(s.matches({ control: 'stopping' })).toBe(true);
    s = cohortsReport(s, 0);
    expect(s.matches({ cycle: 'settling' })).toBe(true);
    expect(s.matches({ control: 'stopping' })).toBe(true);
    s = settled(s, 'sha256:x');
    expect(s.value).toEqual({ cycle: 'waiting', control: 'stopped', breaker: 'closed' });
    expect(s.context.cyclesCompleted).toBe(1);
    // Stopped is final for the run: no new cycle, and RESUME does not restart it.
    s = send(send(s, { type: 'RESUME' }), { type: 'NEXT_CYCLE' });
    expect(s.matches({ cycle: 'waiting' })).toBe(true);
    expect(s.matches({ control: 'stopped' })).toBe(true);
  });
});

describe('orchestrator: offer region', () => {
  it('starts an offer cycle every N simulated days, from the first cycle, and adds up the offers', () => {
    let s = start({ offerCycleDays: 0.5 });
    const offerCycles: number[] = [];
    for (let i = 0; i < 25; i++) {
      const planned = send(s, { type: 'NEXT_CYCLE' });
      if (planned.matches({ cycle: 'startingOffers' })) offerCycles.push(planned.context.current?.cycle as number);
      s = runCycle(s, 0, { offers: 10 });
    }
    expect(offerCycles).toEqual([1, 13, 25]);
    expect(s.context.offer).toEqual({
      current_offer_cycle: 3,
      cycle_started_at: new Date(START + 24 * HOUR).toISOString(),
      cycle_ends_at: new Date(START + 36 * HOUR).toISOString(),
      offers_assigned: 30,
      last_error: null,
    });
  });

  it('a failed offer cycle is recorded in last_error and the cycle goes on; the next one clears it', () => {
    let s = runCycle(start({ offerCycleDays: 1 }), 0, { offers: 7 });
    for (let i = 0; i < 23; i++) s = runCycle(s);
    s = send(s, { type: 'NEXT_CYCLE' });
    expect(s.matches({ cycle: 'startingOffers' })).toBe(true);
    s = offersFailed(s, new Error('store down'));
    expect(s.matches({ cycle: 'executing' })).toBe(true);
    expect(s.context.offer).toEqual({
      current_offer_cycle: 2,
      cycle_started_at: new Date(START + 24 * HOUR).toISOString(),
      cycle_ends_at: new Date(START + 48 * HOUR).toISOString(),
      offers_assigned: 7,
      last_error: 'store down',
    });
    s = settled(cohortsReport(s, 0), 'sha256:x');
    expect(s.context.cyclesCompleted).toBe(25);
    for (let i = 0; i < 23; i++) s = runCycle(s);
    s = runCycle(s, 0, { offers: 5 });
    expect(s.context.offer).toMatchObject({ current_offer_cycle: 3, offers_assigned: 12, last_error: null });
  });

  it('keeps a non-Error rejection as text', () => {
    let s = send(start(), { type: 'NEXT_CYCLE' });
    s = offersFailed(s, 'HTTP 503');
    expect(s.context.offer.last_error).toBe('HTTP 503');
  });
});

describe('orchestrator as an actor (stub cohorts and invokes)', () => {
  it('hands each cohort the cycle and the active count, the offer engine its window, and settles with the digest chain', async () => {
    const runCycles: { baseIndex: number; cycle: number; activeCount: number }[] = [];
    const offerInputs: unknown[] = [];
    const settleInputs: { cycle: number; previousDigest: string; agents: number }[] = [];
    // A cohort that answers at once: all of its active agents shopped, none failed.
    const answeringCohort = setup({
      types: { input: {} as CohortInput, context: {} as { baseIndex: number; size: number }, events: {} as { type: 'RUN_CYCLE'; info: { cycle: number }; activeCount: number } },
    }).createMachine({
      context: ({ input }) => ({ baseIndex: input.baseIndex, size: input.personas.length }),
      on: {
        RUN_CYCLE: {
          actions: [
            ({ context, event }) => runCycles.push({ baseIndex: context.baseIndex, cycle: event.info.cycle, activeCount: event.activeCount }),
            sendParent(({ context, event }) => ({ type: 'COHORT_DONE', baseIndex: context.baseIndex, totals: totals(Math.max(0, Math.min(context.size, event.activeCount - context.baseIndex)), 0) })),
          ],
        },
      },
    });
    const actor = createActor(
      orchestratorMachine.provide({
        actors: {
          cohort: answeringCohort as never,
          startOfferCycle: fromPromise(async ({ input }) => {
            offerInputs.push(input);
            return { offers_assigned: 4 };
          }),
          settleCycle: fromPromise(async ({ input }) => {
            settleInputs.push({ cycle: input.cycle, previousDigest: input.previousDigest, agents: input.totals.agents });
            return { digest: `sha256:after-${input.cycle}` };
          }),
        },
      }),
      { input: input({ personas: generatePersonas(700, 5), totalCycles: 3, warmupCycles: 2, offerCycleDays: 7 }) },
    );
    actor.start();
    for (let cycle = 1; cycle <= 3; cycle++) {
      actor.send({ type: 'NEXT_CYCLE' });
      await waitFor(actor, (s) => s.context.cyclesCompleted === cycle && (s.matches({ cycle: 'waiting' }) || s.matches({ cycle: 'done' })), { timeout: 5000 });
    }
    const s = actor.getSnapshot();
    actor.stop();
    expect(s.matches({ cycle: 'done' })).toBe(true);
    expect(runCycles).toEqual([
      // Warm-up over 2 cycles of 5 batches: 10% then 50% (cohorts of 500 and 200), then all.
      { baseIndex: 0, cycle: 1, activeCount: 70 },
      { baseIndex: 500, cycle: 1, activeCount: 70 },
      { baseIndex: 0, cycle: 2, activeCount: 350 },
      { baseIndex: 500, cycle: 2, activeCount: 350 },
      { baseIndex: 0, cycle: 3, activeCount: 700 },
      { baseIndex: 500, cycle: 3, activeCount: 700 },
    ]);
    expect(offerInputs).toEqual([{ offer_cycle: 1, starts_at: '2024-01-01T00:00:00.000Z', ends_at: '2024-01-08T00:00:00.000Z' }]);
    expect(settleInputs).toEqual([
      { cycle: 1, previousDigest: GENESIS_DIGEST, agents: 70 },
      { cycle: 2, previousDigest: 'sha256:after-1', agents: 350 },
      { cycle: 3, previousDigest: 'sha256:after-2', agents: 700 },
    ]);
    expect(s.context.digest).toBe('sha256:after-3');
    expect(s.context.totals.agents).toBe(70 + 350 + 700);
    expect(s.context.offer.offers_assigned).toBe(4);
  });
});
