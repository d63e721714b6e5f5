/**
 * Outages of the reference store's database are bounded (issue 14, item 4). A TCP proxy
 * (test/integration/tcp-proxy.ts) stands between the store and the database — the embedded
 * PGlite served by this process, and the real PostgreSQL when TEST_DATABASE_URL is set — and
 * drops it for 8 s, either by resetting every connection and refusing new ones, or by silently
 * swallowing every byte (connections that never answer again).
 *
 * - `shopsim serve`: during the outage the store answers 503 DATABASE_UNAVAILABLE within its
 *   query bound (5 s), never hangs; a few seconds after the database is back it answers 200.
 * - `shopsim run` on the bundled store (in process, its database through the proxy): the
 *   outage's cycle lasts about the outage plus one bound (not the 60 s request timeout, not
 *   minutes), the failed calls are agent failures, the run goes on to the end, and
 *   sessions_created equals the rows in the database.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'slonik';
import { z } from 'zod';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCli } from '../e2e/helpers.ts';
import { targets } from '../db/helpers.ts';
import { startTcpProxy } from './tcp-proxy.ts';

const OUTAGE_MS = 8000;
const n = z.object({ n: z.number() });

async function timedGet(url: string): Promise<{ status: number; ms: number; body: string }> {
  const t0 = performance.now();
  const res = await fetch(url, { signal: AbortSignal.timeout(30_000) });
  const body = await res.text();
  return { status: res.status, ms: performance.now() - t0, body };
}

for (const target of targets()) {
  describe.skipIf(target.skip)(`the reference store's ${target.name} database going away for 8 s`, () => {
    const dir = mkdtempSync(join(tmpdir(), 'shopsim-store-outage-'));
    let upstream: URL;
    let admin: Awaited<ReturnType<typeof target.open>>;
    beforeAll(async () => {
      await target.setup();
      admin = await target.open(target.url() ? {} : { dataDir: join(dir, 'pglite') });
      upstream = new URL(target.url() ?? (admin.psqlUrl() as string).replace(/^psql "|"$/g, ''));
    }, 120_000);
    afterAll(async () => {
      await admin?.close();
      await target.teardown();
      rmSync(dir, { recursive: true, force: true });
    });

    for (const mode of ['reset', 'silence'] as const) {
      it(`shopsim serve answers 503 during a ${mode}, not hangs, and 200 again after it`, { timeout: 120_000 }, async () => {
        const proxy = await startTcpProxy(upstream);
        const serve = startCli(['serve', '--port', '0', '--database-url', proxy.url]);
        try {
          const base = (await serve.waitForStderr(/listening on (http:\/\/[\d.:]+)/, 60_000))[1] as string;
          expect((await timedGet(`${base}/health`)).status).toBe(200);
          const outage = proxy[mode](OUTAGE_MS);
          await new Promise((r) => setTimeout(r, 200));
          const during = await timedGet(`${base}/products`);
          expect(during.status, during.body).toBe(503);
          expect(JSON.parse(during.body).error.code).toBe('DATABASE_UNAVAILABLE');
          expect(during.ms).toBeLessThan(7000); // the 5 s bound, never the outage's length or more
          await outage;
          const t0 = performance.now();
          let after = await timedGet(`${base}/health`);
          while (after.status !== 200 && performance.now() - t0 < 20_000) {
            await new Promise((r) => setTimeout(r, 250));
            after = await timedGet(`${base}/health`);
          }
          expect(after.status, after.body).toBe(200);
          expect(performance.now() - t0).toBeLessThan(12_000);
        } finally {
          serve.child.kill('SIGTERM');
          await serve.exit;
          await proxy.close();
        }
      });
    }

    it('a run on the bundled store loses about the outage plus one bound, records the failures and goes on', { timeout: 300_000 }, async () => {
      const proxy = await startTcpProxy(upstream);
      const agents = target.name === 'embedded' ? '30' : '100';
      const run = startCli([
        'run', '--agents', agents, '--cycles', '14', '--time-scale', '3600', '--rate-limit', '0', '--breaker-percent', '100', '--request-timeout', '60',
        '--database-url', proxy.url, '--db-pool-size', target.name === 'embedded' ? '1' : '8', '--json',
        '--checkpoint-dir', join(dir, `cp-${target.name}`), '--log-dir', join(dir, `logs-${target.name}`),
      ]);
      try {
        await run.waitForStderr(/cycle=5\//, 200_000);
        await proxy.silence(OUTAGE_MS);
        const done = await run.exit;
        expect(done.code, done.stderr.slice(-1500)).toBe(0);
        const s = JSON.parse(done.stdout) as Record<string, unknown>;
        expect(s['exit_reason']).toBe('completed');
        expect(s['cycles_completed']).toBe(14);
        expect(Number(s['agent_failures'])).toBeGreaterThan(0);
        const durations = [...done.stderr.matchAll(/cycle=(\d+)\/14 .*?duration_s=([\d.]+)/g)].map((m) => Number(m[2]));
        expect(durations).toHaveLength(14);
        // The outage's cycle: 8 s plus one 5 s bound at most (with slack for a loaded machine); before the fix, >= the 60 s request timeout.
        expect(Math.max(...durations)).toBeLessThan(22);
        const runId = String(s['run_id']);
        const rows = await admin.pool.oneFirst(sql.type(n)`SELECT count(*)::int AS n FROM shopping_sessions WHERE run_id = ${runId}`);
        expect(rows).toBe(s['sessions_created']);
        const unavailable = await admin.pool.oneFirst(sql.type(n)`
          SELECT count(*)::int AS n FROM shopping_sessions WHERE run_id = ${runId} AND status = 'failed' AND notes LIKE '%503%'`);
        expect(unavailable).toBeGreaterThan(0);
      } finally {
        if (run.child.exitCode === null) run.child.kill('SIGKILL');
        await proxy.close();
      }
    });
  });
}
