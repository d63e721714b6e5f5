/**
 * `shopsim serve`: the reference store on its own, for `shopsim run --api-url` in another
 * terminal (or any client). Backed by the same database layer as the simulator (embedded
 * PGlite by default, --database-url for a server, --mock-db for memory only).
 */
import { existsSync } from 'node:fs';
import type { Command } from 'commander';
import { resolveOptions, specsFor, type RunConfig, type ServeOnlyConfig } from '../config.ts';
import { inputError } from '../errors.ts';
import { generateProducts } from '../model/catalog.ts';
import type { Product } from '../model/types.ts';
import type { StoreBackend } from '../model/store-backend.ts';
import { createStoreServer } from '../server/create-store-server.ts';
import { createMemoryBackend } from '../server/memory-backend.ts';
import { loadProducts } from '../run/load-data.ts';
import { addSpecOptions } from './help-options.ts';

const SERVE_EXAMPLES = `
Examples:
  shopsim serve --port 8787                          the store on 127.0.0.1:8787, embedded database
  shopsim run --api-url http://127.0.0.1:8787 --fast -c 24
                                                     a run against it, from another terminal (it shares
                                                     the embedded database this process holds)
  shopsim serve --mock-db --fail-rate 0.05 --latency-ms 40 --jitter-ms 20
                                                     in memory, with faults: 5% 503s, 20-60 ms answers
`;

interface ServeFlags {
  host: string;
  port: string;
  databaseUrl?: string;
  dataDir?: string;
  products: string;
  failRate: string;
  latencyMs: string;
  jitterMs: string;
  maxRps: string;
  hangRate: string;
  seed: string;
  mockDb?: boolean;
  log?: boolean;
}

export interface ServeOptions {
  host: string;
  port: number;
  databaseUrl: string | undefined;
  dataDir: string | undefined;
  productsFile: string;
  failRate: number;
  latencyMs: number;
  jitterMs: number;
  maxRps: number;
  hangRate: number;
  seed: number;
  mockDb: boolean;
  log: boolean;
}

/** Flags → options, through the option table (src/config.ts); one line naming the flag on a bad value (exit 2). */
export function parseServeFlags(f: ServeFlags, env: NodeJS.ProcessEnv = {}): ServeOptions {
  const flags: Record<string, unknown> = { ...f, storeProducts: f.products, storeSeed: f.seed };
  delete flags['products'];
  delete flags['seed'];
  // DATABASE_URL is the only variable serve reads; the other database variables are run's.
  const { config: o } = resolveOptions<RunConfig & ServeOnlyConfig>(specsFor('serve'), flags, { DATABASE_URL: env['DATABASE_URL'] });
  if (!/^[\w.:-]+$/.test(o.host)) throw inputError(`--host: expected a host name or IP address, got ${JSON.stringify(o.host)}`);
  if (f.databaseUrl !== undefined && f.dataDir !== undefined) throw inputError('--database-url and --data-dir: expected one of them, not both');
  if (f.mockDb && (f.databaseUrl !== undefined || f.dataDir !== undefined)) throw inputError('--mock-db: expected no --database-url or --data-dir with it (the store keeps everything in memory)');
  return {
    host: o.host,
    port: o.port,
    databaseUrl: o.mockDb ? undefined : (o.databaseUrl ?? undefined),
    dataDir: f.dataDir,
    productsFile: o.storeProducts,
    failRate: o.failRate,
    latencyMs: o.latencyMs,
    jitterMs: o.jitterMs,
    maxRps: o.maxRps,
    hangRate: o.hangRate,
    seed: o.storeSeed,
    mockDb: o.mockDb,
    log: o.log,
  };
}

function productsOf(file: string, defaulted: boolean): Product[] {
  if (defaulted && !existsSync(file)) return generateProducts(240, 42);
  return loadProducts(file);
}

export interface RunningStore {
  url: string;
  backend: StoreBackend;
  close(): Promise<void>;
}

/** Opens the backend and starts listening. Used by the command and by tests. */
export async function startServe(o: ServeOptions, productsDefaulted = false): Promise<RunningStore> {
  const products = productsOf(o.productsFile, productsDefaulted);
  let backend: StoreBackend;
  let closeDb: () => Promise<void> = async () => {};
  if (o.mockDb) {
    backend = createMemoryBackend({ products });
  } else {
    const { openDatabase } = await import('../db/connection.ts');
    const { createPgStoreBackend, seedProducts } = await import('../db/store-repository.ts');
    // A directory a run already holds is shared through it (either may start first).
    const db = await openDatabase({ ...(o.databaseUrl ? { databaseUrl: o.databaseUrl } : {}), ...(o.dataDir ? { dataDir: o.dataDir } : {}), attachToRunning: true });
    await seedProducts(db.pool, products);
    backend = createPgStoreBackend(db.pool, { catalog: products, renewPool: db.renewPool, lastAnswerAt: db.lastAnswerAt, onPoolReplaced: db.onPoolReplaced, timeoutPerTransaction: !db.statementTimeoutOnConnections });
    closeDb = () => db.close();
  }
  const server = createStoreServer({
    host: o.host,
    port: o.port,
    backend,
    seed: o.seed,
    failRate: o.failRate,
    latencyMs: o.latencyMs,
    jitterMs: o.jitterMs,
    maxRps: o.maxRps,
    hangRate: o.hangRate,
    logger: o.log,
  });
  let url: string;
  try {
    ({ url } = await server.listen());
  } catch (err) {
    await closeDb();
    const code = (err as { code?: string }).code;
    if (code === 'EADDRINUSE') throw inputError(`--port ${o.port}: expected a free port, ${o.host}:${o.port} is in use`);
    if (code === 'EADDRNOTAVAIL' || code === 'ENOTFOUND') throw inputError(`--host ${o.host}: expected an address of this machine`);
    throw err;
  }
  return {
    url,
    backend,
    async close() {
      await server.close();
      await backend.close();
      await closeDb();
    },
  };
}

export function registerServeCommand(program: Command): void {
  const cmd = program.command('serve').description('run the reference store (HTTP API of docs/store-api.yaml) with optional fault injection');
  // Flags, groups and defaults from the option table (src/config.ts); serve reads only DATABASE_URL.
  addSpecOptions(cmd, specsFor('serve'), { env: (spec) => (spec.key === 'databaseUrl' ? ['DATABASE_URL'] : []), first: ['server', 'faults'] });
  cmd.addHelpText('after', SERVE_EXAMPLES);
  cmd
    .action(async (flags: ServeFlags, cmd: Command) => {
      const o = parseServeFlags(flags, process.env);
      const productsDefaulted = cmd.getOptionValueSource('products') !== 'cli';
      const store = await startServe(o, productsDefaulted);
      const faults = [
        o.failRate > 0 ? `fail-rate ${o.failRate}` : '',
        o.latencyMs > 0 || o.jitterMs > 0 ? `latency ${o.latencyMs}±${o.jitterMs} ms` : '',
        o.maxRps > 0 ? `max-rps ${o.maxRps}` : '',
        o.hangRate > 0 ? `hang-rate ${o.hangRate}` : '',
      ].filter(Boolean);
      process.stderr.write(`shopsim store listening on ${store.url} (${o.mockDb ? 'in memory' : store.backend.kind})${faults.length ? `, faults: ${faults.join(', ')}` : ''}\n`);
      process.stdout.write(`${store.url}\n`);
      await new Promise<void>((resolve) => {
        const stop = () => {
          process.off('SIGINT', stop);
          process.off('SIGTERM', stop);
          resolve();
        };
        process.on('SIGINT', stop);
        process.on('SIGTERM', stop);
      });
      process.stderr.write('shopsim store stopping\n');
      await store.close();
    });
}
