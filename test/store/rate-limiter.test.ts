import { describe, expect, it } from 'vitest';
import { createRateLimiter, defaultBurst } from '../../src/store/rate-limiter.ts';
import { createFakeClock } from './fake-clock.ts';
import { maxInWindow } from './max-in-window.ts';

/** Starts `n` acquires at once and records when each is released (fake ms). */
function flood(limiter: ReturnType<typeof createRateLimiter>, clock: ReturnType<typeof createFakeClock>, n: number) {
  const released: number[] = [];
  const due: number[] = [];
  for (let i = 0; i < n; i++) {
    void limiter.acquire().then((g) => {
      released.push(clock.now());
      due.push(g.dueAt);
    });
  }
  return { released, due };
}


describe('createRateLimiter', () => {
  it('defaults the capacity to 1', () => {
    expect(defaultBurst(50)).toBe(1);
    expect(defaultBurst(1000)).toBe(1);
    expect(defaultBurst(0)).toBe(0);
    expect(createRateLimiter({ rate: 10 }).burst).toBe(1);
  });

  it('never releases more than the capacity at once, then paces at the rate', async () => {
    const clock = createFakeClock();
    const limiter = createRateLimiter({ rate: 50, burst: 5, clock, paceShare: 1 });
    const { released } = flood(limiter, clock, 100);
    await clock.advance(0);
    expect(released.length).toBe(5);
    await clock.advance(19);
    expect(released.length).toBe(5);
    await clock.advance(1);
    expect(released.length).toBe(6);
    await clock.advance(10_000);
    expect(released.length).toBe(100);
    // any 1 s window: at most rate + capacity
    expect(maxInWindow(released, 1000)).toBeLessThanOrEqual(55);
  });

  it.each([
    [50, 1, 0],
    [50, 1, 3],
    [50, 2, 3],
    [1000, 1, 0],
    [1000, 20, 2],
  ])('long-run rate equals the setting (rate %d, capacity %d, timers %d ms late)', async (rate, burst, late) => {
    const clock = createFakeClock(late);
    // the schedule at the full setting, no window margin (the default slack is tested below)
    const limiter = createRateLimiter({ rate, burst, clock, paceShare: 1, windowMarginMs: 0 });
    const n = rate * 30;
    const { due, released } = flood(limiter, clock, n + burst);
    await clock.advance(30_000 + late + 1);
    // the capacity goes at once, then the window of the last `rate` releases holds the rest to
    // `rate` a second: n + 1 releases in 30 s. At the full setting there is no slack, so where
    // the window (not the schedule) holds a release its timer's lateness is lost once a second.
    expect(released.length).toBeGreaterThanOrEqual(Math.floor((n + 1) * (1 - late / 1000)));
    expect(released.length).toBeLessThanOrEqual(n + 1);
    if (late === 0) expect(released.length).toBe(n + 1);
    // late timers delay releases but never shift the schedule: the slots stay 1/rate apart
    for (let i = burst; i < due.length; i++) expect(Math.abs((due[i] as number) - (i - burst + 1) * (1000 / rate))).toBeLessThan(1e-6 * i + 1e-6);
    for (let i = 0; i < released.length; i++) expect(released[i] as number).toBeGreaterThanOrEqual(due[i] as number);
    expect(maxInWindow(released, 1000)).toBeLessThanOrEqual(rate);
  });

  it('does not bank tokens beyond the capacity while idle', async () => {
    const clock = createFakeClock();
    const limiter = createRateLimiter({ rate: 10, burst: 3, clock, paceShare: 1 });
    await clock.advance(60_000);
    const { released } = flood(limiter, clock, 10);
    await clock.advance(0);
    expect(released.length).toBe(3);
  });

  it('gives no slot before a blockUntil gate, then at most the capacity at once', async () => {
    const clock = createFakeClock();
    const limiter = createRateLimiter({ rate: 100, burst: 4, clock, paceShare: 1 });
    limiter.blockUntil(2000);
    const { released } = flood(limiter, clock, 20);
    await clock.advance(1999);
    expect(released.length).toBe(0);
    await clock.advance(1);
    expect(released.length).toBe(4);
    await clock.advance(1000);
    expect(released.length).toBe(20);
    expect(Math.min(...released)).toBe(2000);
  });

  it('with rate 0 it does not limit, but still honours the gate', async () => {
    const clock = createFakeClock();
    const limiter = createRateLimiter({ rate: 0, clock });
    const a = flood(limiter, clock, 1000);
    await clock.advance(0);
    expect(a.released.length).toBe(1000);
    limiter.blockUntil(500);
    const b = flood(limiter, clock, 10);
    await clock.advance(499);
    expect(b.released.length).toBe(0);
    await clock.advance(1);
    expect(b.released.length).toBe(10);
  });

  it('rejects a queued acquire when its signal aborts', async () => {
    const clock = createFakeClock();
    const limiter = createRateLimiter({ rate: 1, burst: 1, clock, paceShare: 1 });
    await limiter.acquire();
    const ac = new AbortController();
    const p = limiter.acquire(ac.signal);
    ac.abort(new Error('gone'));
    await expect(p).rejects.toThrow('gone');
    expect(limiter.pending).toBe(0);
  });

  it('rejects bad settings with a message naming the option', () => {
    expect(() => createRateLimiter({ rate: -1 })).toThrow('Expected `rate` to be a finite number >= 0, got -1');
    expect(() => createRateLimiter({ rate: 5, burst: 0 })).toThrow('`burst`');
  });
});

describe('createRateLimiter after a stall', () => {
  it('catches up on overdue slots but never releases more than the rate in a second', async () => {
    const clock = createFakeClock(40); // every timer fires 40 ms late: a busy event loop
    const limiter = createRateLimiter({ rate: 100, burst: 5, clock, paceShare: 1, windowMarginMs: 0 });
    const { released } = flood(limiter, clock, 1000 + 5);
    await clock.advance(15_000);
    expect(released.length).toBe(1005);
    expect(maxInWindow(released, 1000)).toBeLessThanOrEqual(100);
    // the long-run rate is kept: 1005 grants took about 10 s of real time, plus one late timer
    // (40 ms) per second where the window, not the schedule, held the next release — not 40 ms
    // per release
    expect(Math.max(...released)).toBeLessThan(10_000 + 10 * 40 + 100);
  });

  it('tryAcquire takes a free token synchronously and nothing when it must wait', async () => {
    const clock = createFakeClock();
    const limiter = createRateLimiter({ rate: 50, burst: 2, clock, paceShare: 1 });
    const sent: number[] = [];
    expect(limiter.tryAcquire(() => sent.push(1))).toEqual({ dueAt: 0, releasedAt: 0, seq: 0 });
    expect(limiter.tryAcquire(() => sent.push(2))).not.toBeNull();
    expect(limiter.tryAcquire(() => sent.push(3))).toBeNull();
    expect(sent).toEqual([1, 2]);
    // a queued acquire keeps its place: tryAcquire does not overtake it
    const p = limiter.acquire(undefined, () => sent.push(4));
    await clock.advance(20);
    await p;
    expect(limiter.tryAcquire(() => sent.push(5))).toBeNull();
    await clock.advance(20);
    expect(limiter.tryAcquire(() => sent.push(6))).not.toBeNull();
    expect(sent).toEqual([1, 2, 4, 6]);
    const open = createRateLimiter({ rate: 0, clock });
    expect(open.tryAcquire()).not.toBeNull();
    open.blockUntil(clock.now() + 100);
    expect(open.tryAcquire()).toBeNull();
  });
  it('backOff cuts the pace to 90% (once a second at most, never below half) and it recovers 1% of the setting a second', async () => {
    const clock = createFakeClock();
    const limiter = createRateLimiter({ rate: 100, burst: 1, clock, paceShare: 1 });
    expect(limiter.effectiveRate).toBe(100);
    limiter.backOff();
    limiter.backOff(); // within the same second: no second cut
    expect(limiter.backOffs).toBe(1);
    expect(limiter.effectiveRate).toBeCloseTo(90, 6);
    const { released } = flood(limiter, clock, 50);
    await clock.advance(2000);
    expect(released.length).toBe(50);
    // paced at the cut rate: gaps of 1000 / ~90 ms, not 10 ms
    for (let i = 1; i < 10; i++) expect((released[i] as number) - (released[i - 1] as number)).toBeGreaterThanOrEqual(11);
    await clock.advance(3000); // 5 s after the cut: 90 + 5
    expect(limiter.effectiveRate).toBeCloseTo(95, 6);
    for (let i = 0; i < 20; i++) {
      limiter.backOff();
      await clock.advance(1000);
    }
    expect(limiter.effectiveRate).toBeGreaterThanOrEqual(50);
    expect(limiter.effectiveRate).toBeLessThan(60);
    await clock.advance(60_000);
    expect(limiter.effectiveRate).toBe(100);
  });

  it('backOff does nothing without a rate', () => {
    const limiter = createRateLimiter({ rate: 0 });
    limiter.backOff();
    expect(limiter.backOffs).toBe(0);
    expect(limiter.effectiveRate).toBe(0);
  });
  it('paces at 99% of the rate by default: the slots of any 1,010 ms hold at most the rate', async () => {
    for (const [rate, late] of [[50, 0], [50, 3], [1000, 2]] as const) {
      const clock = createFakeClock(late);
      const limiter = createRateLimiter({ rate, clock });
      const { due } = flood(limiter, clock, rate * 20);
      await clock.advance(25_000);
      expect(due.length).toBe(rate * 20);
      expect(maxInWindow(due, 1010)).toBeLessThanOrEqual(rate);
      const span = ((due[due.length - 1] as number) - (due[0] as number)) / 1000;
      expect((due.length - 1) / span).toBeGreaterThanOrEqual(rate * 0.989);
    }
  });
});
