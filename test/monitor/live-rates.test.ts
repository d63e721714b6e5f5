import { describe, expect, it } from 'vitest';
import { calendarWeights, createRateWindow, endpointTable, errorPercent, etaSeconds, progressBar, trimSamples, windowRates, type RateSample } from '../../src/monitor/live-rates.ts';
import { renderDashboard, visibleText } from '../../src/monitor/dashboard.ts';
import { formatCycleLine } from '../../src/monitor/cycle-line.ts';
import { sampleStats } from './fixtures.ts';

const at = (atMs: number, requests: number, sessions = 0, calls = requests, errors = 0): RateSample => ({ atMs, requests, sessions, calls, errors });

describe('windowed rates', () => {
  it('measures only the window, not the run average', () => {
    // 10 req/s for 60 s, then 50 req/s for 30 s.
    const samples: RateSample[] = [];
    for (let t = 0; t <= 60; t += 5) samples.push(at(t * 1000, t * 10, t));
    for (let t = 65; t <= 90; t += 5) samples.push(at(t * 1000, 600 + (t - 60) * 50, 60 + (t - 60) * 2));
    const r = windowRates(samples, 90_000, 30_000);
    expect(r.requestsPerSecond).toBeCloseTo(50, 6);
    expect(r.sessionsPerMinute).toBeCloseTo(120, 6);
    const avg = samples.at(-1)!.requests / 90;
    expect(avg).toBeLessThan(r.requestsPerSecond!);
  });

  it('keeps one sample before the window as its base', () => {
    const s = [at(0, 0), at(10_000, 100), at(40_000, 400)];
    expect(trimSamples(s, 40_000, 30_000).map((x) => x.atMs)).toEqual([10_000, 40_000]);
  });

  it('gives the error rate of the window in %', () => {
    const r = windowRates([at(0, 0, 0, 0, 0), at(10_000, 200, 0, 200, 5)], 10_000, 30_000);
    expect(r.errorPercent).toBeCloseTo(2.5, 6);
    expect(errorPercent(0, 0)).toBe(0);
  });

  it('says paused instead of decaying, and restarts after a pause', () => {
    const w = createRateWindow(30_000);
    w.add(at(0, 0));
    w.add(at(10_000, 100));
    expect(w.rates(10_000).requestsPerSecond).toBeCloseTo(10, 6);
    expect(w.rates(60_000, true)).toMatchObject({ paused: true, requestsPerSecond: null });
    w.clear();
    w.add(at(70_000, 100));
    expect(w.rates(70_000).requestsPerSecond).toBeNull();
    w.add(at(72_000, 140));
    expect(w.rates(72_000).requestsPerSecond).toBeCloseTo(20, 6);
  });

  it('has no rate with fewer than two samples', () => {
    expect(windowRates([at(0, 5)], 0, 30_000).requestsPerSecond).toBeNull();
  });
});

describe('progress and ETA', () => {
  it('weights remaining cycles by expected work', () => {
    // 2 cycles of weight 1 took 10 s (5 s per unit); remaining weights 4 + 4 → 40 s.
    expect(etaSeconds(2, 4, 10, [1, 1, 4, 4])).toBeCloseTo(40, 6);
    expect(etaSeconds(2, 4, 10)).toBeCloseTo(10, 6);
    expect(etaSeconds(0, 4, 0)).toBeNull();
    expect(etaSeconds(4, 4, 10)).toBe(0);
  });

  it('takes expected work per simulated hour from the personas\' hour affinity', () => {
    const hour = Array.from({ length: 24 }, (_, h) => (h >= 9 && h < 17 ? 1 : 0));
    const p = { shopping_frequency: 0.5, hour_affinity: hour, weekday_affinity: 1, weekend_affinity: 1 } as never;
    const w = calendarWeights([p, p], Date.UTC(2024, 0, 1), 24);
    expect(w).toHaveLength(24);
    expect(w[10]).toBeGreaterThan(w[3]!);
    expect(w[10]! - w[3]!).toBeCloseTo(1, 6);
    expect(w[3]).toBeGreaterThan(0);
  });

  it('draws a bar of the given width', () => {
    const b = progressBar(6, 24, 40);
    expect(b.length).toBe(40);
    expect(b).toMatch(/ 25%$/);
  });
});

describe('per-endpoint table', () => {
  const eps = Object.fromEntries(
    ['GET /products', 'POST /carts/:id/items', 'POST /checkout', 'GET /a-very-long-endpoint-name/with/many/segments/:id/and/more'].map((n, i) => [
      n,
      { count: 1000 * (i + 1), errors: i, latency_ms: { p50: 1.25 * (i + 1), p95: 120.4, p99: 1234.5 } },
    ]),
  );
  it('fits 80 columns, most-called first', () => {
    const lines = endpointTable(eps, 80);
    for (const l of lines) expect(l.length, l).toBeLessThanOrEqual(80);
    expect(lines[0]).toMatch(/^endpoint\s+calls\s+errors\s+p50 ms\s+p95 ms\s+p99 ms$/);
    expect(lines[1]).toContain('4000');
    expect(lines).toHaveLength(5);
  });
  it('limits the rows and says how many are left out', () => {
    const lines = endpointTable(eps, 80, 2);
    expect(lines).toHaveLength(4);
    expect(lines[3]).toContain('2 more endpoints');
  });
});

describe('dashboard and cycle line with live figures', () => {
  const metrics = {
    requests: 5000,
    calls: 5000,
    errors: 0,
    requests_per_second: 31.9,
    latency_ms: { p50: 2, p95: 18, p99: 40 },
    http_errors: {},
    retries_429: 0,
    endpoints: { 'GET /products': { count: 3000, errors: 0, latency_ms: { p50: 1, p95: 2, p99: 3 } }, 'POST /checkout': { count: 2000, errors: 0, latency_ms: { p50: 5, p95: 9, p99: 12 } } },
  };
  it('shows the progress bar, window rates, HTTP errors 0 and the endpoint rows within 80×24', () => {
    const stats = sampleStats({ metrics, status: 'running' });
    const out = renderDashboard({ stats, memory: null, live: { rates: { requestsPerSecond: 46.7, sessionsPerMinute: 12, errorPercent: 0, paused: false }, etaSeconds: 125 } });
    const lines = out.split('\n');
    expect(lines.length).toBeLessThanOrEqual(24);
    for (const l of lines) expect(visibleText(l).length, l).toBeLessThanOrEqual(80);
    expect(out).toContain('ETA 2m05s');
    expect(out).toMatch(/46\.7 \(avg 31\.9\)/);
    expect(out).toMatch(/HTTP errors\s*│?\s*0\b/);
    expect(out).toContain('POST /checkout');
  });
  it('says paused while paused', () => {
    const stats = sampleStats({ metrics, status: 'paused' });
    const out = renderDashboard({ stats, memory: null, live: { rates: { requestsPerSecond: null, sessionsPerMinute: null, errorPercent: null, paused: true }, etaSeconds: null } });
    expect(out).toMatch(/paused \(avg 31\.9\)/);
    const s = sampleStats({ metrics });
    const r = { cycle: 6, simulatedTime: '2024-01-01T06:00:00.000Z', active: 1, totals: s.totals, runTotals: s.totals, threshold: 0, breakerOpen: false, lagSeconds: 0, durationSeconds: 0, digest: '' };
    const line = formatCycleLine(r, s, null, { rates: { requestsPerSecond: null, sessionsPerMinute: null, errorPercent: null, paused: true }, etaSeconds: 60 });
    expect(line).toContain('win_req_s=paused');
    expect(line).toContain('http_errors=0');
    expect(line).toContain('eta=1m00s');
  });
});

describe('windowed latency percentiles', () => {
  it('reports the last 30 s beside the cumulative figures', async () => {
    const { createLatencyTracker } = await import('../../src/metrics/latency.ts');
    const t = createLatencyTracker();
    // 100 slow calls early in the run, then 100 fast ones in the last 30 s.
    for (let i = 0; i < 100; i++) t.record('GET /products', 200, 200, 'ok', 1_000 + i * 10);
    for (let i = 0; i < 100; i++) t.record('GET /products', 5, 5, 'ok', 100_000 + i * 100);
    const r = t.report(110_000);
    expect(r.latency_ms.p95).toBeGreaterThan(150);
    expect(r.recent_latency_ms!.count).toBe(100);
    expect(r.recent_latency_ms!.p95).toBeLessThan(6);
    expect(t.report(300_000).recent_latency_ms!.count).toBe(0);
    expect(t.report().recent_latency_ms).toBeUndefined();
  });

  it('the dashboard shows both rows and still fits 80×24', () => {
    const stats = sampleStats({
      status: 'running',
      metrics: {
        requests: 10, calls: 10, errors: 0, requests_per_second: 1, http_errors: {}, retries_429: 0,
        latency_ms: { p50: 95, p95: 180, p99: 200, count: 10 },
        recent_latency_ms: { p50: 2, p95: 18, p99: 40, count: 5 },
        endpoints: Object.fromEntries(Array.from({ length: 12 }, (_, i) => [`GET /e${i}`, { count: i, errors: 0, latency_ms: { p50: 1, p95: 2, p99: 3 } }])),
      },
    });
    const out = renderDashboard({ stats, memory: null, notices: ['checkpoint written', 'second notice'], live: { rates: { requestsPerSecond: 1, sessionsPerMinute: 1, errorPercent: 0, paused: false }, etaSeconds: 5 } });
    const lines = out.split('\n');
    expect(lines.length).toBeLessThanOrEqual(24);
    for (const l of lines) expect(visibleText(l).length, l).toBeLessThanOrEqual(80);
    expect(out).toMatch(/p50\/95\/99 30s\s*│\s*2 \/ 18 \/ 40 ms/);
    expect(out).toMatch(/p50\/95\/99 all\s*│\s*95 \/ 180 \/ 200 ms/);
    expect(out).toContain('more endpoints');
    // A taller terminal (40 rows) gets more of the endpoints, still within its height less the cursor's row.
    const tall = renderDashboard({ stats, memory: null, notices: ['checkpoint written', 'second notice'], live: { rates: { requestsPerSecond: 1, sessionsPerMinute: 1, errorPercent: 0, paused: false }, etaSeconds: 5 } }, { width: 120, height: 40 });
    const tallLines = tall.split('\n');
    expect(tallLines.length).toBeLessThanOrEqual(39);
    const shown = (text: string) => Array.from({ length: 12 }, (_, i) => `GET /e${i} `).filter((e) => text.includes(e)).length;
    expect(shown(tall)).toBeGreaterThan(shown(out));
    expect(tall).toContain('second notice');
  });

  it('the live dashboard shows the 429s and the pace the client backed off to (issue 17, AIMD)', () => {
    const metrics = {
      requests: 1000, calls: 990, errors: 0, requests_per_second: 95, http_errors: { '429': 12 }, retries_429: 12, effective_rate: 90,
      latency_ms: { p50: 3, p95: 9, p99: 20, count: 990 },
      recent_latency_ms: { p50: 2, p95: 8, p99: 15, count: 400 },
    };
    const live = { rates: { requestsPerSecond: 90, sessionsPerMinute: 1, errorPercent: 0, paused: false }, etaSeconds: 5 };
    const out = renderDashboard({ stats: sampleStats({ status: 'running', metrics }), memory: null, live });
    expect(out).toMatch(/Retries 429\s*│\s*12 · pace 90\/s/);
    expect(out).toMatch(/HTTP errors\s*│\s*12 \(429s 12\)/);
  });
});
