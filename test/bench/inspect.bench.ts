/**
 * The Stately inspector stream's size (issue 12, item 6): a fast mock-mode run with --inspect's
 * relay and filter, one viewer connected from the start and one late viewer connected after the
 * run. One JSON line per size: messages and bytes streamed, the largest message (and its kind),
 * the actors announced, and what the relay holds for a late viewer (messages, bytes, largest).
 * The run starts at 10:00 on a Monday (shoppers about). BENCH_SIZES=372,5000,100000 BENCH_CYCLES=4.
 */
import WebSocket from 'ws';
import { startInspector } from '../../src/inspect/inspector.ts';
import { generatePersonas } from '../../src/model/personas.ts';
import { generateProducts } from '../../src/model/catalog.ts';
import { DEFAULT_SIMULATION_CONFIG, createSimulation } from '../../src/simulation/create-simulation.ts';
import { createMockRecorder } from '../../src/simulation/mock-recorder.ts';
import { createMockStore } from '../../src/store/mock-store.ts';

const sizes = (process.env['BENCH_SIZES'] ?? '372,5000,100000').split(',').map(Number);
const cycles = Number(process.env['BENCH_CYCLES'] ?? 4);
const products = generateProducts(240, 42);

interface Seen {
  messages: number;
  bytes: number;
  max: number;
  maxKind: string;
  actors: Set<string>;
}
const seen = (): Seen => ({ messages: 0, bytes: 0, max: 0, maxKind: '', actors: new Set() });

function record(s: Seen, data: WebSocket.RawData): void {
  const text = String(data);
  const m = JSON.parse(text) as { type: string; name?: string; event?: { type?: string } };
  s.messages++;
  s.bytes += text.length;
  if (m.type === '@xstate.actor' && m.name) s.actors.add(m.name);
  if (text.length > s.max) {
    s.max = text.length;
    s.maxKind = `${m.type}${m.name ? ` ${m.name}` : ''}${m.event?.type ? ` (${m.event.type})` : ''}`;
  }
}

async function viewer(url: string, into: Seen): Promise<WebSocket> {
  const ws = new WebSocket(url);
  ws.on('message', (d) => record(into, d));
  await new Promise((r, j) => ws.once('open', r).once('error', j));
  return ws;
}

for (const agents of sizes) {
  const personas = generatePersonas(agents, 42);
  const ids = personas.map((p) => p.id);
  const inspector = await startInspector({ port: 0, agents: null, agentIds: ids });
  const live = seen();
  const early = await viewer(inspector.wsUrl, live);
  const store = createMockStore({ seed: 42, products, agentIds: ids });
  const sim = createSimulation(
    { ...DEFAULT_SIMULATION_CONFIG, runId: `run-inspect-bench-${agents}`, cycles, fast: true, startMs: Date.parse('2024-01-01T10:00:00Z') },
    { personas, products, store, recorder: createMockRecorder(), inspect: inspector.inspect },
  );
  const t0 = performance.now();
  await sim.run();
  const runS = (performance.now() - t0) / 1000;
  // Let the inspector's queued sends (idle callbacks) drain.
  let last = -1;
  while (last !== live.messages) {
    last = live.messages;
    await new Promise((r) => setTimeout(r, 300));
  }
  const late = seen();
  const lateWs = await viewer(inspector.wsUrl, late);
  await new Promise((r) => setTimeout(r, 500));
  early.close();
  lateWs.close();
  await inspector.close();
  process.stdout.write(
    `${JSON.stringify({
      bench: 'inspect',
      agents,
      cycles,
      run_s: Math.round(runS * 100) / 100,
      streamed_messages: live.messages,
      streamed_bytes: live.bytes,
      max_message_bytes: live.max,
      max_message: live.maxKind,
      actors_announced: live.actors.size,
      late_viewer_messages: late.messages,
      late_viewer_bytes: late.bytes,
      late_viewer_max_message_bytes: late.max,
      late_viewer_actors: late.actors.size,
    })}\n`,
  );
}
