/**
 * The distributed transport, `BENCH=bullmq npm run bench` (Redis at SHOPSIM_REDIS_URL or
 * TEST_REDIS_URL, default redis://127.0.0.1:6379; keys under a prefix of its own, removed at the end):
 *  - throughput: 20,000 agents × 24 cycles (BENCH_AGENTS / BENCH_CYCLES), cohorts of 500,
 *    in-process and on 2 BullMQ worker processes (one thread each), each run in its own process,
 *    and their ratio (same digest expected); with each run its CPU time per agent-cycle (in-process:
 *    the process; bullmq: the coordinator, and the workers' from their last heartbeats);
 *  - coordination cost per cycle: two workers (2 worker threads each) run a processor that does no work
 * (test/scale/fixtures/trivial-processor.ts), so a cycle's wall time is the flow added, the jobs
 * dispatched and completed, the barrier passed and the results read back: what BullMQ and Redis
 * add to every cycle. One JSON line per cohort count (40 and 200), median and p90 over 20 cycles.
 * Target (issue 15): under 50 ms per cycle. With each barrier line: the jobs a cycle has (one per
 * slot holding cohorts, at most 32 cohorts a job), and what Redis did per cycle and per cohort
 * (INFO commandstats and INFO cpu before and after the measured cycles: calls, and redis-server's
 * CPU time, all clients' — the projection in docs/scaling.md divides a core by it).
 * BENCH_BULLMQ_BARRIER_ONLY=1: the barrier lines only; BENCH_BULLMQ_BARRIER_COHORTS=40,200,2000: other cohort counts.
 */
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { openCoordinator, startCohortWorker } from '../../src/scale/bullmq-transport.ts';
import { bullmqThroughput } from './bullmq-throughput.ts';

const url = process.env['SHOPSIM_REDIS_URL'] ?? process.env['TEST_REDIS_URL'] ?? 'redis://127.0.0.1:6379';
const prefix = `shopsim-bench-${randomBytes(4).toString('hex')}`;
const identity = { version: 'bench', fingerprint: 'bench' };
const processorUrl = new URL('../scale/fixtures/trivial-processor.ts', import.meta.url).href;
const CYCLES = 20;

// Throughput: in-process, then the same run on two worker processes.
const agents = Number(process.env['BENCH_AGENTS'] ?? 20_000);
const cycles = Number(process.env['BENCH_CYCLES'] ?? 24);
if (process.env['BENCH_BULLMQ_BARRIER_ONLY'] !== '1') {
  const { inProcess, distributed } = bullmqThroughput({ agents, cycles, url, prefix, inProcess: true });
  process.stdout.write(
    `${JSON.stringify({
      bench: 'bullmq-ratio',
      agents,
      cycles,
      workers: 2,
      bullmq_over_in_process: Math.round(((distributed['agent_cycles_per_s'] as number) / (inProcess!['agent_cycles_per_s'] as number)) * 1000) / 1000,
      same_digest: distributed['digest'] === inProcess!['digest'],
      target: 1.7,
    })}\n`,
  );
}

/** Redis's command calls (by command) and its own CPU seconds, as INFO says now. */
async function redisCounters(r: Redis): Promise<{ calls: Map<string, number>; cpu: number }> {
  const calls = new Map<string, number>();
  for (const m of (await r.info('commandstats')).matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) calls.set(m[1] as string, Number(m[2]));
  const cpu = await r.info('cpu');
  const num = (k: string) => Number(new RegExp(`^${k}:([\\d.]+)`, 'm').exec(cpu)?.[1] ?? 0);
  return { calls, cpu: num('used_cpu_user') + num('used_cpu_sys') };
}
const stats = new Redis(url);
const workers = [];
for (let i = 0; i < 2; i++) workers.push(await startCohortWorker({ url, prefix, identity, processorUrl, concurrency: 2 }));
try {
  for (const cohorts of (process.env['BENCH_BULLMQ_BARRIER_COHORTS'] ?? '40,200').split(',').map(Number)) {
    const runId = `bench-${cohorts}`;
    const c = await openCoordinator({ url, prefix, runId, identity });
    await c.waitForWorkers(2, 30_000);
    for (let i = 0; i < cohorts; i++) await c.putSnapshot(i, 0, JSON.stringify({ chain: 'genesis', cycles: 0 }));
    const ms: number[] = [];
    let before = await redisCounters(stats);
    for (let cycle = 1; cycle <= CYCLES + 2; cycle++) {
      if (cycle === 3) before = await redisCounters(stats);
      const t0 = performance.now();
      await c.runCycle(cycle, Array.from({ length: cohorts }, (_, cohort) => ({ cohort, input: {} })));
      if (cycle > 2) ms.push(performance.now() - t0); // two warm-up cycles
    }
    const after = await redisCounters(stats);
    await c.close();
    const jobsPerCycle = c.jobs().length;
    const cohortCycles = ms.length * cohorts;
    let calls = 0;
    const byCommand: Record<string, number> = {};
    for (const [k, n] of after.calls) {
      const d = n - (before.calls.get(k) ?? 0);
      if (d <= 0 || k === 'info') continue;
      calls += d;
      byCommand[k] = Math.round((d / ms.length) * 10) / 10;
    }
    ms.sort((a, b) => a - b);
    const at = (q: number) => Math.round((ms[Math.min(ms.length - 1, Math.floor(q * ms.length))] as number) * 10) / 10;
    process.stdout.write(`${JSON.stringify({ bench: 'bullmq-barrier', cohorts, workers: 2, threads_per_worker: 2, cycles: ms.length, median_ms_per_cycle: at(0.5), p90_ms_per_cycle: at(0.9), median_ms_per_cohort: Math.round((at(0.5) / cohorts) * 100) / 100, target_ms: 50, jobs_per_cycle: jobsPerCycle, redis_calls_per_cycle: Math.round(calls / ms.length), redis_calls_per_cohort: Math.round((calls / cohortCycles) * 10) / 10, redis_cpu_us_per_cycle: Math.round(((after.cpu - before.cpu) / ms.length) * 1e6), redis_cpu_us_per_cohort: Math.round(((after.cpu - before.cpu) / cohortCycles) * 1e6), redis_calls_per_cycle_by_command: byCommand })}\n`);
  }
} finally {
  for (const w of workers) await w.close();
  stats.disconnect();
  const r = new Redis(url);
  const keys = await r.keys(`${prefix}*`);
  if (keys.length) await r.del(...keys);
  r.disconnect();
}
process.exit(0);
