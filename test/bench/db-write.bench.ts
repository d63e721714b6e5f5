/**
 * Database write throughput: events written per second for the sessions of a 372-agent ×
 * 24-cycle run, batched (the recorder: one statement per agent-cycle) and group commit
 * (`--db-group-commit 50`: up to 50 agent-cycles per statement) vs the per-row baseline (one
 * INSERT per event, in one transaction per agent-cycle), on the embedded PGlite and — when
 * TEST_DATABASE_URL or DATABASE_URL is set — a real PostgreSQL (in a throwaway schema).
 * Commits are issued as the simulation issues them: all sessions of a cycle at once.
 *
 *   npx tsx test/bench/db-write.bench.ts [agents=372] [cycles=24]
 *   env: BENCH_ROUNDS (3), BENCH_GROUP_COMMIT (50), DB_POOL_SIZE (50), BENCH_SKIP_EMBEDDED=1
 *
 * Prints one JSON object per measurement per line.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createPool, sql } from 'slonik';
import { openDatabase, type Database } from '../../src/db/connection.ts';
import { createPgRecorder, writeSessionPerRow } from '../../src/db/pg-recorder.ts';
import { generateProducts } from '../../src/model/catalog.ts';
import { generatePersonas } from '../../src/model/personas.ts';
import type { Recorder, SessionRecord } from '../../src/model/types.ts';
import { createSimulation, DEFAULT_SIMULATION_CONFIG } from '../../src/simulation/create-simulation.ts';
import { createMockStore } from '../../src/store/mock-store.ts';

const agents = Number(process.argv[2] ?? 372);
const cycles = Number(process.argv[3] ?? 24);
const serverUrl = process.env['TEST_DATABASE_URL'] || process.env['DATABASE_URL'];
const poolSize = Number(process.env['DB_POOL_SIZE'] ?? 50);
/** Agent-cycles per statement in the group-commit measurement (`--db-group-commit N`). */
const groupCommit = Number(process.env['BENCH_GROUP_COMMIT'] ?? 50);
/** Rounds on the real server (the embedded database gets one: its per-row pass alone takes ~20 s). */
const reps = Number(process.env['BENCH_ROUNDS'] ?? 3);

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? (s[m] as number) : Math.round(((s[m - 1] as number) + (s[m] as number)) / 2);
}

function emit(o: Record<string, unknown>): void {
  process.stdout.write(`${JSON.stringify({ bench: 'db-write', ...o })}\n`);
}

/** Runs the simulation once with a recorder that only captures what it would write. */
async function captureSessions(): Promise<{ records: SessionRecord[]; personas: ReturnType<typeof generatePersonas>; products: ReturnType<typeof generateProducts> }> {
  const personas = generatePersonas(agents, 42);
  const products = generateProducts(240, 42);
  const records: SessionRecord[] = [];
  const recorder: Recorder = {
    async beginRun() {},
    async commitSession(r) {
      records.push(structuredClone(r));
    },
    async prepareResume() {
      return { orphanedSessions: 0, discardedSessions: 0 };
    },
    async endRun() {},
    async close() {},
  };
  const store = createMockStore({ seed: 42, products, agentIds: personas.map((p) => p.id) });
  const sim = createSimulation({ ...DEFAULT_SIMULATION_CONFIG, runId: 'bench', cycles, fast: true }, { personas, products, store, recorder });
  await sim.run();
  return { records, personas, products };
}

function forRun(records: SessionRecord[], runId: string): SessionRecord[][] {
  const byCycle = new Map<number, SessionRecord[]>();
  for (const r of records) {
    const copy = { ...r, runId, sessionId: `${runId}:${r.cycle}:${r.agentId}` };
    let list = byCycle.get(r.cycle);
    if (!list) byCycle.set(r.cycle, (list = []));
    list.push(copy);
  }
  return [...byCycle.keys()].sort((a, b) => a - b).map((c) => byCycle.get(c) as SessionRecord[]);
}

async function measure(target: string, db: Database, mode: 'batched' | 'per_row' | 'group_commit', data: Awaited<ReturnType<typeof captureSessions>>): Promise<number> {
  const runId = `bench-${mode}-${randomBytes(3).toString('hex')}`;
  await db.recorder.beginRun({ runId, seed: 42, config: { bench: true }, isReplay: false, resumedFrom: null, startedAt: new Date().toISOString(), personas: data.personas, products: data.products });
  const cyclesOfRecords = forRun(data.records, runId);
  const grouped = createPgRecorder(db.pool, { groupCommit });
  const write =
    mode === 'batched'
      ? (r: SessionRecord) => db.recorder.commitSession(r)
      : mode === 'group_commit'
        ? (r: SessionRecord) => grouped.commitSession(r)
        : (r: SessionRecord) => writeSessionPerRow(db.pool, r);
  const events = data.records.reduce((s, r) => s + r.events.length, 0);
  const t0 = performance.now();
  for (const cycle of cyclesOfRecords) await Promise.all(cycle.map(write));
  const seconds = (performance.now() - t0) / 1000;
  const eventsPerSecond = Math.round(events / seconds);
  emit({ target, mode, agents, cycles, sessions: data.records.length, events, pool: db.kind === 'embedded' ? 1 : poolSize, ...(mode === 'group_commit' ? { group_commit: groupCommit } : {}), seconds: Math.round(seconds * 1000) / 1000, events_per_s: eventsPerSecond, sessions_per_s: Math.round(data.records.length / seconds) });
  return eventsPerSecond;
}

async function bench(target: string, open: () => Promise<Database>, data: Awaited<ReturnType<typeof captureSessions>>): Promise<void> {
  const t0 = performance.now();
  const db = await open();
  emit({ target, mode: 'open', seconds: Math.round((performance.now() - t0)) / 1000, where: db.describe() });
  try {
    // Rounds of the three modes, interleaved so drift on a noisy machine hits each alike; the
    // ratio line gives the medians (round 1 is included: a real run is cold too).
    const runs: Record<'batched' | 'per_row' | 'group_commit', number[]> = { batched: [], per_row: [], group_commit: [] };
    const rounds = db.kind === 'embedded' ? Math.min(reps, 1) : reps;
    for (let round = 1; round <= rounds; round++) {
      for (const mode of ['batched', 'per_row', 'group_commit'] as const) runs[mode].push(await measure(target, db, mode, data));
    }
    const batched = median(runs.batched);
    const perRow = median(runs.per_row);
    const group = median(runs.group_commit);
    emit({
      target,
      mode: 'ratio',
      rounds,
      batched_events_per_s: batched,
      per_row_events_per_s: perRow,
      speedup: Math.round((batched / perRow) * 10) / 10,
      group_commit: groupCommit,
      group_commit_events_per_s: group,
      group_commit_speedup: Math.round((group / perRow) * 10) / 10,
    });
  } finally {
    await db.close();
  }
}

const data = await captureSessions();
emit({ mode: 'captured', sessions: data.records.length, events: data.records.reduce((s, r) => s + r.events.length, 0) });

const dir = mkdtempSync(join(tmpdir(), 'shopsim-bench-'));
try {
  if (process.env['BENCH_SKIP_EMBEDDED'] !== '1') await bench('embedded', () => openDatabase({ dataDir: dir }), data);
} finally {
  rmSync(dir, { recursive: true, force: true });
}

if (serverUrl) {
  const schema = `shopsim_bench_${randomBytes(4).toString('hex')}`;
  const admin = await createPool(serverUrl, { maximumPoolSize: 1 });
  await admin.query(sql.unsafe`CREATE SCHEMA ${sql.identifier([schema])}`);
  try {
    const u = new URL(serverUrl);
    // BENCH_PG_OPTIONS, e.g. "-c synchronous_commit=off", to see what the server's commit flush costs.
    u.searchParams.set('options', `-c search_path=${schema} ${process.env['BENCH_PG_OPTIONS'] ?? ''}`.trim());
    await bench('postgres', () => openDatabase({ databaseUrl: u.toString(), poolSize }), data);
  } finally {
    await admin.query(sql.unsafe`DROP SCHEMA ${sql.identifier([schema])} CASCADE`);
    await admin.end();
  }
} else {
  emit({ target: 'postgres', mode: 'skipped', reason: 'TEST_DATABASE_URL / DATABASE_URL not set' });
}
