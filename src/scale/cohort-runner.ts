/**
 * The worker side of a cohort run outside the coordinator: whatever holds cohorts (a worker
 * thread of `--workers N`, a BullMQ job processor, a test) runs them through this module, with
 * its own edges (store client, recorder) injected. It knows no transport: it is given a cohort's
 * spec or its persisted snapshot, runs one RUN_CYCLE at a time per cohort, and answers with what
 * the coordinator needs (docs/scaling.md, "The cohort runner"):
 *
 *   const runner = createCohortRunner({ store, recorder, mockStore? });
 *   runner.open({ spec })              // a new cohort: CohortSpec = the orchestrator's spawn input + id
 *   runner.open({ id, snapshot })      // or one restored from its persisted snapshot (a checkpoint, a retry)
 *   runner.setWindow(id, window)       // SET_WINDOW (between cycles)
 *   const r = await runner.runCycle(id, { info, activeCount })
 *     r.report    COHORT_DONE { type, baseIndex, totals }: what the stand-in sends the orchestrator
 *     r.entries   the cycle's event-log entries of this cohort (EventLog.take), for addEntries
 *     r.snapshot  the cohort's persisted snapshot after the cycle (when asked: { snapshot: true })
 *     r.state     its compact CohortState after the cycle (when asked: { state: true }); later
 *                 runner.open({ spec | id+snapshot, state, mockState }) rebuilds it from that
 *     r.mockState the mock store's carts and redeemed coupons of this cohort's agents (mock store only)
 *   runner.snapshot(id) / runner.mockState(id) / runner.close(id)
 *
 * and a one-shot form for a stateless job: `runCohortCycle({ cohort, info, activeCount, window, deps, keep })`
 * opens, runs one cycle, returns the snapshot (or with keep 'state' the CohortState) and closes. The cohort is the machines' own cohort machine
 * (machines/cohort.machine.ts) with its two reports provided as callbacks instead of sendParent,
 * so the shoppers, their decisions and their digest entries are the in-process ones exactly.
 * Each cohort has its own event log, so cohorts running at the same time never take each other's
 * entries.
 */
import { createActor, type Actor } from 'xstate';
import type { CohortContext, CohortInput, CohortReport } from '../../machines/cohort.machine.ts';
import type { CycleInfo } from '../model/calendar.ts';
import { emptyTotals } from '../model/totals.ts';
import type { OfferCycleRequest, Recorder, StoreApi } from '../model/types.ts';
import { EventLog, type Entry } from '../simulation/event-log.ts';
import { occupancyOf } from '../simulation/occupancy.ts';
import { provideCohort, type ProvidedCohort } from '../simulation/provide-machines.ts';
import type { MockStore, MockStoreState } from '../store/mock-store.ts';

/** A new cohort: the orchestrator's spawn input (runId, seed, baseIndex, personas, window) and its actor id ('cohort-0000'). */
export type CohortSpec = CohortInput & { id: string };

/**
 * What changes in a cohort from one cycle to the next, between cycles: its window and, per shopper
 * (in cohort order), its state value and the context fields a cycle moves — a few dozen bytes a
 * shopper, against ~800 for its persisted snapshot (persona included). Put over the cohort's spec
 * or an older snapshot of it, it gives a cohort that behaves as the one it was taken from
 * (`open({ spec, state })`): what a worker keeps per cycle to take over a lost worker's cohorts.
 */
export interface CohortState {
  window: number;
  /** [id, value, rng, lastCycle, lastAction, shoppingThisCycle, info, session] per shopper. */
  shoppers: [string, unknown, unknown, unknown, unknown, unknown, unknown, unknown][];
}

/**
 * Where a cohort comes from: its spec (a new run) or its persisted snapshot (a checkpoint, another
 * worker), optionally with a later CohortState over it and its agents' mock-store slice.
 */
export type CohortSource =
  | { spec: CohortSpec; state?: CohortState | null; mockState?: CohortMockState | null }
  | { id: string; snapshot: unknown; state?: CohortState | null; mockState?: CohortMockState | null };

/** The part of the mock store's state that belongs to one cohort's agents (carts, redeemed coupons). */
export type CohortMockState = Pick<MockStoreState, 'carts' | 'redeemed'>;

export interface CohortRunnerDeps {
  /** The store the shoppers call (a mock store, an HTTP client of this worker's own). */
  store: StoreApi;
  /** Where sessions are written (a database recorder, a relay to the coordinator, a mock). */
  recorder: Recorder;
  /** The mock store behind `store`, when it is one: its per-cohort state travels with snapshots. */
  mockStore?: MockStore | null;
  /** Clock for `seconds` (default performance.now). */
  now?: () => number;
}

export interface CohortCycleResult {
  id: string;
  /** COHORT_DONE as the orchestrator takes it. */
  report: CohortReport;
  /** The cohort's sessions of this cycle, hashed (src/simulation/event-log.ts). */
  entries: Entry[];
  /** The cohort's persisted snapshot after the cycle (runCycle with { snapshot: true }). */
  snapshot?: unknown;
  /** The cohort's state after the cycle (runCycle with { state: true }): see CohortState. */
  state?: CohortState;
  /** This cohort's mock-store state after the cycle (with { snapshot: true } or { state: true }, and a mock store). */
  mockState?: CohortMockState | null;
  /** Wall time of the cycle for this cohort. */
  seconds: number;
  /** Agent-cycles run: the cohort's active shoppers. */
  agentCycles: number;
}

export interface CohortRunner {
  open(source: CohortSource): void;
  has(id: string): boolean;
  ids(): string[];
  setWindow(id: string, window: number): void;
  runCycle(id: string, cycle: { info: CycleInfo; activeCount: number }, options?: { snapshot?: boolean; state?: boolean }): Promise<CohortCycleResult>;
  /** Shoppers of every cohort held here by state: a read-only walk (src/simulation/occupancy.ts). */
  occupancy(): Record<string, number>;
  /** The cohort's CohortState (between cycles). */
  state(id: string): CohortState;
  /**
   * JSON.stringify(state(id)) and JSON.stringify(mockState(id)), without the copies those make
   * for a caller keeping the objects (a worker thread sends the text at once).
   */
  stateJson(id: string): string;
  mockStateJson(id: string): string | null;
  /** The cohort's persisted snapshot (between cycles): the shape the orchestrator's checkpoint holds. */
  snapshot(id: string): unknown;
  /** The mock store's state of this cohort's agents (null without a mock store). */
  mockState(id: string): CohortMockState | null;
  /** Applies a new offer cycle started by the coordinator to this worker's mock store (no-op for a real store). */
  offerCycleStarted(request: OfferCycleRequest): Promise<void>;
  close(id: string): void;
  closeAll(): void;
}

interface Held {
  id: string;
  baseIndex: number;
  agentIds: string[];
  actor: Actor<ProvidedCohort>;
  log: EventLog;
  waiting: { resolve: (r: CohortReport) => void; reject: (e: unknown) => void } | null;
}

/** Agent ids of a persisted cohort snapshot: its children are its shoppers, by persona id. */
function agentIdsOfSnapshot(snapshot: unknown): string[] {
  const children = (snapshot as { children?: Record<string, unknown> } | null)?.children ?? {};
  return Object.keys(children);
}

interface PersistedShopper {
  value: unknown;
  context: Record<string, unknown>;
}

/** Puts a CohortState over a (private, mutable) persisted cohort snapshot. */
function applyState(snapshot: unknown, state: CohortState): void {
  const root = snapshot as { context: { window: number }; children: Record<string, { snapshot: PersistedShopper }> };
  root.context.window = state.window;
  for (const [id, value, rng, lastCycle, lastAction, shoppingThisCycle, info, session] of state.shoppers) {
    const child = root.children[id];
    if (!child) throw new Error(`cohort state: shopper ${id} is not in the cohort`);
    child.snapshot.value = value;
    Object.assign(child.snapshot.context, { rng, lastCycle, lastAction, shoppingThisCycle, info, session });
  }
}

/** `into` with the carts and redeemed coupons of `slice` put over those of the same agents. */
export function mergeMockState(into: MockStoreState, slice: CohortMockState): MockStoreState {
  const carts = new Map(into.carts);
  for (const [id, c] of slice.carts) carts.set(id, c);
  const redeemed = new Map(into.redeemed);
  for (const [id, r] of slice.redeemed) redeemed.set(id, r);
  return { ...into, carts: [...carts], redeemed: [...redeemed] };
}

/**
 * A cohort's mock-store slice as a new offer cycle leaves it (what MockStore.startOfferCycle does
 * to every agent): no coupon redeemed, none applied to a cart. For a slice taken before an offer
 * cycle started and opened after it (a cohort moved to another worker).
 */
export function afterOfferCycle(slice: CohortMockState): CohortMockState {
  return { carts: slice.carts.map(([id, c]) => [id, { ...c, coupon: null }]), redeemed: [] };
}

/** The carts and redeemed coupons of `agentIds` in a mock store state. */
export function sliceMockState(state: MockStoreState, agentIds: readonly string[]): CohortMockState {
  const ids = new Set(agentIds);
  return { carts: state.carts.filter(([id]) => ids.has(id)), redeemed: state.redeemed.filter(([id]) => ids.has(id)) };
}

function withoutId(spec: CohortSpec): CohortInput {
  const { id: _id, ...input } = spec;
  return input;
}

export function createCohortRunner(deps: CohortRunnerDeps): CohortRunner {
  const now = deps.now ?? (() => performance.now());
  const held = new Map<string, Held>();

  /** The cohort's agents' carts and coupons become the slice's (what this store held of them before is dropped). */
  function importSlice(agentIds: readonly string[], slice: CohortMockState): void {
    if (!deps.mockStore) return;
    const ids = new Set(agentIds);
    const current = deps.mockStore.exportState();
    const others = { ...current, carts: current.carts.filter(([id]) => !ids.has(id)), redeemed: current.redeemed.filter(([id]) => !ids.has(id)) };
    deps.mockStore.importState(mergeMockState(others, slice));
  }

  function get(id: string): Held {
    const h = held.get(id);
    if (!h) throw new Error(`cohort runner: no cohort ${id} here`);
    return h;
  }

  function machineFor(h: Pick<Held, 'log'> & { report: (r: CohortReport) => void }): ProvidedCohort {
    const base = provideCohort({ store: deps.store, recorder: deps.recorder, log: h.log, agentIds: [] });
    return base.provide({
      actions: {
        reportTotals: ({ context }: { context: CohortContext }) => h.report({ type: 'COHORT_DONE', baseIndex: context.baseIndex, totals: context.totals }),
        reportEmpty: ({ context }: { context: CohortContext }) => h.report({ type: 'COHORT_DONE', baseIndex: context.baseIndex, totals: emptyTotals() }),
      },
    }) as ProvidedCohort;
  }

  const runner: CohortRunner = {
    open(source) {
      const id = 'spec' in source ? source.spec.id : source.id;
      if (held.has(id)) throw new Error(`cohort runner: cohort ${id} is already open`);
      const log = new EventLog();
      const slot: { h: Held | null } = { h: null };
      const machine = machineFor({
        log,
        report: (r) => {
          const w = slot.h?.waiting;
          if (!slot.h || !w) return;
          slot.h.waiting = null;
          // After the transition that reported: the cohort is back in idle when the caller reads it.
          queueMicrotask(() => w.resolve(r));
        },
      });
      if (source.state) {
        // The spec's (or snapshot's) cohort as a private snapshot, with the later state put over it.
        const base = 'spec' in source ? createActor(machineFor({ log, report: () => {} }), { id, input: withoutId(source.spec) }).getPersistedSnapshot() : source.snapshot;
        const snapshot = structuredClone(base);
        applyState(snapshot, source.state);
        runner.open({ id, snapshot, mockState: source.mockState ?? null });
        return;
      }
      let actor: Actor<ProvidedCohort>;
      let baseIndex: number;
      let agentIds: string[];
      if ('spec' in source) {
        const input = withoutId(source.spec);
        actor = createActor(machine, { id, input });
        baseIndex = input.baseIndex;
        agentIds = input.personas.map((p) => p.id);
        if (source.mockState) importSlice(agentIds, source.mockState);
      } else {
        // XState still type-checks `input` with a snapshot; a restored actor does not use it.
        actor = createActor(machine, { id, snapshot: source.snapshot } as never);
        baseIndex = (source.snapshot as { context: { baseIndex: number } }).context.baseIndex;
        agentIds = agentIdsOfSnapshot(source.snapshot);
        if (source.mockState) importSlice(agentIds, source.mockState);
      }
      const h: Held = { id, baseIndex, agentIds, actor, log, waiting: null };
      slot.h = h;
      actor.subscribe({
        error: (err) => {
          const w = h.waiting;
          h.waiting = null;
          w?.reject(err);
        },
      });
      actor.start();
      held.set(id, h);
    },

    has: (id) => held.has(id),
    ids: () => [...held.keys()],
    occupancy: () => occupancyOf({ cohorts: [...held.values()].map((h) => h.actor) }, 0).counts,

    setWindow(id, window) {
      get(id).actor.send({ type: 'SET_WINDOW', window });
    },

    async runCycle(id, cycle, options = {}) {
      const h = get(id);
      if (h.waiting) throw new Error(`cohort runner: cohort ${id} is already running a cycle`);
      const t0 = now();
      const done = new Promise<CohortReport>((resolve, reject) => {
        h.waiting = { resolve, reject };
      });
      h.actor.send({ type: 'RUN_CYCLE', info: cycle.info, activeCount: cycle.activeCount });
      const report = await done;
      const entries = h.log.take(cycle.info.cycle);
      const agentCycles = Math.max(0, Math.min(h.agentIds.length, cycle.activeCount - h.baseIndex));
      const result: CohortCycleResult = { id, report, entries, seconds: (now() - t0) / 1000, agentCycles };
      if (options.snapshot) result.snapshot = h.actor.getPersistedSnapshot();
      if (options.state) result.state = runner.state(id);
      if (options.snapshot || options.state) result.mockState = runner.mockState(id);
      return result;
    },

    snapshot(id) {
      const h = get(id);
      if (h.waiting) throw new Error(`cohort runner: refusing to persist cohort ${id} mid-cycle`);
      return h.actor.getPersistedSnapshot();
    },

    state(id) {
      const h = get(id);
      if (h.waiting) throw new Error(`cohort runner: refusing to read cohort ${id} mid-cycle`);
      const ctx = h.actor.getSnapshot().context;
      return {
        window: ctx.window,
        shoppers: ctx.shoppers.map((shopper) => {
          const snap = shopper.getSnapshot();
          const c = snap.context;
          // Copies: the live actor replaces these objects later, but a caller in this thread keeps the result.
          return [shopper.id, snap.value, [...c.rng], c.lastCycle, c.lastAction, c.shoppingThisCycle, c.info && { ...c.info }, c.session && structuredClone(c.session)];
        }),
      };
    },

    stateJson(id) {
      const h = get(id);
      if (h.waiting) throw new Error(`cohort runner: refusing to read cohort ${id} mid-cycle`);
      const ctx = h.actor.getSnapshot().context;
      const shoppers = ctx.shoppers.map((shopper) => {
        const snap = shopper.getSnapshot();
        const c = snap.context;
        return [shopper.id, snap.value, c.rng, c.lastCycle, c.lastAction, c.shoppingThisCycle, c.info, c.session];
      });
      return JSON.stringify({ window: ctx.window, shoppers });
    },

    mockStateJson(id) {
      return deps.mockStore ? JSON.stringify(deps.mockStore.exportAgents(get(id).agentIds)) : null;
    },

    mockState(id) {
      const h = get(id);
      // A copy: the store's carts are its live objects, changed by the next cycle.
      return deps.mockStore ? structuredClone(deps.mockStore.exportAgents(h.agentIds)) : null;
    },

    async offerCycleStarted(request) {
      if (deps.mockStore) await deps.mockStore.startOfferCycle(request);
    },

    close(id) {
      const h = held.get(id);
      if (!h) return;
      held.delete(id);
      // Mid-cycle it is stopped (its shoppers must not go on calling the store). Between cycles
      // nothing of it runs, so it is only let go: stopping an actor with hundreds of children is
      // quadratic in XState (each child's stop copies the parent's children), seconds per worker.
      if (h.waiting) {
        h.actor.stop();
        h.waiting.reject(new Error(`cohort ${id} closed mid-cycle`));
      }
    },

    closeAll() {
      for (const id of [...held.keys()]) runner.close(id);
    },
  };
  return runner;
}

/**
 * One cycle of one cohort, stateless (a queue job): opens the cohort from its spec or snapshot,
 * applies `window` if given, runs the cycle, and returns the report, the entries and the
 * persisted snapshot (and mock-store slice) to keep for the next cycle.
 */
export async function runCohortCycle(args: {
  cohort: CohortSource;
  info: CycleInfo;
  activeCount: number;
  window?: number;
  deps: CohortRunnerDeps;
  /**
   * What to keep for the next cycle: the full persisted snapshot (default; ~870 bytes a shopper)
   * or the CohortState (~95 bytes a shopper), opened next time as { spec | id+snapshot, state }.
   */
  keep?: 'snapshot' | 'state';
}): Promise<CohortCycleResult> {
  const runner = createCohortRunner(args.deps);
  runner.open(args.cohort);
  const id = runner.ids()[0] as string;
  try {
    if (args.window !== undefined) runner.setWindow(id, args.window);
    const keep = args.keep ?? 'snapshot';
    return await runner.runCycle(id, { info: args.info, activeCount: args.activeCount }, keep === 'state' ? { state: true } : { snapshot: true });
  } finally {
    runner.close(id);
  }
}
