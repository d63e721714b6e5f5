/**
 * Scale-out benchmark (issue 15), mock store and database, --fast, each run in its own process:
 *  - throughput: 20,000 agents × 24 cycles (cohorts of 500 = 40 cohorts), in-process and on
 *    `--workers 2` (with the per-cycle cohort snapshots `run --workers` keeps, and without), back
 *    to back in one run, and their ratios (same digest expected);
 *  - coordination cost per cycle: 40 and 200 cohorts of 5 agents (the shopping is next to
 *    nothing, so a cycle's time is the barrier: RUN_CYCLE out, reports and snapshots back, merge,
 *    seal), in-process and on 2 workers; the difference is what the workers add per cycle, and
 *    the coordinator thread's own busy time per cycle (event-loop utilisation) is its share.
 *  - and the same 20,000 × 24 on 2 BullMQ worker processes of one thread each (Redis at
 *    SHOPSIM_REDIS_URL or TEST_REDIS_URL, default redis://127.0.0.1:6379; test/bench/bullmq-throughput.ts),
 *    in the same run, with its ratio to the in-process run above; a line saying it was skipped
 *    where Redis does not answer.
 * One JSON line per run, then one line per comparison. BENCH_AGENTS / BENCH_CYCLES / BENCH_WORKERS override.
 *
 * BENCH_SCALE_MILLION=1: instead, one run of 1,000,000 agents × 3 cycles (cohorts of 500) on
 * BENCH_WORKERS (2) worker threads, heap limit 8 GB a thread: completes?, data generation,
 * worker start-up and start-up (cohorts built on the workers) times, per-thread peak V8 heap,
 * the coordinator thread's heap and the process's peak RSS (the threads share it). One JSON line.
 * BENCH_SCALE_MILLION=bullmq: the same 1,000,000 × 3 on 2 BullMQ worker processes of one thread
 * each (Redis as above): start-up, first cycle (the cohorts built on the workers), cycle median,
 * each worker process's peak RSS (VmHWM; target < 4 GiB) and the coordinator's.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { bullmqThroughput, redisAnswers } from './bullmq-throughput.ts';

const agents = Number(process.env['BENCH_AGENTS'] ?? 20_000);
const cycles = Number(process.env['BENCH_CYCLES'] ?? 24);
const workers = Number(process.env['BENCH_WORKERS'] ?? 2);

function run(w: number, n: number, c: number, cohortSize: number, keepSnapshots = true, heapMb = 4096): Record<string, number | string> {
  const out = execFileSync(process.execPath, [`--max-old-space-size=${heapMb}`, '--import', 'tsx', 'test/bench/scale-run.ts', String(w), String(n), String(c), String(cohortSize)], {
    encoding: 'utf8',
    maxBuffer: 1 << 20,
    env: { ...process.env, SCALE_KEEP: keepSnapshots ? '1' : '0' },
  });
  const line = JSON.parse(out.trim().split('\n').pop() as string) as Record<string, number | string>;
  process.stdout.write(`${JSON.stringify({ bench: 'scale', ...line })}\n`);
  return line;
}

if (process.env['BENCH_SCALE_MILLION'] === 'bullmq') {
  // The same 1,000,000 × 3 on 2 BullMQ worker processes (one thread each): each process's peak RSS.
  const redisUrl = process.env['SHOPSIM_REDIS_URL'] ?? process.env['TEST_REDIS_URL'] ?? 'redis://127.0.0.1:6379';
  if (!(await redisAnswers(redisUrl))) {
    process.stdout.write(`${JSON.stringify({ bench: 'scale-million-bullmq', skipped: `Redis at ${redisUrl.replace(/\/\/[^@/]*@/, '//')} did not answer` })}\n`);
    process.exit(0);
  }
  const t0 = performance.now();
  const { distributed } = bullmqThroughput({ agents: 1_000_000, cycles: 3, url: redisUrl, prefix: `shopsim-bench-${randomBytes(4).toString('hex')}`, inProcess: false, heapMb: 8192 });
  const rss = distributed['workers_peak_rss_mb'] as (number | null)[];
  process.stdout.write(
    `${JSON.stringify({ bench: 'scale-million-bullmq', completed: distributed['agent_cycles'] === 3_000_000, wall_s: Math.round(performance.now() - t0) / 1000, workers_peak_rss_mb: rss, per_worker_rss_target_mb: 4096, under_target: rss.every((r) => r !== null && r < 4096) })}\n`,
  );
  process.exit(0);
}
if (process.env['BENCH_SCALE_MILLION'] === '1') {
  const t0 = performance.now();
  const line = run(workers, 1_000_000, 3, 500, true, 8192);
  process.stdout.write(`${JSON.stringify({ bench: 'scale-million', completed: line['agent_cycles'] === 3_000_000, wall_s: Math.round(performance.now() - t0) / 1000, per_worker_heap_target_mb: 4096 })}\n`);
  process.exit(0);
}

const inProcess = run(0, agents, cycles, 500);
const onWorkers = run(workers, agents, cycles, 500);
// What the per-cycle cohort snapshots (kept for taking over a lost worker's cohorts) cost.
const unkept = run(workers, agents, cycles, 500, false);
process.stdout.write(
  `${JSON.stringify({
    bench: 'scale-ratio',
    agents,
    cycles,
    workers,
    workers_over_in_process: Math.round(((onWorkers['agent_cycles_per_s'] as number) / (inProcess['agent_cycles_per_s'] as number)) * 1000) / 1000,
    workers_without_snapshots_over_in_process: Math.round(((unkept['agent_cycles_per_s'] as number) / (inProcess['agent_cycles_per_s'] as number)) * 1000) / 1000,
    // CPU time per agent-cycle (all threads): steadier than wall time on a shared machine. The
    // CPU-bound ratio is what `workers` free cores would give if the work split evenly over them.
    cpu_us_per_agent_cycle: { in_process: inProcess['cpu_us_per_agent_cycle'], workers: onWorkers['cpu_us_per_agent_cycle'], workers_without_snapshots: unkept['cpu_us_per_agent_cycle'] },
    cpu_bound_ratio: Math.round(((workers * (inProcess['cpu_us_per_agent_cycle'] as number)) / (onWorkers['cpu_us_per_agent_cycle'] as number)) * 1000) / 1000,
    same_digest: onWorkers['digest'] === inProcess['digest'] && unkept['digest'] === inProcess['digest'],
  })}\n`,
);

// The same run on 2 BullMQ worker processes (one thread each), against the in-process run above.
const redisUrl = process.env['SHOPSIM_REDIS_URL'] ?? process.env['TEST_REDIS_URL'] ?? 'redis://127.0.0.1:6379';
if (await redisAnswers(redisUrl)) {
  const { distributed } = bullmqThroughput({ agents, cycles, url: redisUrl, prefix: `shopsim-bench-${randomBytes(4).toString('hex')}`, inProcess: false });
  process.stdout.write(
    `${JSON.stringify({
      bench: 'scale-ratio-bullmq',
      agents,
      cycles,
      bullmq_workers: 2,
      bullmq_over_in_process: Math.round(((distributed['agent_cycles_per_s'] as number) / (inProcess['agent_cycles_per_s'] as number)) * 1000) / 1000,
      workers_over_in_process: Math.round(((onWorkers['agent_cycles_per_s'] as number) / (inProcess['agent_cycles_per_s'] as number)) * 1000) / 1000,
      same_digest: distributed['digest'] === inProcess['digest'],
      target: 1.7,
    })}\n`,
  );
} else process.stdout.write(`${JSON.stringify({ bench: 'scale-ratio-bullmq', skipped: `Redis at ${redisUrl.replace(/\/\/[^@/]*@/, '//')} did not answer` })}\n`);

for (const cohorts of [40, 200]) {
  const local = run(0, cohorts * 5, cycles, 5);
  const remote = run(workers, cohorts * 5, cycles, 5);
  process.stdout.write(
    `${JSON.stringify({
      bench: 'scale-barrier',
      cohorts,
      workers,
      in_process_cycle_median_ms: local['cycle_median_ms'],
      workers_cycle_median_ms: remote['cycle_median_ms'],
      barrier_overhead_ms: Math.round(((remote['cycle_median_ms'] as number) - (local['cycle_median_ms'] as number)) * 1000) / 1000,
      coordinator_busy_ms_per_cycle: remote['main_thread_busy_ms_per_cycle'],
      same_digest: local['digest'] === remote['digest'],
    })}\n`,
  );
}
