/** `shopsim runs list|rm|prune` and `shopsim clean`: they remove what they list, and nothing else. */
import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { DATA, checkpointsIn, scratchDir, startCli } from './helpers.ts';

const cwd = scratchDir('shopsim-runs-');
const cli = (args: string[]) => startCli(args, { cwd }).exit;
const runIds: string[] = [];
type Listed = { id: string; sessions: number | null; in_database: boolean; checkpoints: string[] };
const list = async () => {
  const r = await cli(['runs', 'list', '--json']);
  expect(r.code, r.stderr).toBe(0);
  return JSON.parse(r.stdout) as Listed[];
};

beforeAll(async () => {
  // Two runs into one embedded database (data/pglite under cwd), checkpoints every 2 cycles.
  for (const seed of ['1', '2']) {
    const r = await cli(['run', '-a', '12', '-c', '4', '-s', seed, '--fast', '--mock-api', '--checkpoint-interval', '2', '--json', ...DATA]);
    expect(r.code, r.stderr).toBe(0);
    runIds.push((JSON.parse(r.stdout.trim().split('\n').pop() as string) as { run_id: string }).run_id);
  }
}, 240_000);

describe('shopsim runs', () => {
  it('lists both runs with their rows and checkpoints; rm without --yes and no terminal removes nothing', async () => {
    const before = await list();
    expect(before.map((r) => r.id).sort()).toEqual([...runIds].sort());
    for (const r of before) expect(r).toMatchObject({ in_database: true, checkpoints: expect.arrayContaining([expect.stringMatching(/^\//)]) });
    const refused = await cli(['runs', 'rm', runIds[0] as string]);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/expected --yes .*nothing was removed/);
    expect(await list()).toEqual(before);
  });

  it("rm RUN --yes removes that run's rows and checkpoint files and nothing else", async () => {
    const before = await list();
    const [gone, kept] = runIds as [string, string];
    const keptBefore = before.find((r) => r.id === kept) as Listed;
    const files = (before.find((r) => r.id === gone) as Listed).checkpoints.length;
    expect(files).toBeGreaterThan(0);
    const r = await cli(['runs', 'rm', gone, '--yes']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(new RegExp(`${gone}: [1-9]\\d* sessions, [1-9]\\d* events, ${files} checkpoint files`));
    expect(r.stdout).toContain(`removed 1 run from the database and ${files} checkpoint file`);
    const after = await list();
    expect(after).toEqual([keptBefore]);
    expect(checkpointsIn(join(cwd, 'data/checkpoints')).every((n) => n.includes(kept))).toBe(true);
    const report = await cli(['report', '--list', '--json']);
    expect((JSON.parse(report.stdout) as { runs: { id: string }[] }).runs.map((x) => x.id)).toEqual([kept]);
    const unknown = await cli(['runs', 'rm', 'run-nope', '--yes']);
    expect(unknown.code).toBe(2);
  });

  it('prune --keep 0 --yes removes the rest; clean lists, then removes data/pglite, checkpoints and logs only', async () => {
    const p = await cli(['runs', 'prune', '--keep', '0', '--yes']);
    expect(p.code, p.stderr).toBe(0);
    expect(await list()).toEqual([]);
    writeFileSync(join(cwd, 'data/keep-me.json'), '{}');
    const c = await cli(['clean', '--yes']);
    expect(c.code, c.stderr).toBe(0);
    expect(c.stdout).toMatch(/To remove:\n {2}\S+data\/pglite {2}\(embedded database, [\d.]+ [KMG]?B\)\n/);
    expect(readdirSync(join(cwd, 'data')).sort()).toEqual(['keep-me.json']);
    expect(existsSync(join(cwd, 'data/keep-me.json'))).toBe(true);
  });
});
