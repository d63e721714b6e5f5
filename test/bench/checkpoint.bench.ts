/**
 * Checkpoint save and restore at scale: `npx tsx test/bench/checkpoint.bench.ts [agents...]`
 * (default 10000 100000; each size in its own process). One JSON object per line.
 * Save = persisted snapshot + serialize + atomic write (+ retention); restore = read + parse +
 * validate (persona/product hashes) + re-inject personas + createActor/start of the whole tree.
 * Targets (issue 3): 100,000 agents saved < 3 s, restored < 5 s, < 2 KB per agent on disk.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { readCheckpoint, restoreStateOf, validateCheckpoint } from '../../src/checkpoint/load.ts';
import { createCheckpointer, serializeCheckpoint } from '../../src/checkpoint/save.ts';
import { generateProducts } from '../../src/model/catalog.ts';
import { generatePersonas } from '../../src/model/personas.ts';
import { createSimulation, type SimulationConfig } from '../../src/simulation/create-simulation.ts';
import { createMockRecorder } from '../../src/simulation/mock-recorder.ts';
import { createMockStore } from '../../src/store/mock-store.ts';

// Restore runs in a fresh process, as `run --resume` does: no live tree of the saving run
// competing for memory and GC. `--restore FILE AGENTS` prints one JSON object.
if (process.argv[2] === '--restore') {
  const file = process.argv[3] as string;
  const n = Number(process.argv[4]);
  const ps = generatePersonas(n, 1);
  const prods = generateProducts(240, 1);
  const t0 = performance.now();
  const ck = readCheckpoint(file);
  const readMs = performance.now() - t0;
  const tv = performance.now();
  validateCheckpoint(file, ck, { personas: ps, products: prods });
  const restore = restoreStateOf(file, ck, ps);
  const validateMs = performance.now() - tv;
  const st = createMockStore({ seed: 1, products: prods, agentIds: ps.map((p) => p.id) });
  if (ck.mock_store_state) st.importState(ck.mock_store_state);
  const ta = performance.now();
  const sim = createSimulation(
    { runId: 'run-bench', seed: 1, cycles: 2, startMs: Date.parse('2024-01-01T08:00:00Z'), timeScale: 24, fast: true, warmupCycles: 0, breakerPercent: 100, breakerAction: 'wait', cohortSize: 500, offerCycleDays: 7, checkpointInterval: 0 },
    { personas: ps, products: prods, store: st, recorder: createMockRecorder(), restore },
  );
  const summary = await sim.run();
  const actorsMs = performance.now() - ta;
  process.stdout.write(`${JSON.stringify({ restore_ms: Math.round(performance.now() - t0), read_parse_ms: Math.round(readMs), validate_inject_ms: Math.round(validateMs), actors_ms: Math.round(actorsMs), digest: summary.digest })}\n`);
  process.exit(0);
}

const sizes = process.argv.slice(2).map(Number).filter((n) => n > 0);

if (sizes.length !== 1) {
  const list = sizes.length ? sizes : [10_000, 100_000];
  for (const n of list) {
    const r = spawnSync(process.execPath, ['--import', 'tsx', '--max-old-space-size=6144', fileURLToPath(import.meta.url), String(n)], { stdio: 'inherit' });
    if (r.status !== 0) process.exit(r.status ?? 1);
  }
  process.exit(0);
}

const agents = sizes[0] as number;
const ms = (t0: number) => Math.round(performance.now() - t0);
const dir = mkdtempSync(join(tmpdir(), 'shopsim-ck-bench-'));
const personas = generatePersonas(agents, 1);
const products = generateProducts(240, 1);
const config: SimulationConfig = {
  runId: 'run-bench',
  seed: 1,
  cycles: 3,
  startMs: Date.parse('2024-01-01T08:00:00Z'),
  timeScale: 24,
  fast: true,
  warmupCycles: 0,
  breakerPercent: 100,
  breakerAction: 'wait',
  cohortSize: 500,
  offerCycleDays: 7,
  checkpointInterval: 2,
};
const store = createMockStore({ seed: 1, products, agentIds: personas.map((p) => p.id) });
const options = { dir, keep: 5, publicConfig: { seed: 1, agents }, personas, products, mockStore: store, isReplay: false, resumedFrom: null };
const write = createCheckpointer(options);
let result: Record<string, unknown> | null = null;
const t0 = performance.now();
const sim = createSimulation(config, {
  personas,
  products,
  store,
  recorder: createMockRecorder(),
  checkpointer: async (request) => {
    const { trigger } = request;
    if (trigger !== 'interval' || result) return null;
    const runSeconds = ms(t0) / 1000;
    // The full save first (cold: includes hashing the personas, done once per run), then
    // serializing alone (warm).
    let t = performance.now();
    const path = (await write(request)) as string;
    const saveMs = ms(t);
    t = performance.now();
    const { text } = serializeCheckpoint(request, options);
    const serializeMs = ms(t);
    const bytes = statSync(path).size;
    t = performance.now();
    const gz = gzipSync(text, { level: 1 });
    const gzipMs = ms(t);
    result = { path, runSeconds, serializeMs, saveMs, bytes, gzipMs, gzipBytes: gz.length, digest: request.stats.digest };
    sim.stop();
    return path;
  },
});
await sim.run();
const saved = result as unknown as { path: string; runSeconds: number; serializeMs: number; saveMs: number; bytes: number; gzipMs: number; gzipBytes: number; digest: string };

// Restore: everything from the file to a started actor tree, in a fresh process.
const child = spawnSync(process.execPath, ['--import', 'tsx', '--max-old-space-size=6144', fileURLToPath(import.meta.url), '--restore', saved.path, String(agents)], { encoding: 'utf8', maxBuffer: 1 << 20 });
if (child.status !== 0) throw new Error(`restore process failed: ${child.stderr}`);
const r = JSON.parse(child.stdout.trim().split('\n').pop() as string) as { restore_ms: number; read_parse_ms: number; validate_inject_ms: number; actors_ms: number; digest: string };
const restoreMs = r.restore_ms;
const readMs = r.read_parse_ms;
const summary = { digest: r.digest };

const line = {
  bench: 'checkpoint',
  agents,
  setup_and_2_cycles_s: saved.runSeconds,
  save_ms: saved.saveMs,
  serialize_ms: saved.serializeMs,
  bytes: saved.bytes,
  bytes_per_agent: Math.round(saved.bytes / agents),
  gzip_level1_ms: saved.gzipMs,
  gzip_bytes_per_agent: Math.round(saved.gzipBytes / agents),
  restore_ms: restoreMs,
  restore_read_parse_ms: readMs,
  restore_validate_inject_ms: r.validate_inject_ms,
  restore_actors_ms: r.actors_ms,
  restored_digest_matches: summary.digest === saved.digest,
  rss_mb: Math.round(process.memoryUsage().rss / 1048576),
  targets: { save_under_3s: saved.saveMs < 3000, restore_under_5s: restoreMs < 5000, under_2kb_per_agent: saved.bytes / agents < 2048 },
};
process.stdout.write(`${JSON.stringify(line)}\n`);
rmSync(dir, { recursive: true, force: true });
// Never stop() a large tree (quadratic): end the process.
process.exit(0);
