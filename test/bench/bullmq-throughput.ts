/**
 * The BullMQ throughput run BENCH=bullmq and BENCH=scale share: 20,000 agents × 24 cycles (by
 * default) in mock mode, cohorts of 500, each run in a process of its own
 * (test/bench/bullmq-run.ts) — in-process (optional) and on 2 BullMQ worker processes of one
 * thread each, started here under `prefix` and stopped at the end. Prints a `bullmq-run` line
 * per run and returns them.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { generateProducts } from '../../src/model/catalog.ts';
import { generatePersonas } from '../../src/model/personas.ts';

export type RunLine = Record<string, unknown>;

/** Whether Redis at `url` answers a PING within a second. */
export async function redisAnswers(url: string): Promise<boolean> {
  const r = new Redis(url, { lazyConnect: true, connectTimeout: 1000, maxRetriesPerRequest: 0, retryStrategy: () => null });
  r.on('error', () => {});
  try {
    await r.connect();
    return (await r.ping()) === 'PONG';
  } catch {
    return false;
  } finally {
    r.disconnect();
  }
}

/** A process's peak resident set (VmHWM in /proc/<pid>/status), MB; null where /proc does not tell. */
function peakRssMb(pid: number | undefined): number | null {
  try {
    const m = /^VmHWM:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Math.round(Number(m[1]) / 1024) : null;
  } catch {
    return null;
  }
}

export function bullmqThroughput(o: { agents: number; cycles: number; url: string; prefix: string; inProcess: boolean; workers?: number; heapMb?: number }): { inProcess: RunLine | null; distributed: RunLine } {
  const dir = mkdtempSync(join(tmpdir(), 'shopsim-bench-bullmq-'));
  const procs: ChildProcess[] = [];
  try {
    // Written a persona at a time: at 1,000,000 the whole file (~500 MB) is near V8's longest string.
    const fd = openSync(join(dir, 'personas.json'), 'w');
    generatePersonas(o.agents, 42).forEach((p, i) => writeSync(fd, `${i ? ',' : '['}${JSON.stringify(p)}`));
    writeSync(fd, ']');
    closeSync(fd);
    writeFileSync(join(dir, 'products.json'), JSON.stringify(generateProducts(240, 42)));
    const heap = `--max-old-space-size=${o.heapMb ?? 4096}`;
    const one = (mode: string) => {
      const out = execFileSync(process.execPath, [heap, '--import', 'tsx', 'test/bench/bullmq-run.ts', mode, String(o.agents), String(o.cycles), dir, o.url, o.prefix], { encoding: 'utf8', maxBuffer: 1 << 20 });
      const line = JSON.parse(out.trim().split('\n').pop() as string) as RunLine;
      // Each worker process's peak RSS over the whole run (it is still alive here).
      if (mode === 'bullmq') line['workers_peak_rss_mb'] = procs.map((p) => peakRssMb(p.pid));
      process.stdout.write(`${JSON.stringify({ bench: 'bullmq-run', ...line })}\n`);
      return line;
    };
    const inProcess = o.inProcess ? one('in-process') : null;
    const workerOptions = { url: o.url, prefix: o.prefix, identity: { version: 'bench', fingerprint: 'bench' }, processorUrl: new URL('../../src/scale/cohort-processor.ts', import.meta.url).href, concurrency: 1, local: { personas: join(dir, 'personas.json'), products: join(dir, 'products.json') } };
    for (let i = 0; i < (o.workers ?? 2); i++) {
      // BENCH_BULLMQ_WORKER_PROF=DIR: each worker process writes CPU profiles (main thread and cohort thread) to DIR.
      const prof = process.env['BENCH_BULLMQ_WORKER_PROF'] ? ['--cpu-prof', `--cpu-prof-dir=${process.env['BENCH_BULLMQ_WORKER_PROF']}`] : [];
      procs.push(spawn(process.execPath, [heap, ...prof, '--import', 'tsx', 'test/scale/fixtures/worker-process.ts'], { env: { ...process.env, SHOPSIM_TEST_WORKER: JSON.stringify(workerOptions) }, stdio: 'ignore' }));
    }
    return { inProcess, distributed: one('bullmq') };
  } finally {
    for (const p of procs) p.kill('SIGTERM');
    rmSync(dir, { recursive: true, force: true });
  }
}
