/**
 * Exact replay of a real-store run on the README's default path: the bundled reference store
 * over HTTP, the embedded database, no mock flag. The run records its store answers beside its
 * checkpoints; `replay` serves them back and names the first divergence of a changed recording.
 */
import { copyFileSync, mkdirSync, readdirSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { createPool, sql } from 'slonik';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TEST_DATABASE_URL } from '../db/helpers.ts';
import { scratchDir, startCli, summaryOf, type Finished } from './helpers.ts';

const cwd = scratchDir('shopsim-replay-recorded-');
afterAll(() => rmSync(cwd, { recursive: true, force: true }));
const cli = (args: string[]): Promise<Finished> => startCli(args, { cwd }).exit;

let full: Record<string, unknown>;
let runId: string;
const ckDir = join(cwd, 'data/checkpoints');
const at = (n: number) => `data/checkpoints/checkpoint_${runId}_cycle_${String(n).padStart(6, '0')}.json`;
const answersName = () => `answers_${runId}.jsonl`;

/** A copy of the run's checkpoints and answers in a directory of its own, for tampering. */
function copyRun(name: string): string {
  const d = join(cwd, name);
  mkdirSync(d);
  for (const f of readdirSync(ckDir)) copyFileSync(join(ckDir, f), join(d, f));
  return d;
}

beforeAll(async () => {
  // The README's first command (fewer agents, no rate limit, so the test takes seconds).
  const f = await cli(['run', '--agents', '60', '--cycles', '24', '--fast', '--rate-limit', '0', '--seed', '7', '--json']);
  expect(f.code, f.stderr).toBe(0);
  full = summaryOf(f);
  runId = String(full['run_id']);
  expect(String(full['store'])).toMatch(/^reference store/);
  expect(String(full['database'])).not.toMatch(/none/);
}, 180_000);

describe('replay of a real-store run on its recorded answers', () => {
  it('the README replay line, as written: identical through cycle 20, exit 0', async () => {
    const rec = full['recorded_answers'] as { answers: number; bytes: number; problem: string | null };
    expect(rec.answers).toBeGreaterThan(500);
    expect(rec.problem).toBeNull();
    expect(readdirSync(ckDir)).toContain(answersName());
    const f = await cli(['replay', at(10), '--verify']);
    expect(f.code, f.stderr).toBe(0);
    expect(f.stdout).toContain('identical through cycle 20 (1 checkpoint compared; every store call matched the recorded answers through cycle 24)');
    // Per-cycle lines as a run prints them, the funnel at the end.
    expect(f.stderr.split('\n').filter((l) => l.startsWith('cycle='))).toHaveLength(14);
    expect(f.stdout).toMatch(/Funnel +\d[\d,]* sessions/);
    expect(f.stdout).toMatch(new RegExp(`Digest +${String(full['digest'])}`));
  });

  it('ends with the run\'s own digest and counts (--json)', async () => {
    const f = await cli(['replay', at(10), '--json']);
    expect(f.code, f.stderr).toBe(0);
    const r = summaryOf(f);
    expect(r['to_cycle']).toBe(24);
    expect(r['answers_from']).toBe('recorded answers');
    expect(r['digest']).toBe(full['digest']);
    const s = r['summary'] as Record<string, unknown>;
    for (const k of ['checkouts_completed', 'sessions_abandoned', 'sessions_failed', 'idle_browses', 'events_created']) {
      // the replay's totals are the run's (a checkpoint carries the totals of cycles 1–10)
      expect(s[k], k).toBe(full[k]);
    }
  });

  it('--agent ID prints that shopper\'s timeline with its calls and answers', async () => {
    const f = await cli(['replay', at(10), '--agent', 'agent_000003', '--json']);
    expect(f.code, f.stderr).toBe(0);
    const agent = summaryOf(f)['agent'] as { id: string; timeline: { cycle: number; outcome: string; states: string[]; calls: { request: string; text: string }[] }[] };
    expect(agent.id).toBe('agent_000003');
    expect(agent.timeline.map((c) => c.cycle)).toEqual(Array.from({ length: 14 }, (_, i) => i + 11));
    const shopped = agent.timeline.filter((c) => c.outcome !== 'skip');
    expect(shopped.length).toBeGreaterThan(0);
    for (const c of shopped) {
      expect(c.calls[0]?.request).toMatch(/^listProducts\(/);
      expect(c.states[0]).toBe('idle');
      expect(c.states).toContain('browsing');
    }
    const text = await cli(['replay', at(10), '--agent', 'agent_000003', '--until-cycle', '14']);
    expect(text.code, text.stderr).toBe(0);
    expect(text.stdout).toMatch(/agent agent_000003, cycles 11–14:\ncycle 11 {2}2024-01-01T\d\d:\d\d:00Z {2}\w+/);
    const bad = await cli(['replay', at(10), '--agent', 'nobody']);
    expect(bad.code).toBe(2);
    expect(bad.stderr.trim().split('\n')).toHaveLength(1);
    expect(bad.stderr).toContain('--agent nobody');
  });

  it('a changed request in the recording is named: cycle, agent, call (exit 1)', async () => {
    const d = copyRun('tampered-request');
    const file = join(d, answersName());
    const lines = readFileSync(file, 'utf8').split('\n');
    // The first agent line of cycle 13 with a product view: its viewed product id changed.
    const i = lines.findIndex((l) => l.startsWith('{"c":13,"a":') && !l.startsWith('{"c":13,"a":-1') && l.includes('"gp",["'));
    expect(i).toBeGreaterThan(0);
    const agentIndex = Number(/^\{"c":13,"a":(\d+)/.exec(lines[i] as string)?.[1]);
    const m = /\[(\d+),"gp",\["([^"]+)"\]/.exec(lines[i] as string) as RegExpExecArray;
    lines[i] = (lines[i] as string).replace(`"gp",["${m[2]}"]`, '"gp",["prod_9999"]');
    writeFileSync(file, lines.join('\n'));
    const ck = join(d, `checkpoint_${runId}_cycle_000010.json`);
    const f = await startCli(['replay', ck, '--verify'], { cwd }).exit;
    expect(f.code).toBe(1);
    const id = `agent_${String(agentIndex + 1).padStart(6, '0')}`;
    expect(f.stdout).toContain(`diverged at cycle 13, agent ${id}, call ${m[1]}: asked getProduct("${m[2]}"), the recording has getProduct("prod_9999")`);
    expect(f.stderr).toContain('shopsim: replay diverged at cycle 13');
  });

  it('a removed agent line is named as an answer that was not recorded (exit 1)', async () => {
    const d = copyRun('tampered-missing');
    const file = join(d, answersName());
    const lines = readFileSync(file, 'utf8').split('\n');
    const i = lines.findIndex((l) => l.startsWith('{"c":15,"a":') && !l.startsWith('{"c":15,"a":-1'));
    const agentIndex = Number(/^\{"c":15,"a":(\d+)/.exec(lines[i] as string)?.[1]);
    lines.splice(i, 1);
    const end = lines.findIndex((l) => l.startsWith('{"c":15,"end":'));
    lines[end] = (lines[end] as string).replace(/"end":(\d+)/, (_, n: string) => `"end":${Number(n) - 1}`);
    writeFileSync(file, lines.join('\n'));
    const f = await startCli(['replay', join(d, `checkpoint_${runId}_cycle_000010.json`), '--verify'], { cwd }).exit;
    expect(f.code).toBe(1);
    expect(f.stdout).toContain(`diverged at cycle 15, agent agent_${String(agentIndex + 1).padStart(6, '0')}, call 1: asked listProducts(`);
    expect(f.stdout).toContain('but the agent made no store call in this cycle of the recording');
  });

  it('a replay past the recorded range stops there and says so', async () => {
    const d = copyRun('cut');
    const file = join(d, answersName());
    const text = readFileSync(file, 'utf8');
    // Cut in the middle of cycle 17 (as a crash would leave it).
    const cut = text.indexOf('{"c":17,') + 40;
    truncateSync(file, Buffer.byteLength(text.slice(0, cut)));
    const f = await startCli(['replay', join(d, `checkpoint_${runId}_cycle_000010.json`), '--verify', '--json'], { cwd }).exit;
    expect(f.code, f.stderr).toBe(0);
    const r = summaryOf(f);
    expect(r['to_cycle']).toBe(16);
    expect(r['recorded_through']).toBe(16);
    expect(f.stderr).toContain('the recorded store answers end at cycle 16 (cycle 17 was not recorded to its end');
    expect(f.stderr).toContain('the replay stops there, not at cycle 24');
  });

  it('a run without recorded answers is refused with one line naming the checkpoint (exit 2)', async () => {
    const d = join(cwd, 'unrecorded');
    const g = await cli(['run', '--agents', '20', '--cycles', '4', '--fast', '--rate-limit', '0', '--mock-db', '--no-record-answers', '--checkpoint-interval', '2', '--checkpoint-dir', d, '--json']);
    expect(g.code, g.stderr).toBe(0);
    expect(summaryOf(g)['recorded_answers']).toBeUndefined();
    const ck = join(d, readdirSync(d).find((n) => n.endsWith('_cycle_000002.json')) as string);
    expect(readdirSync(d).some((n) => n.startsWith('answers_'))).toBe(false);
    const f = await cli(['replay', ck, '--verify']);
    expect(f.code).toBe(2);
    expect(f.stderr.trim().split('\n')).toHaveLength(1);
    expect(f.stderr).toContain(ck);
    expect(f.stderr).toContain('--mock-api');
    const mock = await cli(['replay', ck, '--mock-api', '--json']);
    expect(mock.code, mock.stderr).toBe(0);
    expect(summaryOf(mock)['answers_from']).toBe('mock');
  });

  it('a resume whose recorded answers are cut before its checkpoint is refused (exit 2), unless --allow-missing-answers', async () => {
    const d = join(cwd, 'cut-resume');
    const g = await cli(['run', '--agents', '20', '--cycles', '4', '--fast', '--rate-limit', '0', '--mock-db', '--checkpoint-interval', '2', '--checkpoint-dir', d, '--json']);
    expect(g.code, g.stderr).toBe(0);
    const ck = join(d, readdirSync(d).find((n) => n.endsWith('_cycle_000002.json')) as string);
    const answers = join(d, readdirSync(d).find((n) => n.startsWith('answers_')) as string);
    truncateSync(answers, 10);
    const resume = ['run', '--resume-from', ck, '--cycles', '6', '--fast', '--rate-limit', '0', '--mock-db', '--checkpoint-dir', d];
    const f = await cli(resume);
    expect(f.code, f.stderr).toBe(2);
    const last = f.stderr.trim().split('\n').at(-1) as string;
    expect(last).toContain(ck);
    expect(last).toContain('shorter than the checkpoint says (10 of');
    expect(last).toContain('--allow-missing-answers');
    expect(readFileSync(answers).length).toBe(10);
    const ok = await cli([...resume, '--allow-missing-answers', '--json']);
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stderr).toContain('recording starts again at cycle 3');
    expect(summaryOf(ok)['cycles_completed']).toBe(6);
  });

  it('--resume-from a checkpoint outside --checkpoint-dir: the answers beside the checkpoint are used and copied up to it; that file is left as it was', async () => {
    const a = join(cwd, 'moved-a');
    const g = await cli(['run', '--agents', '20', '--cycles', '6', '--fast', '--rate-limit', '0', '--mock-db', '--seed', '3', '--checkpoint-interval', '2', '--checkpoint-dir', a, '--json']);
    expect(g.code, g.stderr).toBe(0);
    const id = String(summaryOf(g)['run_id']);
    // The cycle-2 checkpoint and its answers moved to a directory of their own (b); the resume writes into c.
    const b = join(cwd, 'moved-b');
    const c = join(cwd, 'moved-c');
    mkdirSync(b);
    const ck2 = `checkpoint_${id}_cycle_000002.json`;
    copyFileSync(join(a, ck2), join(b, ck2));
    copyFileSync(join(a, `answers_${id}.jsonl`), join(b, `answers_${id}.jsonl`));
    const original = readFileSync(join(b, `answers_${id}.jsonl`));
    const pos = (JSON.parse(readFileSync(join(b, ck2), 'utf8')) as { answers: { bytes: number } }).answers.bytes;
    const f = await cli(['run', '--resume-from', join(b, ck2), '--fast', '--rate-limit', '0', '--mock-db', '--checkpoint-interval', '2', '--checkpoint-dir', c, '--json']);
    expect(f.code, f.stderr).toBe(0);
    expect(f.stderr).not.toContain('recorded store answers');
    const s = summaryOf(f);
    expect(s['cycles_completed']).toBe(6);
    expect((s['recorded_answers'] as { file: string }).file).toBe(join(c, `answers_${id}.jsonl`));
    expect(readFileSync(join(b, `answers_${id}.jsonl`)).equals(original)).toBe(true);
    const copied = readFileSync(join(c, `answers_${id}.jsonl`));
    expect(copied.subarray(0, pos).equals(original.subarray(0, pos))).toBe(true);
    // The resumed run's checkpoint in c replays on the answers beside it, to the run's end.
    const r = await cli(['replay', join(c, `checkpoint_${id}_cycle_000004.json`), '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(summaryOf(r)['recorded_through']).toBe(6);
    expect(summaryOf(r)['digest']).toBe(s['digest']);
  });
});

describe('a killed real-store run, resumed, replays exactly', () => {
  it('the resume truncates the answers to its checkpoint; a replay from before the kill matches every call', async () => {
    const d = join(cwd, 'killed');
    const args = ['run', '--agents', '60', '--cycles', '24', '--fast', '--rate-limit', '0', '--mock-db', '--seed', '9', '--checkpoint-interval', '5', '--keep-checkpoints', '10', '--checkpoint-dir', d];
    const r = startCli(args, { cwd });
    const t0 = Date.now();
    let ten: string | undefined;
    while (!ten) {
      ten = (() => {
        try {
          return readdirSync(d).find((n) => n.endsWith('_cycle_000010.json'));
        } catch {
          return undefined;
        }
      })();
      if (r.child.exitCode !== null || Date.now() - t0 > 120_000) throw new Error(`no cycle-10 checkpoint: ${r.stderr().slice(-500)}`);
      await new Promise((res) => setTimeout(res, 5));
    }
    r.child.kill('SIGKILL');
    await r.exit;
    const resumed = await cli(['run', '--resume-from', join(d, ten), '--fast', '--rate-limit', '0', '--mock-db', '--checkpoint-dir', d, '--keep-checkpoints', '10', '--json']);
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(summaryOf(resumed)['cycles_completed']).toBe(24);
    const five = join(d, ten.replace('_cycle_000010', '_cycle_000005'));
    const f = await cli(['replay', five, '--verify', '--json']);
    expect(f.code, f.stderr).toBe(0);
    const v = summaryOf(f);
    expect(v['recorded_through']).toBe(24);
    expect(v['digest']).toBe(summaryOf(resumed)['digest']);
    expect((v['verify'] as Record<string, unknown>)['identical_through']).toBe(20);
  }, 240_000);
});

if (!TEST_DATABASE_URL) console.warn('[test/e2e/replay-recorded] SKIPPED the PostgreSQL variant: TEST_DATABASE_URL is not set.');
describe.skipIf(!TEST_DATABASE_URL)('the same on the real PostgreSQL (a database of its own)', () => {
  it('24 cycles on the bundled store over HTTP, then replay <cycle-10 checkpoint> --verify: identical through cycle 20, exit 0', async () => {
    const name = `shopsim_replay_${process.pid}_${randomBytes(3).toString('hex')}`;
    const admin = await createPool(TEST_DATABASE_URL as string, { maximumPoolSize: 1 });
    const u = new URL(TEST_DATABASE_URL as string);
    u.pathname = `/${name}`;
    const d = join(cwd, 'pg-checkpoints');
    try {
      await admin.query(sql.unsafe`CREATE DATABASE ${sql.identifier([name])}`);
      const f = await cli(['run', '--agents', '60', '--cycles', '24', '--fast', '--rate-limit', '0', '--seed', '7', '--database-url', u.toString(), '--checkpoint-dir', d, '--json']);
      expect(f.code, f.stderr).toBe(0);
      const s = summaryOf(f);
      expect(String(s['store'])).toMatch(/^reference store/);
      expect(String(s['database'])).toContain(name);
      const id = String(s['run_id']);
      const r = await cli(['replay', join(d, `checkpoint_${id}_cycle_000010.json`), '--verify']);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toContain('identical through cycle 20 (1 checkpoint compared; every store call matched the recorded answers through cycle 24)');
      expect(r.stdout).toMatch(new RegExp(`Digest +${String(s['digest'])}`));
    } finally {
      await admin.query(sql.unsafe`DROP DATABASE IF EXISTS ${sql.identifier([name])} WITH (FORCE)`);
      await admin.end();
    }
  }, 240_000);
});
