/**
 * Chooses the edges of a run: the store (mock or HTTP) and the recorder (mock or PostgreSQL).
 * Everything the run opens here is closed by `close()`.
 */
import { ShopsimError } from '../errors.ts';
import type { RunConfig } from '../config.ts';
import type { Persona, Product, Recorder, StoreApi } from '../model/types.ts';
import { createMockStore, type MockStore } from '../store/mock-store.ts';
import { openDatabase, type Database } from '../db/connection.ts';
import { createMockRecorder } from './mock-recorder.ts';

export interface Backends {
  store: StoreApi;
  recorder: Recorder;
  /** The deterministic mock store, when --mock-api (its state goes into checkpoints). */
  mockStore: MockStore | null;
  /** Human description of where the run writes and which store it calls (no secrets). */
  describe: { store: string; database: string };
  /** The run's database (null with --mock-db); the in-process store server shares it. */
  db: Database | null;
  metrics?: () => Record<string, unknown>;
  close(): Promise<void>;
}

export async function openBackends(config: RunConfig, personas: Persona[], products: Product[]): Promise<Backends> {
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
      db = await openDatabase({ databaseUrl: config.databaseUrl ?? undefined, dataDir: config.dataDir, poolSize: config.dbPoolSize });
      const opened = db;
      closers.push(() => opened.close());
      recorder = db.recorder;
      dbDescription = db.describe();
    }

    let store: StoreApi;
    let mockStore: MockStore | null = null;
    let storeDescription: string;
    let metrics: (() => Record<string, unknown>) | undefined;
    if (config.mockApi) {
      mockStore = createMockStore({ seed: config.seed, products, agentIds: personas.map((p) => p.id), failRate: config.mockFailRate });
      store = mockStore;
      storeDescription = 'mock (in-process, deterministic)';
    } else {
      throw new ShopsimError('E_UNSUPPORTED', 'the real store client is not available yet: add --mock-api (the in-process deterministic store)', { exitCode: 2 });
    }
    return {
      store,
      recorder,
      mockStore,
      db,
      describe: { store: storeDescription, database: dbDescription },
      ...(metrics ? { metrics } : {}),
      close: closeAll,
    };
  } catch (err) {
    await closeAll();
    throw err;
  }
}
