/**
 * The per-worker rows of the coordinator's monitoring (src/monitor/worker-rows.ts): the row
 * model on a clock of the test's own (rates over the window, stale past half an interval late,
 * lost and left, merged totals, the lines the dashboard and summary print); the heartbeat
 * records of a distributed run turned into rows; and a `--workers 2` mock run through the
 * application layer: /metrics has a series per worker with a `worker` label, the summary a row
 * each, and a worker thread killed mid-run shows as LOST in the stats the dashboard renders.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { resolveConfig } from '../../src/config.ts';
import { renderDashboard, visibleText } from '../../src/monitor/dashboard.ts';
import { workerSummaryLines } from '../../src/monitor/summary.ts';
import { createWorkerMonitor, workerLines, workerTableOf, type WorkerReport } from '../../src/monitor/worker-rows.ts';
import { openRun, prepareRun } from '../../src/run/start-run.ts';
import type { WorkerInfo } from '../../src/scale/bullmq-transport.ts';
import { heartbeatMonitor } from '../../src/scale/distributed-run.ts';
import { createRunMetrics } from '../../src/web/metrics.ts';

const report = (id: string, agentCycles: number, requests: number, extra: Partial<WorkerReport> = {}): WorkerReport => ({ id, cohorts: 2, agentCycles, requests, memoryBytes: 64 * 1048576, memoryKind: 'rss', ...extra });

describe('worker rows (the model)', () => {
  it('rates over the window, heartbeat age, stale past 1.5 intervals, lost and left, merged totals', () => {
    const m = createWorkerMonitor({ heartbeatMs: 1000, windowMs: 10_000 });
    m.report(report('h:2', 0, 0), 0);
    m.report(report('h:10', 0, 0), 0);
    m.report(report('h:2', 500, 2000), 1000);
    m.report(report('h:10', 300, 900), 1000);
    let t = m.table(1200);
    // Numeric order of ids (h:2 before h:10), rates per second, the age from the coordinator's clock.
    expect(t.rows.map((r) => r.id)).toEqual(['h:2', 'h:10']);
    expect(t.rows[0]).toMatchObject({ status: 'ok', cohorts: 2, agent_cycles: 500, agent_cycles_per_s: 500, requests: 2000, requests_per_s: 2000, memory_mb: 64, heartbeat_age_s: 0.2 });
    expect(t.totals).toMatchObject({ workers: 2, live: 2, cohorts: 4, agent_cycles: 800, agent_cycles_per_s: 800, requests: 2900, requests_per_s: 2900, memory_mb: 128 });
    // h:10 goes silent: ok at 1.5 intervals, stale just after (within one interval of its missed beat).
    m.report(report('h:2', 1000, 4000), 2000);
    expect(m.table(2500).rows[1]?.status).toBe('ok');
    t = m.table(2501);
    expect(t.rows[1]).toMatchObject({ id: 'h:10', status: 'stale', heartbeat_age_s: 1.5 });
    expect(t.totals.live).toBe(1);
    // … unless the executor knows it alive and in a cycle (a thread's event loop busy with it): busy, counted live.
    t = m.table(2501, (id) => id === 'h:10');
    expect(t.rows[1]?.status).toBe('busy');
    expect(t.totals.live).toBe(2);
    // Then the executor says it is lost: its figures stay, its rates and cohorts are 0, its memory leaves the total.
    m.gone('h:10', 'lost', 3000);
    t = m.table(3000);
    expect(t.rows[1]).toMatchObject({ status: 'lost', agent_cycles: 300, agent_cycles_per_s: 0, cohorts: 0 });
    expect(t.totals).toMatchObject({ workers: 2, live: 1, agent_cycles: 1300, cohorts: 2, memory_mb: 64 });
    m.gone('h:2', 'left', 3000);
    expect(m.table(3000).rows.map((r) => r.status)).toEqual(['left', 'lost']);
    // The window: old reports fall out of the rate.
    const w = createWorkerMonitor({ heartbeatMs: 1000, windowMs: 2000 });
    w.report(report('a', 0, 0), 0);
    w.report(report('a', 10_000, 0), 1000);
    for (let at = 2000; at <= 6000; at += 1000) w.report(report('a', 10_000 + (at - 1000) / 10, 0), at);
    expect(w.table(6000).rows[0]?.agent_cycles_per_s).toBe(100);
  });

  it('the lines: header, a row each, totals; cut to fit with the workers not ok kept; at most the width', () => {
    const m = createWorkerMonitor({ heartbeatMs: 1000 });
    for (let i = 0; i < 6; i++) m.report(report(String(i), 100 * i, 10 * i, { memoryKind: 'heap' }), 0);
    m.gone('5', 'lost', 0);
    const all = workerLines(m.table(100), 80);
    expect(all).toHaveLength(8);
    expect(all.every((l) => l.length <= 80)).toBe(true);
    expect(all[0]).toMatch(/^worker +state +cohorts +agent-cyc\/s +req\/s +memory +beat$/);
    expect(all[6]).toMatch(/^5 +LOST +0 +0\.0 +0\.0 +64M heap +0\.1s$/);
    expect(all[7]).toMatch(/^all 5\/6 ok +10 /);
    const cut = workerLines(m.table(100), 60, 3);
    expect(cut).toHaveLength(5);
    expect(cut[1]).toMatch(/^5 +LOST/);
    expect(cut[3]).toBe('… 4 more workers (1 not ok)');
    expect(cut.every((l) => l.length <= 60)).toBe(true);
  });

  it("a distributed run's heartbeat records: host:pid rows, a beat counted when its record changes, stale then lost", () => {
    let now = 0;
    const info = (beatAt: string, done: number): WorkerInfo => ({ id: 'w1', host: 'box', pid: 41, version: 'v', fingerprint: 'f', runId: 'r', concurrency: 2, active: 1, done, agentCycles: done * 100, requests: done * 300, rssBytes: 100 * 1048576, beatAt });
    let tally = [{ worker: info('t0', 0), lost: false, jobs: 0 }];
    const table = heartbeatMonitor({ heartbeatMs: 1000, workerTally: () => tally }, () => now);
    expect(table().rows).toEqual([expect.objectContaining({ id: 'box:41', status: 'ok', cohorts: 1, memory_kind: 'rss', memory_mb: 100 })]);
    now = 1000;
    tally = [{ worker: info('t1', 4), lost: false, jobs: 4 }];
    expect(table().rows[0]).toMatchObject({ agent_cycles: 400, agent_cycles_per_s: 400, requests_per_s: 1200, heartbeat_age_s: 0 });
    // The same record read again later is no new beat: the age grows, stale past 1.5 intervals.
    now = 2600;
    expect(table().rows[0]).toMatchObject({ status: 'stale', heartbeat_age_s: 1.6 });
    now = 3000;
    tally = [{ worker: info('t1', 4), lost: true, jobs: 4 }];
    expect(table().rows[0]).toMatchObject({ status: 'lost', agent_cycles: 400, agent_cycles_per_s: 0 });
    expect(table().totals).toMatchObject({ workers: 1, live: 0 });
  });
});

describe('run --workers 2 (mock store): the monitoring', () => {
  const dir = mkdtempSync(join(tmpdir(), 'shopsim-worker-monitor-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const plan = (name: string, cycles: number) =>
    prepareRun(resolveConfig({ agents: '300', cycles: String(cycles), seed: '9', fast: true, mockApi: true, mockDb: true, workers: '2', cohortSize: '50', checkpointInterval: '0', checkpointDir: join(dir, name) }, {}));

  it('/metrics has a series per worker with a worker label; the summary a row each and the totals', async () => {
    const opened = await openRun(plan('metrics', 6));
    try {
      const { sim, execute } = opened.simulate({ breakerAction: 'exit' });
      const registry = createRunMetrics(() => sim, () => null, sim.stats().runId);
      const summary = await execute();
      const text = await registry.metrics();
      for (const w of ['0', '1']) {
        const ac = new RegExp(`^shopsim_worker_agent_cycles_total\\{worker="${w}",run_id="[^"]+"\\} (\\d+)$`, 'm').exec(text);
        expect(ac, text).not.toBeNull();
        expect(Number(ac?.[1])).toBeGreaterThan(0);
        expect(text).toMatch(new RegExp(`^shopsim_worker_up\\{worker="${w}",run_id="[^"]+"\\} 1$`, 'm'));
        expect(text).toMatch(new RegExp(`^shopsim_worker_memory_bytes\\{worker="${w}",run_id="[^"]+"\\} [1-9]\\d*$`, 'm'));
        expect(text).toMatch(new RegExp(`^shopsim_worker_requests_total\\{worker="${w}",run_id="[^"]+"\\} [1-9]\\d*$`, 'm'));
        expect(text).toMatch(new RegExp(`^shopsim_worker_heartbeat_age_seconds\\{worker="${w}",run_id="[^"]+"\\} `, 'm'));
        expect(text).toMatch(new RegExp(`^shopsim_worker_cohorts\\{worker="${w}",run_id="[^"]+"\\} 3$`, 'm'));
      }
      // The workers' agent-cycles add up to the run's (300 agents; the active ones per cycle).
      const rows = summary['workers'] as { id: string; status: string; agent_cycles: number; requests: number }[];
      expect(rows.map((r) => [r.id, r.status])).toEqual([['0', 'ok'], ['1', 'ok']]);
      const total = summary['workers_total'] as { agent_cycles: number; requests: number; workers: number };
      expect(total.workers).toBe(2);
      expect(total.agent_cycles).toBe(rows.reduce((n, r) => n + r.agent_cycles, 0));
      // Every store call was a worker's (the mock store; offer cycles are the coordinator's, made without shoppers).
      expect(total.requests).toBe(summary.requests);
      const lines = workerSummaryLines(summary, 80);
      expect(lines).toHaveLength(4);
      expect(lines[3]).toMatch(/^all 2\/2 ok +6 /);
    } finally {
      await opened.close();
    }
  }, 60_000);

  it('a worker thread killed mid-run shows as LOST in the stats the dashboard renders (at once: its exit is seen)', async () => {
    const opened = await openRun(plan('killed', 40));
    try {
      const { sim, execute } = opened.simulate({ breakerAction: 'exit' });
      const threads = opened.executor!;
      let snapshot: ReturnType<typeof sim.stats> | null = null;
      const killed = new Promise<void>((resolve) => {
        const onCycle = (r: { cycle: number }) => {
          if (r.cycle !== 2) return;
          sim.events.off('cycle', onCycle);
          // Held while the worker dies; the snapshot is taken as soon as its exit is seen.
          sim.pause();
          const t = threads.threads[1]!;
          t.once('exit', () => {
            snapshot = sim.stats();
            sim.resume();
            resolve();
          });
          void t.terminate();
        };
        sim.events.on('cycle', onCycle);
      });
      const done = execute();
      await killed;
      const summary = await done;
      expect(summary.exit_reason).toBe('completed');
      const table = workerTableOf(snapshot!.metrics);
      expect(table?.rows.map((r) => [r.id, r.status])).toEqual([['0', 'ok'], ['1', 'lost']]);
      expect(table?.totals).toMatchObject({ workers: 2, live: 1 });
      const screen = visibleText(renderDashboard({ stats: snapshot!, memory: null }, { width: 80, height: 40 }));
      expect(screen).toMatch(/^1 +LOST /m);
      expect(screen).toMatch(/^0 +ok +6 /m);
      expect(screen).toMatch(/^all 1\/2 ok /m);
      // On a 24-row terminal it still says so, in one line if the table does not fit.
      expect(visibleText(renderDashboard({ stats: snapshot!, memory: null }, { width: 80, height: 24 }))).toMatch(/1 LOST|^1 +LOST /m);
      // The end summary: its cohorts moved to worker 0, the row stays lost.
      expect((summary['workers'] as { id: string; status: string; cohorts: number }[]).map((r) => [r.id, r.status, r.cohorts])).toEqual([['0', 'ok', 6], ['1', 'lost', 0]]);
    } finally {
      await opened.close();
    }
  }, 60_000);
});
