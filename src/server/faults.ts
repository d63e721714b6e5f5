/**
 * Fault injection for the reference store, to exercise a client's resilience:
 * - maxRps: more than R requests in any sliding second → 429 with Retry-After (whole seconds, ≥ 1);
 * - hangRate: the request is never answered (the client's timeout has to fire);
 * - latencyMs ± jitterMs: every answer is delayed (uniform in [M − J, M + J], at least 0);
 * - failRate: 503 INJECTED_FAILURE, before the request touches the store (no side effects).
 * Draws come from one seeded generator in arrival order.
 */
import { Rng, seedRng } from '../model/rng.ts';

export interface FaultOptions {
  failRate?: number;
  latencyMs?: number;
  jitterMs?: number;
  /** 0 = no limit. */
  maxRps?: number;
  hangRate?: number;
  seed?: number;
}

export type FaultDecision =
  | { kind: 'pass'; delayMs: number }
  | { kind: 'rate_limited'; retryAfterSeconds: number }
  | { kind: 'hang' }
  | { kind: 'fail'; delayMs: number };

export interface FaultInjector {
  readonly active: boolean;
  decide(nowMs: number): FaultDecision;
  counts(): { rate_limited: number; hung: number; failed: number; delayed: number };
}

export function validateFaultOptions(o: FaultOptions): void {
  const rate = (name: string, v: number | undefined) => {
    if (v !== undefined && !(Number.isFinite(v) && v >= 0 && v <= 1)) throw new RangeError(`Expected \`${name}\` to be a number from 0 to 1, got ${String(v)}`);
  };
  const ms = (name: string, v: number | undefined) => {
    if (v !== undefined && !(Number.isFinite(v) && v >= 0)) throw new RangeError(`Expected \`${name}\` to be a finite number >= 0, got ${String(v)}`);
  };
  rate('failRate', o.failRate);
  rate('hangRate', o.hangRate);
  ms('latencyMs', o.latencyMs);
  ms('jitterMs', o.jitterMs);
  if (o.maxRps !== undefined && !(Number.isInteger(o.maxRps) && o.maxRps >= 0)) throw new RangeError(`Expected \`maxRps\` to be an integer >= 0, got ${String(o.maxRps)}`);
}

export function createFaultInjector(o: FaultOptions): FaultInjector {
  validateFaultOptions(o);
  const failRate = o.failRate ?? 0;
  const hangRate = o.hangRate ?? 0;
  const latency = o.latencyMs ?? 0;
  const jitter = o.jitterMs ?? 0;
  const maxRps = o.maxRps ?? 0;
  const rng = new Rng(seedRng((o.seed ?? 42) ^ 0xfa17));
  // Sliding window: the send times of the last `maxRps` accepted requests, as a ring.
  const ring = new Float64Array(Math.max(1, maxRps)).fill(-Infinity);
  let pos = 0;
  const n = { rate_limited: 0, hung: 0, failed: 0, delayed: 0 };

  function delay(): number {
    if (latency === 0 && jitter === 0) return 0;
    n.delayed++;
    return Math.max(0, latency + (jitter > 0 ? (rng.next() * 2 - 1) * jitter : 0));
  }

  return {
    active: failRate > 0 || hangRate > 0 || latency > 0 || jitter > 0 || maxRps > 0,
    decide(now) {
      if (maxRps > 0) {
        const oldest = ring[pos] as number;
        if (now - oldest < 1000) {
          n.rate_limited++;
          return { kind: 'rate_limited', retryAfterSeconds: Math.max(1, Math.ceil((oldest + 1000 - now) / 1000)) };
        }
        ring[pos] = now;
        pos = (pos + 1) % maxRps;
      }
      if (hangRate > 0 && rng.next() < hangRate) {
        n.hung++;
        return { kind: 'hang' };
      }
      const d = delay();
      if (failRate > 0 && rng.next() < failRate) {
        n.failed++;
        return { kind: 'fail', delayMs: d };
      }
      return { kind: 'pass', delayMs: d };
    },
    counts: () => ({ ...n }),
  };
}
