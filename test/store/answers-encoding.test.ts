/**
 * The answers file's bytes do not depend on how the writer buffers a cycle: the writer's output
 * is compared with the encoding it replaced (kept here as the reference: each call's JSON text,
 * sorted by call number per agent, agents in index order, the cycle joined into one string), for
 * unicode text, the orchestrator's line (a = -1), agents without calls, calls out of call-number
 * order, an empty cycle, answers larger than the writer's buffers and agent indices past
 * `agents`.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { CallContext } from '../../src/model/types.ts';
import { ANSWERS_VERSION, type Entry } from '../../src/store/answer-format.ts';
import { createAnswersWriter } from '../../src/store/answers-writer.ts';

const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

type Add = [ctx: CallContext | null, entry: Entry];

/** The previous writer's encoding of one cycle. */
function referenceCycle(cycle: number, adds: Add[]): string {
  const byAgent = new Map<number, { seq: number; json: string }[]>();
  const orchestrator: { seq: number; json: string }[] = [];
  for (const [ctx, entry] of adds) {
    const item = { seq: entry[0], json: JSON.stringify(entry) };
    if (ctx === null) orchestrator.push(item);
    else {
      const list = byAgent.get(ctx.agentIndex);
      if (list) list.push(item);
      else byAgent.set(ctx.agentIndex, [item]);
    }
  }
  const joined = (list: { seq: number; json: string }[]) =>
    list
      .sort((x, y) => x.seq - y.seq)
      .map((e) => e.json)
      .join(',');
  const parts: string[] = [];
  if (orchestrator.length > 0) parts.push(`{"c":${cycle},"a":-1,"k":[${joined(orchestrator)}]}`);
  for (const i of [...byAgent.keys()].sort((a, b) => a - b)) parts.push(`{"c":${cycle},"a":${i},"k":[${joined(byAgent.get(i) as { seq: number; json: string }[])}]}`);
  parts.push(`{"c":${cycle},"end":${parts.length}}`);
  return `${parts.join('\n')}\n`;
}

/** A deterministic generator (the test's own; nothing here is a decision). */
function lcg(seed: number) {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

const TEXTS = ['home', 'café crème', '日本語の商品', 'emoji 😀🛒', 'lone \ud800 surrogate', 'quote " and \\ backslash', 'tab\tnew\nline', 'ñ', ''];

function cycleAdds(cycle: number, agents: number, rnd: () => number, opts: { big?: boolean; pastAgents?: boolean }): Add[] {
  const adds: Add[] = [];
  const pick = <T>(xs: T[]) => xs[Math.floor(rnd() * xs.length)] as T;
  if (rnd() < 0.7) adds.push([null, [cycle, 'oc', [cycle, '2024-01-01T00:00:00.000Z', '2024-01-08T00:00:00.000Z'], 1, Math.floor(rnd() * 400)]]);
  const perAgent: Add[][] = [];
  for (let a = 0; a < agents + (opts.pastAgents ? 3 : 0); a++) {
    const list: Add[] = [];
    if (rnd() < 0.3) {
      perAgent.push(list); // an agent without calls this cycle
      continue;
    }
    const calls = 1 + Math.floor(rnd() * 8);
    const ctx = (seq: number): CallContext => ({ agentId: `agent_${a}`, agentIndex: a, cycle, at: '2024-01-01T10:00:00.000Z', callSeq: seq });
    for (let seq = 1; seq <= calls; seq++) {
      const kind = rnd();
      const entry: Entry =
        kind < 0.3
          ? [seq, 'lp', [pick(TEXTS), null, 1 + Math.floor(rnd() * 3), 12], 1, Array.from({ length: 12 }, (_, k) => [`prod_${k}`, Math.floor(rnd() * 1e5), Math.floor(rnd() * 500), Math.round(rnd() * 50) / 10])]
          : kind < 0.5
            ? [seq, 'gp', [`prod_${seq}`], 1, [`prod_${seq}`, 5219, 259, 4.2]]
            : kind < 0.7
              ? [seq, 'cp', [pick(TEXTS)], 0, ['rejected', 422, 'COUPON_EXPIRED', `coupon ${pick(TEXTS)} expired`]]
              : kind < 0.85
                ? [seq, 'ac', [`prod_${seq}`, 2], 1, [100.5, 0, 100.5, rnd() < 0.5 ? null : pick(TEXTS)]]
                : [seq, 'co', [`run:agent_${a}:${cycle}`], 1, [`ord_${pick(TEXTS)}`, 1234, 2]];
      list.push([ctx(seq), entry]);
    }
    if (opts.big && a === 1) list.push([ctx(calls + 1), [calls + 1, 'lp', ['é'.repeat(200_000), null, 1, 12], 1, []]]);
    if (rnd() < 0.2) list.reverse(); // calls out of call-number order
    perAgent.push(list);
  }
  // Agents' calls interleave, as they complete in a run.
  const cursors = perAgent.map(() => 0);
  let left = perAgent.reduce((n, l) => n + l.length, 0);
  while (left > 0) {
    const a = Math.floor(rnd() * perAgent.length);
    const list = perAgent[a] as Add[];
    if ((cursors[a] as number) < list.length) {
      adds.push(list[(cursors[a] as number)++] as Add);
      left--;
    }
  }
  return adds;
}

describe('the answers file encoding', () => {
  it('writes the bytes the previous encoding wrote, for varied cycles', () => {
    const dir = mkdtempSync(join(tmpdir(), 'shopsim-answers-enc-'));
    dirs.push(dir);
    const rnd = lcg(7);
    const agents = 3000;
    const w = createAnswersWriter({ dir, runId: 'enc', agents });
    let expected = `${JSON.stringify({ shopsim_answers: ANSWERS_VERSION, run_id: 'enc', agents, from_cycle: 0 })}\n`;
    const plan = [{}, { big: true }, { pastAgents: true }, null, {}, { big: true, pastAgents: true }];
    plan.forEach((opts, k) => {
      const cycle = k + 1;
      const adds = opts === null ? [] : cycleAdds(cycle, agents, rnd, opts);
      for (const [ctx, entry] of adds) w.add(ctx, entry);
      w.sealCycle(cycle);
      expected += referenceCycle(cycle, adds);
    });
    w.close();
    const got = readFileSync(w.path);
    const want = Buffer.from(expected);
    expect(got.length).toBe(want.length);
    expect(got.equals(want)).toBe(true);
    expect(w.written().bytes).toBe(want.length - Buffer.byteLength(expected.slice(0, expected.indexOf('\n') + 1)));
  });
});
