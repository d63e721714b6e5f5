/**
 * The cohort with stub shoppers (a tiny machine provided as 'shopper' that answers
 * SHOPPER_DONE through sendParent when the test lets it, and only when it visits: like the real
 * shopper it decides with visitsThisCycle, which the cohort peeks at), under a parent that
 * relays RUN_CYCLE and keeps the cohort's reports.
 */
import { describe, expect, it } from 'vitest';
import { assign, createActor, sendParent, sendTo, setup, type ActorRefFrom, type AnyActorRef } from 'xstate';
import { agentSeed, cohortMachine, type CohortInput, type CohortReport } from '../../machines/cohort.machine.ts';
import { visitsThisCycle } from '../../machines/shopper.machine.ts';
import { cycleInfo, type CycleInfo } from '../../src/model/calendar.ts';
import { generatePersonas } from '../../src/model/personas.ts';
import { seedRng, type RngState } from '../../src/model/rng.ts';
import type { Persona, ShopperCycleResult } from '../../src/model/types.ts';

const START = Date.parse('2024-01-01T00:00:00Z');

/** Even agents check out (1 000 cents, a cart, a coupon), odd ones fail at browse. */
function resultFor(agentIndex: number): ShopperCycleResult {
  return agentIndex % 2 === 0
    ? { agentIndex, outcome: 'checkout', events: 5, calls: 4, revenueCents: 1000, couponApplied: true, carted: true, failure: null }
    : { agentIndex, outcome: 'failed', events: 1, calls: 1, revenueCents: 0, couponApplied: false, carted: false, failure: { step: 'browse', message: `agent ${agentIndex} failed` } };
}

interface Probe {
  /** Agent indexes in the order their CYCLE arrived. */
  started: number[];
  inSession: Set<number>;
  maxInSession: number;
  inputs: { agentIndex: number; rng: RngState; id: string }[];
  /** Agent indexes that got CYCLE and skipped it. */
  skipped: number[];
}

/** A stub shopper: on CYCLE it is in session until FINISH (or at once with `auto`), then reports. */
function stubShopper(probe: Probe, auto: boolean) {
  return setup({
    types: {
      input: {} as { agentIndex: number; rng: RngState; persona: Persona },
      context: {} as { agentIndex: number; rng: RngState; persona: Persona },
      events: {} as { type: 'CYCLE'; info: CycleInfo } | { type: 'FINISH' },
    },
    actions: {
      enter: ({ context }) => {
        probe.started.push(context.agentIndex);
        probe.inSession.add(context.agentIndex);
        probe.maxInSession = Math.max(probe.maxInSession, probe.inSession.size);
      },
      leave: ({ context }) => {
        probe.inSession.delete(context.agentIndex);
      },
      report: sendParent(({ context }) => ({ type: 'SHOPPER_DONE', result: resultFor(context.agentIndex) })),
      skip: ({ context }) => {
        probe.skipped.push(context.agentIndex);
      },
    },
    guards: {
      visits: ({ context, event }) => event.type === 'CYCLE' && visitsThisCycle(context, event.info),
    },
  }).createMachine({
    context: ({ input }) => {
      probe.inputs.push({ agentIndex: input.agentIndex, rng: input.rng, id: input.persona.id });
      return { agentIndex: input.agentIndex, rng: input.rng, persona: input.persona };
    },
    initial: 'idle',
    states: {
      idle: {
        on: {
          CYCLE: [
            auto ? { guard: 'visits', actions: ['enter', 'leave', 'report'] } : { guard: 'visits', target: 'shopping', actions: 'enter' },
            { actions: 'skip' },
          ],
        },
      },
      shopping: { on: { FINISH: { target: 'idle', actions: ['leave', 'report'] } } },
    },
  });
}

function harness(cohortInput: CohortInput, auto = false) {
  const probe: Probe = { started: [], inSession: new Set(), maxInSession: 0, inputs: [], skipped: [] };
  const cohort = cohortMachine.provide({ actors: { shopper: stubShopper(probe, auto) as never } });
  const parent = setup({
    types: {
      context: {} as { cohort: ActorRefFrom<typeof cohort>; reports: CohortReport[] },
      events: {} as CohortReport | { type: 'RUN_CYCLE'; info: CycleInfo; activeCount: number },
    },
    actors: { cohort },
  }).createMachine({
    context: ({ spawn }) => ({ cohort: spawn('cohort', { id: 'cohort', input: cohortInput }), reports: [] }),
    on: {
      COHORT_DONE: { actions: assign({ reports: ({ context, event }) => [...context.reports, event as CohortReport] }) },
      RUN_CYCLE: { actions: sendTo(({ context }) => context.cohort, ({ event }) => event) },
    },
  });
  const actor = createActor(parent);
  actor.start();
  const cohortRef = () => actor.getSnapshot().context.cohort;
  return {
    probe,
    runCycle: (cycle: number, activeCount: number) => actor.send({ type: 'RUN_CYCLE', info: cycleInfo(START, cycle), activeCount }),
    reports: () => actor.getSnapshot().context.reports,
    cohort: () => cohortRef().getSnapshot(),
    finish: (agentIndex: number) => {
      const i = agentIndex - cohortInput.baseIndex;
      (cohortRef().getSnapshot().context.shoppers[i] as unknown as AnyActorRef).send({ type: 'FINISH' });
    },
    stop: () => actor.stop(),
  };
}

/** Personas who visit every cycle (shopping probability 1), or never (`never`: skip every cycle). */
function personas(n: number, never: ReadonlySet<number> = new Set()): Persona[] {
  return generatePersonas(n, 3).map((p, i) =>
    never.has(i)
      ? { ...p, cart_intent: undefined, shopping_frequency: 0, browse_propensity: 0 }
      : { ...p, cart_intent: undefined, shopping_frequency: 1, weekday_affinity: 1, weekend_affinity: 1, hour_affinity: p.hour_affinity.map(() => 1) },
  );
}

function input(over: Partial<CohortInput> = {}): CohortInput {
  return { runId: 'run-test', seed: 9, baseIndex: 0, personas: personas(10), window: 10, ...over };
}

describe('cohort', () => {
  it('spawns one shopper per persona, with its run-wide index, id and seeded generator', () => {
    const four = generatePersonas(4, 3);
    const h = harness(input({ baseIndex: 500, personas: four }));
    expect(h.probe.inputs).toEqual(four.map((p, i) => ({ agentIndex: 500 + i, id: p.id, rng: seedRng(agentSeed(9, 500 + i)) })));
    expect(h.cohort().value).toBe('idle');
    h.stop();
  });

  it('keeps at most `window` shoppers in a session; the next one starts when one reports', () => {
    const h = harness(input({ window: 3 }));
    h.runCycle(1, 10);
    expect(h.cohort().value).toBe('running');
    expect(h.probe.started).toEqual([0, 1, 2]);
    h.finish(1);
    expect(h.probe.started).toEqual([0, 1, 2, 3]);
    h.finish(0);
    h.finish(3);
    expect(h.probe.started).toEqual([0, 1, 2, 3, 4, 5]);
    expect(h.reports()).toEqual([]);
    for (const i of [2, 4, 5, 6, 7, 8, 9]) h.finish(i);
    expect(h.probe.started).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(h.probe.maxInSession).toBe(3);
    expect(h.cohort().value).toBe('idle');
    expect(h.cohort().context.info).toBeNull();
    h.stop();
  });

  it('reports once, when the last active shopper has, with the folded totals', () => {
    const h = harness(input(), true);
    h.runCycle(1, 10);
    expect(h.reports()).toHaveLength(1);
    const [report] = h.reports();
    expect(report).toMatchObject({
      type: 'COHORT_DONE',
      baseIndex: 0,
      totals: { agents: 10, sessions: 10, checkouts: 5, failed: 5, carts: 5, couponsApplied: 5, events: 30, calls: 25, revenueCents: 5000 },
    });
    expect(report?.totals.failureSamples.map((f) => f.agentIndex)).toEqual([1, 3, 5, 7, 9]);
    expect(h.cohort().value).toBe('idle');
    h.stop();
  });

  it('starts all active shoppers at once when the window is wider; a window of 0 counts as 1', () => {
    const wide = harness(input({ window: 50 }));
    wide.runCycle(1, 10);
    expect(wide.probe.started).toHaveLength(10);
    wide.stop();
    const narrow = harness(input({ window: 0 }));
    narrow.runCycle(1, 10);
    expect(narrow.probe.started).toEqual([0]);
    narrow.finish(0);
    expect(narrow.probe.started).toEqual([0, 1]);
    narrow.stop();
  });

  it('sends the cycle only to its shoppers under the run-wide active count (warm-up)', () => {
    const h = harness(input({ baseIndex: 100 }), true);
    h.runCycle(1, 105);
    expect(h.probe.started).toEqual([100, 101, 102, 103, 104]);
    expect(h.reports()[0]?.totals.agents).toBe(5);
    h.runCycle(2, 1000);
    expect(h.probe.started.slice(5)).toEqual([100, 101, 102, 103, 104, 105, 106, 107, 108, 109]);
    expect(h.reports()).toHaveLength(2);
    expect(h.reports()[1]?.totals.agents).toBe(10);
    h.stop();
  });

  it('sends the cycle to shoppers who skip without counting them against the window or waiting for a report; counts their skips', () => {
    const h = harness(input({ window: 2, personas: personas(6, new Set([0, 2, 3])) }));
    h.runCycle(1, 6);
    expect(h.probe.skipped).toEqual([0, 2, 3]);
    expect(h.probe.started).toEqual([1, 4]);
    h.finish(1);
    expect(h.probe.started).toEqual([1, 4, 5]);
    h.finish(4);
    expect(h.reports()).toEqual([]);
    h.finish(5);
    expect(h.reports()).toHaveLength(1);
    expect(h.reports()[0]?.totals).toMatchObject({ agents: 6, sessions: 3 });
    expect(h.cohort().value).toBe('idle');
    h.stop();
  });

  it('a cohort whose active shoppers all skip reports their skips at once and stays idle', () => {
    const h = harness(input({ personas: personas(4, new Set([0, 1, 2, 3])) }));
    h.runCycle(1, 4);
    expect(h.probe.skipped).toEqual([0, 1, 2, 3]);
    expect(h.probe.started).toEqual([]);
    expect(h.reports()).toEqual([{ type: 'COHORT_DONE', baseIndex: 0, totals: expect.objectContaining({ agents: 4, sessions: 0, failed: 0, failureSamples: [] }) }]);
    expect(h.cohort().value).toBe('idle');
    expect(h.cohort().context.visitors).toEqual([]);
    h.runCycle(2, 4);
    expect(h.probe.skipped).toHaveLength(8);
    expect(h.reports()).toHaveLength(2);
    h.stop();
  });

  it('a cohort with no active shopper reports empty totals at once and stays idle', () => {
    const h = harness(input({ baseIndex: 100 }));
    h.runCycle(1, 100);
    expect(h.probe.started).toEqual([]);
    expect(h.reports()).toEqual([{ type: 'COHORT_DONE', baseIndex: 100, totals: expect.objectContaining({ agents: 0, sessions: 0, failed: 0, failureSamples: [] }) }]);
    expect(h.cohort().value).toBe('idle');
    h.stop();
  });

  it('a cohort without personas reports empty totals every cycle', () => {
    const h = harness(input({ personas: [] }));
    h.runCycle(1, 10);
    h.runCycle(2, 10);
    expect(h.reports().map((r) => r.totals.agents)).toEqual([0, 0]);
    expect(h.cohort().value).toBe('idle');
    h.stop();
  });
});
