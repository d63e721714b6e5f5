/**
 * The checkpoint file format (version 1; see docs/checkpoints.md and docs/checkpoint.schema.json).
 * A checkpoint is the XState persisted snapshot of the whole actor tree (orchestrator → cohorts
 * → shoppers, random-generator states included) plus the state of the edges (mock store) and
 * readable summaries (statistics, agent_states) for people and tools. Each shopper's `persona`
 * is stripped before writing: it is immutable input, pinned by `personas_hash`, and put back
 * from the persona file on restore.
 */
import { createHash } from 'node:crypto';
import type { OfferEngineState } from '../../machines/orchestrator.machine.ts';
import type { Persona, Product } from '../model/types.ts';
import type { AnswersPosition } from '../store/answers-writer.ts';
import type { MockStoreState } from '../store/mock-store.ts';

export const CHECKPOINT_VERSION = 1;

/**
 * `store_state`: the bundled store at the checkpoint's cycle boundary. carts: per user with a cart
 * line or a coupon, [user, [[product, quantity, unit price]…], [code, percent, min spend] | null];
 * stock: [product, stock] of every product; offer_cycle: the current offer cycle (null: none);
 * memory: the in-memory store's rest (--mock-db).
 */
export interface StoreStateSection {
  carts: [string, [string, number, number][], [string, number, number] | null][];
  stock: [string, number][];
  offer_cycle: number | null;
  /** The rest of the bundled store when it ran in the process's memory (`--mock-db`); absent otherwise. */
  memory?: MemoryStoreSection;
}

/**
 * `store_state.memory`: what the in-memory bundled store (src/server/memory-backend.ts) holds
 * beyond the carts, stock and offer cycle — a database keeps it itself, a killed process loses it.
 * offer_cycles: every offer cycle the store started, in order, [number, starts_at, ends_at, users]
 * (users: sha256 of the user ids the request named, 16 hex; the offers are planned again from the
 * run's seed on import); redeemed: [user, [code…]]; orders: [user, idempotency key, order id,
 * total cents, discount cents, items, coupon | null] per user in the order placed (with the
 * order numbers they give the order ids of later checkouts); order_items: order lines written.
 */
export interface MemoryStoreSection {
  offer_cycles: [number, string, string, string][];
  redeemed: [string, string[]][];
  orders: [string, string, string, number, number, number, string | null][];
  order_items: number;
}

export interface AgentState {
  last_cycle_completed: number;
  last_action: string;
  shopping_this_cycle: boolean;
}

export interface SimulationStateSection {
  run_id: string;
  current_cycle: number;
  total_cycles: number;
  simulated_datetime: string;
  real_elapsed_seconds: number;
  is_replay: boolean;
  resumed_from: string | null;
  trigger: string;
}

export interface Checkpoint {
  version: number;
  created_at: string;
  simulation_config: Record<string, unknown>;
  simulation_state: SimulationStateSection;
  statistics: Record<string, unknown>;
  agent_count: number;
  personas_hash: string;
  products_hash: string;
  digest: string;
  offer_engine_state: OfferEngineState;
  /**
   * Where this checkpoint's cycle ends in the run's recorded store answers (a real-store run
   * with recording on); null when none were recorded, absent in files of older versions.
   */
  answers?: AnswersPosition | null;
  mock_store_state: MockStoreState | null;
  /**
   * The bundled reference store's state a resume puts back (its carts: an abandoned session keeps
   * its cart), when the run used it (on a database; in memory with --mock-db, then with its
   * `memory` part); null otherwise, absent in older files.
   */
  store_state?: StoreStateSection | null;
  agent_states: Record<string, AgentState>;
  xstate_snapshot: PersistedNode;
}

/** The slice of XState's persisted snapshot shape this module walks. */
export interface PersistedNode {
  status: string;
  value: unknown;
  context: Record<string, unknown>;
  children: Record<string, PersistedChild>;
  [k: string]: unknown;
}

export interface PersistedChild {
  src: unknown;
  snapshot: PersistedNode;
  [k: string]: unknown;
}

/**
 * Actor sources that are part of the tree itself. Store calls and writes are actions, not children,
 * so the only other children are the orchestrator's invoked offer-cycle start and cycle settle:
 * active, they are in flight and would run again on restore.
 */
const TREE_SOURCES = new Set(['cohort', 'shopper']);

const personasHashes = new WeakMap<Persona[], string>();
const productsHashes = new WeakMap<Product[], string>();

/** sha256 of the persona records the run uses (in run order). */
export function personasHash(personas: Persona[]): string {
  let h = personasHashes.get(personas);
  if (!h) {
    h = `sha256:${createHash('sha256').update(JSON.stringify(personas)).digest('hex')}`;
    personasHashes.set(personas, h);
  }
  return h;
}

export function productsHash(products: Product[]): string {
  let h = productsHashes.get(products);
  if (!h) {
    h = `sha256:${createHash('sha256').update(JSON.stringify(products)).digest('hex')}`;
    productsHashes.set(products, h);
  }
  return h;
}

/** `checkpoint_<run-id>_cycle_<N>.json[.gz]` (N zero-padded to 6 so names sort). */
export function checkpointFileName(runId: string, cycle: number, gzip: boolean): string {
  return `checkpoint_${runId}_cycle_${String(cycle).padStart(6, '0')}.json${gzip ? '.gz' : ''}`;
}

const NAME_RE = /^checkpoint_(.+)_cycle_(\d+)\.json(\.gz)?$/;

export function parseCheckpointFileName(name: string): { runId: string; cycle: number; gzip: boolean } | null {
  const m = NAME_RE.exec(name);
  if (!m) return null;
  return { runId: m[1] as string, cycle: Number(m[2]), gzip: m[3] !== undefined };
}

/** Path of the first active invoked actor (an offer-cycle start or a cycle settle in flight), or null. */
export function findActiveInvocation(node: PersistedNode, path = 'orchestrator'): string | null {
  for (const [id, child] of Object.entries(node.children ?? {})) {
    const src = typeof child.src === 'string' ? child.src : '(inline)';
    if (!TREE_SOURCES.has(src)) {
      if (child.snapshot?.status === 'active') return `${path}/${id} (${src})`;
      continue;
    }
    const deeper = findActiveInvocation(child.snapshot, `${path}/${id}`);
    if (deeper) return deeper;
  }
  return null;
}

/** Calls fn for each shopper node of an orchestrator snapshot, in tree order. */
export function forEachShopper(root: PersistedNode, fn: (id: string, node: PersistedNode, cohort: PersistedNode) => void): void {
  for (const cohort of Object.values(root.children ?? {})) {
    if (cohort.src !== 'cohort') continue;
    const shoppers = cohort.snapshot.children ?? {};
    for (const id in shoppers) {
      const child = shoppers[id] as PersistedChild;
      if (child.src === 'shopper') fn(id, child.snapshot, cohort.snapshot);
    }
  }
}

/**
 * A copy of the persisted tree with every shopper's persona removed. XState's persisted
 * snapshot shares context objects with the live actors, so nothing here is mutated in place:
 * the shopper contexts and the containers above them are shallow-copied.
 */
export function stripPersonas(root: PersistedNode): PersistedNode {
  const children: Record<string, PersistedChild> = {};
  for (const [cid, cohort] of Object.entries(root.children ?? {})) {
    if (cohort.src !== 'cohort') {
      children[cid] = cohort;
      continue;
    }
    const shoppers: Record<string, PersistedChild> = {};
    const src = cohort.snapshot.children ?? {};
    for (const id in src) {
      const child = src[id] as PersistedChild;
      if (child.src !== 'shopper') {
        shoppers[id] = child;
        continue;
      }
      const { persona: _persona, ...context } = child.snapshot.context;
      shoppers[id] = { ...child, snapshot: { ...child.snapshot, context } };
    }
    children[cid] = { ...cohort, snapshot: { ...cohort.snapshot, children: shoppers } };
  }
  return { ...root, children };
}

/**
 * Puts the persona objects back into a freshly parsed snapshot (mutates it), by agent index;
 * returns the number of shoppers. Throws a message (no file name) when the tree does not match.
 */
export function injectPersonas(root: PersistedNode, personas: Persona[]): number {
  let n = 0;
  let problem: string | null = null;
  forEachShopper(root, (id, node) => {
    if (problem) return;
    const ctx = node.context;
    const index = ctx['agentIndex'];
    const persona = typeof index === 'number' ? personas[index] : undefined;
    if (!persona || persona.id !== id) {
      problem = `shopper ${id} (agent index ${String(index)}) has no matching persona in the persona file (found ${persona ? persona.id : 'none'})`;
      return;
    }
    ctx['persona'] = persona;
    n++;
  });
  if (problem) throw new Error(problem);
  return n;
}

export function agentStatesOf(root: PersistedNode): Record<string, AgentState> {
  const out: Record<string, AgentState> = {};
  forEachShopper(root, (id, node) => {
    const c = node.context;
    out[id] = {
      last_cycle_completed: Number(c['lastCycle'] ?? 0),
      last_action: String(c['lastAction'] ?? 'none'),
      shopping_this_cycle: c['shoppingThisCycle'] === true,
    };
  });
  return out;
}
