/**
 * Start-up time of the CLI: `npx tsx test/bench/startup.bench.ts` (or `BENCH=startup npm run bench`).
 * One JSON object per line: the median of RUNS (default 7) wall-clock times, in ms, of
 *  - `node -e 0` (the floor: what this machine needs to start Node at all),
 *  - `shopsim --version` and `shopsim run --help`,
 *  - the time from spawning `shopsim run` (mock store, no database, a temporary data dir) to the
 *    first line of its banner on stderr,
 * each from the compiled dist/ (built by `npm run build`) and from the TypeScript sources through
 * tsx (SHOPSIM_FROM_SOURCE=1, what a stale development checkout runs), with the ratio to `node -e 0`.
 * SHOPSIM_BIN=/other/checkout/bin/shopsim.js measures another checkout (e.g. an older commit).
 * Targets (issue 13): --version < 0.3 s, the banner < 1 s.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';

const RUNS = Number(process.env['RUNS'] ?? 7);
const bin = process.env['SHOPSIM_BIN'] ?? fileURLToPath(new URL('../../bin/shopsim.js', import.meta.url));
const dist = fileURLToPath(new URL('../../dist/src/cli/main.js', import.meta.url));

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] as number;
}

function timeSync(args: string[], env: NodeJS.ProcessEnv): number {
  const t0 = performance.now();
  const r = spawnSync(process.execPath, args, { env, stdio: 'ignore' });
  const ms = performance.now() - t0;
  if (r.status !== 0) throw new Error(`${args.join(' ')} exited ${r.status}`);
  return ms;
}

/** ms from spawn to the first output (stdout or stderr; the banner, on stderr), then the child is stopped. */
function timeToBanner(env: NodeJS.ProcessEnv): Promise<{ ms: number; first: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'shopsim-bench-'));
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn(
      process.execPath,
      [bin, 'run', '--mock-api', '--mock-db', '--cycles', '24', '--time-scale', '3600', '--data-dir', join(dir, 'pglite'), '--checkpoint-dir', join(dir, 'checkpoints'), '--checkpoint-interval', '0'],
      { env, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let first = true;
    const onData = (chunk: Buffer) => {
      if (!first) return;
      first = false;
      const ms = performance.now() - t0;
      child.kill('SIGKILL');
      resolve({ ms, first: chunk.toString().split('\n')[0]!.slice(0, 60) });
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('exit', () => {
      rmSync(dir, { recursive: true, force: true });
      if (first) reject(new Error('run ended without printing anything on stderr'));
    });
  });
}

const baseEnv: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: '1' };
delete baseEnv['SHOPSIM_FROM_SOURCE'];
const floor = median(Array.from({ length: RUNS }, () => timeSync(['-e', '0'], baseEnv)));
console.log(JSON.stringify({ bench: 'startup', case: 'node -e 0', runs: RUNS, median_ms: Math.round(floor), ratio: 1 }));

const modes: [string, NodeJS.ProcessEnv][] = [];
if (process.env['SHOPSIM_BIN']) modes.push([`SHOPSIM_BIN=${bin}`, baseEnv]);
else {
  if (existsSync(dist)) modes.push(['dist', baseEnv]);
  else console.error('startup.bench: no dist/ (run `npm run build`): measuring the sources only');
  modes.push(['source (tsx)', { ...baseEnv, SHOPSIM_FROM_SOURCE: '1' }]);
}

for (const [mode, env] of modes) {
  for (const [name, args] of [['--version', ['--version']], ['run --help', ['run', '--help']]] as const) {
    const ms = median(Array.from({ length: RUNS }, () => timeSync([bin, ...args], env)));
    console.log(JSON.stringify({ bench: 'startup', case: `shopsim ${name}`, mode, runs: RUNS, median_ms: Math.round(ms), ratio: Number((ms / floor).toFixed(2)) }));
  }
  const banner: number[] = [];
  let firstLine = '';
  for (let i = 0; i < RUNS; i++) {
    const r = await timeToBanner(env);
    banner.push(r.ms);
    firstLine = r.first;
  }
  const ms = median(banner);
  console.log(JSON.stringify({ bench: 'startup', case: 'shopsim run: first output', mode, runs: RUNS, median_ms: Math.round(ms), ratio: Number((ms / floor).toFixed(2)), first_line: firstLine }));
}
