/**
 * One schedule for several limiters (`--rate-limit` across `--workers N` threads): together they
 * never release more than the limit in a sliding second, and a limiter with work takes the slots
 * an idle one leaves (what per-worker shares could not: a worker done with its cycle left its
 * share unused while the other was held back). With a fake clock, and across real worker threads.
 */
import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { createRateLimiter, createSharedLimiterState } from '../../src/store/rate-limiter.ts';
import { createFakeClock } from './fake-clock.ts';
import { maxInWindow } from './max-in-window.ts';

/** A manual clock whose timers fire 0-4 ms late, varying (two event loops' timers never line up). */
function lateClock() {
  let seed = 7;
  return createFakeClock(() => {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    return seed % 5;
  });
}

function pump(limiter: ReturnType<typeof createRateLimiter>, times: number[], n: number): Promise<unknown> {
  // What is still queued when the test closes the limiter is rejected: expected.
  return Promise.all(Array.from({ length: n }, () => limiter.acquire(undefined, (g) => times.push(g.releasedAt)).catch(() => null)));
}

describe('a shared limiter state', () => {
  it('one busy limiter of two gets the whole rate; two busy ones share it, never above it in any second', async () => {
    const clock = lateClock();
    const sab = createSharedLimiterState(50);
    const a = createRateLimiter({ rate: 50, shared: sab, clock, originMs: 0 });
    const b = createRateLimiter({ rate: 50, shared: sab, clock, originMs: 0 });
    const ta: number[] = [];
    const tb: number[] = [];
    // Only a has work for 4 s: it paces at the whole rate (99% of it, the schedule's slack).
    void pump(a, ta, 400);
    await clock.advance(4000);
    expect(ta.length).toBeGreaterThanOrEqual(196);
    expect(ta.length).toBeLessThanOrEqual(201);
    // Now both have work: 4 s more at the same total, split between them.
    const before = ta.length;
    void pump(b, tb, 400);
    await clock.advance(4000);
    const both = ta.length - before + tb.length;
    expect(both).toBeGreaterThanOrEqual(196);
    expect(both).toBeLessThanOrEqual(201);
    // Whichever thread's timer fires first takes a contested slot: b, arriving second, still gets a fair part.
    expect(tb.length).toBeGreaterThan(both * 0.25);
    expect(maxInWindow([...ta, ...tb], 1000)).toBeLessThanOrEqual(50);
    // A 429 seen by one cuts the pace of both; a hold (Retry-After) given to one holds both.
    a.backOff();
    expect(b.effectiveRate).toBeCloseTo(45, 5);
    expect(b.backOffs).toBe(1);
    b.blockUntil(clock.now() + 5000);
    expect(a.blockedUntil).toBe(clock.now() + 5000);
    a.close();
    b.close();
  });

  it('refuses a state made for another rate', () => {
    expect(() => createRateLimiter({ rate: 100, shared: createSharedLimiterState(50) })).toThrow(/made for rate 100, got one for 50/);
  });

  it('across two worker threads on their own clocks: at most the limit in any second, together near it', async () => {
    const rate = 100;
    const sab = createSharedLimiterState(rate);
    const url = new URL('../../src/store/rate-limiter.ts', import.meta.url).href;
    const tsx = import.meta.resolve('tsx/esm/api');
    const code = `
      const { workerData, parentPort } = require('node:worker_threads');
      import(workerData.tsx).then((m) => { m.register(); return import(workerData.url); }).then(async ({ createRateLimiter }) => {
        const limiter = createRateLimiter({ rate: workerData.rate, shared: workerData.sab });
        const times = [];
        const until = performance.timeOrigin + performance.now() + workerData.ms;
        const loop = async () => { while (performance.timeOrigin + performance.now() < until) await limiter.acquire(undefined, (g) => times.push(performance.timeOrigin + g.releasedAt)); };
        await Promise.all(Array.from({ length: 8 }, loop));
        parentPort.postMessage(times);
      });`;
    const run = () =>
      new Promise<number[]>((resolve, reject) => {
        const w = new Worker(code, { eval: true, workerData: { url, tsx, rate, sab, ms: 2500 } });
        w.once('message', (m: number[]) => {
          resolve(m);
          void w.terminate();
        });
        w.once('error', reject);
      });
    const [x, y] = await Promise.all([run(), run()]);
    const all = [...x, ...y];
    expect(maxInWindow(all, 1000)).toBeLessThanOrEqual(rate);
    // Both threads were served, and together they used most of the budget of 2.5 s (a loaded
    // machine delays timers; the bound that matters is the one above).
    expect(x.length).toBeGreaterThan(20);
    expect(y.length).toBeGreaterThan(20);
    // (The threads start apart, so the span is longer than either's 2.5 s.)
    const span = Math.max(...all) - Math.min(...all);
    expect(all.length).toBeLessThanOrEqual((rate * span) / 1000 + 1);
    expect(all.length).toBeGreaterThan(rate * 2.5 * 0.6);
  }, 30_000);
});
