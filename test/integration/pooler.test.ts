/**
 * Behind a transaction-mode pooler: PgBouncer (`pool_mode = transaction`, 8 server connections
 * for a client pool of 50) in front of the real PostgreSQL, in a throwaway database. A pooler
 * like this hands each transaction to any server connection, so session state (SET, named
 * prepared statements, session advisory locks) would break; shopsim uses none. Shown here with a
 * full run against the reference store (whose checkouts lock rows in transactions), the report,
 * group commit, and kill -9 + `--resume`.
 *
 * Needs TEST_DATABASE_URL and the `pgbouncer` binary (.ci/run installs Debian's package);
 * without either it is skipped with a message.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { createPool, sql, type DatabasePool, type QuerySqlToken } from 'slonik';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { shopsim } from '../e2e/helpers.ts';
import { openDatabase } from '../../src/db/connection.ts';
import { runMeta, sessionRecord, TEST_DATABASE_URL } from '../db/helpers.ts';

function findPgbouncer(): string | null {
  const dirs = [...(process.env['PATH'] ?? '').split(delimiter), '/usr/sbin', '/usr/local/sbin'];
  for (const d of dirs) if (d && existsSync(join(d, 'pgbouncer'))) return join(d, 'pgbouncer');
  return null;
}

const PGBOUNCER = findPgbouncer();
const skipReason = !TEST_DATABASE_URL ? 'TEST_DATABASE_URL is not set' : !PGBOUNCER ? 'the pgbouncer binary is not installed (apt-get install pgbouncer)' : null;
if (skipReason && TEST_DATABASE_URL) console.warn(`[test/integration/pooler] SKIPPED: ${skipReason}.`);

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

async function waitForPort(port: number, ms: number): Promise<void> {
  const until = Date.now() + ms;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const c = connect(port, '127.0.0.1');
      c.on('connect', () => {
        c.destroy();
        resolve(true);
      });
      c.on('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > until) throw new Error(`pgbouncer did not listen on 127.0.0.1:${port} within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const count = z.object({ n: z.number() });

describe.skipIf(skipReason !== null)('behind PgBouncer in transaction mode', () => {
  const dir = mkdtempSync(join(tmpdir(), 'shopsim-pooler-'));
  const database = `shopsim_pooler_${process.pid}_${randomBytes(3).toString('hex')}`;
  let admin: DatabasePool;
  let direct: DatabasePool;
  let bouncer: ChildProcess | null = null;
  let bouncerLog = '';
  let viaPooler = '';

  beforeAll(async () => {
    const server = new URL(TEST_DATABASE_URL as string);
    admin = await createPool(server.toString(), { maximumPoolSize: 1 });
    await admin.query(sql.unsafe`CREATE DATABASE ${sql.identifier([database])}`);
    const own = new URL(server.toString());
    own.pathname = `/${database}`;
    direct = await createPool(own.toString(), { maximumPoolSize: 2 });

    const user = decodeURIComponent(server.username || 'postgres');
    const port = await freePort();
    chmodSync(dir, 0o755); // pgbouncer drops to `nobody` when started as root and must read its files
    writeFileSync(join(dir, 'users.txt'), `"${user}" ""\n`, { mode: 0o644 });
    writeFileSync(
      join(dir, 'pgbouncer.ini'),
      [
        '[databases]',
        `${database} = host=${server.hostname} port=${server.port || 5432} dbname=${database}`,
        '[pgbouncer]',
        'listen_addr = 127.0.0.1',
        `listen_port = ${port}`,
        'unix_socket_dir =',
        'auth_type = trust',
        `auth_file = ${join(dir, 'users.txt')}`,
        'pool_mode = transaction',
        'default_pool_size = 8',
        'max_client_conn = 400',
        '',
      ].join('\n'),
      { mode: 0o644 },
    );
    const asRoot = process.getuid?.() === 0;
    bouncer = spawn(PGBOUNCER as string, [...(asRoot ? ['-u', 'nobody'] : []), join(dir, 'pgbouncer.ini')], { stdio: ['ignore', 'pipe', 'pipe'] });
    bouncer.stdout?.on('data', (d) => (bouncerLog += d));
    bouncer.stderr?.on('data', (d) => (bouncerLog += d));
    try {
      await waitForPort(port, 10_000);
    } catch (err) {
      console.error(bouncerLog);
      throw err;
    }
    viaPooler = `postgres://${encodeURIComponent(user)}@127.0.0.1:${port}/${database}?pgbouncer=true`;
  }, 60_000);

  afterAll(async () => {
    bouncer?.kill('SIGTERM');
    await direct?.end();
    if (admin) {
      await admin.query(sql.unsafe`DROP DATABASE IF EXISTS ${sql.identifier([database])} WITH (FORCE)`);
      await admin.end();
    }
    rmSync(dir, { recursive: true, force: true });
  });

  const n = async (q: QuerySqlToken<typeof count>) => (await direct.one(q)).n;

  it('runs against the reference store and reports, with the database counts equal to the summary', { timeout: 180_000 }, async () => {
    const r = await shopsim(['run', '--agents', '372', '--cycles', '6', '--fast', '--rate-limit', '0', '--json', '--checkpoint-dir', join(dir, 'cp1'), '--database-url', viaPooler]);
    if (r.code !== 0) console.error(r.stderr.split('\n').slice(-12).join('\n'), bouncerLog.split('\n').slice(-8).join('\n'));
    expect(r.code).toBe(0);
    const s = JSON.parse(r.stdout);
    expect(s.exit_reason).toBe('completed');
    expect(s.sessions_failed).toBe(0);
    expect(s.store).toMatch(/reference store \(in-process/);
    expect(await n(sql.type(count)`SELECT count(*)::int AS n FROM shopping_sessions WHERE run_id = ${s.run_id}`)).toBe(s.sessions_created);
    expect(await n(sql.type(count)`SELECT count(*)::int AS n FROM shopping_session_events WHERE run_id = ${s.run_id}`)).toBe(s.events_created);
    expect(await n(sql.type(count)`SELECT count(*)::int AS n FROM orders`)).toBe(s.checkouts_completed);
    // The writes did go through the pooler: it logged the client logins to this database.
    expect(bouncerLog).toMatch(new RegExp(`login attempt: db=${database} `));
    const rep = await shopsim(['report', '--run', s.run_id, '--json', '--database-url', viaPooler]);
    expect(rep.code).toBe(0);
    expect(JSON.parse(rep.stdout).funnel).toMatchObject({ sessions: s.sessions_created, checkouts: s.checkouts_completed, events: s.events_created });
  });

  it('group commit, kill -9 and --resume: no duplicates, every counted session written', { timeout: 180_000 }, async () => {
    const cp = join(dir, 'cp2');
    const args = [
      'run', '--agents', '300', '--cycles', '10', '--mock-api', '--json', '--database-url', viaPooler, '--db-group-commit', '50',
      '--start', '2024-01-01T10:00:00Z', '--time-scale', '36000', '--checkpoint-interval', '1', '--checkpoint-dir', cp, '--log-dir', join(cp, 'logs'),
    ];
    const child = spawn(process.execPath, ['bin/shopsim.js', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    let killed = false;
    child.stderr.on('data', (d) => {
      stderr += d;
      if (!killed && /cycle=4\//.test(stderr)) {
        killed = true;
        child.kill('SIGKILL');
      }
    });
    const code = await new Promise<number | null>((resolve) => child.on('close', (c, signal) => resolve(signal ? -1 : c)));
    expect(killed).toBe(true);
    expect(code).toBe(-1);

    const resumed = await shopsim(['run', '--resume', '--fast', '--json', '--database-url', viaPooler, '--db-group-commit', '50', '--checkpoint-dir', cp]);
    if (resumed.code !== 0) console.error(resumed.stderr.split('\n').slice(-12).join('\n'));
    expect(resumed.code).toBe(0);
    const s = JSON.parse(resumed.stdout);
    expect(s.cycles_completed).toBe(10);
    expect(await n(sql.type(count)`
      SELECT count(*)::int AS n FROM (SELECT 1 FROM shopping_sessions WHERE run_id = ${s.run_id} GROUP BY agent_id, cycle HAVING count(*) > 1) d`)).toBe(0);
    expect(await n(sql.type(count)`SELECT count(*)::int AS n FROM shopping_sessions WHERE run_id = ${s.run_id}`)).toBe(s.sessions_created);
    expect(await n(sql.type(count)`SELECT count(*)::int AS n FROM shopping_session_events WHERE run_id = ${s.run_id}`)).toBe(s.events_created);
  });

  it('is found out from its refusal of the startup parameters: shopsim connects again without them and writes', { timeout: 60_000 }, async () => {
    // The URL of the suite above without its hint.
    const plain = viaPooler.replace(/\?pgbouncer=true$/, '');
    expect(plain).not.toMatch(/pgbouncer/);
    const db = await openDatabase({ databaseUrl: plain, poolSize: 4 });
    try {
      await db.recorder.beginRun(runMeta('run-plain-url', 2));
      await db.recorder.commitSession(sessionRecord('run-plain-url', 0, 1, 'checkout'));
      expect(await n(sql.type(count)`SELECT count(*)::int AS n FROM shopping_sessions WHERE run_id = 'run-plain-url'`)).toBe(1);
    } finally {
      await db.close();
    }
  });
});
