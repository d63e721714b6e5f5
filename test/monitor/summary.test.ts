/** The end summary fits one screen, keeps the paths whole and prints money the way the report does. */
import { describe, expect, it } from 'vitest';
import type { RunSummary } from '../../src/model/run.ts';
import { formatMoney } from '../../src/monitor/money.ts';
import { renderSummary } from '../../src/monitor/summary.ts';

const ENDPOINTS = ['GET /products/:id', 'POST /cart/items', 'GET /products', 'GET /offers', 'POST /checkout', 'POST /cart/coupon', 'POST /offer-cycles', 'DELETE /cart/items/:id'];
const lat = (p: number) => ({ p50: p, p95: p * 4, p99: p * 9, max: p * 20, mean: p, count: 10 });
const CHECKPOINT = '/home/someone/projects/a-rather-long-directory-name/shop/data/checkpoints/checkpoint_run-20261202-043739-fda281_cycle_000010.json';

function summary(over: Partial<RunSummary> = {}): RunSummary {
  return {
    run_id: 'run-20261202-043739-fda281', exit_reason: 'stopped', agents: 30, seed: 42, time_scale: 24, cycles_completed: 10, cycles_total: 24,
    simulated_start: '2024-01-01T00:00:00.000Z', simulated_end: '2024-01-01T10:00:00.000Z',
    sessions_created: 56, checkouts_completed: 22, sessions_abandoned: 10, sessions_failed: 3, idle_browses: 21, carts_created: 31, coupons_applied: 12,
    events_created: 378, offers_assigned: 43, requests: 291, revenue_cents: 213_345, agent_failures: 3,
    breaker: { state: 'closed', threshold: 1, percent: 5, trips: 0, last_cycle_failures: 0, failure_samples: [] },
    digest: 'sha256:4d8cf025a203c9649bbb7921eb2519bed1b461afc67a96c0d9632dfd9f59fdc0', wall_seconds: 6.2, real_elapsed_seconds: 6.1, cycle_lag_max_s: 0,
    is_replay: false, resumed_from: null, last_checkpoint: CHECKPOINT,
    requests_per_second: 47.5, errors: 2, timeouts: 1, retries_429: 0, latency_ms: lat(1),
    endpoints: Object.fromEntries(ENDPOINTS.map((e, i) => [e, { count: 100 - i, errors: i % 2, latency_ms: lat(i + 0.5) }])),
    store: 'reference store (in-process, http://127.0.0.1:35137)', database: '127.0.0.1:40000/postgres (embedded)',
    db_writes: { commits: 300, events: 378, failed: 0, statements: 300, commit_ms: { p50: 1.2, p95: 3.4, p99: 9.9 } },
    ...over,
  } as RunSummary;
}

describe('renderSummary', () => {
  it('fits one 80-column screen with eight endpoints, outcome first', () => {
    const lines = renderSummary(summary()).split('\n');
    expect(lines.length, lines.join('\n')).toBeLessThanOrEqual(25);
    expect(lines[0]).toBe('Run run-20261202-043739-fda281: stopped by the user (state saved)');
    // Only the lines that carry a path a user pastes may be longer than the screen.
    for (const l of lines.filter((x) => !x.includes(CHECKPOINT))) expect(l.length, l).toBeLessThanOrEqual(80);
    for (const e of ENDPOINTS) expect(lines.some((l) => l.includes(e))).toBe(true);
  });

  it('prints the checkpoint path whole, and the commands that continue and check the run', () => {
    const text = renderSummary(summary(), { reportArgs: '--data-dir /tmp/x' });
    expect(text).toContain(`\nCheckpoint  ${CHECKPOINT}\n`);
    expect(text).toContain(`shopsim run --resume-from ${CHECKPOINT}`);
    expect(text).toContain(`shopsim replay ${CHECKPOINT} --verify`);
    expect(text).toContain('shopsim report --run run-20261202-043739-fda281 --data-dir /tmp/x');
    expect(renderSummary(summary({ exit_reason: 'completed' }))).not.toContain('--resume-from');
  });

  it('prints revenue with the same money format as the report', () => {
    expect(renderSummary(summary())).toContain(`Revenue     ${formatMoney(213_345)} (average order ${formatMoney(Math.round(213_345 / 22))})`);
    expect(formatMoney(213_345)).toBe('$2,133.45');
  });

  it('without the store figures (mock store) or a database, says so in a line each', () => {
    const s = summary({ endpoints: undefined, requests_per_second: undefined, latency_ms: undefined, db_writes: undefined, store: 'mock (in-process, deterministic)', database: 'none (--mock-db)', last_checkpoint: null });
    const text = renderSummary(s);
    expect(text).toMatch(/^Store {7}mock \(in-process, deterministic\): 291 calls$/m);
    expect(text).toMatch(/^Database {4}none \(--mock-db\)$/m);
    expect(text).not.toContain('shopsim report');
    expect(text).not.toContain('Next');
  });
});

describe('httpMetrics', () => {
  it('totals the HTTP errors the store reports by status, 0 when there are none', async () => {
    const { httpMetrics } = await import('../../src/monitor/dashboard.ts');
    expect(httpMetrics({ http_errors: {} }).httpErrors).toBe(0);
    expect(httpMetrics({ http_errors: { '503': 4, '500': 1 } }).httpErrors).toBe(5);
    expect(httpMetrics({ http_errors: 2 }).httpErrors).toBe(2);
  });
});
