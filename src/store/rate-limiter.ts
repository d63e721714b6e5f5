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
 * latest (`arrivedBy`: the HTTP client says its answer time, or when the attempt failed), and
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
  /**
   * One schedule for several limiters, in other threads too: the state made by
   * `createSharedLimiterState(rate)` (the same rate; pass the buffer to each thread). Each limiter
   * keeps its own queue and timer and takes its releases from the one schedule, so the limit and
   * the sliding window hold for all of them together and a limiter with work uses the slots the
   * idle ones leave (the run's `--rate-limit` across `--workers N` threads).
   */
  shared?: SharedArrayBuffer;
  /**
   * Added to `clock.now()` to put every thread on one time line (default with `shared`:
   * `performance.timeOrigin`, which differs per thread; otherwise 0). Tests set it.
   */
  originMs?: number;
}

// The schedule's state, in a Float64Array (shared or not): times in ms on the limiter's time line.
const S_TAT = 0; // theoretical arrival time of the next conforming request
const S_VTAT = 1; // the same for intendedStart's virtual schedule
const S_GATE = 2; // no slot before this
const S_SEQ = 3; // the next release's number
const S_EVICTED = 4; // the latest arrival among the releases that left the window's ring
const S_CUT_SCALE = 5; // AIMD: the pace as a share of the setting after the last cut
const S_CUT_AT = 6; // when that cut was
const S_CUTS = 7; // cuts made
const S_RATE = 8; // the rate the state was made for (a shared state's check)
const HEADER = 9;
/** Bytes before the Float64 state in a shared buffer: the lock (Int32: 0 free, else the holder's id). */
const LOCK_BYTES = 8;

function windowSizeOf(rate: number): number {
  return rate >= 1 && rate <= 1_000_000 ? Math.floor(rate) : 0;
}

function initState(state: Float64Array, rate: number): void {
  state.fill(-Infinity);
  state[S_SEQ] = 0;
  state[S_CUT_SCALE] = 1;
  state[S_CUTS] = 0;
  state[S_RATE] = rate;
}

/** A schedule several limiters (in any threads) can share: see RateLimiterOptions.shared. */
export function createSharedLimiterState(rate: number): SharedArrayBuffer {
  if (!Number.isFinite(rate) || rate < 0) throw new RangeError(`Expected \`rate\` to be a finite number >= 0, got ${String(rate)}`);
  const sab = new SharedArrayBuffer(LOCK_BYTES + 8 * (HEADER + Math.max(1, windowSizeOf(rate))));
  initState(new Float64Array(sab, LOCK_BYTES), rate);
  return sab;
}

let lockIds = 0;

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
  /** The schedule is shared with other limiters (RateLimiterOptions.shared). */
  readonly shared: boolean;
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
 * @throws RangeError when rate or burst is not a finite number in range, or a shared state was
 * made for another rate.
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
  // by release number (`ring`, after the header of `state`); S_EVICTED is the latest arrival
  // among the releases that left the ring. Release n waits for max(evicted, arrival of
  // n − windowSize) + 1 s + margin.
  const windowSize = windowSizeOf(rate);
  const sab = options.shared;
  let state: Float64Array;
  let lock: Int32Array | null = null;
  if (sab) {
    state = new Float64Array(sab, LOCK_BYTES);
    if (state[S_RATE] !== rate || state.length !== HEADER + Math.max(1, windowSize)) throw new RangeError(`Expected a shared limiter state made for rate ${rate}, got one for ${String(state[S_RATE])}`);
    lock = new Int32Array(sab, 0, 2);
  } else {
    state = new Float64Array(HEADER + Math.max(1, windowSize));
    initState(state, rate);
  }
  // Every thread's clock on one time line (performance.now() counts from each thread's start).
  const origin = options.originMs ?? (sab ? performance.timeOrigin : 0);
  const now = () => clock.now() + origin;
  const lockId = ++lockIds;
  /**
   * A shared state is changed under a spin lock held for a few arithmetic operations (never
   * across a callback). A holder that stops inside it (a thread terminated there) is overruled
   * after a second, so the other threads stall once rather than for ever.
   */
  function enter(): void {
    if (!lock || Atomics.compareExchange(lock, 0, 0, lockId) === 0) return;
    const since = performance.now();
    for (let spins = 1; Atomics.compareExchange(lock, 0, 0, lockId) !== 0; spins++) {
      if ((spins & 1023) === 0 && performance.now() - since > 1000) {
        Atomics.store(lock, 0, lockId);
        return;
      }
    }
  }
  function leave(): void {
    if (lock) Atomics.store(lock, 0, 0);
  }

  const queue: Waiter[] = [];
  let head = 0;
  let timer: unknown = null;
  let timerAt = Infinity;
  let closed = false;
  // AIMD: the pace as a share of the setting after the last cut (S_CUT_SCALE), and when that cut was.
  const minScale = 0.5;
  const cutFactor = 0.9;
  const recoverPerSecond = 0.01;

  function scaleAt(t: number): number {
    const cutScale = state[S_CUT_SCALE] as number;
    if (cutScale >= 1) return 1;
    const s = cutScale + ((t - (state[S_CUT_AT] as number)) / 1000) * recoverPerSecond;
    return s >= 1 ? 1 : s;
  }

  function intervalAt(t: number): number {
    return (state[S_CUT_SCALE] as number) >= 1 ? interval : interval / scaleAt(t);
  }

  function nextSlot(w: Waiter): number {
    return Math.max(w.arrivedAt, (state[S_TAT] as number) - tolerance, state[S_GATE] as number);
  }

  /** Earliest time the 1-s window allows another release. */
  function windowOpensAt(): number {
    if (windowSize === 0) return -Infinity;
    const oldest = state[HEADER + ((state[S_SEQ] as number) % windowSize)] as number;
    const evicted = state[S_EVICTED] as number;
    return (oldest > evicted ? oldest : evicted) + 1000 + marginMs;
  }

  /** Takes the slot due at `slot` at `t` (under the lock): advances the schedule, notes the release; returns its number. */
  function take(slot: number, t: number): number {
    const tat = state[S_TAT] as number;
    state[S_TAT] = (tat > slot ? tat : slot) + intervalAt(t);
    if (windowSize === 0) return -1;
    const seq = state[S_SEQ] as number;
    const pos = HEADER + (seq % windowSize);
    const out = state[pos] as number;
    if (out > (state[S_EVICTED] as number)) state[S_EVICTED] = out;
    state[pos] = t;
    state[S_SEQ] = seq + 1;
    return seq;
  }

  function arm(at: number, t: number): void {
    if (timer !== null && timerAt <= at) return;
    if (timer !== null) clock.clearTimer(timer);
    timerAt = at;
    timer = clock.setTimer(onTimer, Math.ceil(at - t));
  }

  function onTimer(): void {
    timer = null;
    timerAt = Infinity;
    drain();
  }

  function drain(): void {
    while (head < queue.length) {
      // Read per release: a loop preempted midway must not note stale release times.
      const w = queue[head] as Waiter;
      enter();
      const t = now();
      const slot = nextSlot(w);
      const opens = windowOpensAt();
      if (slot > t || opens > t) {
        leave();
        arm(Math.max(slot, opens), t);
        break;
      }
      const seq = take(slot, t);
      leave();
      head++;
      if (w.signal && w.onAbort) w.signal.removeEventListener('abort', w.onAbort);
      const g = { dueAt: slot - origin, releasedAt: t - origin, seq };
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
    shared: sab !== undefined,
    get blockedUntil() {
      return (state[S_GATE] as number) - origin;
    },
    get pending() {
      return queue.length - head;
    },
    get effectiveRate() {
      return rate * scaleAt(now());
    },
    get backOffs() {
      return state[S_CUTS] as number;
    },

    backOff(): void {
      if (rate === 0) return;
      enter();
      const t = now();
      if (t - (state[S_CUT_AT] as number) >= 1000) {
        state[S_CUT_SCALE] = Math.max(minScale, scaleAt(t) * cutFactor);
        state[S_CUT_AT] = t;
        state[S_CUTS] = (state[S_CUTS] as number) + 1;
      }
      leave();
    },

    intendedStart(): number {
      enter();
      const t = now();
      const vtat = state[S_VTAT] as number;
      const slot = Math.max(t, vtat - tolerance, state[S_GATE] as number);
      state[S_VTAT] = (vtat > slot ? vtat : slot) + interval;
      leave();
      return slot - origin;
    },

    tryAcquire(onRelease?: (grant: Grant) => void): Grant | null {
      if (closed || head !== queue.length) return null;
      if (rate === 0) {
        const t = now();
        if ((state[S_GATE] as number) > t) return null;
        const g = { dueAt: t - origin, releasedAt: t - origin, seq: -1 };
        onRelease?.(g);
        return g;
      }
      // Nobody queued: go now if the bucket has a token and the 1-s window allows it.
      enter();
      const t = now();
      const slot = Math.max(t, (state[S_TAT] as number) - tolerance, state[S_GATE] as number);
      if (slot > t || windowOpensAt() > t) {
        leave();
        return null;
      }
      const seq = take(slot, t);
      leave();
      const g = { dueAt: slot - origin, releasedAt: t - origin, seq };
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
      const arrivedAt = now();
      return new Promise<Grant>((resolve, reject) => {
        const w: Waiter = { arrivedAt, onRelease, resolve, reject, signal, onAbort: undefined };
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
      if (windowSize === 0 || seq < 0) return;
      const at = atMs + origin;
      enter();
      const next = state[S_SEQ] as number;
      if (seq < next) {
        if (next - seq > windowSize) {
          if (at > (state[S_EVICTED] as number)) state[S_EVICTED] = at;
        } else {
          const pos = HEADER + (seq % windowSize);
          if (at > (state[pos] as number)) state[pos] = at;
        }
      }
      leave();
      // A later release waiting on the window may now have to wait longer: drain re-arms then.
    },

    blockUntil(untilMs: number): void {
      const until = untilMs + origin;
      enter();
      const moved = until > (state[S_GATE] as number);
      if (moved) {
        state[S_GATE] = until;
        // The schedule restarts at the gate: what was owed before it is not sent in one burst.
        if ((state[S_TAT] as number) < until) state[S_TAT] = until;
        if ((state[S_VTAT] as number) < until) state[S_VTAT] = until;
      }
      leave();
      if (!moved) return;
      if (timer !== null) {
        clock.clearTimer(timer);
        timer = null;
        timerAt = Infinity;
      }
      if (head < queue.length) arm(nextSlot(queue[head] as Waiter), now());
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
