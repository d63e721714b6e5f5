/**
 * `shopsim replay --verify`, `shopsim checkpoints list` and `run --resume-from` bad input,
 * through real child processes.
 */
import { copyFileSync, existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT, shopsim as run, summaryOf, tempDir } from './helpers.ts';

const t = tempDir('shopsim-replay-');
afterAll(() => t.cleanup());
const personasFile = join(t.dir, 'personas.json');
const ckDir = join(t.dir, 'ck');
let full: Record<string, unknown>;
let files: string[] = [];

const at = (n: number) => join(ckDir, files.find((f) => f.includes(`_cycle_${String(n).padStart(6, '0')}.json`)) as string);

beforeAll(async () => {
  copyFileSync(join(ROOT, 'data/personas.json'), personasFile);
  const f = await run(['run', '--personas', personasFile, '--agents', '120', '--cycles', '24', '--fast', '--mock-api', '--mock-db', '--json', '--seed', '11', '--mock-fail-rate', '0.01', '--breaker-percent', '50', '--offer-cycle-days', '0.5', '--checkpoint-dir', ckDir, '--checkpoint-interval', '4', '--keep-checkpoints', '10']);
  expect(f.code, f.stderr).toBe(0);
  full = summaryOf(f);
  files = readdirSync(ckDir).filter((n) => n.startsWith('checkpoint_')).sort();
});

describe('shopsim replay --verify', () => {
  it('reports identical through the last checkpoint on an untouched run', async () => {
    expect(files).toHaveLength(5);
    const f = await run(['replay', at(4), '--verify']);
    expect(f.code, f.stderr).toBe(0);
    expect(f.stdout).toContain('identical through cycle 20 (4 checkpoints compared)');
  });

  it('runs to the end of the run with the same digest (--json)', async () => {
    const f = await run(['replay', at(8), '--json']);
    expect(f.code, f.stderr).toBe(0);
    const r = summaryOf(f);
    expect(r['to_cycle']).toBe(24);
    expect(r['digest']).toBe(full['digest']);
  });

  it('stops at --until-cycle', async () => {
    const f = await run(['replay', at(8), '--until-cycle', '13', '--verify', '--json']);
    expect(f.code, f.stderr).toBe(0);
    const r = summaryOf(f);
    expect(r['to_cycle']).toBe(13);
    expect((r['verify'] as Record<string, unknown>)['identical_through']).toBe(12);
  });

  it('reports the first cycle where a later checkpoint disagrees (exit 1)', async () => {
    const d = join(t.dir, 'tampered');
    const fs = await import('node:fs');
    fs.mkdirSync(d);
    for (const name of files) copyFileSync(join(ckDir, name), join(d, name));
    const c12 = join(d, files.find((n) => n.includes('_cycle_000012')) as string);
    const text = readFileSync(c12, 'utf8');
    const digest = /"digest":"(sha256:[0-9a-f]+)"/.exec(text)?.[1] as string;
    writeFileSync(c12, text.replace(digest, `sha256:${'f'.repeat(64)}`));
    const f = await run(['replay', join(d, files[0] as string), '--verify']);
    expect(f.code).toBe(1);
    expect(f.stdout).toContain('diverged at cycle 12');
    expect(f.stderr).toContain(c12);
  });

  it('catches a changed persona file: one line naming the file, exit 2', async () => {
    const personas = JSON.parse(readFileSync(personasFile, 'utf8')) as Record<string, unknown>[] | { personas: Record<string, unknown>[] };
    const list = Array.isArray(personas) ? personas : personas.personas;
    const p = list[5] as Record<string, unknown>;
    p['abandonment_tendency'] = Number(p['abandonment_tendency']) > 0.5 ? 0.1 : 0.9;
    writeFileSync(personasFile, JSON.stringify(personas));
    try {
      const f = await run(['replay', at(4), '--verify']);
      expect(f.code).toBe(2);
      const lines = f.stderr.trim().split('\n');
      expect(lines).toHaveLength(1);
      expect(lines[0]).toContain(at(4));
      expect(lines[0]).toMatch(/personas do not match/);
      // The run completed: --cycles 30 extends it, so the refusal is the persona file's.
      const r = await run(['run', '--resume-from', at(8), '--cycles', '30', '--fast', '--mock-api', '--mock-db', '--checkpoint-dir', ckDir]);
      expect(r.code).toBe(2);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stderr).toMatch(/personas do not match/);
    } finally {
      copyFileSync(join(ROOT, 'data/personas.json'), personasFile);
    }
    expect(readdirSync(ckDir).filter((n) => n.startsWith('checkpoint_')).sort()).toEqual(files); // nothing overwritten
  });
});

describe('shopsim checkpoints list', () => {
  it('lists the run newest first, as JSON and as a table', async () => {
    const j = await run(['checkpoints', 'list', '--dir', ckDir, '--json']);
    expect(j.code, j.stderr).toBe(0);
    const rows = JSON.parse(j.stdout) as Record<string, unknown>[];
    expect(rows.map((r) => r['cycle'])).toEqual([20, 16, 12, 8, 4]);
    expect(rows[0]).toMatchObject({ run_id: full['run_id'], agents: 120, simulated_time: '2024-01-01T20:00:00.000Z', error: null });
    const table = await run(['checkpoints', 'list', '--dir', ckDir]);
    expect(table.code).toBe(0);
    expect(rows[0]).toMatchObject({ run_status: 'completed', trigger: 'interval', mode: 'mock store, no database' });
    for (const h of ['run', 'cycle', 'status', 'trigger', 'agents', 'size']) expect(table.stdout.split('\n')[0]).toContain(h);
    expect(table.stdout).toContain('20/24');
    // Within 100 columns; each file on a line of its own, as an absolute path that can be pasted.
    const lines = table.stdout.trimEnd().split('\n');
    for (const l of lines.filter((x) => !x.startsWith('  /'))) expect(l.length, l).toBeLessThanOrEqual(100);
    expect(lines.filter((l) => l.startsWith('  /')).map((l) => l.trim())).toEqual(rows.map((r) => resolve(r['file'] as string)));
    for (const l of lines.filter((x) => x.startsWith('  /'))) expect(existsSync(l.trim())).toBe(true);
  });
});

describe('run --resume-from: bad input', () => {
  // The run completed: --cycles 30 extends it, so each refusal is the one named.
  const base = ['run', '--personas', personasFile, '--cycles', '30', '--fast', '--mock-api', '--mock-db', '--json'];
  it('seed and agent-count changes are refused with one line, exit 2', async () => {
    for (const [extra, pattern] of [
      [['--seed', '12'], /seed mismatch/],
      [['--agents', '100'], /agent count mismatch/],
      [[], /no such file/],
    ] as [string[], RegExp][]) {
      const file = pattern.source.includes('no such') ? join(ckDir, 'missing.json') : at(4);
      const f = await run([...base, '--resume-from', file, '--checkpoint-dir', join(t.dir, 'scratch'), ...extra]);
      expect(f.code, f.stderr).toBe(2);
      expect(f.stderr.trim().split('\n')).toHaveLength(1);
      expect(f.stderr).toContain(file);
      expect(f.stderr).toMatch(pattern);
    }
  });
});
