/** The end summary fits one screen, keeps the paths whole and prints money the way the report does. */
import { describe, expect, it } from 'vitest';
import type { RunSummary } from '../../src/model/run.ts';
import { formatMoney } from '../../src/monitor/money.ts';
import { renderSummary, screenRows } from '../../src/monitor/summary.ts';

const ENDPOINTS = ['GET /products/:id', 'POST /cart/items', 'GET /products', 'GET /offers', 'POST /checkout', 'POST /cart/coupon', 'POST /offer-cycles', 'DELETE /cart/items/:id'];
const lat = (p: number) => ({ p50: p, p95: p * 4, p99: p * 9, max: p * 20, mean: p, count: 10 });
const CHECKPOINT = '/home/someone/projects/a-rather-long-directory-name/shop/data/checkpoints/checkpoint_run-20261202-043739-fda281_cycle_000010.json';
/** What an 80-column terminal shows: lines longer than 80 wrap onto more rows. */
const rowsAt80 = (text: string) => text.split('\n').reduce((a, l) => a + Math.max(1, Math.ceil(l.length / 80)), 0);

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
  });

  it('takes at most 25 rows of an 80-column terminal counting the wrapped path lines; the busiest endpoints that fit are shown as top N of M', () => {
    for (const resumeArgs of [undefined, '']) {
      const text = renderSummary(summary(), { width: 80, ...(resumeArgs !== undefined ? { resumeArgs } : {}) });
      expect(rowsAt80(text), text).toBeLessThanOrEqual(25);
      expect(text.split('\n').reduce((a, l) => a + screenRows(l, 80), 0)).toBe(rowsAt80(text));
      const shown = ENDPOINTS.filter((e) => text.includes(e));
      expect(shown.length).toBeGreaterThanOrEqual(3);
      if (shown.length < ENDPOINTS.length) expect(text).toContain(`top ${shown.length} of ${ENDPOINTS.length}`);
      // The busiest ones are those shown.
      expect(shown).toEqual(ENDPOINTS.slice(0, shown.length));
    }
    // A shorter path (a typical home directory) leaves room for every endpoint.
    const short = '/home/me/shop/data/checkpoints/checkpoint_run-20261202-043739-fda281_cycle_000010.json';
    const text = renderSummary(summary({ last_checkpoint: short }), { width: 80, resumeArgs: '' });
    expect(rowsAt80(text), text).toBeLessThanOrEqual(25);
    for (const e of ENDPOINTS) expect(text).toContain(e);
    for (const l of text.split('\n').filter((x) => !x.includes(short))) expect(l.length, l).toBeLessThanOrEqual(80);
    // With a taller terminal, all of them.
    const tall = renderSummary(summary(), { width: 80, rows: 40 });
    for (const e of ENDPOINTS) expect(tall).toContain(e);
  });

  it('continues a stopped run by its id, with the flags that find its data, when asked to', () => {
    const text = renderSummary(summary(), { resumeArgs: '--data-dir /srv/shop/pglite' });
    expect(text).toContain('shopsim run --resume run-20261202-043739-fda281 --data-dir /srv/shop/pglite');
    expect(text).not.toContain('--resume-from');
    expect(text).toContain(`\nCheckpoint  ${CHECKPOINT}\n`);
  });

  it('prints the checkpoint path whole, and the commands that continue and check the run', () => {
    const text = renderSummary(summary(), { reportArgs: '--data-dir /tmp/x' });
    expect(text).toContain(`\nCheckpoint  ${CHECKPOINT}\n`);
    expect(text).toContain(`shopsim run --resume-from ${CHECKPOINT}`);
    expect(text).toContain(`shopsim replay ${CHECKPOINT} --verify`);
    expect(text).toContain('shopsim report --run run-20261202-043739-fda281 --data-dir /tmp/x');
    expect(renderSummary(summary({ exit_reason: 'completed' }))).not.toContain('--resume-from');
  });

  it('prints revenue with the same money format as the report, naming the currency', () => {
    expect(renderSummary(summary())).toContain(`Revenue     ${formatMoney(213_345)} USD (average order ${formatMoney(Math.round(213_345 / 22))})`);
    expect(formatMoney(213_345)).toBe('$2,133.45');
    const eur = renderSummary(summary({ currency: 'EUR' } as Partial<RunSummary>));
    expect(eur).toContain(`Revenue     ${formatMoney(213_345, 'EUR')} EUR (average order ${formatMoney(Math.round(213_345 / 22), 'EUR')})`);
    expect(formatMoney(213_345, 'EUR')).toBe('€2,133.45');
    expect(formatMoney(213_345, 'CHF')).toBe('CHF 2,133.45');
    // Hundredths for every currency: the catalog's prices are in cents.
    expect(formatMoney(213_345, 'JPY')).toBe('¥2,133.45');
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
