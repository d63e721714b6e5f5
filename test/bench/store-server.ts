/**
 * The reference store for the pacing and e2e benchmarks, in a child process of its own and
 * answering over IPC: `serve --mock-db` as the command builds it (memory backend, the same
 * fault injector, `--max-rps R`), plus what only the server can measure:
 *  - the arrival time of every request (absolute ms: performance.timeOrigin + now, comparable
 *    across processes), 429s included, with its x-request-id, read before Fastify routes it;
 *  - its own CPU time (process.cpuUsage);
 *  - `reset`: a fresh backend from the catalog (stock, carts, orders) between runs.
 * Run by startBenchStore() in store-child.ts; not a CLI.
 */
import { generateProducts } from '../../src/model/catalog.ts';
import type { StoreBackend } from '../../src/model/store-backend.ts';
import { createStoreServer } from '../../src/server/create-store-server.ts';
import { createMemoryBackend } from '../../src/server/memory-backend.ts';

const maxRps = Number(process.argv[2] ?? 0);
const products = generateProducts(240, 42);
let current: StoreBackend = createMemoryBackend({ products });
// Every call goes to the backend of the moment, so `reset` swaps it under a running server.
const backend = new Proxy({} as StoreBackend, {
  get: (_t, k) => {
    const v = (current as unknown as Record<string | symbol, unknown>)[k];
    return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(current) : v;
  },
});
const server = createStoreServer({ host: '127.0.0.1', port: 0, backend, seed: 42, maxRps });
let arrivals: number[] = [];
let ids: string[] = [];
const origin = performance.timeOrigin;
server.app.server.prependListener('request', (req: { headers: Record<string, string | string[] | undefined>; url?: string }) => {
  if (req.url === '/health') return;
  arrivals.push(origin + performance.now());
  const id = req.headers['x-request-id'];
  ids.push(typeof id === 'string' ? id : '');
});
const { url } = await server.listen();

process.on('message', (m: { cmd: string }) => {
  if (m.cmd === 'arrivals') process.send!({ arrivals, ids, rateLimited: server.faultCounts().rate_limited });
  else if (m.cmd === 'cpu') process.send!({ cpu: process.cpuUsage(), rss: process.memoryUsage().rss });
  else if (m.cmd === 'reset') {
    current = createMemoryBackend({ products });
    arrivals = [];
    ids = [];
    process.send!({ reset: true });
  }
});
process.on('SIGTERM', () => {
  void server.close().then(() => process.exit(0));
});
process.stdout.write(`${url}\n`);
