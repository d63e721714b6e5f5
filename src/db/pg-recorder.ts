/**
 * The PostgreSQL recorder: where sessions go when a database is used. Every write goes
 * through slonik on the given pool and keeps no session state.
 *
 * - beginRun: upserts the run, its agents (personas) and products, in bulk (`unnest`).
 * - commitSession: one transaction per agent-cycle — the session row (with its final
 *   status) and all its events in one statement (see writeSession). The write is idempotent
 *   (migration 011: the session id is derived from run, agent and cycle), so when its answer is
 *   lost — a timeout, a connection that died — it is sent again until the write timeout is
 *   spent: a write that had landed is then found there and counts as written. One that stays in
 *   doubt counts as failed, and its row, should it have landed after all, is removed as soon as
 *   the database answers again (reconcile), so the summary and the database agree.
 *   A statement the server refused (an SQL error) is not retried: it was rolled back.
 * - prepareResume: for a resumed run, deletes what was written for cycles after the last
 *   checkpointed one (they will run again), marks sessions left `active` as abandoned, and —
 *   when this database holds the reference store's tables — clears the carts of every agent of
 *   the run and takes back the orders no kept session references (takeBackOrders).
 * - endRun: stores ended_at and the summary.
 */
import { sql, type DatabasePool, type DatabaseTransactionConnection } from 'slonik';
import { z } from 'zod';
import type { DbWriteMetrics, Recorder, RunMeta, SessionRecord } from '../model/types.ts';
import { latencyHistogram, summarizeLatency } from '../metrics/latency.ts';
import { scrubConfig } from './scrub.ts';

export const ORPHAN_NOTE = 'Auto-abandoned: orphaned from simulation crash';
const NOTES_MAX = 500;

const idRow = z.object({ id: z.string() });
const agentRow = z.object({ agent_id: z.string() });

function flags(record: SessionRecord): { carted: boolean; couponApplied: boolean } {
  let carted = false;
  let couponApplied = false;
  for (const e of record.events) {
    if (e.type === 'cart_item_added') carted = true;
    else if (e.type === 'coupon_applied') couponApplied = true;
  }
  return { carted, couponApplied };
}

type Conn = Pick<DatabaseTransactionConnection, 'query'>;

function sessionValues(r: SessionRecord) {
  const f = flags(r);
  const notes = r.notes === null ? null : r.notes.slice(0, NOTES_MAX);
  return sql.fragment`(
      ${r.sessionId}, ${r.runId}, ${r.agentId}, ${r.cycle}, ${r.kind}, ${r.status}, true,
      ${r.simStart}::timestamptz, ${r.simEnd}::timestamptz, now(), now(), ${notes},
      ${f.carted}, ${f.couponApplied}, ${r.order?.orderId ?? null}, ${r.order?.totalCents ?? 0},
      ${r.order?.itemsCount ?? 0}, ${r.events.length}
    )`;
}

const SESSION_COLUMNS = sql.fragment`(
      id, run_id, agent_id, cycle, kind, status, is_simulated, simulated_start, simulated_end,
      started_at, ended_at, notes, carted, coupon_applied, order_id, revenue_cents, items_count, event_count
    )`;

/** One agent-cycle as the JSON object shopsim_write_sessions reads (migration 010). */
function sessionJson(r: SessionRecord): string {
  const f = flags(r);
  return JSON.stringify({
    id: r.sessionId,
    run_id: r.runId,
    agent_id: r.agentId,
    cycle: r.cycle,
    kind: r.kind,
    status: r.status,
    simulated_start: r.simStart,
    simulated_end: r.simEnd,
    notes: r.notes === null ? null : r.notes.slice(0, NOTES_MAX),
    carted: f.carted,
    coupon_applied: f.couponApplied,
    order_id: r.order?.orderId ?? null,
    revenue_cents: r.order?.totalCents ?? 0,
    items_count: r.order?.itemsCount ?? 0,
    events: r.events.map((e) => ({ seq: e.seq, type: e.type, at: e.at, payload: e.payload ?? {} })),
  });
}

/**
 * Writes one agent-cycle: the session row with its final status and all its events, in ONE
 * statement — a call of shopsim_write_sessions (migration 010) with the agent-cycle as one
 * jsonb parameter. A single statement is atomic — its own transaction — so a constraint
 * violation in any event undoes the session row too, and the whole write costs one round trip
 * (with pool.transaction it would cost four).
 */
export async function writeSession(conn: Conn, r: SessionRecord): Promise<void> {
  await conn.query(sql.unsafe`SELECT shopsim_write_sessions(${`[${sessionJson(r)}]`}::jsonb)`);
}

/**
 * Several agent-cycles in ONE statement (group commit, opt-in: `--db-group-commit`): the same
 * function with a longer array. Atomic as a whole; the recorder retries each agent-cycle alone
 * when a batch fails, so a bad agent-cycle still fails alone.
 */
export async function writeSessions(conn: Conn, records: SessionRecord[]): Promise<void> {
  await conn.query(sql.unsafe`SELECT shopsim_write_sessions(${`[${records.map(sessionJson).join(',')}]`}::jsonb)`);
}

/**
 * The per-row baseline of the benchmark (test/bench/db-write.bench.ts): the same rows, but the
 * session row and then one INSERT per event, inside an explicit transaction. Not used by shopsim.
 */
export async function writeSessionPerRow(pool: DatabasePool, r: SessionRecord): Promise<void> {
  await pool.transaction(async (tx) => {
    await tx.query(sql.unsafe`INSERT INTO shopping_sessions ${SESSION_COLUMNS} VALUES ${sessionValues(r)}`);
    for (const e of r.events) {
      await tx.query(sql.unsafe`
        INSERT INTO shopping_session_events (session_id, seq, run_id, agent_id, cycle, type, payload, simulated_at)
        VALUES (${r.sessionId}, ${e.seq}, ${r.runId}, ${r.agentId}, ${r.cycle}, ${e.type}, ${JSON.stringify(e.payload ?? {})}::jsonb, ${e.at}::timestamptz)`);
    }
  }, 0);
}

export interface PgRecorderOptions {
  /** Logs one line (e.g. "Cleaned up 3 orphaned sessions"). */
  log?: (line: string) => void;
  /**
   * Longest a commit may take, waiting for a connection included (default 30 000 ms). slonik 47's
   * pool leaves queued requests pending forever when its connections die (measured: a proxy
   * dropped mid-run, 32 of 40 queued queries never settled), so without this bound an outage
   * would hang the cycle instead of failing its agent-cycles.
   */
  writeTimeoutMs?: number;
  /**
   * Group commit: agent-cycles that arrive together are written in one statement (up to this
   * many; 0 = off, one statement per agent-cycle as the seed does; 50 measured best here). A failed batch is retried
   * one agent-cycle at a time, so each agent-cycle stays all-or-nothing and a bad one fails alone.
   */
  groupCommit?: number;
  /**
   * Replaces the pool's connections after a lost answer (src/db/connection.ts): a pool whose
   * connections died may never answer again (slonik#631).
   */
  renewPool?: () => Promise<void>;
  /**
   * Registers a function called once when a new pool takes over (src/db/connection.ts); returns
   * its removal. A write still waiting on the old pool — whose connections may never answer
   * again — is then sent again on the new one at once (writes are idempotent), instead of
   * spending the whole write timeout there.
   */
  onPoolReplaced?: (f: () => void) => () => void;
}

/**
 * True when an error leaves it unknown whether the statement committed: no answer in time, or
 * the connection went away. An error the server itself reported (an SQLSTATE other than the
 * connection classes 08 and 57P) means the statement was rolled back.
 */
export function isAmbiguousWriteError(err: unknown): boolean {
  let e: unknown = err;
  for (let i = 0; i < 6 && e; i++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code)) return code.startsWith('08') || code.startsWith('57P');
    e = (e as { cause?: unknown }).cause;
  }
  return true;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

function withTimeout<T>(work: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no answer from the database within ${ms} ms`)), ms);
  });
  work.catch(() => {}); // settled late or never: already reported as a timeout
  return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
}

export function createPgRecorder(pool: DatabasePool, options: PgRecorderOptions = {}): Recorder {
  const writeTimeoutMs = options.writeTimeoutMs ?? 30_000;
  const counts = { commits: 0, failed: 0, statements: 0, events: 0, retried: 0, in_doubt_removed: 0 };
  /** Ids of agent-cycles counted as failed whose write may have landed all the same. */
  const inDoubt = new Set<string>();
  let reconciling: Promise<void> | null = null;
  /** Removes the rows of in-doubt writes (they count as failed), if the database answers. */
  const reconcile = (): Promise<void> => {
    if (inDoubt.size === 0) return Promise.resolve();
    reconciling ??= (async () => {
      const ids = [...inDoubt];
      try {
        const gone = await withTimeout(
          pool.any(sql.type(idRow)`DELETE FROM shopping_sessions WHERE id = ANY (${sql.array(ids, 'text')}) RETURNING id`),
          writeTimeoutMs,
          'removing writes that were counted as failed',
        );
        for (const id of ids) inDoubt.delete(id);
        counts.in_doubt_removed += gone.length;
        if (gone.length > 0) options.log?.(`Removed ${gone.length} session rows whose write had been counted as failed`);
      } catch {
        // Still unreachable: try again after the next write that gets through.
        await options.renewPool?.();
      } finally {
        reconciling = null;
      }
    })();
    return reconciling;
  };
  const commitLatency = latencyHistogram();
  // Every statement that writes agent-cycles goes through here, so `statements` counts them all.
  const counted: Conn = {
    query: ((q: Parameters<Conn['query']>[0]) => {
      counts.statements++;
      return pool.query(q);
    }) as Conn['query'],
  };
  const write = options.groupCommit && options.groupCommit > 1 ? createGroupWriter(counted, options.groupCommit) : (r: SessionRecord) => writeSession(counted, r);
  /** One attempt, given up (as in doubt) when the pool it waits on is replaced. */
  const attemptOf = (record: SessionRecord): Promise<void> => {
    const attempt = write(record);
    const watch = options.onPoolReplaced;
    if (!watch) return attempt;
    return new Promise<void>((resolve, reject) => {
      const off = watch(() => reject(new Error(`writing session ${record.sessionId}: the pool was replaced while it waited`)));
      attempt.then(resolve, reject).finally(off);
    });
  };
  return {
    async beginRun(meta: RunMeta) {
      const config = scrubConfig(meta.config) as Record<string, unknown>;
      await pool.transaction(async (tx) => {
        await tx.query(sql.unsafe`
          INSERT INTO runs (id, seed, config, started_at, is_replay, resumed_from)
          VALUES (${meta.runId}, ${meta.seed}, ${sql.jsonb(config as never)}, ${meta.startedAt}::timestamptz, ${meta.isReplay}, ${meta.resumedFrom})
          ON CONFLICT (id) DO UPDATE SET
            config = EXCLUDED.config,
            is_replay = EXCLUDED.is_replay,
            resumed_from = EXCLUDED.resumed_from,
            ended_at = NULL,
            updated_at = now()`);
        if (meta.personas.length > 0) {
          const rows = meta.personas.map((p) => [p.id, p.name, p.segment, JSON.stringify(p)]);
          await tx.query(sql.unsafe`
            INSERT INTO agents (id, name, segment, attributes, last_run_id)
            SELECT t.id, t.name, t.segment, t.attributes::jsonb, ${meta.runId}
            FROM ${sql.unnest(rows, ['text', 'text', 'text', 'text'])} AS t (id, name, segment, attributes)
            ON CONFLICT (id) DO UPDATE SET
              name = EXCLUDED.name, segment = EXCLUDED.segment, attributes = EXCLUDED.attributes,
              last_run_id = EXCLUDED.last_run_id, updated_at = now()`);
        }
        if (meta.products.length > 0) {
          const rows = meta.products.map((p) => [p.id, p.sku, p.name, p.category, p.price_cents, p.stock, p.rating]);
          await tx.query(sql.unsafe`
            INSERT INTO products (id, sku, name, category, price_cents, stock, rating)
            SELECT * FROM ${sql.unnest(rows, ['text', 'text', 'text', 'text', 'int4', 'int4', 'numeric'])}
            ON CONFLICT (id) DO UPDATE SET
              sku = EXCLUDED.sku, name = EXCLUDED.name, category = EXCLUDED.category,
              price_cents = EXCLUDED.price_cents, stock = EXCLUDED.stock, rating = EXCLUDED.rating, updated_at = now()`);
        }
      });
    },

    async commitSession(record: SessionRecord) {
      const t0 = performance.now();
      const deadline = t0 + writeTimeoutMs;
      let backoff = 100;
      try {
        for (;;) {
          try {
            await withTimeout(attemptOf(record), Math.max(1, deadline - performance.now()), `writing session ${record.sessionId}`);
            break;
          } catch (err) {
            // Refused by the server (rolled back), or no time left to find out: failed.
            if (!isAmbiguousWriteError(err) || deadline - performance.now() <= backoff) {
              if (isAmbiguousWriteError(err)) inDoubt.add(record.sessionId);
              throw err;
            }
            await Promise.all([sleep(backoff), options.renewPool?.()]);
            backoff = Math.min(backoff * 2, 2000);
            counts.retried++;
          }
        }
        counts.commits++;
        counts.events += record.events.length;
        if (inDoubt.size > 0) void reconcile();
      } catch (err) {
        counts.failed++;
        throw err;
      } finally {
        commitLatency.recordValue(Math.max(1, Math.round((performance.now() - t0) * 1000)));
      }
    },

    async reconcile() {
      await reconcile();
      return { pending: inDoubt.size, removed: counts.in_doubt_removed };
    },

    metrics(): DbWriteMetrics {
      return { ...counts, in_doubt: inDoubt.size, commit_ms: summarizeLatency(commitLatency) };
    },

    async prepareResume(runId: string, lastCompletedCycle: number) {
      return pool.transaction(async (tx) => {
        // Rows of cycles after the checkpoint are re-run by the resumed simulation: delete them
        // (their events go too, by the trigger of migration 010) so nothing is duplicated.
        const discarded = await tx.any(sql.type(idRow)`
          DELETE FROM shopping_sessions WHERE run_id = ${runId} AND cycle > ${lastCompletedCycle} RETURNING id`);
        const orphaned = await tx.any(sql.type(agentRow)`
          UPDATE shopping_sessions
          SET status = 'abandoned', ended_at = now(), notes = ${ORPHAN_NOTE}
          WHERE run_id = ${runId} AND status = 'active' AND is_simulated = true
          RETURNING agent_id`);
        if (orphaned.length > 0) options.log?.(`Cleaned up ${orphaned.length} orphaned sessions`);
        // The store as the checkpoint left it, as far as this database holds the store: every
        // agent of the run starts the re-run cycles with an empty cart (the killed run's carts
        // are not in the checkpoint), and orders no kept session references — checkouts of the
        // cycles that run again — are taken back (stock returned, coupon redemption undone), so
        // the re-run cannot leave orders without a session nor place them twice.
        const agents = await tx.any(sql.type(agentRow)`
          SELECT id AS agent_id FROM agents WHERE last_run_id = ${runId}
          UNION SELECT DISTINCT agent_id FROM shopping_sessions WHERE run_id = ${runId}`);
        const agentIds = [...new Set([...agents.map((r) => r.agent_id), ...orphaned.map((r) => r.agent_id)])];
        await clearCarts(tx, agentIds);
        const ghosts = await takeBackOrders(tx, runId, agentIds);
        if (ghosts > 0) options.log?.(`Took back ${ghosts} store orders of cycles after ${lastCompletedCycle} (they run again)`);
        if (discarded.length > 0) options.log?.(`Discarded ${discarded.length} sessions written after cycle ${lastCompletedCycle}`);
        return { orphanedSessions: orphaned.length, discardedSessions: discarded.length };
      });
    },

    async endRun(runId: string, summary: Record<string, unknown>) {
      await reconcile();
      await withTimeout(
        pool.query(sql.unsafe`
        UPDATE runs SET ended_at = now(), summary = ${sql.jsonb(scrubConfig(summary) as never)}, updated_at = now()
        WHERE id = ${runId}`),
        writeTimeoutMs,
        `recording the end of run ${runId}`,
      );
    },

    async close() {
      await pool.end();
    },
  };
}

const columnRow = z.object({ table_name: z.string(), column_name: z.string() });

/**
 * Clears the carts of the given agents in the reference store's tables, if they exist in this
 * database (migration 002 adds them; a database written only by the simulation has none).
 * Works with carts keyed by `user_id` directly, or through `carts.id` → `<table>.cart_id`.
 */
export async function clearCarts(tx: DatabaseTransactionConnection, agentIds: string[]): Promise<void> {
  if (agentIds.length === 0) return;
  const cols = await tx.any(sql.type(columnRow)`
    SELECT table_name::text AS table_name, column_name::text AS column_name FROM information_schema.columns
    WHERE table_schema = ANY (current_schemas(false))
      AND table_name IN ('carts', 'cart_items', 'cart_coupons')
      AND column_name IN ('user_id', 'cart_id', 'id')`);
  const has = (t: string, c: string) => cols.some((r) => r.table_name === t && r.column_name === c);
  const ids = sql.array(agentIds, 'text');
  for (const table of ['cart_items', 'cart_coupons']) {
    if (has(table, 'user_id')) {
      await tx.query(sql.unsafe`DELETE FROM ${sql.identifier([table])} WHERE user_id = ANY (${ids})`);
    } else if (has(table, 'cart_id') && has('carts', 'id') && has('carts', 'user_id')) {
      await tx.query(sql.unsafe`
        DELETE FROM ${sql.identifier([table])} WHERE cart_id IN (SELECT id FROM carts WHERE user_id = ANY (${ids}))`);
    }
  }
}

const tableRow = z.object({ t: z.string().nullable() });
const countRow = z.object({ n: z.number() });

/**
 * Deletes the reference store's orders (this database's `orders` table, migration 002) that the
 * given agents placed since the run started and that no recorded session references: on a
 * resume, the checkouts of cycles after the checkpoint, whose sessions were just discarded.
 * Their stock goes back to the products, their coupon redemptions are undone, and their
 * idempotency keys and items go with them (ON DELETE CASCADE). Returns how many were deleted;
 * 0 when the database holds no store tables.
 */
export async function takeBackOrders(tx: DatabaseTransactionConnection, runId: string, agentIds: string[]): Promise<number> {
  if (agentIds.length === 0) return 0;
  const present = await tx.any(sql.type(tableRow)`
    SELECT to_regclass(t)::text AS t FROM unnest(ARRAY['orders', 'order_items', 'offer_assignments', 'products']::text[]) AS t`);
  if (present.some((r) => r.t === null)) return 0;
  const ids = sql.array(agentIds, 'text');
  await tx.query(sql.unsafe`
    CREATE TEMP TABLE IF NOT EXISTS shopsim_ghost_orders (id text PRIMARY KEY) ON COMMIT DROP`);
  await tx.query(sql.unsafe`
    INSERT INTO shopsim_ghost_orders (id)
    SELECT o.id FROM orders o
    WHERE o.user_id = ANY (${ids})
      AND o.created_at >= (SELECT started_at FROM runs WHERE id = ${runId})
      AND NOT EXISTS (SELECT 1 FROM shopping_sessions s WHERE s.order_id = o.id)
    ON CONFLICT DO NOTHING`);
  await tx.query(sql.unsafe`
    UPDATE products p SET stock = p.stock + q.quantity, updated_at = now()
    FROM (SELECT i.product_id, sum(i.quantity)::int AS quantity FROM order_items i
          JOIN shopsim_ghost_orders g ON g.id = i.order_id GROUP BY i.product_id) q
    WHERE p.id = q.product_id`);
  await tx.query(sql.unsafe`
    UPDATE offer_assignments SET redeemed_at = NULL, order_id = NULL
    WHERE order_id IN (SELECT id FROM shopsim_ghost_orders)`);
  const n = await tx.oneFirst(sql.type(countRow)`
    WITH d AS (DELETE FROM orders WHERE id IN (SELECT id FROM shopsim_ghost_orders) RETURNING 1)
    SELECT count(*)::int AS n FROM d`);
  await tx.query(sql.unsafe`DROP TABLE shopsim_ghost_orders`);
  return n;
}

/**
 * Collects the agent-cycles that arrive in the same turn of the event loop and writes them in
 * statements of at most `maxBatch`, of near-even size (92 waiting with N = 50: two of 46; 40 with
 * N = 16: 14, 14 and 12), which
 * run concurrently on the pool's connections, so a multi-core server works on several at once.
 */
function createGroupWriter(pool: Conn, maxBatch: number): (r: SessionRecord) => Promise<void> {
  type Pending = { record: SessionRecord; resolve: () => void; reject: (e: unknown) => void };
  const queue: Pending[] = [];
  let scheduled = false;
  const flush = () => {
    scheduled = false;
    const size = Math.ceil(queue.length / Math.ceil(queue.length / maxBatch));
    while (queue.length > 0) void writeBatch(queue.splice(0, size));
  };
  async function writeBatch(batch: Pending[]): Promise<void> {
    if (batch.length === 1) {
      const only = batch[0] as Pending;
      return writeSession(pool, only.record).then(only.resolve, only.reject);
    }
    try {
      await writeSessions(pool, batch.map((b) => b.record));
      for (const b of batch) b.resolve();
    } catch {
      // One bad agent-cycle must not fail the others: write each alone.
      await Promise.all(batch.map((b) => writeSession(pool, b.record).then(b.resolve, b.reject)));
    }
  }
  return (record) =>
    new Promise<void>((resolve, reject) => {
      queue.push({ record, resolve, reject });
      if (!scheduled) {
        scheduled = true;
        setImmediate(flush);
      }
    });
}
