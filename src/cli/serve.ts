/**
 * `shopsim serve`: the reference store on its own, for `shopsim run --api-url` in another
 * terminal (or any client). Backed by the same database layer as the simulator (embedded
 * PGlite by default, --database-url for a server, --mock-db for memory only).
 */
import { existsSync } from 'node:fs';
import type { Command } from 'commander';
import { inputError } from '../errors.ts';
import { generateProducts } from '../model/catalog.ts';
import type { Product } from '../model/types.ts';
import type { StoreBackend } from '../model/store-backend.ts';
import { createStoreServer } from '../server/create-store-server.ts';
import { createMemoryBackend } from '../server/memory-backend.ts';
import { loadProducts } from '../simulation/load-data.ts';

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

function num(flag: string, raw: string, expected: string, ok: (n: number) => boolean): number {
  const n = raw.trim() === '' ? Number.NaN : Number(raw);
  if (!ok(n)) throw inputError(`${flag}: expected ${expected}, got ${JSON.stringify(raw)}`);
  return n;
}

/** Flags → options; one line naming the flag on a bad value (exit 2). */
export function parseServeFlags(f: ServeFlags, env: NodeJS.ProcessEnv = {}): ServeOptions {
  const probability = (n: number) => Number.isFinite(n) && n >= 0 && n <= 1;
  const nonNegative = (n: number) => Number.isFinite(n) && n >= 0;
  if (!/^[\w.:-]+$/.test(f.host)) throw inputError(`--host: expected a host name or IP address, got ${JSON.stringify(f.host)}`);
  const databaseUrl = f.databaseUrl ?? env['DATABASE_URL'];
  if (f.databaseUrl !== undefined && f.dataDir !== undefined) throw inputError('--database-url and --data-dir: expected one of them, not both');
  if (f.mockDb && (f.databaseUrl !== undefined || f.dataDir !== undefined)) throw inputError('--mock-db: expected no --database-url or --data-dir with it (the store keeps everything in memory)');
  if (databaseUrl !== undefined && !/^postgres(ql)?:\/\//.test(databaseUrl)) throw inputError('--database-url: expected a postgres:// or postgresql:// URL');
  return {
    host: f.host,
    port: num('--port', f.port, 'an integer from 0 to 65535', (n) => Number.isInteger(n) && n >= 0 && n <= 65535),
    databaseUrl: f.mockDb ? undefined : databaseUrl,
    dataDir: f.dataDir,
    productsFile: f.products,
    failRate: num('--fail-rate', f.failRate, 'a probability from 0 to 1', probability),
    latencyMs: num('--latency-ms', f.latencyMs, 'a number of milliseconds >= 0', nonNegative),
    jitterMs: num('--jitter-ms', f.jitterMs, 'a number of milliseconds >= 0', nonNegative),
    maxRps: num('--max-rps', f.maxRps, 'an integer >= 0 (0 = no limit)', (n) => Number.isInteger(n) && n >= 0),
    hangRate: num('--hang-rate', f.hangRate, 'a probability from 0 to 1', probability),
    seed: num('--seed', f.seed, 'an integer >= 0', (n) => Number.isInteger(n) && n >= 0),
    mockDb: f.mockDb === true,
    log: f.log === true,
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
    const db = await openDatabase({ ...(o.databaseUrl ? { databaseUrl: o.databaseUrl } : {}), ...(o.dataDir ? { dataDir: o.dataDir } : {}) });
    await seedProducts(db.pool, products);
    backend = createPgStoreBackend(db.pool, { catalog: products });
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
  program
    .command('serve')
    .description('run the reference store (HTTP API of docs/store-api.yaml) with optional fault injection')
    .option('--host <host>', 'address to bind', '127.0.0.1')
    .option('--port <n>', 'port (0 = any free port)', '8787')
    .option('--database-url <url>', 'PostgreSQL URL (default: DATABASE_URL, else the embedded database)')
    .option('--data-dir <dir>', 'embedded database directory (default data/pglite)')
    .option('--products <file>', 'product catalog (default data/products.json; generated when absent)', 'data/products.json')
    .option('--fail-rate <p>', 'answer this share of requests with 503', '0')
    .option('--latency-ms <ms>', 'delay every answer by this much', '0')
    .option('--jitter-ms <ms>', 'plus or minus up to this much', '0')
    .option('--max-rps <n>', 'beyond n requests in any second: 429 with Retry-After (0 = no limit)', '0')
    .option('--hang-rate <p>', 'never answer this share of requests', '0')
    .option('--seed <n>', 'seeds offers and fault draws', '42')
    .option('--mock-db', 'keep the store in memory (no database)')
    .option('--log', 'log every request (pino JSON on stdout)')
    .action(async (flags: ServeFlags, cmd: Command) => {
      const o = parseServeFlags(flags, process.env);
      const productsDefaulted = cmd.getOptionValueSource('products') === 'default';
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
