/**
 * The HTML report's data and document (src/web/html-report.ts), without a run: a minimal summary
 * (a run that never ended) still renders; secrets in the config or the facts never reach it; the
 * data block cannot close its <script>.
 */
import { describe, expect, it } from 'vitest';
import { htmlReportData, renderHtmlReport } from '../../src/web/html-report.ts';

describe('the HTML report', () => {
  it('renders from a summary that has nothing but the run id (a run that never ended)', () => {
    const data = htmlReportData({ summary: { run_id: 'run-x' }, config: null, generatedAt: '2026-01-01T00:00:00.000Z' });
    expect(data.latency).toBeNull();
    expect(data.occupancy).toBeNull();
    expect(data.thresholds).toEqual([]);
    expect(data.byHour).toHaveLength(24);
    expect(data.byWeekday.map((d) => d.weekday)).toEqual(['Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat', 'Sun']);
    const html = renderHtmlReport(data);
    expect(html.startsWith('<!DOCTYPE html>')).toBe(true);
    expect(html).toContain('<title>shopsim report · run-x</title>');
  });

  it('buckets the cycles by the simulated hour and weekday they started at', () => {
    const cycle = (n: number, end: string, sessions: number, checkouts: number) => ({ cycle: n, simulatedTime: end, totals: { sessions, checkouts, abandoned: 0, failed: 0 } });
    // 2024-01-01 is a Monday: the cycle ending 01:00 started at 00:00 Monday; the one ending Tuesday 00:00 started Monday 23:00.
    const data = htmlReportData({ summary: { run_id: 'r' }, config: null, cycles: [cycle(1, '2024-01-01T01:00:00.000Z', 10, 1), cycle(24, '2024-01-02T00:00:00.000Z', 4, 2)] });
    expect(data.byHour[0]).toEqual({ hour: 0, sessions: 10, checkouts: 1, conversion: 0.1 });
    expect(data.byHour[23]).toEqual({ hour: 23, sessions: 4, checkouts: 2, conversion: 0.5 });
    expect(data.byWeekday[0]).toEqual({ weekday: 'Mon', sessions: 14, checkouts: 3, conversion: 0.2143 });
    expect(data.byWeekday[1]?.sessions).toBe(0);
  });

  it('keeps secrets out: password keys dropped, URL credentials cut, in the config and the facts', () => {
    const data = htmlReportData({
      summary: { run_id: 'r', database: 'postgres://app:hunter2pw@db.example:5432/shop (external)', store: 'http://u:tok3n@store.example/api' },
      config: { database: 'postgres://app:hunter2pw@db.example:5432/shop', api_url: 'https://key:s3cret@store.example', db_password: 'hunter2pw', nested: { api_key: 's3cret' } },
    });
    const html = renderHtmlReport(data);
    for (const secret of ['hunter2pw', 's3cret', 'tok3n']) expect(html).not.toContain(secret);
    expect(html).toContain('db.example:5432/shop');
  });

  it('escapes the data so a value cannot end its script element', () => {
    const html = renderHtmlReport(htmlReportData({ summary: { run_id: 'r', exit_reason: '</script><script>alert(1)</script>' }, config: null }));
    const open = '<script type="application/json" id="report-data">';
    const block = html.slice(html.indexOf(open) + open.length);
    expect(block.slice(0, block.indexOf('</script>'))).not.toContain('<');
    expect(block).toContain('\\u003c/script>');
    expect(html).not.toContain('<script>alert(1)');
  });

  it('has a row per worker from the summary and the merged totals; rows of the wrong shape are read as zeros, not trusted', () => {
    const data = htmlReportData({
      summary: {
        run_id: 'r',
        workers: [
          { id: '0', status: 'ok', cohorts: 2, agent_cycles: 400, agent_cycles_per_s: 3225.8, requests: 162, requests_per_s: 1306.5, memory_mb: 21.6, memory_kind: 'heap' },
          { id: 'host-b-4121-ab12', status: 'lost', cohorts: 'x', agent_cycles: null, memory_mb: 300 },
          'nonsense',
        ],
        workers_total: { workers: 3, live: 1, cohorts: 2, agent_cycles: 400, agent_cycles_per_s: 3225.8, requests: 162, requests_per_s: 1306.5, memory_mb: 21.6 },
      },
      config: null,
    });
    expect(data.workers).toHaveLength(3);
    expect(data.workers[0]).toEqual({ id: '0', status: 'ok', cohorts: 2, agentCycles: 400, agentCyclesPerS: 3225.8, requests: 162, requestsPerS: 1306.5, memoryMb: 21.6, memoryKind: 'heap' });
    expect(data.workers[1]).toMatchObject({ id: 'host-b-4121-ab12', status: 'lost', cohorts: 0, agentCycles: 0, memoryMb: 300, memoryKind: 'rss' });
    expect(data.workers[2]).toMatchObject({ id: '', status: '?', cohorts: 0 });
    expect(data.workersTotal).toEqual({ workers: 3, live: 1, cohorts: 2, agentCycles: 400, agentCyclesPerS: 3225.8, requests: 162, requestsPerS: 1306.5, memoryMb: 21.6 });
    expect(htmlReportData({ summary: { run_id: 'r' }, config: null }).workers).toEqual([]);
  });
});
