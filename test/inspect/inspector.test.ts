import http from 'node:http';
import { describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { createInspectFilter, shopperIdOf } from '../../src/inspect/filter.ts';
import { inspectSample, startInspector } from '../../src/inspect/inspector.ts';
import { createLoopbackInspectorServer } from '../../src/inspect/server.ts';
import { DEFAULT_SIMULATION_CONFIG, createSimulation } from '../../src/simulation/create-simulation.ts';
import { createMockRecorder } from '../../src/simulation/mock-recorder.ts';
import { createMockStore } from '../../src/store/mock-store.ts';
import { personas372, products } from '../helpers.ts';

interface Msg {
  type: string;
  name?: string;
  sessionId: string;
  parentId?: string;
  event?: { type: string };
  snapshot?: { context?: Record<string, unknown> };
}

function get(url: string, host?: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const u = new URL(url);
    http
      .get({ hostname: u.hostname, port: u.port, path: u.pathname, headers: host ? { host } : {} }, (res) => {
        let body = '';
        res.on('data', (d) => (body += d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      })
      .on('error', reject);
  });
}

describe('Stately inspector', () => {
  it('the relay listens on 127.0.0.1 only and serves the bridge page to loopback hosts', async () => {
    const server = await createLoopbackInspectorServer({ port: 0 });
    try {
      expect(server.host).toBe('127.0.0.1');
      expect(server.pageUrl).toBe(`http://127.0.0.1:${server.port}/`);
      const page = await get(server.pageUrl);
      expect(page.status).toBe(200);
      expect(page.body).toContain('https://stately.ai/inspect');
      expect(page.body).toContain(`ws://127.0.0.1:${server.port}`);
      expect((await get(server.pageUrl, `evil.example:${server.port}`)).status).toBe(403);
    } finally {
      await server.close();
    }
  });

  it('parses --inspect-agents: default sample, a list, all, unknown ids', () => {
    const ids = ['a', 'b', 'c', 'd', 'e'];
    expect([...(inspectSample(null, ids) ?? [])]).toEqual(['a', 'b', 'c']);
    expect([...(inspectSample('d, e', ids) ?? [])]).toEqual(['d', 'e']);
    expect(inspectSample('all', ids)).toBeNull();
    expect(() => inspectSample('a,zz', ids)).toThrow(/--inspect-agents: expected ids of this run's agents .* got unknown zz/);
  });

  it('a WebSocket client receives the orchestrator, the cohorts and the sampled shoppers only', async () => {
    const personas = personas372.slice(0, 12);
    const ids = personas.map((p) => p.id);
    const inspector = await startInspector({ port: 0, agents: `${ids[0]},${ids[5]}`, agentIds: ids });
    const messages: Msg[] = [];
    const viewer = new WebSocket(inspector.wsUrl);
    await new Promise((r, j) => viewer.once('open', r).once('error', j));
    viewer.on('message', (d) => messages.push(JSON.parse(String(d)) as Msg));
    try {
      const store = createMockStore({ seed: 42, products, agentIds: ids });
      const sim = createSimulation(
        { ...DEFAULT_SIMULATION_CONFIG, runId: 'run-inspect', cycles: 3, fast: true, cohortSize: 5 },
        { personas, products, store, recorder: createMockRecorder(), inspect: inspector.inspect },
      );
      await sim.run();
      await new Promise((r) => setTimeout(r, 300));
    } finally {
      await inspector.close();
      viewer.close();
    }
    const actors = messages.filter((m) => m.type === '@xstate.actor');
    const names = new Set(actors.map((m) => m.name));
    expect(names.has('orchestrator')).toBe(true);
    expect(names.has('cohort-0000')).toBe(true);
    expect(names.has(ids[0])).toBe(true);
    expect(names.has(ids[5])).toBe(true);
    for (const other of ids.filter((_, i) => i !== 0 && i !== 5)) expect(names.has(other), other).toBe(false);
    const sessionOf = new Map(actors.map((m) => [m.name, m.sessionId]));
    const orchestrator = sessionOf.get('orchestrator');
    expect(messages.some((m) => m.type === '@xstate.event' && m.sessionId === orchestrator && m.event?.type === 'NEXT_CYCLE')).toBe(true);
    expect(messages.some((m) => m.type === '@xstate.snapshot' && m.sessionId === sessionOf.get(ids[0]))).toBe(true);
    // Large context arrays (a cohort's shopper refs) are summarised.
    const cohortSnap = messages.find((m) => m.type === '@xstate.snapshot' && m.sessionId === sessionOf.get('cohort-0000'));
    expect(cohortSnap).toBeDefined();
  });

  it('the filter keeps shopper-owned actors with their shopper and drops reports of sampled-out shoppers', () => {
    const orchestrator = { id: 'x:0', logic: { config: { id: 'orchestrator' } } };
    const cohort = { id: 'cohort-0000', _parent: orchestrator, logic: { config: { id: 'cohort' } } };
    const kept = { id: 'agent_1', _parent: cohort, logic: { config: { id: 'shopper' } } };
    const dropped = { id: 'agent_2', _parent: cohort, logic: { config: { id: 'shopper' } } };
    const call = { id: 'x:9', _parent: dropped, logic: {} };
    expect(shopperIdOf(call)).toBe('agent_2');
    expect(shopperIdOf(cohort)).toBeNull();
    const keep = createInspectFilter(new Set(['agent_1']));
    const ev = (type: string, actorRef: unknown, extra: Record<string, unknown> = {}) => ({ type, actorRef, rootId: 'x:0', ...extra }) as never;
    expect(keep(ev('@xstate.actor', orchestrator))).toBe(true);
    expect(keep(ev('@xstate.actor', kept))).toBe(true);
    expect(keep(ev('@xstate.actor', dropped))).toBe(false);
    expect(keep(ev('@xstate.actor', call))).toBe(false);
    expect(keep(ev('@xstate.microstep', orchestrator))).toBe(false);
    const report = { type: 'SHOPPER_DONE' };
    expect(keep(ev('@xstate.event', cohort, { sourceRef: dropped, event: report }))).toBe(false);
    expect(keep(ev('@xstate.snapshot', cohort, { event: report, snapshot: {} }))).toBe(false);
    const ownReport = { type: 'SHOPPER_DONE' };
    expect(keep(ev('@xstate.event', cohort, { sourceRef: kept, event: ownReport }))).toBe(true);
    expect(keep(ev('@xstate.snapshot', cohort, { event: ownReport, snapshot: {} }))).toBe(true);
    expect(createInspectFilter(null)(ev('@xstate.actor', dropped))).toBe(true);
  });
});
