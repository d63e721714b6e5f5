import type { LimiterClock } from '../../src/store/rate-limiter.ts';

/** A manual clock: timers fire when advance() passes their time, optionally `lateMs` late (a number, or one per timer). */
export function createFakeClock(lateMs: number | (() => number) = 0): LimiterClock & { advance(ms: number): Promise<void>; t: number } {
  const late = typeof lateMs === 'number' ? () => lateMs : lateMs;
  let id = 0;
  const timers = new Map<number, { at: number; fn: () => void }>();
  const clock = {
    t: 0,
    now: () => clock.t,
    setTimer(fn: () => void, ms: number) {
      timers.set(++id, { at: clock.t + Math.max(0, ms) + late(), fn });
      return id;
    },
    clearTimer(h: unknown) {
      timers.delete(h as number);
    },
    /** Moves time forward, firing due timers in order and letting promise callbacks run between them. */
    async advance(ms: number) {
      const end = clock.t + ms;
      for (let i = 0; i < 5; i++) await Promise.resolve();
      for (;;) {
        let next: [number, { at: number; fn: () => void }] | null = null;
        for (const e of timers) if (e[1].at <= end && (!next || e[1].at < next[1].at)) next = e;
        if (!next) break;
        timers.delete(next[0]);
        clock.t = Math.max(clock.t, next[1].at);
        next[1].fn();
        for (let i = 0; i < 5; i++) await Promise.resolve();
      }
      clock.t = end;
      for (let i = 0; i < 5; i++) await Promise.resolve();
    },
  };
  return clock;
}
