/**
 * The state the web page gets over its stream (createWebSampler): the --threshold results on the
 * run's figures so far, and the database commit latency for the commit chart.
 */
import { EventEmitter } from 'node:events';
import { describe, expect, it } from 'vitest';
import type { SimulationStats } from '../../src/model/run.ts';
import type { Simulation } from '../../src/simulation/types.ts';
import { parseThreshold } from '../../src/thresholds/thresholds.ts';
import { createWebSampler } from '../../src/web/web-state.ts';
import { sampleStats } from '../monitor/fixtures.ts';

function stubSim(stats: () => SimulationStats): Simulation {
  return {
    events: new EventEmitter(),
    stats,
    occupancy: () => ({ counts: { idle: 372 }, samples: { idle: ['agent_000001'] }, total: 372 }),
    config: { fast: true, timeScale: 24 },
  } as unknown as Simulation;
}

describe('the web state', () => {
  it('carries each threshold with its current figure and ok / failed, following the run', () => {
    let stats = sampleStats();
    const thresholds = ['http_p95_ms<500', 'http_p99_ms<100', 'error_rate<0.05'].map((t) => parseThreshold(t));
    const sampler = createWebSampler(stubSim(() => stats), { thresholds });
    const first = sampler.sample().state.thresholds;
    const lat = stats.metrics['latency_ms'] as { p95: number; p99: number };
    expect(first.map((t) => [t.threshold, t.actual, t.ok])).toEqual([
      ['http_p95_ms<500', lat.p95, lat.p95 < 500],
      ['http_p99_ms<100', lat.p99, lat.p99 < 100],
      ['error_rate<0.05', null, true],
    ]);
    expect(first[1]?.ok).toBe(false);
    // Later figures: the same threshold now holds.
    stats = sampleStats({ metrics: { ...stats.metrics, latency_ms: { p50: 1, p95: 2, p99: 3 } } });
    expect(sampler.sample().state.thresholds.map((t) => t.ok)).toEqual([true, true, true]);
    expect(sampler.current().thresholds[1]).toEqual({ threshold: 'http_p99_ms<100', actual: 3, ok: true });
  });

  it('has no thresholds when none were given', () => {
    expect(createWebSampler(stubSim(() => sampleStats())).sample().state.thresholds).toEqual([]);
  });

  it('puts the database commit latency on every one-second point (null without a database)', () => {
    const stats = sampleStats();
    const commit = (stats.metrics['db_writes'] as { commit_ms: { p50: number; p95: number } }).commit_ms;
    const { point } = createWebSampler(stubSim(() => stats)).sample();
    expect([point.commitP50, point.commitP95]).toEqual([commit.p50, commit.p95]);
    const { db_writes: _db, ...noDb } = stats.metrics as Record<string, unknown>;
    const none = createWebSampler(stubSim(() => sampleStats({ metrics: noDb }))).sample().point;
    expect([none.commitP50, none.commitP95]).toEqual([null, null]);
  });
});

describe('per-endpoint latency on the one-second points', () => {
  it('has p50, p95 and p99 of every endpoint the store reports', () => {
    const base = sampleStats();
    const endpoints = { 'GET /products': { latency_ms: { p50: 1.5, p95: 4, p99: 9 } }, 'POST /checkout': { latency_ms: { p50: 3, p95: 7.5, p99: 20 } } };
    const { point } = createWebSampler(stubSim(() => sampleStats({ metrics: { ...base.metrics, endpoints } }))).sample();
    const pick = (k: 'p50' | 'p95' | 'p99') => Object.fromEntries(Object.entries(endpoints).map(([n, e]) => [n, e.latency_ms[k]]));
    expect(point.endpointsP50).toEqual(pick('p50'));
    expect(point.endpoints).toEqual(pick('p95'));
    expect(point.endpointsP99).toEqual(pick('p99'));
  });
});

describe('pacing on the web state', () => {
  it("the limiter's pace and the 429 answers: per second on the points, totals in the state; none with the mock store", () => {
    const base = sampleStats();
    let t = 1_000_000;
    let m: Record<string, unknown> = { ...base.metrics, rate_limit: { rate: 50, burst: 1 }, effective_rate: 50, http_errors: { '500': 1 }, retries_429: 0 };
    const sampler = createWebSampler(stubSim(() => sampleStats({ metrics: m })), { now: () => t });
    expect(sampler.sample().state.pacing).toEqual({ limit: 50, pace: 50, responses429: 0, retried429: 0 });
    // Two seconds later: 6 answers were 429s, and the limiter cut its pace.
    t += 2000;
    m = { ...m, effective_rate: 45, http_errors: { '500': 1, '429': 6 }, retries_429: 6 };
    const { state, point } = sampler.sample();
    expect(state.pacing).toEqual({ limit: 50, pace: 45, responses429: 6, retried429: 6 });
    expect([point.pace, point.r429]).toEqual([45, 3]);
    // No limit: no pace on the points, the 429s still counted.
    const open = createWebSampler(stubSim(() => sampleStats({ metrics: { ...m, rate_limit: { rate: 0, burst: 0 }, effective_rate: 0 } }))).sample();
    expect(open.point.pace).toBeNull();
    expect(open.state.pacing?.limit).toBe(0);
    // The mock store reports no limiter.
    const { rate_limit: _r, effective_rate: _e, ...mock } = m;
    expect(createWebSampler(stubSim(() => sampleStats({ metrics: mock }))).sample().state.pacing).toBeNull();
  });
});
