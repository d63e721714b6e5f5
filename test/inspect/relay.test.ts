/**
 * The inspector stream, fixed (issue 12, item 6): a late viewer gets the latest announcement and
 * snapshot of every streamed actor (not the last N messages); personas and other large inputs
 * are trimmed so a message's size does not grow with the agents; the orchestrator's per-cycle
 * helper actors are not streamed.
 */
import { describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { createInspectFilter, isMachineActor } from '../../src/inspect/filter.ts';
import { startInspector } from '../../src/inspect/inspector.ts';
import { createLoopbackInspectorServer } from '../../src/inspect/server.ts';
import { MAX_ARRAY, MAX_CHILDREN, MAX_VALUE_BYTES, serializeForInspector, trimForInspector } from '../../src/inspect/trim.ts';
import { generatePersonas } from '../../src/model/personas.ts';
import { DEFAULT_SIMULATION_CONFIG, createSimulation } from '../../src/simulation/create-simulation.ts';
import { createMockRecorder } from '../../src/simulation/mock-recorder.ts';
import { createMockStore } from '../../src/store/mock-store.ts';
import { products } from '../helpers.ts';

interface Msg {
  type: string;
  name?: string;
  sessionId: string;
  event?: { type: string };
  snapshot?: { status?: string; children?: Record<string, unknown> };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function connect(url: string, into: string[]): Promise<WebSocket> {
  const ws = new WebSocket(url);
  ws.on('message', (d) => into.push(String(d)));
  await new Promise((r, j) => ws.once('open', r).once('error', j));
  return ws;
}

/** A fast mock run streamed to one viewer from the start; then a late viewer connects. */
async function streamRun(agents: number, cycles: number): Promise<{ live: string[]; late: string[] }> {
  const personas = generatePersonas(agents, 42);
  const ids = personas.map((p) => p.id);
  const inspector = await startInspector({ port: 0, agents: null, agentIds: ids });
  const live: string[] = [];
  const late: string[] = [];
  const a = await connect(inspector.wsUrl, live);
  let b: WebSocket | null = null;
  try {
    const sim = createSimulation(
      { ...DEFAULT_SIMULATION_CONFIG, runId: `run-relay-${agents}`, cycles, fast: true, cohortSize: 100, startMs: Date.parse('2024-01-01T10:00:00Z') },
      { personas, products, store: createMockStore({ seed: 42, products, agentIds: ids }), recorder: createMockRecorder(), inspect: inspector.inspect },
    );
    await sim.run();
    for (let last = -1; last !== live.length; ) {
      last = live.length;
      await sleep(200);
    }
    b = await connect(inspector.wsUrl, late);
    await sleep(300);
  } finally {
    a.close();
    b?.close();
    await inspector.close();
  }
  return { live, late };
}

describe('the inspector stream', () => {
  it('bounds message size whatever the agent count: no persona, init input or long array in any message', async () => {
    const small = await streamRun(40, 2);
    const large = await streamRun(1500, 2);
    const max = (msgs: string[]) => Math.max(...msgs.map((m) => m.length));
    // Before the trim, the init event carried every persona (~500 bytes each): 750 KB at 1,500.
    expect(max(large.live)).toBeLessThan(40_000);
    expect(max(large.live)).toBeLessThan(max(small.live) * 1.5);
    for (const m of large.live) {
      expect(m).not.toContain('"preferred_categories"');
      expect(m).not.toContain('"budget_cents"');
    }
    const init = large.live.map((m) => JSON.parse(m) as Msg).filter((m) => m.event?.type === 'xstate.init');
    expect(init.length).toBeGreaterThan(0);
    // A cohort (100 shoppers) keeps at most MAX_CHILDREN children in a snapshot, with a count of the rest.
    const cohortSnap = large.live.map((m) => JSON.parse(m) as Msg).find((m) => m.type === '@xstate.snapshot' && Object.keys(m.snapshot?.children ?? {}).length > 0);
    expect(Object.keys(cohortSnap?.snapshot?.children ?? {}).length).toBeLessThanOrEqual(MAX_CHILDREN + 1);
  }, 120_000);

  it('a late viewer gets the latest announcement and snapshot of every streamed actor, however long the run', async () => {
    const { live, late } = await streamRun(300, 30);
    const parsed = live.map((m) => JSON.parse(m) as Msg);
    const announced = new Map<string, string>();
    const lastSnapshot = new Map<string, string>();
    parsed.forEach((m, i) => {
      if (m.type === '@xstate.actor') announced.set(m.sessionId, live[i] as string);
      if (m.type === '@xstate.snapshot') lastSnapshot.set(m.sessionId, live[i] as string);
    });
    // A 30-cycle run streams far more than the old 200-message window.
    expect(live.length).toBeGreaterThan(400);
    const lateParsed = late.map((m) => JSON.parse(m) as Msg);
    const lateActors = lateParsed.filter((m) => m.type === '@xstate.actor');
    expect(new Set(lateActors.map((m) => m.name))).toEqual(new Set(parsed.filter((m) => m.type === '@xstate.actor').map((m) => m.name)));
    expect(lateActors.map((m) => m.name)).toEqual(expect.arrayContaining(['orchestrator', 'cohort-0000', 'cohort-0002', 'agent_000001']));
    for (const [sid, msg] of announced) expect(late).toContain(msg);
    for (const [sid, msg] of lastSnapshot) {
      expect(late, sid).toContain(msg);
      // Only the latest snapshot of each actor, after its announcement.
      expect(lateParsed.filter((m) => m.type === '@xstate.snapshot' && m.sessionId === sid)).toHaveLength(1);
      if (announced.has(sid)) expect(late.indexOf(announced.get(sid) as string)).toBeLessThan(late.indexOf(msg));
    }
    expect(late.length).toBe(announced.size + lastSnapshot.size);
  }, 120_000);

  it('does not stream the per-cycle helper actors (cycle.settling, cycle.startingOffers)', async () => {
    const { live } = await streamRun(40, 6);
    const names = live.map((m) => JSON.parse(m) as Msg).filter((m) => m.type === '@xstate.actor').map((m) => m.name as string);
    expect(names.filter((n) => /settling|startingOffers/.test(n))).toEqual([]);
    expect(names).toContain('orchestrator');
    // Their results still reach the orchestrator as events.
    expect(live.some((m) => m.includes('xstate.done.actor.0.orchestrator.cycle.settling'))).toBe(true);
    const promiseRef = { id: 'x', _parent: { id: 'root', logic: { config: { id: 'orchestrator' } } }, logic: { transition: () => {} } };
    expect(isMachineActor(promiseRef)).toBe(false);
    expect(createInspectFilter(null)({ type: '@xstate.actor', actorRef: promiseRef, rootId: 'root' } as never)).toBe(false);
  }, 60_000);

  it('trims personas, long arrays, actor refs and oversize values; keeps small values as they are', () => {
    const persona = generatePersonas(1, 1)[0];
    const ref = { id: 'agent_000009', send() {}, getSnapshot() {} };
    const t = trimForInspector({ type: 'xstate.init', input: { personas: generatePersonas(30, 1), persona, shoppers: Array.from({ length: 500 }, () => ref), few: [1, 2, 3], ref, seed: 42, note: 'x'.repeat(1000) } });
    expect(t).toEqual({
      type: 'xstate.init',
      input: { personas: '[30 personas]', persona: `persona ${persona?.id}`, shoppers: '[500 items]', few: [1, 2, 3], ref: 'actor agent_000009', seed: 42, note: expect.stringMatching(/^x{300}…\(1000 chars\)$/) },
    });
    const ctx = { cycle: 3, totals: { sessions: 4 } };
    expect(trimForInspector(ctx)).toEqual(ctx);
    const wide = Object.fromEntries(Array.from({ length: 30 }, (_, i) => [`k${i}`, Array.from({ length: MAX_ARRAY }, () => 'y'.repeat(200))]));
    const bounded = trimForInspector({ type: 'BIG', ...wide }) as Record<string, unknown>;
    expect(JSON.stringify(bounded).length).toBeLessThan(MAX_VALUE_BYTES);
    expect(bounded['type']).toBe('BIG');
    expect(String(bounded['_trimmed'])).toMatch(/^\d+ bytes: type, k0, k1/);
    const snap = serializeForInspector({ type: '@xstate.snapshot', sessionId: 's', snapshot: { status: 'active', value: 'idle', context: {}, children: Object.fromEntries(Array.from({ length: 50 }, (_, i) => [`c${i}`, ref])), machine: { huge: true } } }) as { snapshot: Record<string, unknown> };
    expect(Object.keys(snap.snapshot['children'] as object)).toHaveLength(MAX_CHILDREN + 1);
    expect((snap.snapshot['children'] as Record<string, { id: string }>)['…']?.id).toBe(`${50 - MAX_CHILDREN} more`);
    expect(snap.snapshot['machine']).toBeUndefined();
  });

  it('the relay keeps one announcement and one snapshot per actor, however many messages pass', async () => {
    const server = await createLoopbackInspectorServer({ port: 0, maxActors: 3 });
    const producer = await connect(server.wsUrl, []);
    try {
      const send = (o: object) => producer.send(JSON.stringify(o));
      for (const id of ['a', 'b', 'c', 'd']) send({ type: '@xstate.actor', sessionId: id, name: id });
      for (let i = 0; i < 500; i++) {
        send({ type: '@xstate.event', sessionId: 'b', event: { type: 'E', i } });
        send({ type: '@xstate.snapshot', sessionId: 'b', snapshot: { value: i } });
      }
      await sleep(300);
      // maxActors 3: the oldest (a) gave way.
      expect(server.kept()).toEqual({ actors: 3, messages: 4, bytes: expect.any(Number) });
      const late: string[] = [];
      const viewer = await connect(server.wsUrl, late);
      await sleep(200);
      viewer.close();
      expect(late.map((m) => JSON.parse(m) as { type: string; sessionId: string; snapshot?: { value: number } }).map((m) => [m.type, m.sessionId, m.snapshot?.value])).toEqual([
        ['@xstate.actor', 'b', undefined],
        ['@xstate.snapshot', 'b', 499],
        ['@xstate.actor', 'c', undefined],
        ['@xstate.actor', 'd', undefined],
      ]);
    } finally {
      producer.close();
      await server.close();
    }
  });
});
