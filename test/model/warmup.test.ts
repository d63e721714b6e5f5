import { describe, expect, it } from 'vitest';
import { activeAgentCount, breakerThreshold, breakerTrips } from '../../src/model/warmup.ts';

describe('warm-up ramp', () => {
  it('splits W=10 cycles evenly over the 10/25/50/75/100% batches for 372 agents', () => {
    const counts = Array.from({ length: 11 }, (_, i) => activeAgentCount(i + 1, 372, 10));
    expect(counts).toEqual([37, 37, 93, 93, 186, 186, 279, 279, 372, 372, 372]);
  });
  it('runs everyone from the start without warm-up', () => {
    expect(activeAgentCount(1, 372, 0)).toBe(372);
  });
  it('handles warm-up shorter than the batch count', () => {
    expect([1, 2, 3].map((c) => activeAgentCount(c, 100, 2))).toEqual([10, 50, 100]);
  });
});

describe('breaker threshold', () => {
  it('is floor(agents × percent / 100): 18 of 372 keeps it closed, 19 opens it', () => {
    expect(breakerThreshold(372, 5)).toBe(18);
    expect(breakerTrips(18, 18)).toBe(false);
    expect(breakerTrips(19, 18)).toBe(true);
  });
});
