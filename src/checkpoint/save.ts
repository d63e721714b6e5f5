/**
 * Writing checkpoints: serialize at a cycle boundary, write atomically, apply retention.
 * `createCheckpointer(options)` returns the `checkpointer` createSimulation calls with the data
 * to write ({ snapshot, stats, trigger }); it never calls back into the simulation.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { ShopsimError } from '../errors.ts';
import type { Persona, Product } from '../model/types.ts';
import type { Checkpointer, CheckpointRequest } from '../model/run.ts';
import { runTotalsOf } from '../simulation/project.ts';
import type { AnswersPosition } from '../store/answers-writer.ts';
import type { MockStore } from '../store/mock-store.ts';
import type { StoreStateSection } from './format.ts';
import { atomicWriteFile } from './atomic-write.ts';
import {
  agentStatesOf,
  CHECKPOINT_VERSION,
  checkpointFileName,
  findActiveInvocation,
  parseCheckpointFileName,
  personasHash,
  productsHash,
  stripPersonas,
  type PersistedNode,
} from './format.ts';

/** The first field of the bulky tail: everything before it is the header (see readCheckpointHeader). */
export const TAIL_MARKER = ',"agent_states":';

/** What ends every checkpoint: `,"checksum":"sha256:<64 hex>"}`, the checksum of every byte before it. */
export const CHECKSUM_FIELD = ',"checksum":"sha256:';
export const CHECKSUM_RE = /,"checksum":"sha256:([0-9a-f]{64})"\}\s*$/;

export function sha256Hex(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex');
}

/**
 * A checkpoint's JSON text (an object, ending in `}`) with its content checksum as the last
 * field: the sha256 of everything before `,"checksum":`. Last, so the header stays first and
 * readable from a prefix (readCheckpointHeader); checked on load (src/checkpoint/load.ts).
 */
export function withChecksum(json: string): string {
  const body = json.slice(0, json.lastIndexOf('}'));
  return `${body}${CHECKSUM_FIELD}${sha256Hex(body)}"}`;
}

export interface CheckpointerOptions {
  dir: string;
  /** Keep the newest N checkpoints of this run (default 5). */
  keep?: number;
  /** simulation_config: the public configuration (publicConfig in src/config.ts), no secrets. */
  publicConfig: Record<string, unknown>;
  personas: Persona[];
  products: Product[];
  mockStore: MockStore | null;
  isReplay: boolean;
  resumedFrom: string | null;
  /** The recorded store answers' position after the cycle being checkpointed (real-store runs). */
  answers?: () => AnswersPosition | null;
  /** The bundled store's state at this cycle boundary (src/db/store-repository.ts exportStoreState; with --mock-db src/server/memory-backend.ts exportState), when it has one to keep. */
  storeState?: () => Promise<StoreStateSection | null>;
  /** Write .json.gz instead of .json. */
  gzip?: boolean;
  now?: () => Date;
}

export interface SerializedCheckpoint {
  text: string;
  cycle: number;
  runId: string;
}

/**
 * The checkpoint of a simulation as JSON text, from the data the driver hands over at a cycle
 * boundary. Throws E_CHECKPOINT when the snapshot holds an active invoked call (a restore would
 * run it again).
 */
export function serializeCheckpoint(request: CheckpointRequest, options: CheckpointerOptions, storeState: StoreStateSection | null = null): SerializedCheckpoint {
  const live = request.snapshot as PersistedNode;
  const active = findActiveInvocation(live);
  if (active) throw new ShopsimError('E_CHECKPOINT', `refusing to write a checkpoint: invoked actor ${active} is still active`);
  const { stats, trigger } = request;
  const cycle = stats.cyclesCompleted;
  const header = {
    version: CHECKPOINT_VERSION,
    created_at: (options.now?.() ?? new Date()).toISOString(),
    simulation_config: options.publicConfig,
    simulation_state: {
      run_id: stats.runId,
      current_cycle: cycle,
      total_cycles: stats.totalCycles,
      simulated_datetime: stats.simulatedTime,
      real_elapsed_seconds: Math.round(stats.realElapsedSeconds * 1000) / 1000,
      is_replay: options.isReplay,
      resumed_from: options.resumedFrom,
      trigger,
    },
    statistics: {
      cycles_completed: cycle,
      ...runTotalsOf(stats),
      breaker_trips: stats.breaker.trips,
      breaker_state: stats.breaker.state,
    },
    agent_count: options.personas.length,
    personas_hash: personasHash(options.personas),
    products_hash: productsHash(options.products),
    digest: stats.digest,
    offer_engine_state: stats.offer,
    answers: options.answers?.() ?? null,
  };
  const head = JSON.stringify(header);
  const text = withChecksum(
    head.slice(0, -1) +
    TAIL_MARKER +
    JSON.stringify(agentStatesOf(live)) +
    ',"mock_store_state":' +
    JSON.stringify(options.mockStore ? options.mockStore.exportState() : null) +
    ',"store_state":' +
    JSON.stringify(storeState) +
    ',"xstate_snapshot":' +
    JSON.stringify(stripPersonas(live)) +
    '}',
  );
  return { text, cycle, runId: stats.runId };
}

/** Deletes all but the newest `keep` checkpoints of `runId` in `dir`; never the one just written. */
export function applyRetention(dir: string, runId: string, keep: number, justWritten: string): string[] {
  const mine = readdirSync(dir)
    .map((name) => ({ name, parsed: parseCheckpointFileName(name) }))
    .filter((f) => f.parsed?.runId === runId)
    .sort((a, b) => (b.parsed?.cycle ?? 0) - (a.parsed?.cycle ?? 0));
  const removed: string[] = [];
  let kept = 0;
  for (const f of mine) {
    const path = join(dir, f.name);
    if (path === justWritten || kept < keep) {
      kept++;
      continue;
    }
    try {
      unlinkSync(path);
      removed.push(path);
    } catch {}
  }
  return removed;
}

export function createCheckpointer(options: CheckpointerOptions): Checkpointer {
  const keep = options.keep ?? 5;
  // Hash the inputs now (startup), not inside the first save: ~1 s of JSON + sha256 at 100,000 personas.
  personasHash(options.personas);
  productsHash(options.products);
  return async (request) => {
    let storeState: StoreStateSection | null = null;
    try {
      storeState = (await options.storeState?.()) ?? null;
    } catch (err) {
      throw new ShopsimError('E_CHECKPOINT', `cannot read the reference store's carts for the checkpoint (${err instanceof Error ? err.message : String(err)})`, { cause: err });
    }
    const { text, cycle, runId } = serializeCheckpoint(request, options, storeState);
    mkdirSync(options.dir, { recursive: true });
    const path = join(options.dir, checkpointFileName(runId, cycle, options.gzip === true));
    try {
      atomicWriteFile(path, options.gzip ? gzipSync(text, { level: 1 }) : text);
    } catch (err) {
      throw new ShopsimError('E_CHECKPOINT', `${path}: cannot write the checkpoint (${(err as NodeJS.ErrnoException).code ?? String(err)})`, { cause: err });
    }
    applyRetention(options.dir, runId, keep, path);
    return path;
  };
}
