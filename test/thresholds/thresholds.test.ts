import { describe, expect, it } from 'vitest';
import { resolveConfig } from '../../src/config.ts';
import { evaluateThresholds, parseThreshold } from '../../src/thresholds/thresholds.ts';

describe('thresholds', () => {
  it('parses METRIC OP NUMBER and normalises the text', () => {
    expect(parseThreshold(' http_p95_ms <= 500 ')).toEqual({ text: 'http_p95_ms<=500', metric: 'http_p95_ms', op: '<=', value: 500 });
  });
  it.each([
    ['nonsense', /expected METRIC OP NUMBER/],
    ['http_p95_ms=500', /expected METRIC OP NUMBER/],
    ['latency<5', /unknown metric latency \(one of http_p50_ms/],
  ])('refuses %s naming it', (text, re) => {
    expect(() => parseThreshold(text)).toThrow(re);
    expect(() => parseThreshold(text)).toThrow(JSON.stringify(text));
  });
  it('judges each operator on the figures; a metric without data does not fail', () => {
    const figures = { sessions_created: 100, sessions_failed: 2, checkouts_completed: 10, latency_ms: { p95: 400 } };
    const r = evaluateThresholds(['checkout_failed_rate<0.01', 'checkout_failed_rate<=0.02', 'http_p95_ms<500', 'checkout_rate>0.1', 'checkout_rate>=0.1', 'error_rate<0.05'].map((t) => parseThreshold(t)), figures);
    expect(r.map((x) => [x.text, x.ok, x.actual])).toEqual([
      ['checkout_failed_rate<0.01', false, 0.02],
      ['checkout_failed_rate<=0.02', true, 0.02],
      ['http_p95_ms<500', true, 400],
      ['checkout_rate>0.1', false, 0.1],
      ['checkout_rate>=0.1', true, 0.1],
      ['error_rate<0.05', true, null],
    ]);
  });
  it('comes from a repeated flag, comma-separated env or a YAML list, and names the bad one', () => {
    expect(resolveConfig({ threshold: ['error_rate<0.05', 'http_p95_ms<500'] }, {}).config.threshold).toEqual(['error_rate<0.05', 'http_p95_ms<500']);
    expect(resolveConfig({}, { SHOPSIM_THRESHOLDS: 'error_rate<0.05, abandon_rate<0.5' }).config.threshold).toEqual(['error_rate<0.05', 'abandon_rate<0.5']);
    expect(() => resolveConfig({}, { SHOPSIM_THRESHOLDS: 'error_rate<0.05,bad' })).toThrow(/^SHOPSIM_THRESHOLDS \(environment\) "bad": expected METRIC OP NUMBER/);
  });
});
