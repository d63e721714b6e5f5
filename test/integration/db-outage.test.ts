/**
 * The database going away mid-run: a TCP proxy stands between `shopsim run` and the database
 * (embedded PGlite, and the real PostgreSQL when TEST_DATABASE_URL is set). After cycle 3 the
 * proxy drops every connection and stops listening. The agent-cycles that cannot be written roll
 * back and count as failures, the breaker opens (exit 3, checkpoint written), nothing is
 * half-written; when the proxy is back, `run --resume` finishes the run with no duplicates.
 */
import { spawn } from 'node:child_process';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql } from 'slonik';
import { z } from 'zod';
import { scratchDir, shopsim } from '../e2e/helpers.ts';
import { targets } from '../db/helpers.ts';

function startProxy(upstream: URL, port = 0): Promise<{ server: Server; port: number; kill(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const server = createServer((client) => {
    const up = connect(Number(upstream.port || 5432), upstream.hostname);
    sockets.add(client).add(up);
    client.pipe(up).pipe(client);
    const drop = () => {
      client.destroy();
      up.destroy();
    };
    client.on('error', drop).on('close', drop);
    up.on('error', drop).on('close', drop);
  });
  return new Promise((resolve) => {
    server.listen(port, '127.0.0.1', () => {
      const p = (server.address() as { port: number }).port;
      resolve({
        server,
        port: p,
        kill: () =>
          new Promise<void>((done) => {
            for (const s of sockets) s.destroy();
            server.close(() => done());
          }),
      });
    });
  });
}

const countRow = z.object({ n: z.number() });

for (const target of targets()) {
  describe.skipIf(target.skip)(`the ${target.name} database going away mid-run`, () => {
    // Made when the suite runs (not at collection, where a skipped target's would stay), removed after the file.
    let dir: string;
    let upstream: URL;
    let admin: Awaited<ReturnType<typeof target.open>>;
    beforeAll(async () => {
      dir = scratchDir('shopsim-outage-');
      await target.setup();
      admin = await target.open(target.url() ? {} : { dataDir: join(dir, 'pglite') });
      const raw = target.url() ?? (admin.psqlUrl() as string).replace(/^psql "|"$/g, '');
      upstream = new URL(raw);
    });
    afterAll(async () => {
      await admin?.close();
      await target.teardown();
    });

    it('rolls the unwritable agent-cycles back as failures, opens the breaker, and resumes cleanly', { timeout: 180_000 }, async () => {
      const proxy = await startProxy(upstream);
      const viaProxy = new URL(upstream.toString());
      viaProxy.hostname = '127.0.0.1';
      viaProxy.port = String(proxy.port);
      const args = [
        'run', '--agents', '200', '--cycles', '10', '--mock-api', '--json', '--database-url', viaProxy.toString(), '--db-pool-size', '4', '--db-write-timeout', '3',
        '--start', '2024-01-01T10:00:00Z', '--time-scale', '36000', '--checkpoint-interval', '1', '--checkpoint-dir', join(dir, 'cp'), '--log-dir', join(dir, 'logs'),
      ];
      const child = spawn(process.execPath, ['bin/shopsim.js', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      let killed = false;
      child.stdout.on('data', (d) => (stdout += d));
      child.stderr.on('data', (d) => {
        stderr += d;
        if (!killed && /cycle=3\//.test(stderr)) {
          killed = true;
          void proxy.kill();
        }
      });
      const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
      if (code !== 3) console.error(stderr.split('\n').slice(-15).join('\n'));
      expect(killed).toBe(true);
      expect(code).toBe(3);
      const first = JSON.parse(stdout);
      expect(first.exit_reason).toBe('breaker');
      expect(first.breaker.last_cycle_failures).toBeGreaterThan(first.breaker.threshold);
      expect(first.breaker.failure_samples[0].step).toBe('write');
      expect(stderr).toMatch(/--resume/);

      // Nothing half-written: every session in the database has all its events.
      const runId = first.run_id as string;
      const partial = await admin.pool.one(sql.type(countRow)`
        SELECT count(*)::int AS n FROM shopping_sessions s
        WHERE s.run_id = ${runId} AND s.event_count <> (SELECT count(*) FROM shopping_session_events e WHERE e.session_id = s.id)`);
      expect(partial.n).toBe(0);

      // The database comes back (same address); the run resumes from its last checkpoint.
      const back = await startProxy(upstream, proxy.port);
      try {
        const resumed = await shopsim(['run', '--resume', '--json', '--database-url', viaProxy.toString(), '--db-pool-size', '4', '--checkpoint-dir', join(dir, 'cp'), '--fast']);
        if (resumed.code !== 0) console.error(resumed.stderr.split('\n').slice(-12).join('\n'));
        expect(resumed.stderr).not.toMatch(/run failed/);
        expect(resumed.code).toBe(0);
        const s = JSON.parse(resumed.stdout);
        expect(s.run_id).toBe(runId);
        expect(s.cycles_completed).toBe(10);
        expect(s.is_replay).toBe(true);
        const sessions = await admin.pool.one(sql.type(countRow)`SELECT count(*)::int AS n FROM shopping_sessions WHERE run_id = ${runId}`);
        const dupes = await admin.pool.one(sql.type(countRow)`
          SELECT count(*)::int AS n FROM (SELECT 1 FROM shopping_sessions WHERE run_id = ${runId} GROUP BY agent_id, cycle HAVING count(*) > 1) d`);
        expect(dupes.n).toBe(0);
        // What the summary says was written is what the database holds: the agent-cycles whose
        // write failed are counted apart (sessions_not_written), as agent failures.
        expect(sessions.n).toBe(s.sessions_created);
        expect(first.sessions_not_written).toBeGreaterThan(0);
        expect(s.agent_failures).toBeGreaterThanOrEqual(s.sessions_not_written);
      } finally {
        await back.kill();
      }
    });
  });
}
