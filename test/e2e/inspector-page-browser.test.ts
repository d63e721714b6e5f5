/**
 * The --inspect bridge page in Chromium (as web-browser.test.ts): it loads the inspector app from
 * stately.ai (aborted here, as offline), and while that app has not connected it holds the
 * relayed messages in a bounded buffer that keeps the actor announcements. Skipped, with one
 * message, when Chromium is missing.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type BrowserContext } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { createLoopbackInspectorServer } from '../../src/inspect/server.ts';
import { scratchDir } from './helpers.ts';

const CHROMIUM = '/usr/bin/chromium';
const have = existsSync(CHROMIUM);
if (!have) console.warn(`test/e2e/inspector-page-browser.test.ts: skipped: ${CHROMIUM} is missing (apt-get install chromium; .ci/run installs it)`);

describe.skipIf(!have)('the inspector bridge page in Chromium', () => {
  it('needs stately.ai (offline it never connects) and keeps its buffer bounded, announcements kept', async () => {
    const server = await createLoopbackInspectorServer({ port: 0, pageBuffer: 100 });
    let browser: BrowserContext | null = null;
    const producer = new WebSocket(server.wsUrl);
    try {
      await new Promise((r, j) => producer.once('open', r).once('error', j));
      browser = await chromium.launchPersistentContext(join(scratchDir('shopsim-inspector-browser-'), 'profile'), {
        executablePath: CHROMIUM,
        args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run', '--disable-quic'],
      });
      const origin = `http://127.0.0.1:${server.port}`;
      const outside: string[] = [];
      await browser.route('**/*', (route) => {
        const url = route.request().url();
        if (url.startsWith(`${origin}/`)) return route.continue();
        outside.push(url);
        return route.abort();
      });
      const page = await browser.newPage();
      await page.goto(server.pageUrl);
      await page.waitForFunction(() => Array.isArray((window as unknown as { shopsimInspectorBuffer?: unknown[] }).shopsimInspectorBuffer));
      await new Promise((r) => setTimeout(r, 500)); // the page's WebSocket is open
      for (let i = 0; i < 5; i++) producer.send(JSON.stringify({ type: '@xstate.actor', sessionId: `s${i}`, name: `actor-${i}` }));
      for (let i = 0; i < 1000; i++) producer.send(JSON.stringify({ type: '@xstate.snapshot', sessionId: 's0', snapshot: { value: i } }));
      await page.waitForFunction(() => {
        const b = (window as unknown as { shopsimInspectorBuffer: { snapshot?: { value: number } }[] }).shopsimInspectorBuffer;
        return b.length > 0 && b[b.length - 1]?.snapshot?.value === 999;
      }, null, { timeout: 20_000 });
      const held = await page.evaluate(() => (window as unknown as { shopsimInspectorBuffer: { type: string }[] }).shopsimInspectorBuffer.map((m) => m.type));
      expect(held).toHaveLength(100);
      expect(held.filter((t) => t === '@xstate.actor')).toHaveLength(5);
      // The page's only outside request: the inspector app, which needs internet.
      expect(outside.length).toBeGreaterThan(0);
      expect(outside.every((u) => u.startsWith('https://stately.ai/'))).toBe(true);
    } finally {
      producer.close();
      await browser?.close();
      await server.close();
    }
  }, 60_000);
});
