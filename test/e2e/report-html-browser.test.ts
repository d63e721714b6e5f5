/**
 * The HTML report in a real browser (playwright-core driving Debian's Chromium, as
 * web-browser.test.ts): opened from file:// with every request aborted, it renders its charts
 * (a canvas each, with the series' colour drawn on it) and the machine map with the final
 * occupancy, and asks for nothing. Skipped, with one message, when Chromium is missing.
 * SHOPSIM_SCREENSHOTS=DIR also saves the screenshot there.
 */
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { chromium, type BrowserContext } from 'playwright-core';
import { describe, expect, it } from 'vitest';
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
      const shots = [join(dir, 'shots')];
      if (process.env['SHOPSIM_SCREENSHOTS']) shots.push(process.env['SHOPSIM_SCREENSHOTS']);
      for (const d of shots) {
        mkdirSync(d, { recursive: true });
        await page.screenshot({ path: join(d, 'report-html.png'), fullPage: true });
      }
      expect(errors).toEqual([]);
      // Nothing but the file itself was asked for.
      expect(routed).toEqual([]);
      expect(requests.filter((u) => u !== fileUrl)).toEqual([]);
    } finally {
      await browser?.close();
    }
  }, 120_000);
});
