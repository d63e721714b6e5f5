/**
 * Writes whose answer is lost: a TCP proxy between the recorder and the database forwards every
 * statement but can drop the server's reply and cut the connection — the statement committed,
 * the client cannot know. The recorder sends the (idempotent) write again; what it finally counts
 * is what the database holds. Embedded PGlite always, the real PostgreSQL with TEST_DATABASE_URL.
 */
import { createServer, connect, type Server, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase, type Database } from '../../src/db/connection.ts';
import { isAmbiguousWriteError } from '../../src/db/pg-recorder.ts';
import type { DbWriteMetrics } from '../../src/model/types.ts';
import { runCounts, runMeta, sessionRecord, targets } from './helpers.ts';

type Mode = 'pass' | 'drop-replies' | 'drop-next-reply';

function startProxy(upstream: URL): Promise<{ port: number; setMode(m: Mode): void; dropped(): number; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  let mode: Mode = 'pass';
  let dropped = 0;
  const server: Server = createServer((client) => {
    const up = connect(Number(upstream.port || 5432), upstream.hostname);
    sockets.add(client).add(up);
    const drop = () => {
      client.destroy();
      up.destroy();
    };
    client.on('data', (d) => up.write(d));
    up.on('data', (d) => {
      // The statement reached the server and ran; its answer never reaches the client.
      if (mode !== 'pass') {
        dropped++;
        if (mode === 'drop-next-reply') mode = 'pass';
        return drop();
      }
      client.write(d);
    });
    client.on('error', drop).on('close', drop);
    up.on('error', drop).on('close', drop);
  });
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => {
      resolve({
        port: (server.address() as { port: number }).port,
        setMode: (m) => (mode = m),
        dropped: () => dropped,
        close: () =>
          new Promise<void>((done) => {
            for (const s of sockets) s.destroy();
            server.close(() => done());
          }),
      });
    });
  });
}

describe('isAmbiguousWriteError', () => {
  it('a lost answer is ambiguous; an error the server reported (not a connection class) is not', () => {
    expect(isAmbiguousWriteError(new Error('writing session x: no answer from the database within 30 ms'))).toBe(true);
    expect(isAmbiguousWriteError(Object.assign(new Error('Connection terminated unexpectedly'), { code: 'ECONNRESET' }))).toBe(true);
    expect(isAmbiguousWriteError(Object.assign(new Error('wrapped'), { cause: Object.assign(new Error('terminating connection'), { code: '57P01' }) }))).toBe(true);
    expect(isAmbiguousWriteError(Object.assign(new Error('wrapped'), { cause: Object.assign(new Error('null value'), { code: '23502' }) }))).toBe(false);
  });
});

for (const target of targets()) {
  describe.skipIf(target.skip)(`a write whose answer is lost (${target.name})`, () => {
    let admin: Database;
    let viaProxy: Database;
    let proxy: Awaited<ReturnType<typeof startProxy>>;
    const counts = runCounts(() => admin);
    const metrics = () => viaProxy.recorder.metrics?.() as DbWriteMetrics;
    beforeAll(async () => {
      await target.setup();
      admin = await target.open();
      const upstream = new URL(target.url() ?? (admin.psqlUrl() as string).replace(/^psql "|"$/g, ''));
      proxy = await startProxy(upstream);
      const through = new URL(upstream.toString());
      through.hostname = '127.0.0.1';
      through.port = String(proxy.port);
      viaProxy = await openDatabase({ databaseUrl: through.toString(), poolSize: 2, writeTimeoutMs: 1500, connectionTimeoutMs: 1000, migrate: false });
      await viaProxy.recorder.beginRun(runMeta('run-lost', 4));
    });
    afterAll(async () => {
      await viaProxy?.close();
      await proxy?.close();
      await admin?.close();
      await target.teardown();
    });

    it('is sent again and counted as written once: one session, all its events, no duplicate', async () => {
      proxy.setMode('drop-next-reply');
      const record = sessionRecord('run-lost', 0, 1, 'checkout');
      await viaProxy.recorder.commitSession(record);
      expect(proxy.dropped()).toBe(1);
      expect(metrics()).toMatchObject({ commits: 1, failed: 0, in_doubt: 0 });
      expect(metrics().retried).toBeGreaterThanOrEqual(1);
      expect(await counts.sessionsOf('run-lost')).toBe(1);
      expect(await counts.eventsOf('run-lost')).toBe(record.events.length);
    });

    it('when no answer gets through before the write timeout it counts as failed, and the row that landed is removed once the database answers', async () => {
      proxy.setMode('drop-replies');
      const record = sessionRecord('run-lost', 1, 1, 'browse');
      await expect(viaProxy.recorder.commitSession(record)).rejects.toThrow();
      expect(metrics()).toMatchObject({ failed: 1, in_doubt: 1 });
      // It had landed (every attempt reached the server): the database says more than the run counted…
      expect(await counts.sessionsOf('run-lost')).toBe(2);
      // …until the database answers again and the recorder settles it.
      proxy.setMode('pass');
      expect(await viaProxy.recorder.reconcile?.()).toEqual({ pending: 0, removed: 1 });
      expect(await counts.sessionsOf('run-lost')).toBe(1);
      expect(await counts.eventsOf('run-lost')).toBe(sessionRecord('run-lost', 0, 1, 'checkout').events.length);
      expect(metrics()).toMatchObject({ commits: 1, failed: 1, in_doubt: 0, in_doubt_removed: 1 });
    });

    it('a statement the server refuses is not retried (it was rolled back)', async () => {
      const before = metrics().retried;
      const bad = sessionRecord('run-lost', 2, 1, 'browse');
      bad.events[0] = { ...bad.events[0]!, seq: null as unknown as number };
      await expect(viaProxy.recorder.commitSession(bad)).rejects.toThrow();
      expect(metrics().retried).toBe(before);
      expect(metrics().in_doubt).toBe(0);
      expect(await counts.sessionsOf('run-lost')).toBe(1);
    });
  });
}
