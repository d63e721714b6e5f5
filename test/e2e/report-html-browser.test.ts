/**
 * The HTML report in a real browser (playwright-core driving Debian's Chromium, as
 * web-browser.test.ts): opened from file:// with every request aborted, it renders its charts
 * (a canvas each, with the series' colour drawn on it) and the machine map with the final
 * occupancy, and asks for nothing; a run's workers are a table of their own (a lost one marked). Skipped, with one message, when Chromium is missing.
 * SHOPSIM_SCREENSHOTS=DIR also saves the screenshot there.
 */
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { chromium, type BrowserContext } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { htmlReportData, writeHtmlReport } from '../../src/web/html-report.ts';
import { DATA, scratchDir, startCli } from './helpers.ts';

const CHROMIUM = '/usr/bin/chromium';
const have = existsSync(CHROMIUM);
if (!have) console.warn(`test/e2e/report-html-browser.test.ts: skipped: ${CHROMIUM} is missing (apt-get install chromium; .ci/run installs it)`);

describe.skipIf(!have)('the HTML report in Chromium', () => {
  it('opens from file:// with the network blocked, draws its charts and the map, and makes no request', async () => {
    const dir = scratchDir('shopsim-report-browser-');
    const file = join(dir, 'report.html');
    const run = await startCli(['run', '--mock-db', ...DATA, '--agents', '40', '--fast', '-c', '26', '--checkpoint-interval', '0', '--threshold', 'error_rate<0.5', '--report-html', file], { cwd: dir }).exit;
    expect(run.code).toBe(0);
    let browser: BrowserContext | null = null;
    try {
      browser = await chromium.launchPersistentContext(join(dir, 'profile'), {
        executablePath: CHROMIUM,
        args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run', '--disable-quic'],
      });
      const fileUrl = pathToFileURL(file).href;
      // Every request is aborted but the report file's own navigation.
      const routed: string[] = [];
      await browser.route('**/*', (route) => {
        const url = route.request().url();
        if (url === fileUrl) return route.continue();
        routed.push(url);
        return route.abort();
      });
      const requests: string[] = [];
      browser.on('request', (r) => requests.push(r.url()));
      const page = await browser.newPage();
      const errors: string[] = [];
      page.on('pageerror', (e) => errors.push(e.message));
      await page.goto(fileUrl);
      await page.waitForSelector('body[data-rendered="yes"]', { timeout: 20_000 });
      const charts = ['chart-funnel', 'chart-hour', 'chart-hour-conversion', 'chart-weekday', 'chart-cycles', 'chart-histogram'];
      for (const id of charts) {
        expect(await page.$$eval(`#${id} canvas`, (c) => c.length), id).toBe(1);
        expect(Number(await page.getAttribute(`#${id}`, 'data-points')), id).toBeGreaterThan(0);
        // The first series' colour (#2563eb) is on the canvas: its points, line or bars were drawn.
        const drawn = await page.$eval(`#${id} canvas`, (c) => {
          const canvas = c as HTMLCanvasElement;
          const px = (canvas.getContext('2d') as CanvasRenderingContext2D).getImageData(0, 0, canvas.width, canvas.height).data;
          let n = 0;
          for (let i = 0; i < px.length; i += 4) if (Math.abs(px[i]! - 37) < 30 && Math.abs(px[i + 1]! - 99) < 30 && Math.abs(px[i + 2]! - 235) < 30 && px[i + 3]! > 100) n++;
          return n;
        });
        expect(drawn, id).toBeGreaterThan(20);
      }
      const counts = await page.$$eval('#map-box [data-state-count]', (els) => els.map((e) => Number((e as SVGTextElement).dataset['count'])));
      expect(counts.length).toBeGreaterThan(5);
      expect(counts.reduce((a, b) => a + b, 0)).toBe(40);
      expect(await page.textContent('#thresholds')).toContain('error_rate<0.5');
      expect(await page.textContent('#latency')).toContain('GET /products');
      // One process: no workers section.
      expect(await page.$('#workers')).toBeNull();
      const shots = [join(dir, 'shots')];
      if (process.env['SHOPSIM_SCREENSHOTS']) shots.push(process.env['SHOPSIM_SCREENSHOTS']);
      for (const d of shots) {
        mkdirSync(d, { recursive: true });
        await page.screenshot({ path: join(d, 'report-html.png'), fullPage: true });
      }
      // A run's workers (the summary's rows, as `run --workers 2` leaves them; one lost): a row each and the merged totals.
      const withWorkers = join(dir, 'workers.html');
      const row = (id: string, status: string, cohorts: number) => ({ id, status, cohorts, agent_cycles: 400, agent_cycles_per_s: 3225.8, requests: 162, requests_per_s: 1306.5, memory_mb: 21.6, memory_kind: 'heap' });
      writeHtmlReport(withWorkers, htmlReportData({ summary: { run_id: 'run-w', workers: [row('0', 'ok', 2), row('1', 'lost', 2)], workers_total: { workers: 2, live: 1, cohorts: 4, agent_cycles: 800, agent_cycles_per_s: 3225.8, requests: 324, requests_per_s: 1306.5, memory_mb: 21.6 } }, config: null }));
      const workersUrl = pathToFileURL(withWorkers).href;
      await browser.unroute('**/*');
      await browser.route('**/*', (route) => (route.request().url() === workersUrl ? route.continue() : (routed.push(route.request().url()), route.abort())));
      await page.goto(workersUrl);
      await page.waitForSelector('body[data-rendered="yes"]', { timeout: 20_000 });
      const workerRows = await page.$$eval('#workers table tr', (rows) => rows.slice(1).map((r) => [...r.querySelectorAll('td')].map((td) => [td.textContent, td.className])));
      expect(workerRows.map((r) => r.slice(0, 3).map(([t]) => t))).toEqual([['0', 'ok', '2'], ['1', 'lost', '2'], ['all', '1 of 2 live', '4']]);
      expect(workerRows[1]?.[1]?.[1]).toBe('failed');
      expect(await page.textContent('#workers h2')).toBe('Workers — 2, 1 live at the end');
      expect(errors).toEqual([]);
      // Nothing but the files themselves was asked for.
      expect(routed).toEqual([]);
      expect(requests.filter((u) => u !== fileUrl && u !== workersUrl)).toEqual([]);
    } finally {
      await browser?.close();
    }
  }, 120_000);
});
