/**
 * Replaying a real-store run: the recorded answers file (src/store/answers-writer.ts), read from
 * a checkpoint's position, and a StoreApi that serves each call its recorded answer by
 * (cycle, agent index, call number). A call that was not recorded, or whose request differs
 * from the recorded one, is a divergence: the replay store notes it (the first by cycle, agent
 * index and call number, so it does not depend on which agent asked first), answers it with a
 * failure, and the replay stops after that cycle. A recorded call nobody asked for is a
 * divergence too, found when the cycle ends (`endCycle`).
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { CheckpointError } from '../errors.ts';
import type { CallContext, OfferCycleRequest, Product, StoreApi } from '../model/types.ts';
import {
  ANSWERS_VERSION,
  answersFileName,
  checkErrorData,
  decodeAnswer,
  describeRequest,
  errorOf,
  METHODS,
  sameArgs,
  type Args,
  type Entry,
  type MethodName,
} from './answer-format.ts';
import type { AnswersPosition } from './answers-writer.ts';
import { StoreCallError } from './store-error.ts';

interface AgentBlock {
  raw: string;
  /** Parsed on first use: call number → entry. */
  calls: Map<number, Entry> | null;
  used: Set<number>;
}

interface CycleBlock {
  agents: Map<number, AgentBlock>;
  /** Offer-cycle starts recorded in this cycle, by offer-cycle number. */
  offers: Map<number, { entry: Entry; used: boolean }>;
}

export interface RecordedAnswers {
  path: string;
  /** The checkpoint's cycle: answers start after it. */
  fromCycle: number;
  /** The last cycle recorded completely (fromCycle when none). */
  throughCycle: number;
  /** Why the recorded range ends where it does, when the file goes on (a torn or malformed tail). */
  note: string | null;
  cycles: Map<number, CycleBlock>;
}

const LINE_RE = /^\{"c":(\d+),(?:"a":(-?\d+)|"end":(\d+))[,}]/;

/**
 * Reads the answers a checkpoint points to. Problems with the file itself (missing, another
 * run's, not this format) are one-line CheckpointErrors naming the checkpoint.
 */
export function readRecordedAnswers(checkpointFile: string, runId: string, position: AnswersPosition): RecordedAnswers {
  const path = join(dirname(checkpointFile), answersFileName(runId));
  let buf: Buffer;
  try {
    buf = readFileSync(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new CheckpointError(checkpointFile, `its recorded store answers ${path} cannot be read (${code === 'ENOENT' ? 'no such file' : (code ?? 'error')}); replay with --mock-api to use the mock store instead`, { cause: err });
  }
  const nl = buf.indexOf(0x0a);
  let header: Record<string, unknown> | null = null;
  try {
    header = JSON.parse(buf.subarray(0, nl < 0 ? buf.length : nl).toString('utf8')) as Record<string, unknown>;
  } catch {}
  if (!header || header['shopsim_answers'] !== ANSWERS_VERSION || header['run_id'] !== runId) {
    throw new CheckpointError(checkpointFile, `${path} is not the recorded answers of run ${runId} (format ${ANSWERS_VERSION})`);
  }
  if (!Number.isInteger(position.bytes) || position.bytes < nl + 1 || position.bytes > buf.length || buf[position.bytes - 1] !== 0x0a) {
    throw new CheckpointError(checkpointFile, `its answers position (byte ${position.bytes}) is not a cycle boundary of ${path} (${buf.length} bytes): the file was changed or cut`);
  }
  const lines = buf.subarray(position.bytes).toString('utf8').split('\n');
  const cycles = new Map<number, CycleBlock>();
  let expect = position.cycle + 1;
  let block: CycleBlock = { agents: new Map(), offers: new Map() };
  let count = 0;
  let note: string | null = null;
  let through = position.cycle;
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] as string;
    if (line === '') continue;
    const m = LINE_RE.exec(line);
    if (!m || Number(m[1]) !== expect) {
      note = `line ${i + 1} after the checkpoint's position is not an answer line of cycle ${expect}`;
      break;
    }
    if (m[3] !== undefined) {
      if (Number(m[3]) !== count) {
        note = `cycle ${expect} holds ${count} lines, its end line says ${m[3]}`;
        break;
      }
      cycles.set(expect, block);
      through = expect;
      expect++;
      block = { agents: new Map(), offers: new Map() };
      count = 0;
      continue;
    }
    count++;
    const agent = Number(m[2]);
    if (agent >= 0) {
      block.agents.set(agent, { raw: line, calls: null, used: new Set() });
      continue;
    }
    try {
      const parsed = JSON.parse(line) as { k: Entry[] };
      for (const e of parsed.k) if (Array.isArray(e) && typeof e[0] === 'number') block.offers.set(e[0], { entry: e, used: false });
    } catch {
      note = `line ${i + 1} after the checkpoint's position is not JSON`;
      break;
    }
  }
  if (!note && count > 0) note = `cycle ${expect} was not recorded to its end (the run was interrupted during it)`;
  return { path, fromCycle: position.cycle, throughCycle: through, note, cycles };
}

export interface Divergence {
  cycle: number;
  /** -1: the orchestrator's offer-cycle start. */
  agentIndex: number;
  agentId: string;
  call: number;
  reason: string;
}

export interface ReplayStore extends StoreApi {
  /** Checks the cycle's recorded calls were all asked for; returns the cycle's first divergence, if any. */
  endCycle(cycle: number): Divergence | null;
}

const before = (a: Divergence, b: Divergence) => a.agentIndex < b.agentIndex || (a.agentIndex === b.agentIndex && a.call < b.call);

export function createReplayStore(answers: RecordedAnswers, opts: { agentIds: string[]; products: Product[] }): ReplayStore {
  const catalog = new Map(opts.products.map((p) => [p.id, p]));
  const found = new Map<number, Divergence>();
  /** The cycle being replayed: the one after the last that ended. */
  let current = answers.fromCycle + 1;

  function note(d: Divergence): void {
    const prev = found.get(d.cycle);
    if (!prev || before(d, prev)) found.set(d.cycle, d);
  }

  function diverge(ctx: CallContext, reason: string): never {
    note({ cycle: ctx.cycle, agentIndex: ctx.agentIndex, agentId: ctx.agentId, call: ctx.callSeq, reason });
    throw new StoreCallError('failed', 'replay diverged from the recorded store answers');
  }

  function callsOf(block: AgentBlock): Map<number, Entry> {
    if (block.calls) return block.calls;
    const calls = new Map<number, Entry>();
    const parsed = JSON.parse(block.raw) as { k?: unknown };
    if (!Array.isArray(parsed.k)) throw new Error('no calls');
    for (const e of parsed.k) {
      if (!Array.isArray(e) || e.length !== 5 || typeof e[0] !== 'number' || typeof e[1] !== 'string' || !Array.isArray(e[2]) || (e[3] !== 0 && e[3] !== 1)) throw new Error('malformed call');
      calls.set(e[0], e as Entry);
    }
    block.calls = calls;
    block.raw = '';
    return calls;
  }

  function answer(entry: Entry, method: MethodName, agentId: string): unknown {
    if (entry[3] === 0) throw errorOf(checkErrorData(entry[4]));
    return decodeAnswer(method, entry[4], { agentId, catalog });
  }

  async function serve(method: MethodName, ctx: CallContext, args: Args): Promise<unknown> {
    const asked = describeRequest(METHODS[method], args);
    const block = answers.cycles.get(ctx.cycle)?.agents.get(ctx.agentIndex);
    if (!block) diverge(ctx, `asked ${asked}, but the agent made no store call in this cycle of the recording`);
    let entry: Entry | undefined;
    try {
      entry = callsOf(block).get(ctx.callSeq);
    } catch (err) {
      diverge(ctx, `its recorded answers are malformed (${(err as Error).message})`);
    }
    if (!entry) diverge(ctx, `asked ${asked}, but no answer was recorded for call ${ctx.callSeq}`);
    block.used.add(ctx.callSeq);
    if (entry[1] !== METHODS[method] || !sameArgs(args, entry[2])) diverge(ctx, `asked ${asked}, the recording has ${describeRequest(entry[1], entry[2])}`);
    try {
      return answer(entry, method, ctx.agentId);
    } catch (err) {
      if (err instanceof StoreCallError) throw err;
      return diverge(ctx, `its recorded answer to ${asked} is malformed (${(err as Error).message})`);
    }
  }

  const s = <T>(method: MethodName, ctx: CallContext, args: Args) => serve(method, ctx, args) as Promise<T>;
  return {
    listProducts: (ctx, q) => s('listProducts', ctx, [q.category ?? null, q.search ?? null, q.page, q.pageSize]),
    getProduct: (ctx, id) => s('getProduct', ctx, [id]),
    getCart: (ctx) => s('getCart', ctx, []),
    addToCart: (ctx, id, qty) => s('addToCart', ctx, [id, qty]),
    removeFromCart: (ctx, id) => s('removeFromCart', ctx, [id]),
    clearCart: (ctx) => s('clearCart', ctx, []),
    listOffers: (ctx) => s('listOffers', ctx, []),
    applyCoupon: (ctx, code) => s('applyCoupon', ctx, [code]),
    checkout: (ctx, key) => s('checkout', ctx, [key]),
    async startOfferCycle(req: OfferCycleRequest) {
      const args: Args = [req.offer_cycle, req.starts_at, req.ends_at];
      for (const [cycle, block] of answers.cycles) {
        const rec = block.offers.get(req.offer_cycle);
        if (!rec || rec.used) continue;
        rec.used = true;
        if (!sameArgs(args, rec.entry[2])) {
          note({ cycle, agentIndex: -1, agentId: 'orchestrator', call: req.offer_cycle, reason: `asked ${describeRequest('oc', args)}, the recording has ${describeRequest(rec.entry[1], rec.entry[2])}` });
          throw new StoreCallError('failed', 'replay diverged from the recorded store answers');
        }
        try {
          return answer(rec.entry, 'startOfferCycle', 'orchestrator') as { offers_assigned: number };
        } catch (err) {
          if (err instanceof StoreCallError) throw err;
          note({ cycle, agentIndex: -1, agentId: 'orchestrator', call: req.offer_cycle, reason: `its recorded answer is malformed (${(err as Error).message})` });
          throw new StoreCallError('failed', 'replay diverged from the recorded store answers');
        }
      }
      // Not recorded: it belongs to the cycle being replayed (offer cycles start in its planning).
      note({ cycle: current, agentIndex: -1, agentId: 'orchestrator', call: req.offer_cycle, reason: `asked ${describeRequest('oc', args)}, but no offer-cycle start was recorded` });
      throw new StoreCallError('failed', 'replay diverged from the recorded store answers');
    },
    endCycle(cycle) {
      current = cycle + 1;
      const block = answers.cycles.get(cycle);
      if (block) {
        for (const [seq, rec] of block.offers) {
          if (!rec.used) note({ cycle, agentIndex: -1, agentId: 'orchestrator', call: seq, reason: `the recorded ${describeRequest(rec.entry[1], rec.entry[2])} was not asked for` });
        }
        for (const [index, agent] of block.agents) {
          let calls: Map<number, Entry>;
          try {
            calls = callsOf(agent);
          } catch (err) {
            note({ cycle, agentIndex: index, agentId: opts.agentIds[index] ?? `#${index}`, call: 1, reason: `its recorded answers are malformed (${(err as Error).message})` });
            continue;
          }
          for (const [seq, e] of calls) {
            if (agent.used.has(seq)) continue;
            note({ cycle, agentIndex: index, agentId: opts.agentIds[index] ?? `#${index}`, call: seq, reason: `the recorded call ${seq}, ${describeRequest(e[1], e[2])}, was not asked for` });
            break;
          }
        }
        answers.cycles.delete(cycle);
      }
      return found.get(cycle) ?? null;
    },
  };
}

