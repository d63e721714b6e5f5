/**
 * `replay --agent ID`: what one shopper did, cycle by cycle — when (simulated), the states it
 * went through, each store call with its answer, and the outcome. Collected from the replay's
 * own edges: a tap on the store (the same encoding as the recorded answers), a tap on the
 * recorder (the committed session) and the inspection events of that shopper's actor. Data
 * first (`timeline()`); `formatTimeline` makes the text.
 */
import type { InspectionEvent } from 'xstate';
import { simulatedTimeAfter } from '../model/calendar.ts';
import type { CycleReport } from '../model/run.ts';
import type { Recorder, SessionRecord, StoreApi } from '../model/types.ts';
import { describeRequest, methodName, type Entry } from '../store/answer-format.ts';
import { createRecordingStore } from '../store/recording-store.ts';

export interface TimelineCall {
  call: number;
  request: string;
  ok: boolean;
  /** What the decisions read of the answer (the recorded-answers encoding), or the error. */
  answer: unknown;
  text: string;
}

export interface TimelineCycle {
  cycle: number;
  simulated_time: string;
  states: string[];
  calls: TimelineCall[];
  outcome: 'skip' | 'browse' | 'checkout' | 'abandon' | 'failed';
  session: { kind: string; status: string; sim_start: string; sim_end: string; events: string[]; order: SessionRecord['order'] } | null;
}

export interface AgentTimeline {
  agentId: string;
  wrapStore(store: StoreApi): StoreApi;
  wrapRecorder(recorder: Recorder): Recorder;
  inspect(event: InspectionEvent): void;
  /** Closes a cycle (called on each cycle report). */
  endCycle(report: CycleReport): void;
  timeline(): TimelineCycle[];
}

const money = (cents: unknown) => (typeof cents === 'number' ? (cents / 100).toFixed(2) : String(cents));

/** One call's answer as people read it. */
export function answerText(entry: Entry): string {
  const [, code, , ok, data] = entry;
  if (ok === 0) {
    const [kind, status, storeCode, message] = data as [string, number | null, string, string];
    return `${kind}${status !== null ? ` ${status}` : ''} ${storeCode}: ${message}`;
  }
  const d = data as unknown[];
  switch (methodName(code)) {
    case 'listProducts':
      return `${d.length} products: ${(d as [string, number, number, number][]).map((p) => `${p[0]} ${money(p[1])} (stock ${p[2]})`).join(', ')}`;
    case 'getProduct':
      return `${d[0]} ${money(d[1])} (stock ${d[2]}, rating ${d[3]})`;
    case 'getCart':
    case 'addToCart':
    case 'removeFromCart':
    case 'applyCoupon':
      return `cart subtotal ${money(d[0])} discount ${money(d[1])} total ${money(d[2])}${d[3] ? ` coupon ${d[3]}` : ''}`;
    case 'listOffers':
      return d.length === 0 ? 'no offers' : `${d.length} offers: ${(d as [string, number, number][]).map((o) => `${o[0]} -${o[1]}% from ${money(o[2])}`).join(', ')}`;
    case 'checkout':
      return `order ${d[0]} total ${money(d[1])}, ${d[2]} items`;
    case 'clearCart':
      return 'cleared';
    default:
      return JSON.stringify(data);
  }
}

export function createAgentTimeline(agentId: string, agentIndex: number, startMs: number): AgentTimeline {
  const cycles: TimelineCycle[] = [];
  let calls: TimelineCall[] = [];
  // A shopper is idle between cycles; a cycle's path starts there.
  let states: string[] = ['idle'];
  let session: SessionRecord | null = null;
  return {
    agentId,
    wrapStore(store) {
      return createRecordingStore(store, {
        add(ctx, entry) {
          if (ctx?.agentIndex !== agentIndex) return;
          calls.push({ call: entry[0], request: describeRequest(entry[1], entry[2]), ok: entry[3] === 1, answer: entry[4], text: answerText(entry) });
        },
      });
    },
    wrapRecorder(recorder) {
      return {
        beginRun: (m) => recorder.beginRun(m),
        prepareResume: (r, c) => recorder.prepareResume(r, c),
        endRun: (r, s) => recorder.endRun(r, s),
        close: () => recorder.close(),
        ...(recorder.metrics ? { metrics: () => (recorder.metrics as () => ReturnType<NonNullable<Recorder['metrics']>>)() } : {}),
        async commitSession(record) {
          await recorder.commitSession(record);
          if (record.agentIndex === agentIndex) session = record;
        },
      };
    },
    inspect(event) {
      if (event.type !== '@xstate.snapshot') return;
      const ref = event.actorRef as unknown as { id?: string; logic?: { config?: { id?: string } } };
      if (ref.id !== agentId || ref.logic?.config?.id !== 'shopper') return;
      const value = (event.snapshot as { value?: unknown }).value;
      const state = typeof value === 'string' ? value : JSON.stringify(value);
      if (states[states.length - 1] !== state) states.push(state);
    },
    endCycle(report) {
      const s = session as SessionRecord | null;
      const outcome: TimelineCycle['outcome'] = !s ? 'skip' : s.status === 'failed' ? 'failed' : s.kind === 'browse' ? 'browse' : s.status === 'abandoned' ? 'abandon' : 'checkout';
      cycles.push({
        cycle: report.cycle,
        simulated_time: s ? s.simStart : simulatedTimeAfter(startMs, report.cycle - 1),
        states,
        calls: calls.sort((a, b) => a.call - b.call),
        outcome,
        session: s ? { kind: s.kind, status: s.status, sim_start: s.simStart, sim_end: s.simEnd, events: s.events.map((e) => e.type), order: s.order } : null,
      });
      calls = [];
      states = ['idle'];
      session = null;
    },
    timeline: () => cycles,
  };
}

export function formatTimeline(agentId: string, cycles: TimelineCycle[]): string {
  const out: string[] = [];
  const first = cycles[0]?.cycle;
  const last = cycles[cycles.length - 1]?.cycle;
  out.push(`agent ${agentId}, cycles ${first ?? '-'}–${last ?? '-'}:`);
  for (const c of cycles) {
    const order = c.session?.order ? ` (order ${c.session.order.orderId}, ${money(c.session.order.totalCents)}, ${c.session.order.itemsCount} items)` : '';
    out.push(`cycle ${c.cycle}  ${c.simulated_time.replace(/\.000Z$/, 'Z')}  ${c.outcome}${order}`);
    if (c.states.length > 1) out.push(`  states: ${c.states.join(' → ')}`);
    for (const call of c.calls) out.push(`  call ${call.call}: ${call.request} → ${call.text}`);
  }
  return out.join('\n');
}
