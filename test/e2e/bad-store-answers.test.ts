/**
 * A store whose answers are of the wrong shape, as a hostile proxy in front of the reference store
 * would make them: the run is never crashed and a bad answer is never a success. The CLI runs
 * against a loopback proxy that forwards to the reference store (in memory) and rewrites chosen
 * answers.
 */
import { readFileSync } from 'node:fs';
import { createServer, request, type Server } from 'node:http';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Product } from '../../src/model/types.ts';
import { startInProcessStore, type InProcessStore } from '../../src/server/in-process-store.ts';
import { DATA, ROOT, startCli, summaryOf, tempDir } from './helpers.ts';

const products = JSON.parse(readFileSync(join(ROOT, 'data/products.json'), 'utf8')) as Product[];
const scratch = tempDir('shopsim-bad-answers-');
let store: InProcessStore;

/** Rewrites the answer of `method path` (path without the query) when `rewrite` returns a body. */
type Rewrite = (method: string, path: string, n: number, body: string) => string | null;

interface Proxy {
  url: string;
  rewritten: number;
  /** Checkout answers passed through unchanged: their order totals. */
  passedCheckouts: number[];
  close(): Promise<void>;
}

async function proxy(rewrite: Rewrite): Promise<Proxy> {
  const target = new URL(store.url);
  const counts = new Map<string, number>();
  const state = { rewritten: 0, passedCheckouts: [] as number[] };
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const up = request({ host: target.hostname, port: target.port, method: req.method, path: req.url, headers: req.headers }, (ans) => {
        const body: Buffer[] = [];
        ans.on('data', (c: Buffer) => body.push(c));
        ans.on('end', () => {
          const text = Buffer.concat(body).toString('utf8');
          const path = (req.url ?? '').split('?')[0] as string;
          const key = `${req.method} ${path.replace(/^\/products\/.+/, '/products/:id')}`;
          const n = (counts.get(key) ?? 0) + 1;
          counts.set(key, n);
          const ok = (ans.statusCode ?? 500) < 300;
          const replaced = ok ? rewrite(req.method ?? '', key.slice(key.indexOf(' ') + 1), n, text) : null;
          if (replaced !== null) state.rewritten++;
          else if (ok && key === 'POST /checkout') state.passedCheckouts.push((JSON.parse(text) as { total_cents: number }).total_cents);
          const out = replaced ?? text;
          res.writeHead(ans.statusCode ?? 500, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(out) });
          res.end(out);
        });
      });
      up.on('error', () => {
        res.writeHead(502);
        res.end();
      });
      up.end(Buffer.concat(chunks));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const addr = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${addr.port}`,
    get rewritten() {
      return state.rewritten;
    },
    passedCheckouts: state.passedCheckouts,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

beforeAll(async () => {
  store = await startInProcessStore({ products, seed: 42 });
});
afterAll(async () => {
  await store.close();
  scratch.cleanup();
});

const RUN = ['run', '--profile', 'seed', '--agents', '120', '--cycles', '8', '--fast', '--mock-db', '--json', '--breaker-percent', '100', '--rate-limit', '0', ...DATA];

describe('a store answering with bodies of the wrong shape', () => {
  it('{"items":"not-a-list"} for every product page: every shopping session fails with BAD_RESPONSE; the run completes with its summary', async () => {
    const p = await proxy((_m, path) => (path === '/products' ? '{"items":"not-a-list"}' : null));
    try {
      const r = await startCli([...RUN, '--api-url', p.url, '--checkpoint-dir', join(scratch.dir, 'a')]).exit;
      expect(r.code).toBe(0);
      const s = summaryOf(r);
      expect(s['exit_reason']).toBe('completed');
      expect(p.rewritten).toBeGreaterThan(0);
      expect(s['sessions_failed']).toBe(s['sessions_created']);
      expect(s['checkouts_completed']).toBe(0);
      expect((s['breaker'] as { failure_samples: { message: string }[] }).failure_samples[0]?.message).toBe('GET /products: the answer does not match the store contract: items: Expected array, received string');
    } finally {
      await p.close();
    }
  });

  it('null for product pages, {} for one offers answer in 7: failures, no crash', async () => {
    const p = await proxy((_m, path, n) => (path === '/products/:id' && n % 3 === 0 ? 'null' : path === '/offers' && n % 7 === 0 ? '{}' : null));
    try {
      const r = await startCli([...RUN, '--api-url', p.url, '--checkpoint-dir', join(scratch.dir, 'b')]).exit;
      expect(r.code).toBe(0);
      const s = summaryOf(r);
      expect(s['exit_reason']).toBe('completed');
      expect(s['sessions_failed']).toBeGreaterThan(0);
      expect(s['sessions_failed']).toBeGreaterThanOrEqual(p.rewritten);
      expect(s['checkouts_completed']).toBeGreaterThan(0);
    } finally {
      await p.close();
    }
  });

  it('{} for 1 in 5 checkouts: exactly the other four are completed checkouts, and revenue is theirs', async () => {
    const p = await proxy((_m, path, n) => (path === '/checkout' && n % 5 === 0 ? '{}' : null));
    try {
      const r = await startCli([...RUN, '--api-url', p.url, '--checkpoint-dir', join(scratch.dir, 'c')]).exit;
      expect(r.code).toBe(0);
      const s = summaryOf(r);
      expect(p.rewritten).toBeGreaterThan(0);
      expect(s['checkouts_completed']).toBe(p.passedCheckouts.length);
      expect(s['revenue_cents']).toBe(p.passedCheckouts.reduce((a, b) => a + b, 0));
      expect(s['sessions_failed']).toBeGreaterThanOrEqual(p.rewritten);
    } finally {
      await p.close();
    }
  });
});
