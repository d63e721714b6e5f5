/**
 * A global token bucket shared by every agent of a run, scheduled by due time.
 *
 * Each request gets a slot on a schedule (GCRA, the "virtual scheduling" form of a token
 * bucket): slot = max(arrival, TAT - tolerance, blockedUntil), then TAT = max(TAT, slot) + 1/rate.
 * Slots depend only on the schedule, never on when a timer actually fired, so a late timer
 * delays one release but does not push the later ones back: the long-run rate equals the
 * setting even at capacity 1 (a bucket refilled from "now" at release ran 2.9% slow at
 * 50 req/s, see FINDINGS). In any window of W ms at most `burst + W * rate / 1000` slots
 * fall (never a burst above capacity).
 *
 * The schedule paces at `paceShare` (default 99%) of the rate: 10 ms of slack per second for
 * delivery jitter, so a store enforcing the same limit over a sliding second sees no request
 * above it.
 *
 * The store counts requests when they arrive, and arrivals bunch where releases did not: a
 * store process that is descheduled for 80 ms reads the requests of those 80 ms at once, and
 * the request sent a second after the first of them trips its sliding-second limit (measured
 * with BENCH=pacing: dispatch → arrival p99.9 of 20–90 ms on a loaded 2-core machine, against a
 * median of 0.5 ms). So each release also waits for the sliding window of the last
 * floor(rate) releases *as the store saw them*: the caller reports when a request arrived at the
 * latest (`arrivedBy`, from its answer: answered at − the fastest answer of that endpoint), and
 * request n goes out no earlier than 1 s (+ `windowMarginMs`) after the latest arrival among
 * requests ≤ n − floor(rate). Then no second at the store holds more than floor(rate)
 * arrivals, however late the store read any of them, provided each arrival is reported before
 * the request floor(rate) later is due. Without reports the window runs on release times (a
 * stalled event loop catching up on overdue slots still never sends more than floor(rate) in a
 * second). A late read costs only the requests behind it; the GCRA schedule is not pushed back,
 * so the long-run rate is kept.
 *
 * `blockUntil(t)` is a shared "blocked until" gate: no slot is given before t, and the
 * schedule restarts from t (at most `burst` at once). The HTTP client uses it only when there
 * is no rate to cut (rate 0).
 *
 * `backOff()` is the adaptive answer to a 429 (AIMD): the pace drops to 90% of what it is
 * (at most one cut per second, never below half the setting) and recovers by 1% of the
 * setting per second without a cut. The request that got the 429 waits its Retry-After on
 * its own; every other agent keeps going at the lower pace.
 * The clock is injectable so tests run it with a fake one.
 */

export interface LimiterClock {
  /** Milliseconds, monotonic. */
  now(): number;
  setTimer(fn: () => void, ms: number): unknown;
  clearTimer(handle: unknown): void;
}

export const realLimiterClock: LimiterClock = {
  now: () => performance.now(),
  setTimer: (fn, ms) => setTimeout(fn, Math.max(0, ms)),
  clearTimer: (h) => clearTimeout(h as NodeJS.Timeout),
};

export interface RateLimiterOptions {
  /** Requests per second; 0 = no limit (the 429 gate still applies). Default 50. */
  rate?: number;
  /** Bucket capacity: how many requests may go at once after an idle spell. Default 1. */
  burst?: number;
  clock?: LimiterClock;
  /**
   * The share of `rate` the schedule paces at. Default 0.99: 1,000 ms of the setting's slots
   * span 1,010 ms, so delivery jitter of up to 10 ms (timers, connection set-up) does not put
   * rate + 1 requests into a sliding second at a store that enforces the same limit.
   */
  paceShare?: number;
  /** Added to the 1-s window an arrival has to leave before the next release (rounding, clock reads). Default 1 ms. */
  windowMarginMs?: number;
}

export interface Grant {
  /** When the request was due to be sent per the schedule (clock ms): the intended start. */
  dueAt: number;
  /** When the limiter released it (clock ms); ≥ dueAt (timers fire late). */
  releasedAt: number;
  /** The release's number, for `arrivedBy`; -1 when there is no window (rate 0). */
  seq: number;
}

export interface RateLimiter {
  readonly rate: number;
  readonly burst: number;
  /**
   * The intended start of a new call per the schedule, without waiting: what the slot would be
   * if nothing else (busy connections, a slow store) held the caller back. A separate virtual
   * schedule, for latency corrected for coordinated omission.
   */
  intendedStart(): number;
  /**
   * Waits for the next slot. Rejects with the signal's reason if aborted while queued.
   * `onRelease` runs synchronously at the moment of release (before the promise settles):
   * start the request there and the send times keep the limiter's guarantees exactly, however
   * late the awaiting code gets to run on a busy event loop.
   */
  acquire(signal?: AbortSignal, onRelease?: (grant: Grant) => void): Promise<Grant>;
  /**
   * The fast path of `acquire` without a promise: when nobody is queued and a slot is free now,
   * runs `onRelease` (synchronously; what it throws propagates) and returns the grant; otherwise
   * returns null and takes nothing (then `acquire`).
   */
  tryAcquire(onRelease?: (grant: Grant) => void): Grant | null;
  /**
   * The request of release `seq` reached the store by `atMs` at the latest (clock ms): the
   * sliding window counts it from there. Earlier than what the window holds changes nothing.
   */
  arrivedBy(seq: number, atMs: number): void;
  /** No slot before `untilMs` (clock ms). A later gate wins over an earlier one. */
  blockUntil(untilMs: number): void;
  readonly blockedUntil: number;
  /** A 429 arrived: cut the pace multiplicatively (once per second at most); it recovers additively. */
  backOff(): void;
  /** The pace now, requests per second (the setting unless a 429 cut it; 0 = no limit). */
  readonly effectiveRate: number;
  /** Cuts made by backOff. */
  readonly backOffs: number;
  /** Requests waiting for a slot. */
  readonly pending: number;
  /** Drops the timer; queued acquires are rejected. */
  close(): void;
}

/**
 * Capacity 1: a store that enforces the same limit over a sliding second sees no burst on top
 * of the pace (the GCRA schedule keeps the long-run rate at any capacity).
 */
/** See RateLimiterOptions.paceShare. */
export const DEFAULT_PACE_SHARE = 0.99;

export function defaultBurst(rate: number): number {
  return rate > 0 ? 1 : 0;
}

interface Waiter {
  arrivedAt: number;
  onRelease: ((g: Grant) => void) | undefined;
  resolve: (g: Grant) => void;
  reject: (e: unknown) => void;
  signal: AbortSignal | undefined;
  onAbort: (() => void) | undefined;
}

/**
 * @throws RangeError when rate or burst is not a finite number in range.
 */
export function createRateLimiter(options: RateLimiterOptions = {}): RateLimiter {
  const rate = options.rate ?? 50;
  if (!Number.isFinite(rate) || rate < 0) throw new RangeError(`Expected \`rate\` to be a finite number >= 0, got ${String(rate)}`);
  const burst = options.burst ?? defaultBurst(rate);
  if (rate > 0 && (!Number.isInteger(burst) || burst < 1)) throw new RangeError(`Expected \`burst\` to be an integer >= 1, got ${String(burst)}`);
  const clock = options.clock ?? realLimiterClock;
  const paceShare = options.paceShare ?? DEFAULT_PACE_SHARE;
  if (!Number.isFinite(paceShare) || paceShare <= 0 || paceShare > 1) throw new RangeError(`Expected \`paceShare\` to be a number in (0, 1], got ${String(paceShare)}`);
  const interval = rate > 0 ? 1000 / (rate * paceShare) : 0;
  const tolerance = rate > 0 ? (burst - 1) * interval : 0;

  const marginMs = options.windowMarginMs ?? 1;
  if (!Number.isFinite(marginMs) || marginMs < 0) throw new RangeError(`Expected \`windowMarginMs\` to be a finite number >= 0, got ${String(marginMs)}`);
  // The sliding window as the store sees it: for each of the last `windowSize` releases, the
  // latest it can have arrived (its release time until arrivedBy says later), in a ring indexed
  // by release number; `evictedMax` is the latest arrival among the releases that left the ring.
  // Release n waits for max(evictedMax, arrival of n − windowSize) + 1 s + margin.
  const windowSize = rate >= 1 && rate <= 1_000_000 ? Math.floor(rate) : 0;
  const arrived = new Float64Array(Math.max(1, windowSize)).fill(-Infinity);
  let seqNext = 0;
  let evictedMax = -Infinity;
  let tat = -Infinity; // theoretical arrival time of the next conforming request
  let virtualTat = -Infinity;
  let gate = -Infinity;
  const queue: Waiter[] = [];
  let head = 0;
  let timer: unknown = null;
  let timerAt = Infinity;
  let closed = false;
  // AIMD: the pace as a share of the setting after the last cut, and when that cut was.
  const minScale = 0.5;
  const cutFactor = 0.9;
  const recoverPerSecond = 0.01;
  let cutScale = 1;
  let cutAt = -Infinity;
  let cuts = 0;

  function scaleAt(now: number): number {
    if (cutScale >= 1) return 1;
    const s = cutScale + ((now - cutAt) / 1000) * recoverPerSecond;
    if (s >= 1) {
      cutScale = 1;
      return 1;
    }
    return s;
  }

  function intervalAt(now: number): number {
    return cutScale >= 1 ? interval : interval / scaleAt(now);
  }

  function nextSlot(w: Waiter): number {
    return Math.max(w.arrivedAt, tat - tolerance, gate);
  }

  /** Earliest actual time the 1-s window allows another release. */
  function windowOpensAt(): number {
    if (windowSize === 0) return -Infinity;
    const oldest = arrived[seqNext % windowSize] as number;
    return (oldest > evictedMax ? oldest : evictedMax) + 1000 + marginMs;
  }

  /** Notes release `seqNext` at `now`; returns its number. */
  function noteRelease(now: number): number {
    if (windowSize === 0) return -1;
    const pos = seqNext % windowSize;
    const out = arrived[pos] as number;
    if (out > evictedMax) evictedMax = out;
    arrived[pos] = now;
    return seqNext++;
  }

  function arm(at: number, now: number): void {
    if (timer !== null && timerAt <= at) return;
    if (timer !== null) clock.clearTimer(timer);
    timerAt = at;
    timer = clock.setTimer(onTimer, Math.ceil(at - now));
  }

  function onTimer(): void {
    timer = null;
    timerAt = Infinity;
    drain();
  }

  function drain(): void {
    while (head < queue.length) {
      // Read per release: a loop preempted midway must not note stale release times.
      const now = clock.now();
      const w = queue[head] as Waiter;
      const slot = nextSlot(w);
      const opens = windowOpensAt();
      if (slot > now || opens > now) {
        arm(Math.max(slot, opens), now);
        break;
      }
      head++;
      tat = Math.max(tat, slot) + intervalAt(now);
      if (w.signal && w.onAbort) w.signal.removeEventListener('abort', w.onAbort);
      const g = { dueAt: slot, releasedAt: now, seq: noteRelease(now) };
      let failed: unknown = null;
      if (w.onRelease) {
        try {
          w.onRelease(g);
        } catch (err) {
          failed = err ?? new Error('onRelease failed');
        }
      }
      if (failed !== null) w.reject(failed);
      else w.resolve(g);
    }
    if (head > 1024 && head * 2 > queue.length) {
      queue.splice(0, head);
      head = 0;
    }
  }

  const limiter: RateLimiter = {
    rate,
    burst,
    get blockedUntil() {
      return gate;
    },
    get pending() {
      return queue.length - head;
    },
    get effectiveRate() {
      return rate * scaleAt(clock.now());
    },
    get backOffs() {
      return cuts;
    },

    backOff(): void {
      if (rate === 0) return;
      const now = clock.now();
      if (now - cutAt < 1000) return;
      cutScale = Math.max(minScale, scaleAt(now) * cutFactor);
      cutAt = now;
      cuts++;
    },

    intendedStart(): number {
      const now = clock.now();
      const slot = Math.max(now, virtualTat - tolerance, gate);
      virtualTat = Math.max(virtualTat, slot) + interval;
      return slot;
    },

    tryAcquire(onRelease?: (grant: Grant) => void): Grant | null {
      if (closed || head !== queue.length) return null;
      const now = clock.now();
      if (rate === 0) {
        if (gate > now) return null;
        const g = { dueAt: now, releasedAt: now, seq: -1 };
        onRelease?.(g);
        return g;
      }
      // Nobody queued: go now if the bucket has a token and the 1-s window allows it.
      const slot = Math.max(now, tat - tolerance, gate);
      if (slot > now || windowOpensAt() > now) return null;
      tat = Math.max(tat, slot) + intervalAt(now);
      const g = { dueAt: slot, releasedAt: now, seq: noteRelease(now) };
      onRelease?.(g);
      return g;
    },

    acquire(signal?: AbortSignal, onRelease?: (grant: Grant) => void): Promise<Grant> {
      if (closed) return Promise.reject(new Error('rate limiter closed'));
      if (signal?.aborted) return Promise.reject(signal.reason);
      try {
        const g = limiter.tryAcquire(onRelease);
        if (g !== null) return Promise.resolve(g);
      } catch (err) {
        return Promise.reject(err);
      }
      const now = clock.now();
      return new Promise<Grant>((resolve, reject) => {
        const w: Waiter = { arrivedAt: now, onRelease, resolve, reject, signal, onAbort: undefined };
        if (signal) {
          w.onAbort = () => {
            const i = queue.indexOf(w, head);
            if (i >= 0) queue.splice(i, 1);
            reject(signal.reason);
          };
          signal.addEventListener('abort', w.onAbort, { once: true });
        }
        queue.push(w);
        drain();
      });
    },

    arrivedBy(seq: number, atMs: number): void {
      if (windowSize === 0 || seq < 0 || seq >= seqNext) return;
      if (seqNext - seq > windowSize) {
        if (atMs > evictedMax) evictedMax = atMs;
        return;
      }
      const pos = seq % windowSize;
      if (atMs > (arrived[pos] as number)) arrived[pos] = atMs;
      // A later release waiting on the window may now have to wait longer: drain re-arms then.
    },

    blockUntil(untilMs: number): void {
      if (untilMs <= gate) return;
      gate = untilMs;
      // The schedule restarts at the gate: what was owed before it is not sent in one burst.
      if (tat < gate) tat = gate;
      if (virtualTat < gate) virtualTat = gate;
      if (timer !== null) {
        clock.clearTimer(timer);
        timer = null;
        timerAt = Infinity;
      }
      if (head < queue.length) arm(nextSlot(queue[head] as Waiter), clock.now());
    },

    close(): void {
      closed = true;
      if (timer !== null) clock.clearTimer(timer);
      timer = null;
      const rest = queue.splice(head);
      head = 0;
      queue.length = 0;
      for (const w of rest) w.reject(new Error('rate limiter closed'));
    },
  };

  return limiter;
}
