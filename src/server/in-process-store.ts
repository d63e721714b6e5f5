/**
 * The reference store inside the `shopsim run` process: on a loopback ephemeral port, on the
 * run's own database pool (or in memory with `--mock-db`), stopped at the end of the run.
 */
import type { DatabasePool } from 'slonik';
import type { Product } from '../model/types.ts';
import type { StoreBackend } from '../model/store-backend.ts';
import { createStoreServer, type StoreServer } from './create-store-server.ts';
import type { FaultOptions } from './faults.ts';
import { createMemoryBackend } from './memory-backend.ts';

export interface InProcessStoreOptions extends FaultOptions {
  /** The run's pool (src/db openDatabase().pool); absent = memory backend. */
  pool?: DatabasePool;
  products: Product[];
  /** The run's seed: offers then match the mock store's. */
  seed: number;
}

export interface InProcessStore {
  url: string;
  backend: StoreBackend;
  server: StoreServer;
  /** Stops the server; the pool stays open (it belongs to the run). */
  close(): Promise<void>;
}

export async function startInProcessStore(o: InProcessStoreOptions): Promise<InProcessStore> {
  let backend: StoreBackend;
  if (o.pool) {
    const { createPgStoreBackend, seedProducts } = await import('../db/store-repository.ts');
    await seedProducts(o.pool, o.products);
    backend = createPgStoreBackend(o.pool, { catalog: o.products });
  } else {
    backend = createMemoryBackend({ products: o.products });
  }
  const { pool: _pool, products: _products, ...rest } = o;
  const server = createStoreServer({ ...rest, host: '127.0.0.1', port: 0, backend });
  const { url } = await server.listen();
  return { url, backend, server, close: () => server.close() };
}
