/**
 * The limiter's guarantee as the store sees it (issue 17): no sliding second holds more than
 * floor(rate) requests — of releases, and of arrivals at the store when each arrival is reported
 * (arrivedBy) by the time the request floor(rate) later is due — with a fake clock whose timers
 * fire late by varying amounts (a busy event loop), and as a property over random settings,
 * callers, lateness and store delays (fast-check).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createRateLimiter, type LimiterClock } from '../../src/store/rate-limiter.ts';
import { maxInWindow } from './max-in-window.ts';

/** A manual clock whose n-th timer fires `lateness(n)` ms late. */
function jitteryClock(lateness: (n: number) => number) {
  let id = 0;
  let t = 0;
  const timers = new Map<number, { at: number; fn: () => void }>();
  const clock: LimiterClock & { run(until: number): Promise<void>; at(ms: number, fn: () => void): void; now(): number } = {
    now: () => t,
    setTimer(fn, ms) {
      const n = ++id;
      timers.set(n, { at: t + Math.max(0, ms) + lateness(n), fn });
      return n;
    },
    clearTimer(h) {
      timers.delete(h as number);
    },
    /** Something outside the limiter at `ms` (a caller arriving, an answer): never late. */
    at(ms, fn) {
      timers.set(++id, { at: ms, fn });
    },
    async run(until) {
      for (;;) {
        for (let i = 0; i < 4; i++) await Promise.resolve();
        let next: [number, { at: number; fn: () => void }] | null = null;
        for (const e of timers) if (e[1].at <= until && (!next || e[1].at < next[1].at || (e[1].at === next[1].at && e[0] < next[0]))) next = e;
        if (!next) break;
        timers.delete(next[0]);
        t = Math.max(t, next[1].at);
        next[1].fn();
      }
      t = until;
    },
  };
  return clock;
}

interface Scenario {
  rate: number;
  burst: number;
  paceShare: number;
  /** When each caller asks (ms). */
  asks: number[];
  /** Timer lateness, cycled. */
  late: number[];
  /**
   * When the store does not read (descheduled, busy): [start, length] ms. A request released in
   * a stall is read at its end, with every other request of that stall; otherwise 0.3 ms after
   * release. Answers take 0.2 ms more.
   */
  stalls: [number, number][];
}

function readAt(stalls: [number, number][], released: number): number {
  let t = released + 0.3;
  for (const [start, len] of stalls) if (t >= start && t < start + len) t = start + len;
  return t;
}

/** Runs a scenario; returns release and arrival times. */
async function play(s: Scenario) {
  const clock = jitteryClock((n) => s.late[n % s.late.length] as number);
  const limiter = createRateLimiter({ rate: s.rate, burst: s.burst, paceShare: s.paceShare, clock });
  const released: number[] = [];
  const arrived: number[] = [];
  for (const ask of s.asks) {
    clock.at(ask, () => {
      void limiter.acquire(undefined, (g) => {
        released.push(g.releasedAt);
        const a = readAt(s.stalls, g.releasedAt);
        arrived.push(a);
        // the answer comes back after the store read it; the caller reports the arrival then
        clock.at(a + 0.2, () => limiter.arrivedBy(g.seq, a));
      });
    });
  }
  await clock.run(Math.max(...s.asks) + ((s.asks.length + s.burst) * 1000) / s.rate + 5000);
  limiter.close();
  return { released, arrived };
}

describe('rate limiter: the sliding second at the store', () => {
  it('a store that reads nothing for 80 ms does not see rate + 1 in a second (the window waits for the late arrivals)', async () => {
    // 50 req/s; the store does not read from 200 to 280 ms (a descheduled store): the requests of
    // those 80 ms are read at once at 280
    const asks = Array.from({ length: 400 }, () => 0);
    const { released, arrived } = await play({ rate: 50, burst: 1, paceShare: 0.99, asks, late: [0, 1, 0, 2], stalls: [[200, 80]] });
    expect(released.length).toBe(400);
    expect(maxInWindow(arrived, 1000)).toBeLessThanOrEqual(50);
    // without the report, the release times alone would have let 51 into the store's second
    // from the late arrival on: the guard is what holds them
    expect(maxInWindow(released, 1000)).toBeLessThanOrEqual(50);
    // and the long-run pace is kept: 400 requests at 49.5 req/s ≈ 8.06 s (+ the 80 ms once)
    expect(Math.max(...released)).toBeLessThan(8100 + 80);
  });

  it('timers 0–40 ms late: never more than the rate released in any second, long-run rate kept', async () => {
    const lateness = [0, 40, 3, 0, 17, 1, 0, 25];
    const asks = Array.from({ length: 3000 }, (_, i) => Math.floor(i / 100) * 100); // callers in waves
    const { released } = await play({ rate: 100, burst: 1, paceShare: 0.99, asks, late: lateness, stalls: [] });
    expect(released.length).toBe(3000);
    expect(maxInWindow(released, 1000)).toBeLessThanOrEqual(100);
    const span = ((released[released.length - 1] as number) - (released[0] as number)) / 1000;
    expect(2999 / span).toBeGreaterThan(100 * 0.95);
  });

  it('property: no sliding second holds more than floor(rate) releases, nor arrivals reported in time', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.record({
          rate: fc.integer({ min: 1, max: 120 }),
          burst: fc.integer({ min: 1, max: 5 }),
          paceShare: fc.constantFrom(1, 0.99, 0.95),
          asks: fc.array(fc.integer({ min: 0, max: 1500 }), { minLength: 1, maxLength: 400 }),
          late: fc.array(fc.integer({ min: 0, max: 60 }), { minLength: 1, maxLength: 8 }),
          stalls: fc.array(fc.tuple(fc.integer({ min: 0, max: 4000 }), fc.integer({ min: 1, max: 150 })), { maxLength: 12 }),
        }),
        async (s) => {
          const { released, arrived } = await play(s);
          expect(released.length).toBe(s.asks.length);
          expect(maxInWindow(released, 1000)).toBeLessThanOrEqual(s.rate);
          // each answer is back within 150 ms + 0.5 ms; the request floor(rate) later is due ≥ 1 s later
          expect(maxInWindow(arrived, 1000)).toBeLessThanOrEqual(s.rate);
        },
      ),
      { numRuns: 60, seed: 17 },
    );
  });
});
