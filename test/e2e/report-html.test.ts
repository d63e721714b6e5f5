/**
 * The HTML report from the CLI: `run --report-html FILE` at the end of a run and `report --html
 * FILE` from the database; a FILE that cannot be written is one line, exit 2, before the run;
 * no secret of the run's configuration reaches the file; nothing in it points outside the file.
 */
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { postgresTarget, TEST_DATABASE_URL } from '../db/helpers.ts';
import { DATA, scratchDir, startCli } from './helpers.ts';

function reportData(html: string): Record<string, unknown> {
  const m = /<script type="application\/json" id="report-data">([\s\S]*?)<\/script>/.exec(html);
  expect(m).not.toBeNull();
  return JSON.parse((m as RegExpExecArray)[1] as string) as Record<string, unknown>;
}

/** No URL the browser would load: no src/href attribute, no url(), no http(s) link in a tag. */
function outsideReferences(html: string): string[] {
  const body = html.replace(/<script type="application\/json" id="report-data">[\s\S]*?<\/script>/, '');
  return [...body.matchAll(/\b(?:src|href)\s*=\s*["']?[^"'\s>]+|url\(\s*["']?(?!data:|#)[^)]+\)|<link\b[^>]*>|@import\b[^;]*/gi)].map((m) => m[0]);
}

describe('HTML report from the CLI', () => {
  it('a FILE that cannot be written: one line, exit 2, before the run (nothing written)', async () => {
    const dir = scratchDir('shopsim-report-html-');
    const notDir = join(dir, 'a-file');
    writeFileSync(notDir, 'x');
    for (const [file, why] of [
      [dir, 'is a directory'],
      [join(dir, 'missing', 'r.html'), 'does not exist'],
      [join(notDir, 'r.html'), 'is not a directory'],
    ] as const) {
      const r = await startCli(['run', '--mock-api', '--mock-db', ...DATA, '--fast', '-c', '2', '--report-html', file], { cwd: dir }).exit;
      expect(r.code).toBe(2);
      const lines = r.stderr.trim().split('\n');
      expect(lines).toHaveLength(1);
      expect(lines[0]).toContain(`--report-html ${file}: `);
      expect(lines[0]).toContain(why);
      expect(existsSync(join(dir, 'data'))).toBe(false);
    }
    const r = await startCli(['report', '--html', dir, '--data-dir', join(dir, 'pg')], { cwd: dir }).exit;
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split('\n')).toEqual([`shopsim: --html ${dir}: is a directory; give a file name such as report.html`]);
  }, 60_000);

  it('run --report-html and report --html write one self-contained file with the funnel, latency, thresholds, config and occupancy', async () => {
    const dir = scratchDir('shopsim-report-html-');
    const file = join(dir, 'run.html');
    const r = await startCli(['run', ...DATA, '--agents', '40', '--fast', '-c', '26', '--checkpoint-interval', '0', '--threshold', 'http_p95_ms<100000', '--threshold', 'checkout_rate>2', '--report-html', file], { cwd: dir }).exit;
    expect(r.code).toBe(99);
    expect(r.stderr).toMatch(new RegExp(`HTML report written to ${file.replace(/[.]/g, '\\.')} \\(\\d+ KB; opens offline\\)`));
    const html = readFileSync(file, 'utf8');
    expect(outsideReferences(html)).toEqual([]);
    const d = reportData(html);
    const funnel = d['funnel'] as { step: string; count: number }[];
    expect(funnel[0]?.step).toBe('sessions');
    expect(funnel[0]?.count).toBeGreaterThan(0);
    expect((d['byHour'] as unknown[]).length).toBe(24);
    expect((d['byWeekday'] as unknown[]).length).toBe(7);
    const histogram = d['histogram'] as { count: number }[];
    expect(histogram.reduce((a, b) => a + b.count, 0)).toBe((d['latency'] as { count: number }).count);
    expect((d['endpoints'] as { endpoint: string }[]).map((e) => e.endpoint)).toContain('GET /products');
    expect(d['thresholds']).toEqual([
      { threshold: 'http_p95_ms<100000', actual: expect.any(Number), ok: true },
      { threshold: 'checkout_rate>2', actual: expect.any(Number), ok: false },
    ]);
    const occ = d['occupancy'] as { counts: Record<string, number>; total: number };
    expect(occ.total).toBe(40);
    expect(Object.values(occ.counts).reduce((a, b) => a + b, 0)).toBe(40);
    expect((d['config'] as Record<string, unknown>)['agents']).toBe(40);
    expect((d['dbCommit'] as { count: number }).count).toBeGreaterThan(0);

    // The same run from the database: the same funnel, thresholds and occupancy.
    const file2 = join(dir, 'db.html');
    const r2 = await startCli(['report', '--html', file2], { cwd: dir }).exit;
    expect(r2.code).toBe(0);
    expect(r2.stdout).toMatch(/^HTML report of run run-\S+ written to .*db\.html \(\d+ KB; opens offline\)\n$/);
    const d2 = reportData(readFileSync(file2, 'utf8'));
    expect(d2['runId']).toBe(d['runId']);
    expect(d2['funnel']).toEqual(d['funnel']);
    expect(d2['thresholds']).toEqual(d['thresholds']);
    expect(d2['occupancy']).toEqual(d['occupancy']);
    expect(d2['byWeekday']).toEqual(d['byWeekday']);
    expect(readdirSync(dir).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  }, 120_000);

  describe.skipIf(!TEST_DATABASE_URL)('against TEST_DATABASE_URL', () => {
    it("a DATABASE_URL password never reaches the report (run --report-html nor report --html)", async () => {
      const target = postgresTarget();
      await target.setup();
      try {
        const u = new URL(target.url() as string);
        u.username = u.username || 'postgres';
        u.password = 'S3cretPw-in-url';
        const dir = scratchDir('shopsim-report-html-');
        mkdirSync(join(dir, 'out'));
        const file = join(dir, 'out', 'run.html');
        const env = { DATABASE_URL: u.toString() };
        const r = await startCli(['run', '--mock-api', ...DATA, '--agents', '20', '--fast', '-c', '3', '--checkpoint-interval', '0', '--report-html', file], { cwd: dir, env }).exit;
        expect(r.code).toBe(0);
        const r2 = await startCli(['report', '--html', join(dir, 'out', 'db.html')], { cwd: dir, env }).exit;
        expect(r2.code).toBe(0);
        for (const f of ['run.html', 'db.html']) {
          const html = readFileSync(join(dir, 'out', f), 'utf8');
          expect(html).toContain('"database"');
          expect(html).not.toContain('S3cretPw-in-url');
        }
        expect(r.stderr + r2.stdout + r2.stderr).not.toContain('S3cretPw-in-url');
      } finally {
        await target.teardown();
      }
    }, 120_000);
  });
});
