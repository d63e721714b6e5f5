/**
 * The reference store inside the `shopsim run` process: on a loopback ephemeral port, on the
 * run's own database pool (or in memory with `--mock-db`), stopped at the end of the run.
 */
import type { DatabasePool } from 'slonik';
import type { Product } from '../model/types.ts';
import type { StoreBackend } from '../model/store-backend.ts';
import { createStoreServer, type StoreServer } from './create-store-server.ts';
import type { FaultOptions } from './faults.ts';
import { createMemoryBackend, type MemoryBackend } from './memory-backend.ts';

export interface InProcessStoreOptions extends FaultOptions {
  /** The run's pool (src/db openDatabase().pool); absent = memory backend. */
  pool?: DatabasePool;
  /** The run's Database.renewPool: the store replaces the pool's connections after an outage. */
  renewPool?: () => Promise<void>;
  /** The run's Database.lastAnswerAt (a busy database is not an outage). */
  lastAnswerAt?: () => number;
  onPoolReplaced?: (f: () => void) => () => void;
  /** False when the run's connections carry a statement_timeout already (no SET LOCAL per transaction). */
  timeoutPerTransaction?: boolean;
  products: Product[];
  /** The run's seed: offers then match the mock store's. */
  seed: number;
  /**
   * Start from the catalog (a new run): the store's carts, coupons, offers, orders and
   * idempotency keys are emptied and the products set to the catalog, stock included, so what
   * another run left in the same database does not change this run's answers. A resumed run
   * keeps the store as it is.
   */
  reset?: boolean;
}

export interface InProcessStore {
  url: string;
  backend: StoreBackend;
  /** The backend when it is the in-memory one (no pool): its state goes into the run's checkpoints. */
  memory: MemoryBackend | null;
  server: StoreServer;
  /** Stops the server; the pool stays open (it belongs to the run). */
  close(): Promise<void>;
}

export async function startInProcessStore(o: InProcessStoreOptions): Promise<InProcessStore> {
  let backend: StoreBackend;
  let memory: MemoryBackend | null = null;
  if (o.pool) {
    const { createPgStoreBackend, resetStore, seedProducts } = await import('../db/store-repository.ts');
    if (o.reset) await resetStore(o.pool, o.products);
    else await seedProducts(o.pool, o.products);
    backend = createPgStoreBackend(o.pool, { catalog: o.products, ...(o.renewPool ? { renewPool: o.renewPool } : {}), ...(o.lastAnswerAt ? { lastAnswerAt: o.lastAnswerAt } : {}), ...(o.onPoolReplaced ? { onPoolReplaced: o.onPoolReplaced } : {}), ...(o.timeoutPerTransaction === false ? { timeoutPerTransaction: false } : {}) });
  } else {
    backend = memory = createMemoryBackend({ products: o.products });
  }
  const { pool: _pool, renewPool: _renew, lastAnswerAt: _last, onPoolReplaced: _replaced, timeoutPerTransaction: _perTx, products: _products, reset: _reset, ...rest } = o;
  const server = createStoreServer({ ...rest, host: '127.0.0.1', port: 0, backend });
  const { url } = await server.listen();
  return { url, backend, memory, server, close: () => server.close() };
}
