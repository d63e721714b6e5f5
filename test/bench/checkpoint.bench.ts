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
  checkpointer: async (s, trigger) => {
    if (trigger !== 'interval' || result) return null;
    const runSeconds = ms(t0) / 1000;
    // The full save first (cold: includes hashing the personas, done once per run), then
    // serializing alone (warm).
    let t = performance.now();
    const path = (await write(s, trigger)) as string;
    const saveMs = ms(t);
    t = performance.now();
    const { text } = serializeCheckpoint(s, trigger, options);
    const serializeMs = ms(t);
    const bytes = statSync(path).size;
    t = performance.now();
    const gz = gzipSync(text, { level: 1 });
    const gzipMs = ms(t);
    result = { path, runSeconds, serializeMs, saveMs, bytes, gzipMs, gzipBytes: gz.length, digest: s.stats().digest };
    s.stop();
    return path;
  },
});
await sim.run();
const saved = result as unknown as { path: string; runSeconds: number; serializeMs: number; saveMs: number; bytes: number; gzipMs: number; gzipBytes: number; digest: string };

// Restore: everything from the file to a started actor tree (cycles = 2: it starts and is done).
const tr = performance.now();
const ck = readCheckpoint(saved.path);
const readMs = ms(tr);
validateCheckpoint(saved.path, ck, { personas, products });
const restore = restoreStateOf(saved.path, ck, personas);
const restoreStore = createMockStore({ seed: 1, products, agentIds: personas.map((p) => p.id) });
if (ck.mock_store_state) restoreStore.importState(ck.mock_store_state);
const restored = createSimulation({ ...config, cycles: 2, checkpointInterval: 0 }, { personas, products, store: restoreStore, recorder: createMockRecorder(), restore });
const summary = await restored.run();
const restoreMs = ms(tr);

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
  restored_digest_matches: summary.digest === saved.digest,
  rss_mb: Math.round(process.memoryUsage().rss / 1048576),
  targets: { save_under_3s: saved.saveMs < 3000, restore_under_5s: restoreMs < 5000, under_2kb_per_agent: saved.bytes / agents < 2048 },
};
process.stdout.write(`${JSON.stringify(line)}\n`);
rmSync(dir, { recursive: true, force: true });
// Never stop() a large tree (quadratic): end the process.
process.exit(0);
