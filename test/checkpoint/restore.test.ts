/**
 * In-process: restore → run → checkpoint → restore again, compared file-for-file with the
 * uninterrupted run; persona stripping; refusing mid-cycle; bad input, one line each.
 */
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import { checkpointFileName, findActiveInvocation, type Checkpoint, type PersistedNode } from '../../src/checkpoint/format.ts';
import { newestValidCheckpoint, readCheckpoint, restoreStateOf, validateCheckpoint } from '../../src/checkpoint/load.ts';
import { createCheckpointer, serializeCheckpoint, withChecksum } from '../../src/checkpoint/save.ts';
import { DEFAULTS, publicConfig } from '../../src/config.ts';
import { planResume } from '../../src/run/plan-resume.ts';
import { generateProducts } from '../../src/model/catalog.ts';
import { generatePersonas } from '../../src/model/personas.ts';
import { createSimulation, type RestoreState, type Simulation, type SimulationConfig } from '../../src/simulation/create-simulation.ts';
import { createMockRecorder } from '../../src/simulation/mock-recorder.ts';
import { createMockStore, type MockStoreState } from '../../src/store/mock-store.ts';

const personas = generatePersonas(300, 3);
const products = generateProducts(120, 3);
const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));
function dir(): string {
  const d = mkdtempSync(join(tmpdir(), 'shopsim-ck-unit-'));
  dirs.push(d);
  return d;
}

const CONFIG: SimulationConfig = {
  runId: 'run-test-restore',
  seed: 77,
  cycles: 20,
  startMs: Date.parse('2024-01-01T00:00:00Z'),
  timeScale: 24,
  fast: true,
  warmupCycles: 2,
  breakerPercent: 50,
  breakerAction: 'wait',
  cohortSize: 64,
  offerCycleDays: 0.25,
  checkpointInterval: 5,
};

function simulate(outDir: string, opts: { restore?: RestoreState; storeState?: MockStoreState | null; cycles?: number } = {}): Simulation {
  const store = createMockStore({ seed: CONFIG.seed, products, agentIds: personas.map((p) => p.id), failRate: 0.01 });
  if (opts.storeState) store.importState(opts.storeState);
  return createSimulation(
    { ...CONFIG, cycles: opts.cycles ?? CONFIG.cycles },
    {
      personas,
      products,
      store,
      recorder: createMockRecorder(),
      ...(opts.restore ? { restore: opts.restore } : {}),
      checkpointer: createCheckpointer({
        dir: outDir,
        keep: 10,
        // A resume needs every option it carries or must match: the full public configuration.
        publicConfig: publicConfig({ ...DEFAULTS, seed: CONFIG.seed, agents: personas.length, warmupCycles: CONFIG.warmupCycles, breakerPercent: CONFIG.breakerPercent, offerCycleDays: CONFIG.offerCycleDays, mockApi: true, mockDb: true }, CONFIG.cycles),
        personas,
        products,
        mockStore: store,
        isReplay: opts.restore !== undefined,
        resumedFrom: opts.restore?.resumedFrom ?? null,
      }),
    },
  );
}

function restoreFrom(path: string) {
  const ck = readCheckpoint(path); // parsed afresh: a restore mutates the snapshot
  validateCheckpoint(path, ck, { personas, products });
  return { restore: restoreStateOf(path, ck, personas), storeState: ck.mock_store_state };
}

/** The parts that must be identical whoever wrote the checkpoint. */
function essence(ck: Checkpoint) {
  return {
    digest: ck.digest,
    statistics: ck.statistics,
    offer: ck.offer_engine_state,
    agents: ck.agent_states,
    // Carts emptied by a checkout are exported by the uninterrupted store and dropped by a
    // restored one (importState forgets lastCheckout); order is Map insertion order. Neither
    // changes an answer, so compare the non-empty carts by agent.
    store: ck.mock_store_state && {
      ...ck.mock_store_state,
      carts: ck.mock_store_state.carts.filter(([, c]) => c.lines.length > 0 || c.coupon).sort(([x], [y]) => (x < y ? -1 : 1)),
      redeemed: [...ck.mock_store_state.redeemed].sort(([x], [y]) => (x < y ? -1 : 1)),
    },
    snapshot: ck.xstate_snapshot,
    cycle: ck.simulation_state.current_cycle,
  };
}

describe('restore → run → checkpoint → restore again', () => {
  it('writes the same checkpoints and ends with the same digest and totals as the uninterrupted run', async () => {
    const a = dir();
    const full = await simulate(a).run();
    const at = (d: string, n: number) => join(d, checkpointFileName(CONFIG.runId, n, false));

    const b = dir();
    const r1 = await simulate(b, restoreFrom(at(a, 5))).run();
    expect(r1.digest).toBe(full.digest);
    expect(essence(readCheckpoint(at(b, 10)))).toEqual(essence(readCheckpoint(at(a, 10))));
    expect(essence(readCheckpoint(at(b, 15)))).toEqual(essence(readCheckpoint(at(a, 15))));

    // Second generation: restore from a checkpoint written by a restored run.
    const c = dir();
    const r2 = await simulate(c, restoreFrom(at(b, 10))).run();
    expect(readCheckpoint(at(b, 10)).simulation_state.is_replay).toBe(true);
    const keys = ['digest', 'sessions_created', 'checkouts_completed', 'sessions_abandoned', 'sessions_failed', 'idle_browses', 'events_created', 'offers_assigned', 'requests', 'revenue_cents'] as const;
    for (const k of keys) expect(r2[k], k).toEqual(full[k]);
    expect(r2.is_replay).toBe(true);
    expect(r2.resumed_from).toBe(at(b, 10));
  });

  it('strips personas from the file without touching the live actors, and stays under 2 KB per agent', async () => {
    const a = dir();
    const sim = simulate(a, { cycles: 6 });
    await sim.run();
    const path = join(a, checkpointFileName(CONFIG.runId, 5, false));
    const text = readFileSync(path, 'utf8');
    expect(text).not.toContain('"persona"');
    expect(text.length / personas.length).toBeLessThan(2048);
    // The live tree still has its personas (persisted snapshots share context objects).
    const live = sim.persistedSnapshot() as PersistedNode;
    const cohort = Object.values(live.children)[0]?.snapshot as PersistedNode;
    const shopper = Object.values(cohort.children)[0]?.snapshot as PersistedNode;
    expect(shopper.context['persona']).toBe(personas[0]);
  });

  it('refuses to persist mid-cycle or with an invoked call active', async () => {
    const base = createMockStore({ seed: CONFIG.seed, products, agentIds: personas.map((p) => p.id) });
    let midCycle: unknown = null;
    let sim: Simulation | null = null;
    const store = Object.assign(Object.create(base) as typeof base, {
      listProducts: (...args: Parameters<typeof base.listProducts>) => {
        // A store call is in flight: the tree must not be persisted now.
        if (midCycle === null) midCycle = (() => { try { return sim?.persistedSnapshot(); } catch (err) { return err; } })();
        return base.listProducts(...args);
      },
    });
    sim = createSimulation({ ...CONFIG, cycles: 1 }, { personas, products, store, recorder: createMockRecorder() });
    await sim.run();
    expect(String(midCycle)).toMatch(/mid-cycle/);
    expect(sim.atCycleBoundary()).toBe(true);
    expect(() => serializeCheckpoint({ snapshot: sim.persistedSnapshot(), stats: sim.stats(), trigger: 'manual' }, { dir: '.', publicConfig: {}, personas, products, mockStore: null, isReplay: false, resumedFrom: null })).not.toThrow();
    const tree = { status: 'active', value: {}, context: {}, children: { settle: { src: 'settleCycle', snapshot: { status: 'active', value: {}, context: {}, children: {} } } } } as unknown as PersistedNode;
    expect(findActiveInvocation(tree)).toMatch(/settleCycle/);
  });
});

describe('bad input: one line naming the file, E_CHECKPOINT, exit 2', () => {
  const d = dir();
  let good = '';
  it('setup', async () => {
    await simulate(d, { cycles: 6 }).run();
    good = join(d, checkpointFileName(CONFIG.runId, 5, false));
  });

  function expectError(fn: () => unknown, file: string, pattern: RegExp) {
    try {
      fn();
    } catch (err) {
      const e = err as { code?: string; exitCode?: number; message: string };
      expect(e.code).toBe('E_CHECKPOINT');
      expect(e.exitCode).toBe(2);
      expect(e.message).toContain(file);
      expect(e.message).toMatch(pattern);
      expect(e.message).not.toContain('\n');
      return;
    }
    throw new Error('expected an error');
  }

  it('missing, empty, truncated, not JSON, unknown version', () => {
    expectError(() => readCheckpoint(join(d, 'nope.json')), 'nope.json', /no such file/);
    const empty = join(d, 'empty.json');
    writeFileSync(empty, '');
    expectError(() => readCheckpoint(empty), empty, /empty/);
    const text = readFileSync(good, 'utf8');
    const trunc = join(d, 'trunc.json');
    writeFileSync(trunc, text.slice(0, text.length / 2));
    expectError(() => readCheckpoint(trunc), trunc, /no content checksum at the end \(truncated/);
    const truncGz = join(d, 'trunc.json.gz');
    const gz = gzipSync(text);
    writeFileSync(truncGz, gz.subarray(0, gz.length / 2));
    expectError(() => readCheckpoint(truncGz), truncGz, /truncated or corrupt gzip/);
    const v9 = join(d, 'v9.json');
    // A later shopsim's file: its checksum is right, its version is not one this one reads.
    writeFileSync(v9, withChecksum(text.replace('"version":1', '"version":9').replace(/,"checksum":"[^"]*"\}$/, '}')));
    expectError(() => readCheckpoint(v9), v9, /unknown version 9/);
  });

  it('reads gzip checkpoints', () => {
    const gzPath = join(d, 'good.json.gz');
    writeFileSync(gzPath, gzipSync(readFileSync(good)));
    expect(readCheckpoint(gzPath).digest).toBe(readCheckpoint(good).digest);
  });

  it('personas, agent count, products, seed mismatches', () => {
    const ck = () => readCheckpoint(good);
    const changed = personas.map((p, i) => (i === 7 ? { ...p, budget_cents: p.budget_cents + 1 } : p));
    expectError(() => validateCheckpoint(good, ck(), { personas: changed, products }), good, /personas do not match/);
    expectError(() => validateCheckpoint(good, ck(), { personas: personas.slice(0, 299), products }), good, /agent count mismatch: the checkpoint has 300 agents, this run has 299/);
    expectError(() => validateCheckpoint(good, ck(), { personas, products: products.slice(1) }), good, /products do not match/);
    // The seed is checked where the resume is planned (its rule in the option table: must-match).
    expectError(() => planResume({ config: { ...DEFAULTS, resumeFrom: good, seed: 78 }, sources: { seed: 'flag' } }), good, /seed mismatch: the checkpoint was written with --seed 77, this run asks for --seed 78/);
  });

  it('--resume skips a corrupt newest checkpoint with a warning naming both', async () => {
    const d2 = dir();
    await simulate(d2, { cycles: 12 }).run();
    const c5 = join(d2, checkpointFileName(CONFIG.runId, 5, false));
    const c10 = join(d2, checkpointFileName(CONFIG.runId, 10, false));
    writeFileSync(c10, readFileSync(c10, 'utf8').slice(0, 1000));
    const found = newestValidCheckpoint(d2);
    expect(found.file).toBe(c5);
    expect(found.warnings).toHaveLength(1);
    expect(found.warnings[0]).toContain(c10);
    expect(found.warnings[0]).toContain(c5);
    copyFileSync(c5, join(d2, 'unrelated.txt'));
  });

  it('--resume with no checkpoint at all', () => {
    expect(() => newestValidCheckpoint(dir())).toThrow(/no checkpoint in/);
  });
});
