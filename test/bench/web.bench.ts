/**
 * The cost of --web (issue 12): agent-cycles/s of the same fast mock run with and without the web
 * view (1 Hz occupancy walk, stats, one viewer on the event stream in another process), each in a
 * fresh process, alternated REPEAT times. One JSON line per run, then one ratio line per size
 * (medians). With Chromium at /usr/bin/chromium a third mode, `page`, has the page itself open in
 * headless Chromium as the viewer, and reports the page's update time (BENCH_PAGE=0 leaves it
 * out). BENCH_SIZES=10000,100000 BENCH_CYCLES=48 BENCH_REPEAT=2.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';

const sizes = (process.env['BENCH_SIZES'] ?? '10000').split(',').map(Number);
const cycles = Number(process.env['BENCH_CYCLES'] ?? 48);
const repeat = Number(process.env['BENCH_REPEAT'] ?? 2);
const withPage = process.env['BENCH_PAGE'] !== '0' && existsSync('/usr/bin/chromium');
const modes = withPage ? ['none', 'web', 'page'] : ['none', 'web'];

function run(mode: string, agents: number): Record<string, number | string | null> {
  const out = execFileSync(process.execPath, ['--max-old-space-size=4096', '--import', 'tsx', 'test/bench/web-run.ts', mode, String(agents), String(cycles)], { encoding: 'utf8', maxBuffer: 1 << 20 });
  return JSON.parse(out.trim().split('\n').pop() as string);
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? (s[m] as number) : Math.round(((s[m - 1] as number) + (s[m] as number)) / 2);
};

for (const agents of sizes) {
  const rates: Record<string, number[]> = { none: [], web: [], page: [] };
  const cpus: Record<string, number[]> = { none: [], web: [], page: [] };
  const renders: number[] = [];
  const renderMax: number[] = [];
  const digests = new Set<unknown>();
  for (let i = 0; i < repeat; i++) {
    for (const mode of i % 2 === 0 ? modes : [...modes].reverse()) {
      const r = run(mode, agents);
      process.stdout.write(`${JSON.stringify({ bench: 'web', ...r })}\n`);
      rates[mode]?.push(r['agent_cycles_per_s'] as number);
      cpus[mode]?.push(Math.round((r['cpu_s'] as number) * 1000));
      digests.add(r['digest']);
      if (typeof r['render_ms_last'] === 'number') renders.push(r['render_ms_last']);
      if (typeof r['render_ms_max_last_60'] === 'number') renderMax.push(r['render_ms_max_last_60']);
    }
  }
  const page = withPage ? median(rates['page'] as number[]) : null;
  const none = median(rates['none'] as number[]);
  const web = median(rates['web'] as number[]);
  process.stdout.write(
    `${JSON.stringify({ bench: 'web-ratio', agents, cycles, repeat, agent_cycles_per_s_without: none, agent_cycles_per_s_with: web, cost_percent: Math.round((1 - web / none) * 1000) / 10, cpu_ms_without: median(cpus['none'] as number[]), cpu_ms_with: median(cpus['web'] as number[]), same_digest: digests.size === 1,
      ...(page !== null ? { agent_cycles_per_s_with_page: page, cost_percent_with_page: Math.round((1 - page / none) * 1000) / 10, cpu_ms_with_page: median(cpus['page'] as number[]), page_render_ms_last: renders.length ? Math.max(...renders) : null, page_render_ms_max: renderMax.length ? Math.max(...renderMax) : null } : {}) })}\n`,
  );
}
