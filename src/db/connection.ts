/**
 * openDatabase(options): the one way shopsim reaches PostgreSQL. With a URL, a slonik pool
 * on that server; without, the embedded PGlite (src/db/embedded.ts) served on a loopback port
 * and reached through the same slonik code path with a pool of one connection. Either way the
 * schema is migrated before it returns, and the returned recorder writes through the pool.
 *
 * Nothing here keeps session state on a connection (no SET, no named prepared statements, no
 * session advisory locks), so a transaction-mode pooler (PgBouncer, Supavisor) is fine.
 */
import { createPool, sql, type DatabasePool } from 'slonik';
import { z } from 'zod';
import { ShopsimError, oneLine } from '../errors.ts';
import type { Recorder } from '../model/types.ts';
import { DEFAULT_DATA_DIR, startEmbedded, type EmbeddedServer } from './embedded.ts';
import { readDatabaseId } from './identity.ts';
import { migrate, type MigrateResult } from './migrate.ts';
import { createPgRecorder } from './pg-recorder.ts';
import { describeDatabaseUrl, normalizeDatabaseUrl, parseDatabaseUrl, scrubSecrets } from './url.ts';

export interface DatabaseOptions {
  /** postgres://… (DATABASE_URL / --database-url). Absent: the embedded database. */
  databaseUrl?: string;
  /** Where the embedded database lives (--data-dir). Default `data/pglite`. */
  dataDir?: string;
  /** Pool size on a real server (DB_POOL_SIZE). Default 50. The embedded database always uses 1. */
  poolSize?: number;
  /** Time to wait for a connection, ms. Default 10,000. */
  connectionTimeoutMs?: number;
  /** Per-statement limit on the server, ms (0 = none). Default 60,000. Not sent behind a transaction-mode pooler. */
  statementTimeoutMs?: number;
  /** An idle pooled connection is closed after this, ms. Default 30,000. */
  idleTimeoutMs?: number;
  /** Longest one agent-cycle's commit may take, waiting for a connection included, ms. Default 30,000. */
  writeTimeoutMs?: number;
  /** Group commit: up to this many agent-cycles per statement (0 = off, the default). See pg-recorder. */
  groupCommit?: number;
  /** Apply pending migrations on open. Default true. */
  migrate?: boolean;
  /**
   * When another live process holds the embedded data directory, connect to its socket
   * server instead of failing (read-only users: `shopsim report`). Default false.
   */
  attachToRunning?: boolean;
  /** Called with errors of idle pooled connections (the database went away), already scrubbed. */
  onPoolError?: (message: string) => void;
}

export const DATABASE_DEFAULTS = {
  dataDir: DEFAULT_DATA_DIR,
  poolSize: 50,
  connectionTimeoutMs: 10_000,
  statementTimeoutMs: 60_000,
  idleTimeoutMs: 30_000,
  writeTimeoutMs: 30_000,
} as const;

export interface Database {
  pool: DatabasePool;
  recorder: Recorder;
  kind: 'embedded' | 'external';
  /** The migrations applied by this open (empty when the schema was current). */
  migrations: MigrateResult | null;
  /** This database's identity (migration 015; null on a schema not migrated that far). */
  databaseId: string | null;
  /** `host:port/database` — never the user or the password. */
  describe(): string;
  /** A psql command line for the embedded database while this process serves it; null for an external one. */
  psqlUrl(): string | null;
  /**
   * Replaces the pool behind `pool` with a new one (at most every 2 s; a no-op while the server
   * is still away): a pool whose connections died can leave its queued queries pending forever
   * (slonik#631). The recorder calls it after a lost answer, the reference store after a query
   * that timed out or lost its connection.
   */
  renewPool(): Promise<void>;
  /** Registers a function called once when the next new pool takes over; returns its removal. */
  onPoolReplaced(f: () => void): () => void;
  /**
   * Every connection carries a server-side `statement_timeout` (a startup parameter: not behind
   * a transaction-mode pooler, nor with --db-statement-timeout 0). When false, code that wants a
   * server-side bound sets it per transaction (`SET LOCAL`).
   */
  statementTimeoutOnConnections: boolean;
  /** performance.now() of the last query or transaction on `pool` that the database answered. */
  lastAnswerAt(): number;
  close(): Promise<void>;
}

/**
 * Opens the database, checks it answers, and migrates it.
 * @throws ShopsimError E_DATABASE (exit code 2): unreachable, wrong credentials, bad URL,
 *   embedded directory in use — one line naming host, port and database only.
 */
export async function openDatabase(options: DatabaseOptions = {}): Promise<Database> {
  const o = { ...DATABASE_DEFAULTS, ...stripUndefined(options) };
  let embedded: EmbeddedServer | null = null;
  let url: string;
  let kind: Database['kind'];
  if (o.databaseUrl) {
    url = o.databaseUrl;
    kind = 'external';
  } else {
    // With attachToRunning, a directory another live process holds (or is opening) is shared through it.
    embedded = await startEmbedded(o.dataDir, { attach: o.attachToRunning === true });
    url = embedded.url;
    kind = 'embedded';
  }
  const info = parseDatabaseUrl(url);
  const where = describeDatabaseUrl(url);
  const poolSize = kind === 'embedded' ? 1 : o.poolSize;
  if (!Number.isInteger(poolSize) || poolSize < 1) {
    await embedded?.stop();
    throw new ShopsimError('E_DATABASE', `Expected DB_POOL_SIZE to be an integer >= 1, got ${String(o.poolSize)}`, { exitCode: 2 });
  }

  // Behind a transaction-mode pooler startup parameters are refused; a URL need not say so (see below).
  let pooler = info.pooler;
  const makePool = () =>
    createPool(normalizeDatabaseUrl(url), {
      maximumPoolSize: poolSize,
      connectionTimeout: o.connectionTimeoutMs,
      // Startup parameters: PgBouncer rejects unknown ones, so behind a pooler the server's defaults apply.
      statementTimeout: pooler || o.statementTimeoutMs === 0 ? 'DISABLE_TIMEOUT' : o.statementTimeoutMs,
      idleInTransactionSessionTimeout: pooler ? 'DISABLE_TIMEOUT' : 60_000,
      idleTimeout: o.idleTimeoutMs,
      connectionRetryLimit: 1,
      // slonik's default DISCARD ALL on every release costs a round trip per commit; we keep no session state.
      resetConnection: async () => {},
    });
  let inner: DatabasePool;
  try {
    try {
      inner = await makePool();
    } catch (err) {
      // A pooler (PgBouncer in transaction mode) on a plain URL refuses the startup parameters
      // that carry the timeouts: connect again without them; the server's defaults apply.
      if (pooler || !/unsupported startup parameter/i.test(causeMessages(err))) throw err;
      pooler = true;
      inner = await makePool();
    }
  } catch (err) {
    await embedded?.stop();
    throw connectError(where, err, url);
  }
  const onError = (err: unknown) => o.onPoolError?.(`Database ${where}: ${scrubSecrets(oneLine(err), url)}`);
  inner.on('error', onError);
  // Everyone holds this stand-in, which forwards to the current pool: a pool whose connections
  // died can leave its queued queries pending forever (slonik#631), so renewPool() swaps in a new
  // one and lets the old one go.
  // It also notes when the database last answered anything (a busy pool answers someone all the
  // time; a broken one answers no one), for the reference store's bound (lastAnswerAt).
  let lastAnswerAt = performance.now();
  const noteAnswer = () => void (lastAnswerAt = performance.now());
  const pool = new Proxy({} as DatabasePool, {
    get(_target, key) {
      const value = (inner as unknown as Record<string | symbol, unknown>)[key];
      if (typeof value !== 'function') return value;
      const bound = (value as (...a: unknown[]) => unknown).bind(inner);
      if (!QUERY_METHODS.has(key)) return bound;
      return (...args: unknown[]) => {
        const out = bound(...args);
        if (out instanceof Promise) out.then(noteAnswer, () => {});
        return out;
      };
    },
  });
  let renewing: Promise<void> | null = null;
  let renewedAt = 0;
  let ended = false;
  /** Called once when the next new pool takes over: work still waiting on the old one may retry there. */
  const onRenewal = new Set<() => void>();
  const renewPool = (): Promise<void> => {
    // At most one new pool every 2 s: a slow server is not helped by more pools. None once closing.
    if (ended || renewing || performance.now() - renewedAt < 2000) return renewing ?? Promise.resolve();
    renewing = (async () => {
      let next: DatabasePool | null = null;
      try {
        const old = inner;
        // slonik connects lazily: a pool made while the server is away would take over already
        // broken, so it must answer first — within 3 s (a connection made in an outage may never answer).
        const made = (async () => {
          const p = await makePool();
          try {
            await p.oneFirst(sql.type(z.object({ ok: z.number() }))`SELECT 1 AS ok`);
          } catch (err) {
            void p.end().catch(() => {});
            throw err;
          }
          return p;
        })();
        let t: NodeJS.Timeout | undefined;
        let gaveUp = false;
        const timedOut = new Promise<never>((_, reject) => {
          t = setTimeout(() => {
            gaveUp = true;
            reject(new Error('no answer within 3 s'));
          }, Math.min(3000, o.connectionTimeoutMs));
        });
        // A pool given up on that answers later is closed.
        made.then((p) => void (gaveUp && p.end().catch(() => {})), () => {});
        next = await Promise.race([made, timedOut]).finally(() => clearTimeout(t));
        if (ended) throw new Error('closing');
        next.on('error', onError);
        inner = next;
        next = null;
        renewedAt = performance.now();
        const waiting = [...onRenewal];
        onRenewal.clear();
        for (const f of waiting) f();
        let t2: NodeJS.Timeout | undefined;
        void Promise.race([old.end().catch(() => {}), new Promise<void>((r) => (t2 = setTimeout(r, 5000)))]).then(() => clearTimeout(t2));
      } catch {
        // The server is still away (or this process is closing): try again in 2 s, until a new
        // pool answers — work stuck on the old pool waits for that (poolReplaced), not for a fault.
        if (next) void next.end().catch(() => {});
        if (!ended) setTimeout(() => void renewPool(), 2000).unref();
      } finally {
        renewing = null;
      }
    })();
    return renewing;
  };
  const onPoolReplaced = (f: () => void): (() => void) => {
    onRenewal.add(f);
    return () => void onRenewal.delete(f);
  };

  const ping = () => pool.oneFirst(sql.type(z.object({ ok: z.number() }))`SELECT 1 AS ok`);
  try {
    try {
      await ping();
    } catch (err) {
      // The same refusal, when the pool connects lazily.
      if (pooler || !/unsupported startup parameter/i.test(causeMessages(err))) throw err;
      pooler = true;
      const refused = inner;
      inner = await makePool();
      inner.on('error', onError);
      void refused.end().catch(() => {});
      await ping();
    }
  } catch (err) {
    await pool.end().catch(() => {});
    await embedded?.stop();
    throw connectError(where, err, url);
  }

  let migrations: MigrateResult | null = null;
  if (o.migrate !== false) {
    try {
      migrations = await migrate(pool);
    } catch (err) {
      await pool.end().catch(() => {});
      await embedded?.stop();
      throw new ShopsimError('E_DATABASE', `Migrating ${where} failed: ${scrubSecrets(oneLine(err), url)}`, { exitCode: 2 });
    }
  }

  let databaseId: string | null = null;
  try {
    databaseId = await readDatabaseId(pool);
  } catch (err) {
    await pool.end().catch(() => {});
    await embedded?.stop();
    throw new ShopsimError('E_DATABASE', `Reading the identity of ${where} failed: ${scrubSecrets(oneLine(err), url)}`, { exitCode: 2 });
  }

  let closed: Promise<void> | null = null;
  const recorder = createPgRecorder(pool, { writeTimeoutMs: o.writeTimeoutMs, renewPool, onPoolReplaced, ...(o.groupCommit ? { groupCommit: o.groupCommit } : {}) });
  const db: Database = {
    pool,
    recorder: { ...recorder, close: () => db.close() },
    kind,
    migrations,
    databaseId,
    describe: () =>
      kind === 'embedded' ? `${where} (embedded, ${embedded?.dataDir ?? o.dataDir}${embedded?.sharedWith ? `, shared with process ${embedded.sharedWith}` : ''})` : where,
    psqlUrl: () => (kind === 'embedded' ? `psql "${url}"` : null),
    renewPool,
    lastAnswerAt: () => lastAnswerAt,
    onPoolReplaced,
    statementTimeoutOnConnections: !pooler && o.statementTimeoutMs !== 0,
    close() {
      closed ??= (async () => {
        // A pool whose connections died can leave end() waiting forever (see pg-recorder's
        // writeTimeoutMs): give it a few seconds, then let the process go on.
        let t: NodeJS.Timeout | undefined;
        ended = true;
        await renewing;
        await Promise.race([inner.end().catch(() => {}), new Promise<void>((r) => (t = setTimeout(r, 5000)))]);
        clearTimeout(t);
        await embedded?.stop();
      })();
      return closed;
    },
  };
  return db;
}

const QUERY_METHODS = new Set<string | symbol>(['any', 'anyFirst', 'exists', 'many', 'manyFirst', 'maybeOne', 'maybeOneFirst', 'one', 'oneFirst', 'query', 'transaction', 'connect']);

/** The messages of an error and its causes, in one string. */
function causeMessages(err: unknown): string {
  const out: string[] = [];
  let e: unknown = err;
  for (let i = 0; i < 6 && e; i++) {
    out.push(e instanceof Error ? e.message : String(e));
    e = (e as { cause?: unknown }).cause;
  }
  return out.join(' | ');
}

function stripUndefined<T extends object>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
}

/** Why a connection failed, in one line with no secret: the driver's reason, scrubbed. */
function connectError(where: string, err: unknown, url: string): ShopsimError {
  const reasons: string[] = [];
  let e: unknown = err;
  for (let i = 0; i < 4 && e; i++) {
    const msg = e instanceof Error ? e.message : String(e);
    const code = (e as { code?: unknown }).code;
    if (msg && !reasons.includes(msg)) reasons.push(typeof code === 'string' && !msg.includes(code) ? `${msg} (${code})` : msg);
    e = (e as { cause?: unknown }).cause;
  }
  const reason = scrubSecrets(oneLine(reasons.slice(-1)[0] ?? 'unknown error'), url);
  // No `cause`: the driver's error may carry the connection options, password included.
  return new ShopsimError('E_DATABASE', `Cannot connect to PostgreSQL at ${where}: ${reason}`, { exitCode: 2 });
}
