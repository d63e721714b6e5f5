import { afterEach, describe, expect, it } from 'vitest';
import { generateProducts } from '../../src/model/catalog.ts';
import type { CallContext } from '../../src/model/types.ts';
import { createStoreServer, type StoreServer } from '../../src/server/create-store-server.ts';
import { createFaultInjector } from '../../src/server/faults.ts';
import { createMemoryBackend } from '../../src/server/memory-backend.ts';
import { parseServeFlags } from '../../src/cli/serve.ts';
import { createHttpStore, type HttpStore } from '../../src/store/http-store.ts';

const products = generateProducts(20, 42);
const ctx = (n: number): CallContext => ({ agentId: `agent_${n}`, agentIndex: n, cycle: 1, at: '2024-01-01T10:00:00Z', callSeq: 1 });
let cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanup.reverse()) await c();
  cleanup = [];
});

async function stack(faults: Record<string, number>, client: Partial<Parameters<typeof createHttpStore>[0]> = {}): Promise<{ server: StoreServer; store: HttpStore }> {
  const server = createStoreServer({ backend: createMemoryBackend({ products }), port: 0, ...faults });
  const { url } = await server.listen();
  const store = createHttpStore({ baseUrl: url, rateLimit: 0, ...client });
  cleanup.push(() => server.close(), () => store.close());
  return { server, store };
}

describe('fault injection', () => {
  it('the sliding window allows at most maxRps in any second', () => {
    const f = createFaultInjector({ maxRps: 10 });
    const ok = Array.from({ length: 30 }, (_, i) => f.decide(i * 10).kind === 'pass').filter(Boolean).length;
    expect(ok).toBe(10);
    const d = f.decide(500);
    expect(d).toEqual({ kind: 'rate_limited', retryAfterSeconds: 1 });
    expect(f.decide(1000).kind).toBe('pass');
  });

  it('--fail-rate answers that share with 503 (seeded)', async () => {
    const { store, server } = await stack({ failRate: 0.3, seed: 1 });
    const res = await Promise.allSettled(Array.from({ length: 200 }, (_, i) => store.getCart(ctx(i))));
    const failed = res.filter((r) => r.status === 'rejected').length;
    expect(failed).toBeGreaterThan(35);
    expect(failed).toBeLessThan(85);
    expect(store.metrics().http_errors['503']).toBe(failed);
    expect(server.faultCounts().failed).toBe(failed);
  });

  it('--latency-ms with --jitter-ms delays answers within the band', async () => {
    const { store } = await stack({ latencyMs: 60, jitterMs: 20 });
    await Promise.all(Array.from({ length: 20 }, (_, i) => store.getCart(ctx(i))));
    const l = store.metrics().latency_ms;
    expect(l.p50).toBeGreaterThanOrEqual(40);
    expect(l.max).toBeLessThan(150);
  });

  it('--hang-rate never answers: the client times out into a failure', async () => {
    const { store, server } = await stack({ hangRate: 1 }, { requestTimeoutMs: 200 });
    const err = await store.getCart(ctx(1)).catch((e: unknown) => e);
    expect(err).toMatchObject({ kind: 'failed', storeCode: 'TIMEOUT' });
    expect(server.faultCounts().hung).toBe(1);
    expect(store.metrics().timeouts).toBe(1);
  });

  it('--max-rps: the client waits out Retry-After and every call succeeds', async () => {
    const { store, server } = await stack({ maxRps: 20 });
    const t0 = performance.now();
    const res = await Promise.all(Array.from({ length: 30 }, (_, i) => store.getCart(ctx(i))));
    expect(res).toHaveLength(30);
    expect(performance.now() - t0).toBeGreaterThanOrEqual(990);
    const m = store.metrics();
    expect(m.retries_429).toBeGreaterThan(0);
    expect(m.retries_429).toBe(server.faultCounts().rate_limited);
  });
});

describe('shopsim serve flags', () => {
  const base = { host: '127.0.0.1', port: '8787', products: 'data/products.json', failRate: '0', latencyMs: '0', jitterMs: '0', maxRps: '0', hangRate: '0', seed: '42' };
  it.each([
    [{ failRate: '1.5' }, '--fail-rate: expected a probability from 0 to 1, got "1.5"'],
    [{ hangRate: 'x' }, '--hang-rate: expected a probability from 0 to 1'],
    [{ port: '70000' }, '--port: expected an integer from 0 to 65535'],
    [{ maxRps: '2.5' }, '--max-rps: expected an integer >= 0'],
    [{ latencyMs: '-1' }, '--latency-ms: expected a number of milliseconds >= 0'],
    [{ jitterMs: '' }, '--jitter-ms: expected'],
    [{ seed: '-3' }, '--seed: expected an integer >= 0'],
    [{ databaseUrl: 'mysql://x' }, '--database-url: expected a postgres://'],
    [{ databaseUrl: 'postgres://x', dataDir: 'd' }, '--database-url and --data-dir: expected one of them'],
    [{ mockDb: true, dataDir: 'd' }, '--mock-db: expected no --database-url or --data-dir'],
  ])('%o → %s', (flags, message) => {
    let err: unknown;
    try {
      parseServeFlags({ ...base, ...flags } as never);
    } catch (e) {
      err = e;
    }
    expect(err).toMatchObject({ code: 'E_INPUT', exitCode: 2 });
    expect((err as Error).message).toContain(message);
    expect((err as Error).message).not.toContain('\n');
  });

  it('parses good values', () => {
    expect(parseServeFlags({ ...base, failRate: '0.5', maxRps: '100', mockDb: true })).toMatchObject({ failRate: 0.5, maxRps: 100, port: 8787, mockDb: true });
  });
});
