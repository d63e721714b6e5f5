/**
 * Same seed and options against the bundled reference store (over HTTP, on the embedded
 * database) → the same digest and counts: on fresh data directories and on one directory reused,
 * where the second run finds the first one's orders, carts and stock (issue 11, item 4). In-process
 * through the application layer. The runs' stock refusals are counted in the summary: with none,
 * the order of arrival decided nothing, which is what makes the claim hold.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { resolveConfig, type RunConfig } from '../../src/config.ts';
import type { RunSummary } from '../../src/model/run.ts';
import { openRun, prepareRun } from '../../src/run/start-run.ts';

const dir = mkdtempSync(join(tmpdir(), 'shopsim-same-seed-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const COUNTS = ['digest', 'sessions_created', 'checkouts_completed', 'sessions_abandoned', 'sessions_failed', 'idle_browses', 'events_created', 'offers_assigned', 'requests', 'revenue_cents'] as const;
const pick = (s: RunSummary) => Object.fromEntries(COUNTS.map((k) => [k, s[k]]));

async function run(flags: Partial<Record<keyof RunConfig, unknown>>): Promise<RunSummary> {
  const plan = prepareRun(resolveConfig({ agents: '40', cycles: '8', seed: '9', fast: true, rateLimit: '0', checkpointInterval: '0', checkpointDir: join(dir, 'ck'), ...flags }, {}));
  const opened = await openRun(plan);
  try {
    return await opened.simulate({ breakerAction: 'exit' }).execute();
  } finally {
    await opened.close();
  }
}

describe('same seed, same digest against the bundled store', () => {
  it('embedded database: two fresh data directories, then the first one reused', async () => {
    const a = await run({ dataDir: join(dir, 'a') });
    const b = await run({ dataDir: join(dir, 'b') });
    const again = await run({ dataDir: join(dir, 'a') });
    expect(a.exit_reason).toBe('completed');
    expect(a.checkouts_completed).toBeGreaterThan(0);
    expect(a['stock_refusals']).toBe(0);
    expect(pick(b)).toEqual(pick(a));
    expect(pick(again)).toEqual(pick(a));
    expect(a.run_id).not.toBe(again.run_id);
  }, 180_000);

  it('in memory (--mock-db): twice, same digest', async () => {
    const a = await run({ mockDb: true });
    const b = await run({ mockDb: true });
    expect(a['stock_refusals']).toBe(0);
    expect(pick(b)).toEqual(pick(a));
  }, 60_000);
});
