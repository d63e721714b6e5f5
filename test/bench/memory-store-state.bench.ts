/**
 * What the in-memory store's state (`store_state` with its `memory` part, `--mock-db`) adds to a
 * checkpoint: `npx tsx test/bench/memory-store-state.bench.ts [agents...]` (default 372 10000;
 * BENCH_CYCLES, default 24; BENCH_INTERVAL, default 8). For each size, one real run
 * (`shopsim run --mock-db --fast --rate-limit 0`, the bundled store over HTTP), then for each of its
 * checkpoints: the file's bytes and the store_state's (before it existed a --mock-db checkpoint had
 * `store_state: null`), and — on that checkpoint's state, in this process, median of BENCH_REPS
 * (default 5, after 3 warm-up calls) — what the run pays per checkpoint (exportState + JSON.stringify of it) and what a
 * resume pays (the schema check of the field, the names check, importState with its offers planned
 * again). One JSON object per checkpoint.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { loadavg } from 'node:os';
import type { Checkpoint } from '../../src/checkpoint/format.ts';
import { verifyCheckpoint } from '../../src/checkpoint/verify.ts';
import { planOffers } from '../../src/model/offers.ts';
import { generatePersonas } from '../../src/model/personas.ts';
import type { Persona } from '../../src/model/types.ts';
import { loadProducts } from '../../src/run/load-data.ts';
import { checkStoreState } from '../../src/run/start-run.ts';
import { createMemoryBackend } from '../../src/server/memory-backend.ts';

const ROOT = resolve(import.meta.dirname, '../..');
const sizes = process.argv.slice(2).map(Number).filter((n) => n > 0);
const cycles = Number(process.env['BENCH_CYCLES'] ?? 24);
const interval = Number(process.env['BENCH_INTERVAL'] ?? 8);
const reps = Number(process.env['BENCH_REPS'] ?? 5);

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] as number;
}

function timed(f: () => void): number {
  for (let i = 0; i < 3; i++) f(); // warm-up
  const out: number[] = [];
  for (let i = 0; i < reps; i++) {
    const t = performance.now();
    f();
    out.push(performance.now() - t);
  }
  return Math.round(median(out) * 100) / 100;
}

const products = loadProducts(join(ROOT, 'data/products.json'));
for (const agents of sizes.length ? sizes : [372, 10_000]) {
  const dir = mkdtempSync(join(tmpdir(), 'shopsim-memstate-bench-'));
  // Beyond the 372 bundled personas: a generated file (seed 1).
  const personaArgs: string[] = [];
  if (agents > 372) {
    const file = join(dir, `personas-${agents}.json`);
    writeFileSync(file, JSON.stringify(generatePersonas(agents, 1)));
    personaArgs.push('--personas', file);
  }
  const t0 = performance.now();
  const run = spawnSync(
    process.execPath,
    [join(ROOT, 'bin/shopsim.js'), 'run', '--mock-db', ...personaArgs, '--agents', String(agents), '--cycles', String(cycles), '--seed', '1', '--fast', '--rate-limit', '0', '--checkpoint-interval', String(interval), '--keep-checkpoints', '100', '--checkpoint-dir', join(dir, 'ck'), '--log-dir', join(dir, 'logs'), '--json'],
    { cwd: ROOT, encoding: 'utf8', maxBuffer: 64 << 20 },
  );
  if (run.status !== 0) throw new Error(`run failed (${run.status}): ${run.stderr.slice(-2000)}`);
  const runSeconds = Math.round(performance.now() - t0) / 1000;
  const summary = JSON.parse(run.stdout.trim().split('\n').pop() as string) as Record<string, unknown>;
  for (const name of readdirSync(join(dir, 'ck')).filter((n) => n.startsWith('checkpoint_')).sort()) {
    const file = join(dir, 'ck', name);
    const text = readFileSync(file, 'utf8');
    const ck = JSON.parse(text) as Checkpoint;
    const kept = ck.store_state;
    if (!kept?.memory) throw new Error(`${file}: no store_state.memory`);
    const state = { ...kept, memory: kept.memory };
    const userIds = Object.keys(ck.agent_states);
    const personas = userIds.map((id) => ({ id }) as Persona);
    const backend = createMemoryBackend({ products });
    const plan = (req: Parameters<typeof planOffers>[1]) => planOffers(1, req);
    backend.importState(state, plan, userIds);
    const exported = JSON.stringify(backend.exportState());
    if (exported !== JSON.stringify(state)) throw new Error(`${file}: the store exports another state than the checkpoint's`);
    const withoutState = { ...ck, store_state: null };
    const line = {
      bench: 'memory-store-state',
      agents,
      cycle: ck.simulation_state.current_cycle,
      run_s: runSeconds,
      checkpoint_bytes: statSync(file).size,
      store_state_bytes: Buffer.byteLength(JSON.stringify(state)),
      memory_part_bytes: Buffer.byteLength(JSON.stringify(state.memory)),
      store_state_share: Math.round((Buffer.byteLength(JSON.stringify(state)) / statSync(file).size) * 1000) / 1000,
      carts: state.carts.length,
      orders: state.memory.orders.length,
      offer_cycles: state.memory.offer_cycles.length,
      // Per checkpoint, in the run: the export and its text.
      export_stringify_ms: timed(() => void JSON.stringify(backend.exportState())),
      // Per resume: the field's schema check (verify with and without it), the names check, the import.
      verify_without_store_state_ms: timed(() => void verifyCheckpoint(withoutState, file)),
      verify_ms: timed(() => void verifyCheckpoint(ck, file)),
      names_check_ms: timed(() => checkStoreState(file, ck, personas, products)),
      import_ms: timed(() => createMemoryBackend({ products }).importState(state, plan, userIds)),
      reps,
      sessions: summary['sessions_created'],
      checkouts: summary['checkouts_completed'],
      loadavg_1m: Math.round(loadavg()[0] as number * 10) / 10,
    };
    process.stdout.write(`${JSON.stringify(line)}\n`);
  }
  rmSync(dir, { recursive: true, force: true });
}
