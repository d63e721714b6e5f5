/** `--profile` on `run`, and `calibrate`, through the real CLI. */
import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { loadProfile } from '../../src/run/load-data.ts';
import { afterBanner, DATA, startCli, tempDir } from './helpers.ts';

const tmp = tempDir('shopsim-profile-cli-');
afterAll(() => tmp.cleanup());
const MOCK = ['--mock-api', '--mock-db', '--fast', ...DATA];

function write(name: string, doc: unknown): string {
  const file = join(tmp.dir, name);
  writeFileSync(file, typeof doc === 'string' ? doc : stringify(doc));
  return file;
}

describe('run --profile', () => {
  it('a bad profile file: one line naming the file and the field, exit 2, nothing written', async () => {
    const bad = write('bad.yaml', { ...loadProfile('retail'), hourly: [1, 0.5] });
    const run = startCli(['run', '--profile', bad, '--cycles', '2', ...MOCK], { cwd: tmp.dir });
    const f = await run.exit;
    expect(f.code).toBe(2);
    expect(f.stderr).toBe(`shopsim: --profile ${bad}: field "hourly" must be a list of 24 numbers from 0 to 1, got an array of 2\n`);
    expect(existsSync(join(tmp.dir, 'data', 'checkpoints'))).toBe(false);
  });

  it('--profile seed reproduces the original day (2,204 sessions, 921 orders); the default retail profile converts a few percent', async () => {
    const [seed, retail] = await Promise.all([
      startCli(['run', '--profile', 'seed', '--cycles', '24', '--json', '--checkpoint-interval', '0', ...MOCK], { cwd: tmp.dir }).exit,
      startCli(['run', '--cycles', '24', '--json', '--checkpoint-interval', '0', ...MOCK], { cwd: tmp.dir }).exit,
    ]);
    expect(seed.code, seed.stderr).toBe(0);
    const s = JSON.parse(seed.stdout) as Record<string, number>;
    expect([s['sessions_created'], s['checkouts_completed']]).toEqual([2204, 921]);
    expect(retail.code, retail.stderr).toBe(0);
    const r = JSON.parse(retail.stdout) as Record<string, number>;
    const conversion = (r['checkouts_completed'] as number) / (r['sessions_created'] as number);
    expect(conversion).toBeGreaterThan(0.01);
    expect(conversion).toBeLessThan(0.05);
  }, 120_000);

  it('resuming under another profile is refused (must match), under the same one it continues', async () => {
    const dir = join(tmp.dir, 'ck');
    const first = await startCli(['run', '--cycles', '6', '--checkpoint-interval', '3', '--checkpoint-dir', dir, '--json', ...MOCK], { cwd: tmp.dir }).exit;
    expect(first.code, first.stderr).toBe(0);
    // The run completed: a resume names it and extends it (--cycles 9).
    const runId = (JSON.parse(first.stdout) as { run_id: string }).run_id;
    const refused = await startCli(['run', '--resume', runId, '--profile', 'seed', '--cycles', '9', '--checkpoint-dir', dir, ...MOCK], { cwd: tmp.dir }).exit;
    expect(refused.code).toBe(2);
    expect(afterBanner(refused.stderr)).toHaveLength(1);
    expect(refused.stderr).toContain('the checkpoint was written with --profile retail, this run asks for --profile seed');
    const ok = await startCli(['run', '--resume', runId, '--cycles', '9', '--checkpoint-dir', dir, '--json', ...MOCK], { cwd: tmp.dir }).exit;
    expect(ok.code, ok.stderr).toBe(0);
    expect((JSON.parse(ok.stdout) as Record<string, number>)['cycles_completed']).toBe(9);
  }, 120_000);
});

describe('calibrate', () => {
  it('a bad profile file: one line, exit 2, nothing written', async () => {
    const bad = write('bad-cal.yaml', 'name: x\ntargets: {}\n');
    const f = await startCli(['calibrate', '--profile', bad, '--out', join(tmp.dir, 'never.yaml')], { cwd: tmp.dir }).exit;
    expect(f.code).toBe(2);
    expect(f.stderr).toBe(`shopsim: --profile ${bad}: field "targets" must name at least one rate\n`);
    expect(existsSync(join(tmp.dir, 'never.yaml'))).toBe(false);
  });

  it('targets it cannot reach: exit 1, the best profile found still written and loadable', async () => {
    const impossible = write('impossible.yaml', { ...loadProfile('retail'), name: 'impossible', targets: { conversion: { target: 0.9, min: 0.89, max: 0.91 } } });
    const out = join(tmp.dir, 'impossible.fitted.yaml');
    const f = await startCli(['calibrate', '--profile', impossible, '--agents', '60', '--days', '1', '--max-rounds', '2', '--json', ...DATA], { cwd: tmp.dir }).exit;
    expect(f.code, f.stderr).toBe(1);
    const result = JSON.parse(f.stdout) as { ok: boolean; out: string; verdicts: { inside: boolean }[] };
    expect(result.ok).toBe(false);
    expect(result.out).toBe(out);
    expect(result.verdicts.some((v) => !v.inside)).toBe(true);
    expect(loadProfile(out).name).toBe('impossible');
    expect(readdirSync(tmp.dir).filter((n) => n.endsWith('.tmp'))).toEqual([]);
  }, 120_000);
});
