/**
 * Chooses the edges of a run: the store (mock or HTTP) and the recorder (mock or PostgreSQL).
 * Everything the run opens here is closed by `close()`.
 */
import type { RunConfig } from '../config.ts';
import type { Persona, Product, Recorder, StoreApi } from '../model/types.ts';
import { createMockStore, type MockStore } from '../store/mock-store.ts';
import { openDatabase, type Database } from '../db/connection.ts';
import { redactUrl } from '../url.ts';
import { startInProcessStore } from '../server/in-process-store.ts';
import type { MemoryBackend } from '../server/memory-backend.ts';
import { createHttpStore } from '../store/http-store.ts';
import { createSharedLimiterState } from '../store/rate-limiter.ts';
import { createMockRecorder } from '../simulation/mock-recorder.ts';

export interface Backends {
  store: StoreApi;
  recorder: Recorder;
  /** The deterministic mock store, when --mock-api (its state goes into checkpoints). */
  mockStore: MockStore | null;
  /** Human description of where the run writes and which store it calls (no secrets). */
  describe: { store: string; database: string };
  /** The run's database (null with --mock-db); the in-process store server shares it. */
  db: Database | null;
  /** The bundled store's in-memory backend (no --api-url, --mock-db): its state goes into checkpoints. */
  memoryStore: MemoryBackend | null;
  /** The HTTP store's base URL (null with --mock-api): worker threads open their own clients to it. */
  storeUrl: string | null;
  /**
   * `--workers N` against a real store with a rate limit: the run's one rate schedule, shared by
   * this process's client and every worker thread's (the limit holds for all together).
   */
  limiterState: SharedArrayBuffer | null;
  metrics?: () => Record<string, unknown>;
  close(): Promise<void>;
}

/** Opens the store and the recorder a run's options ask for; on failure closes what it opened. */
/** `callKeyPrefix`: the store client keys every cart change with it (src/store/http-store.ts). */
export async function openBackends(config: RunConfig, personas: Persona[], products: Product[], extra: { callKeyPrefix?: string } = {}): Promise<Backends> {
  const closers: (() => Promise<void>)[] = [];
  const closeAll = async () => {
    for (const close of closers.reverse()) await close().catch(() => {});
    closers.length = 0;
  };
  try {
    // The database first: it fails fast (one line, exit 2) before any agent starts, and the
    // in-process reference store shares it.
    let db: Database | null = null;
    let recorder: Recorder;
    let dbDescription: string;
    if (config.mockDb) {
      recorder = createMockRecorder();
      dbDescription = 'none (--mock-db)';
    } else {
      // An embedded directory another process holds (`shopsim serve`) is shared through that process.
      db = await openDatabase({ databaseUrl: config.databaseUrl ?? undefined, dataDir: config.dataDir, attachToRunning: true, poolSize: config.dbPoolSize, writeTimeoutMs: config.dbWriteTimeout * 1000, groupCommit: config.dbGroupCommit,
        connectionTimeoutMs: config.dbConnectTimeout * 1000, statementTimeoutMs: config.dbStatementTimeout * 1000, idleTimeoutMs: config.dbIdleTimeout * 1000 });
      const opened = db;
      closers.push(() => opened.close());
      recorder = db.recorder;
      dbDescription = db.describe();
    }

    let store: StoreApi;
    let mockStore: MockStore | null = null;
    let storeDescription: string;
    let storeUrl: string | null = null;
    let limiterState: SharedArrayBuffer | null = null;
    let memoryStore: MemoryBackend | null = null;
    let metrics: (() => Record<string, unknown>) | undefined;
    let storeMetrics: (() => Record<string, unknown>) | undefined;
    if (config.mockApi) {
      mockStore = createMockStore({ seed: config.seed, products, agentIds: personas.map((p) => p.id), failRate: config.mockFailRate });
      store = mockStore;
      storeDescription = 'mock (in-process, deterministic)';
    } else {
      let baseUrl: string;
      if (config.apiUrl) {
        baseUrl = config.apiUrl; // validated (http/https, no trailing slash) by src/config.ts
        storeDescription = redactUrl(baseUrl);
      } else {
        // No --api-url: the bundled reference store, in this process, on a loopback ephemeral
        // port, sharing the run's database (or in memory with --mock-db).
        // A new run starts it from the catalog (same seed → same answers, whatever another run
        // left in this database); a resumed run continues with the store as it is.
        const resuming = !config.fresh && (config.resume !== false || config.resumeFrom !== null);
        const inproc = await startInProcessStore({ ...(db ? { pool: db.pool, renewPool: db.renewPool, lastAnswerAt: db.lastAnswerAt, onPoolReplaced: db.onPoolReplaced, timeoutPerTransaction: !db.statementTimeoutOnConnections } : {}), products, seed: config.seed, reset: !resuming });
        closers.push(() => inproc.close());
        memoryStore = inproc.memory;
        storeMetrics = () => ({ stock_refusals: inproc.server.stockRefusals() });
        baseUrl = inproc.url;
        storeDescription = `reference store (in-process, ${inproc.url})`;
      }
      storeUrl = baseUrl;
      if (config.workers > 0 && config.rateLimit > 0) limiterState = createSharedLimiterState(config.rateLimit);
      const http = createHttpStore({
        ...(limiterState ? { limiterState } : {}),
        ...(extra.callKeyPrefix !== undefined ? { callKeyPrefix: extra.callKeyPrefix } : {}),
        baseUrl,
        connections: config.connections,
        requestTimeoutMs: config.requestTimeout * 1000,
        rateLimit: config.rateLimit,
        ...(config.burst !== null ? { burst: config.burst } : {}),
      });
      closers.push(() => http.close());
      store = http;
      const bundled = storeMetrics;
      metrics = () => ({ ...http.metrics(), ...(bundled?.() ?? {}) });
    }
    // The database recorder's write figures join the store's (summary key `db_writes`).
    const httpMetrics = metrics;
    const dbMetrics = recorder.metrics?.bind(recorder);
    if (dbMetrics) metrics = () => ({ ...(httpMetrics?.() ?? {}), db_writes: dbMetrics() });
    return {
      store,
      recorder,
      mockStore,
      memoryStore,
      db,
      storeUrl,
      limiterState,
      describe: { store: storeDescription, database: dbDescription },
      ...(metrics ? { metrics } : {}),
      close: closeAll,
    };
  } catch (err) {
    await closeAll();
    throw err;
  }
}
