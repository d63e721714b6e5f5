/**
 * Engine benchmark (issue 2): fast mock mode × 24 cycles at 372, 10,000 and 100,000 agents,
 * the XState engine and the plain loop each in a fresh process, run back to back.
 * One JSON line per measurement, then one ratio line per size.
 * BENCH_SIZES=372,10000 narrows it.
 */
import { execFileSync } from 'node:child_process';

const sizes = (process.env['BENCH_SIZES'] ?? '372,10000,100000').split(',').map(Number);
const cycles = Number(process.env['BENCH_CYCLES'] ?? 24);

function run(engine: string, agents: number): Record<string, number | string> {
  const out = execFileSync(process.execPath, ['--max-old-space-size=4096', '--import', 'tsx', 'test/bench/engine-run.ts', engine, String(agents), String(cycles)], {
    encoding: 'utf8',
    maxBuffer: 1 << 20,
  });
  return JSON.parse(out.trim().split('\n').pop() as string);
}

for (const agents of sizes) {
  const plain = run('plain', agents);
  process.stdout.write(`${JSON.stringify({ bench: 'engine', ...plain })}\n`);
  const xs = run('xstate', agents);
  process.stdout.write(`${JSON.stringify({ bench: 'engine', ...xs })}\n`);
  process.stdout.write(
    `${JSON.stringify({
      bench: 'engine-ratio',
      agents,
      cycles,
      xstate_over_plain: Math.round(((xs['agent_cycles_per_s'] as number) / (plain['agent_cycles_per_s'] as number)) * 1000) / 1000,
      // per CPU second of each process: less disturbed by other load than wall time
      xstate_over_plain_cpu: Math.round(((xs['agent_cycles_per_cpu_s'] as number) / (plain['agent_cycles_per_cpu_s'] as number)) * 1000) / 1000,
      same_digest: xs['digest'] === plain['digest'],
      startup_s: xs['startup_s'],
      peak_rss_mb: xs['peak_rss_mb'],
    })}\n`,
  );
}
