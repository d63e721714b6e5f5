/**
 * The --web page in a real browser: playwright-core driving Debian's Chromium (/usr/bin/chromium,
 * `apt-get install chromium`; .ci/run installs it). Every origin but the run's 127.0.0.1 server
 * is aborted and must never be asked for. Skipped, with one message, when Chromium is missing.
 * SHOPSIM_SCREENSHOTS=DIR also saves the screenshots there (else only in the scratch directory).
 */
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, describe, expect, it } from 'vitest';
import { DATA, startCli, type RunningCli } from './helpers.ts';

const CHROMIUM = '/usr/bin/chromium';
const have = existsSync(CHROMIUM);
if (!have) console.warn(`test/e2e/web-browser.test.ts: skipped: ${CHROMIUM} is missing (apt-get install chromium; .ci/run installs it)`);

const scratch = mkdtempSync(join(tmpdir(), 'shopsim-browser-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function counts(page: Page): Promise<Record<string, number>> {
  return page.$$eval('[data-state-count]', (els) => Object.fromEntries(els.map((e) => [e.getAttribute('data-state-count') as string, Number((e as SVGTextElement).dataset['count'])])));
}

async function apiStatus(origin: string, token: string): Promise<string> {
  const r = await fetch(`${origin}/api/state`, { headers: { authorization: `Bearer ${token}` } });
  return ((await r.json()) as { status: string }).status;
}

describe.skipIf(!have)('the --web page in Chromium', () => {
  it('loads with only 127.0.0.1 reachable, shows the shopper states with counts summing to the agents that change, draws charts, and pauses and resumes the run', async () => {
    let run: RunningCli | null = null;
    let browser: BrowserContext | null = null;
    try {
      // The in-process reference store behind the default 50 req/s limit: a cycle of 372 agents
      // takes seconds, so the shoppers are spread over their states when the page looks.
      run = startCli(['run', '--mock-db', ...DATA, '--agents', '372', '--cycles', '1000', '--time-scale', '3600', '--checkpoint-interval', '0', '--threshold', 'error_rate<0.5', '--threshold', 'checkout_rate>2', '--web', '0'], { cwd: scratch });
      const [, pageUrl, origin, token] = (await run.waitForStderr(/web view: open ((http:\/\/127\.0\.0\.1:\d+)\/#token=([A-Za-z0-9_-]+))/, 60_000)) as unknown as string[];
      // A fresh user-data directory (playwright passes it as --user-data-dir).
      const context = await chromium.launchPersistentContext(join(scratch, 'profile'), {
        executablePath: CHROMIUM,
        args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run', '--disable-quic'],
      });
      browser = context;
      const outside: string[] = [];
      const requested: string[] = [];
      await context.route('**/*', (route) => {
        const url = route.request().url();
        requested.push(url);
        if (new URL(url).origin === origin) return route.continue();
        outside.push(url);
        return route.abort();
      });
      const page = await context.newPage();
      const errors: string[] = [];
      page.on('pageerror', (e) => errors.push(e.message));
      await page.goto(pageUrl as string);
      await page.waitForSelector('[data-state-count="idle"]');
      await page.waitForFunction(() => document.querySelector('#run-status')?.getAttribute('data-status') === 'running', null, { timeout: 30_000 });
      await page.waitForFunction(() => Number(document.querySelector('[data-state-count="idle"]')?.getAttribute('data-count')) >= 0 && document.querySelectorAll('[data-state-count]').length > 5);

      const first = await counts(page);
      expect(Object.keys(first)).toEqual(expect.arrayContaining(['idle', 'browsing', 'carting', 'checkingOut', 'committing']));
      expect(Object.values(first).reduce((a, b) => a + b, 0)).toBe(372);
      const shots = [join(scratch, 'shots')];
      if (process.env['SHOPSIM_SCREENSHOTS']) shots.push(process.env['SHOPSIM_SCREENSHOTS']);
      for (const d of shots) mkdirSync(d, { recursive: true });
      let second = first;
      for (let i = 0; i < 20 && JSON.stringify(second) === JSON.stringify(first); i++) {
        await sleep(1000);
        second = await counts(page);
      }
      expect(second).not.toEqual(first);
      expect(Object.values(second).reduce((a, b) => a + b, 0)).toBe(372);

      await page.waitForFunction(() => Number(document.getElementById('chart-rps')?.dataset['points']) >= 3, null, { timeout: 30_000 });
      expect(Number(await page.getAttribute('#chart-active', 'data-points'))).toBeGreaterThanOrEqual(3);
      expect(await page.$$eval('#chart-rps canvas', (c) => c.length)).toBe(1);
      // The limiter's pace and the 429s in the header (the bundled store over HTTP, --rate-limit 50 by default).
      await page.waitForFunction(() => document.getElementById('pacing')?.hidden === false, null, { timeout: 30_000 });
      expect(await page.textContent('#pacing')).toMatch(/^pace [\d.]+ of 50 req\/s · 429s \d+ \(retried \d+\)$/);
      expect(await page.$$eval('#chart-commit canvas', (c) => c.length)).toBe(1);
      // Latency per endpoint over time, at the percentile picked (p95 first, then p99).
      await page.waitForFunction(() => document.querySelector('#chart-endpoints canvas') !== null, null, { timeout: 30_000 });
      expect(await page.getAttribute('#chart-endpoints', 'data-percentile')).toBe('p95');
      await page.click('#chart-endpoints button[data-pct="p99"]');
      await page.waitForFunction(() => document.getElementById('chart-endpoints')?.dataset['percentile'] === 'p99');
      expect(await page.$$eval('#chart-endpoints canvas', (c) => c.length)).toBe(1);
      expect(await page.textContent('#chart-endpoints')).toContain('p99 per endpoint');
      // The thresholds line: each threshold with its figure so far; the impossible one FAILED.
      await page.waitForFunction(() => document.querySelector('#thresholds')?.getAttribute('data-failed') === '1', null, { timeout: 30_000 });
      expect(await page.$$eval('#thresholds .threshold', (els) => els.map((e) => [(e as HTMLElement).dataset['threshold'], (e as HTMLElement).dataset['ok']]))).toEqual([
        ['error_rate<0.5', 'true'],
        ['checkout_rate>2', 'false'],
      ]);
      expect(await page.textContent('#thresholds')).toMatch(/checkout_rate>2 \S+ FAILED/);
      for (const d of shots) await page.screenshot({ path: join(d, 'web-running.png'), fullPage: true });

      await page.click('#btn-pause');
      await page.waitForFunction(() => document.querySelector('#run-status')?.getAttribute('data-status') === 'paused', null, { timeout: 20_000 });
      expect(await apiStatus(origin as string, token as string)).toBe('paused');
      for (const d of shots) await page.screenshot({ path: join(d, 'web-paused.png'), fullPage: true });
      await page.click('#btn-resume');
      await page.waitForFunction(() => document.querySelector('#run-status')?.getAttribute('data-status') === 'running', null, { timeout: 20_000 });
      expect(await apiStatus(origin as string, token as string)).toBe('running');

      if (process.env['SHOPSIM_SCREENSHOTS']) {
        const figures = { render_ms_last: await page.getAttribute('body', 'data-render-ms'), render_ms_max_last_60: await page.getAttribute('body', 'data-render-ms-max') };
        writeFileSync(join(process.env['SHOPSIM_SCREENSHOTS'], 'web-render-ms.json'), `${JSON.stringify(figures)}\n`);
      }
      expect(errors).toEqual([]);
      expect(outside).toEqual([]);
      expect(requested.length).toBeGreaterThan(4);
      expect(requested.every((u) => u.startsWith(`${origin}/`))).toBe(true);
    } finally {
      await browser?.close();
      run?.child.kill('SIGKILL');
      await run?.exit;
    }
  }, 180_000);
});
