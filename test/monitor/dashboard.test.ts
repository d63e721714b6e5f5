import { describe, expect, it } from 'vitest';
import { breakerBanner, renderDashboard, topFailures, visibleText } from '../../src/monitor/dashboard.ts';
import { formatCycleLine, formatStatsLine } from '../../src/monitor/cycle-line.ts';
import { formatMemory, memoryWarning, memoryWarnings, readMemory } from '../../src/monitor/memory.ts';
import { sampleMemory, sampleStats } from './fixtures.ts';

function assertFits(out: string, width = 80, height = 24) {
  const lines = out.split('\n');
  expect(lines.length).toBeLessThanOrEqual(height);
  for (const l of lines) expect([...visibleText(l)].length, l).toBeLessThanOrEqual(width);
}

const breakerStats = () => {
  const s = sampleStats();
  const sample = (agentIndex: number, step: string, message: string) => ({ agentIndex, step, message });
  return sampleStats({
    status: 'breaker_open',
    breaker: { state: 'open', threshold: 18, percent: 5, trips: 1, lastCycleFailures: 25 },
    lastCycle: {
      cycle: 7,
      active: 150,
      totals: {
        ...s.lastCycle!.totals,
        failed: 25,
        failureSamples: [sample(1, 'checkout', 'store returned 503'), sample(2, 'browse', 'timeout after 30 s'), sample(3, 'checkout', 'store returned 503')],
      },
    },
  });
};

describe('renderDashboard', () => {
  it('is a pure function of the stats: 80 columns, no colour', () => {
    const out = renderDashboard({ stats: sampleStats(), memory: sampleMemory, keys: true, warmupCycles: 0, notices: ['12:00:00 checkpoint written: data/checkpoints/x.json'] }, { width: 80, color: false });
    expect(out).toBe(renderDashboard({ stats: sampleStats(), memory: sampleMemory, keys: true, warmupCycles: 0, notices: ['12:00:00 checkpoint written: data/checkpoints/x.json'] }, { width: 80, color: false }));
    expect(out).not.toMatch(/\u001b/);
    assertFits(out);
    expect(out).toMatchSnapshot();
  });

  it('shows the revenue beside the checkouts in the run currency, within 80 columns even when large', () => {
    const base = sampleStats();
    const text = (currency: string | undefined, revenueCents: number) =>
      renderDashboard({ stats: sampleStats({ totals: { ...base.totals, checkouts: 12_345, revenueCents } }), memory: sampleMemory, ...(currency ? { currency } : {}) }, { width: 80, color: false });
    expect(text(undefined, 1_823_456)).toMatch(/│ Checkouts\s+│ 12,345 · \$18,234\.56\s+│/);
    expect(text('EUR', 1_823_456)).toMatch(/│ Checkouts\s+│ 12,345 · €18,234\.56\s+│/);
    // Too wide for the cell with cents: whole units, then abbreviated; never cut.
    expect(text('EUR', 1_234_567_89)).toMatch(/│ Checkouts\s+│ 12,345 · €1,234,568\s+│/);
    const big = text('EUR', 123_456_789_00);
    expect(big).toMatch(/│ Checkouts\s+│ 12,345 · €123\.5M\s+│/);
    assertFits(big);
  });

  it('shows every figure the issue asks for', () => {
    const out = renderDashboard({ stats: sampleStats(), memory: sampleMemory, keys: true }, { width: 80 });
    for (const text of ['RUNNING', 'p pause', 'r resume', 'c checkpoint', 's stats', 'q quit', '7 / 24', '2024-01-01 07:00', '01:02:05', '0.01 s', '150 / 372 (40%)', '640', '268', '99', '569', '4,301', '212 MB RSS', '41.2 / 181 / 412 ms', '3,290', '12.3', '2 (429s 1)', 'closed · this cycle 1 / 18 failures', 'checkpoint-c000005.json', '2,204 ok · 3 failed', '1.3 / 7.5 (p50/p95)']) {
      expect(out, text).toContain(text);
    }
    // Without a database (--mock-db) the row says so.
    const { db_writes: _db, ...noDb } = sampleStats().metrics as Record<string, unknown>;
    expect(renderDashboard({ stats: sampleStats({ metrics: noDb }), memory: sampleMemory }, { width: 80 })).toContain('none (--mock-db)');
  });

  it('marks warm-up and the paused / stopping states', () => {
    const warm = renderDashboard({ stats: sampleStats({ cyclesCompleted: 2, activeAgents: 93 }), memory: null, warmupCycles: 5 }, { width: 80 });
    expect(warm).toContain('93 / 372 (25% ramp)');
    expect(warm.split('\n')[0]).toMatch(/RUNNING · WARM-UP 2\/5$/);
    expect(renderDashboard({ stats: sampleStats({ status: 'paused' }), memory: null }, {})).toContain('PAUSED');
    expect(renderDashboard({ stats: sampleStats(), memory: null, statusOverride: 'QUITTING' }, {})).toContain('QUITTING');
  });

  it('shows the breaker banner with failures, threshold, frequent errors and the resume key, still within 80x24', () => {
    const out = renderDashboard({ stats: breakerStats(), memory: { ...sampleMemory, rssMb: 13_000 }, memoryWarningMb: 12_000, keys: true, notices: ['a', 'b', 'c', 'd', 'e', 'f'] }, { width: 80, color: false });
    expect(out).toContain('BREAKER OPEN');
    expect(out).toContain('CIRCUIT BREAKER OPEN: 25 agents failed in cycle 7 (threshold 18 = 5% of 372)');
    expect(out).toContain('2× checkout: store returned 503');
    expect(out).toContain('1× browse: timeout after 30 s');
    expect(out).toContain('Press r to resume');
    expect(out).toContain('memory warning: RSS 13000 MB > --memory-warning-mb 12000');
    assertFits(out);
  });

  it('uses colour only when asked', () => {
    const coloured = renderDashboard({ stats: breakerStats(), memory: sampleMemory, keys: true }, { width: 80, color: true });
    expect(coloured).toMatch(/\u001b\[31;1m/);
    assertFits(coloured);
  });

  it('wraps long notices and keeps the newest within 24 lines', () => {
    const long = `checkpoint written: /very/long/path/${'x'.repeat(120)}.json`;
    const out = renderDashboard({ stats: sampleStats(), memory: null, notices: Array.from({ length: 12 }, (_, i) => `n${i}`).concat(long) }, { width: 80 });
    assertFits(out);
    expect(out.replace(/\n {2}/g, '')).toContain(long);
  });

  it('fits narrower and wider terminals', () => {
    assertFits(renderDashboard({ stats: breakerStats(), memory: sampleMemory, keys: true }, { width: 100 }), 100);
    assertFits(renderDashboard({ stats: breakerStats(), memory: sampleMemory, keys: true }, { width: 200 }), 100);
  });
});

describe('breaker banner and lines', () => {
  it('orders the most frequent failure messages first', () => {
    expect(topFailures(breakerStats())).toEqual(['2× checkout: store returned 503', '1× browse: timeout after 30 s']);
    expect(breakerBanner(breakerStats(), 'send SIGUSR2').at(-1)).toBe('send SIGUSR2');
  });

  it('formats one logfmt line per cycle with the issue\'s fields', () => {
    const s = sampleStats();
    const line = formatCycleLine(
      { cycle: 7, simulatedTime: '2024-01-01T07:00:00.000Z', active: 150, totals: { ...s.lastCycle!.totals, sessions: 92, checkouts: 40, abandoned: 12, events: 600 }, runTotals: s.totals, threshold: 18, breakerOpen: false, lagSeconds: 0, durationSeconds: 0.12, digest: 'd' },
      s,
      sampleMemory,
    );
    expect(line).toBe('cycle=7/24 sim=2024-01-01T07:00:00Z active=150/372 sessions=92 checkouts=40 abandoned=12 failures=1/18 events=600 p95_ms=180.7 req_s=12.3 rss_mb=212 duration_s=0.120 lag_s=0.000');
    expect(formatCycleLine({ cycle: 1, simulatedTime: '2024-01-01T01:00:00.000Z', active: 1, totals: s.totals, runTotals: s.totals, threshold: 0, breakerOpen: true, lagSeconds: 0, durationSeconds: 0, digest: '' }, { ...s, metrics: {} })).toContain('p95_ms=- req_s=- duration_s');
    expect(formatStatsLine(s)).toMatch(/^stats status=running cycles=7\/24 .* breaker=closed elapsed_s=3725\.4$/);
  });
});

describe('memory', () => {
  it('reads RSS, heap and the share of system memory', () => {
    const r = readMemory({ rss: 512 * 1024 * 1024, heapUsed: 100 * 1024 * 1024, heapTotal: 200 * 1024 * 1024, external: 0, arrayBuffers: 0 }, 16 * 1024 * 1024 * 1024);
    expect(r).toEqual({ rssMb: 512, heapUsedMb: 100, heapTotalMb: 200, systemTotalMb: 16384, percentOfSystem: 3.1 });
    expect(memoryWarning(r, 12_000)).toBeNull();
    expect(memoryWarning(r, 500)).toBe('memory warning: RSS 512 MB > --memory-warning-mb 500 (3.1% of 16384 MB)');
    expect(formatMemory(r)).toBe('512 MB RSS · heap 100/200 MB · 3.1%');
    expect(readMemory().rssMb).toBeGreaterThan(0);
  });

  it('warns at most once a minute while RSS stays above the threshold', () => {
    const due = memoryWarnings(200);
    const low = { ...sampleMemory, rssMb: 150 };
    expect(due(low, 0)).toBeNull();
    expect(due(sampleMemory, 1_000)).toBe('memory warning: RSS 212 MB > --memory-warning-mb 200 (1.3% of 16384 MB)');
    expect(due(sampleMemory, 30_000)).toBeNull();
    expect(due(sampleMemory, 60_999)).toBeNull();
    expect(due(sampleMemory, 61_000)).toMatch(/^memory warning: /);
    expect(memoryWarnings(200, 10)(sampleMemory, 0)).not.toBeNull();
  });
});

describe('the thresholds line', () => {
  const results = [
    { text: 'http_p95_ms<500', actual: 180.7, ok: true },
    { text: 'error_rate<0.05', actual: 0.0612, ok: false },
    { text: 'checkout_rate>0.01', actual: null, ok: true },
  ];
  it('shows each threshold, its current figure and ok / FAILED on one line, within 80x24', () => {
    const out = renderDashboard({ stats: sampleStats(), memory: sampleMemory, keys: true, thresholds: results }, { width: 80, color: false });
    assertFits(out);
    const line = out.split('\n').find((l) => l.startsWith('Thresholds')) as string;
    // The failed one first, with its figure as the summary prints it; what does not fit is counted.
    expect(line.startsWith('Thresholds (1 FAILED)  error_rate<0.05 0.06120 FAILED')).toBe(true);
    expect(line.endsWith(' · +2 more')).toBe(true);
    expect(line.length).toBeLessThanOrEqual(80);
    const wide = renderDashboard({ stats: sampleStats(), memory: sampleMemory, thresholds: results.slice(0, 2) }, { width: 100, color: false });
    expect(wide.split('\n').find((l) => l.startsWith('Thresholds'))).toBe('Thresholds (1 FAILED)  error_rate<0.05 0.06120 FAILED · http_p95_ms<500 180.7 ok');
    const allOk = renderDashboard({ stats: sampleStats(), memory: sampleMemory, thresholds: [results[0]!, results[2]!] }, { width: 100, color: false });
    expect(allOk.split('\n').find((l) => l.startsWith('Thresholds'))).toBe('Thresholds  http_p95_ms<500 180.7 ok · checkout_rate>0.01 no data ok');
  });
  it('colours the verdicts only with colour on, and is absent without thresholds', () => {
    const out = renderDashboard({ stats: sampleStats(), memory: sampleMemory, thresholds: results }, { width: 100, color: true });
    const line = out.split('\n').find((l) => visibleText(l).startsWith('Thresholds')) as string;
    expect(line).toContain('\u001b[31;1mFAILED\u001b[0m');
    expect(line).toContain('\u001b[32mok\u001b[0m');
    expect(renderDashboard({ stats: sampleStats(), memory: sampleMemory }, { width: 80 })).not.toContain('Thresholds');
    expect(renderDashboard({ stats: sampleStats(), memory: sampleMemory, thresholds: [] }, { width: 80 })).not.toContain('Thresholds');
  });
});
