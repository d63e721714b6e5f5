/**
 * A checkpoint's content, checked before anything trusts it: the file is outside the process.
 * `verifyCheckpoint` returns the first problem as one phrase (the caller names the file), or
 * null. It checks
 *  - the recorded options through the option table (fromPublicConfig: the command line's own
 *    validation), and that every option a resume carries or must match is there;
 *  - the header against the snapshot: cycle, run length, agent count, run id, digest, totals,
 *    offer state, start time, breaker state;
 *  - the tree: the orchestrator, each cohort and each shopper in a state its machine has, at a
 *    cycle boundary (shoppers idle, nothing in flight), contexts of the right types with numbers
 *    in range, generator states of four 32-bit integers, references that match the children;
 *  - the mock store's state, and the bundled store's (`store_state`, its in-memory part included).
 * The content checksum (save.ts / load.ts) catches accidental damage first; this catches a
 * file that was edited, or written by something else, with a checksum to match.
 */
import { z } from 'zod';
import { cohortMachine } from '../../machines/cohort.machine.ts';
import { orchestratorMachine } from '../../machines/orchestrator.machine.ts';
import { shopperMachine } from '../../machines/shopper.machine.ts';
import { fromPublicConfig, MAX_CYCLES, resumeRules, type RunConfig } from '../config.ts';
import type { Checkpoint, PersistedChild, PersistedNode } from './format.ts';
import { writtenOf } from '../model/totals.ts';
import type { CycleTotals } from '../model/types.ts';

/** The longest run a checkpoint may describe: the option table's (src/config.ts). */
export const MAX_CHECKPOINT_CYCLES = MAX_CYCLES;

const count = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);
const cycleNo = z.number().int().min(0).max(MAX_CHECKPOINT_CYCLES);
const int32ish = z.number().int().min(-(2 ** 31)).max(2 ** 32 - 1);
const isoTime = z.string().datetime({ offset: true });

const totalsSchema = z.object({
  agents: count,
  sessions: count,
  idleBrowses: count,
  carts: count,
  couponsApplied: count,
  checkouts: count,
  abandoned: count,
  failed: count,
  refusals: count.optional(),
  unwritten: count.optional(),
  unwrittenEvents: count.optional(),
  events: count,
  calls: count,
  revenueCents: z.number().int().min(Number.MIN_SAFE_INTEGER).max(Number.MAX_SAFE_INTEGER),
  failureSamples: z.array(z.object({ agentIndex: count, step: z.string(), message: z.string() })).max(1000),
});

const cycleInfoSchema = z.object({ cycle: cycleNo, at: isoTime, atMs: z.number().int(), hour: z.number().int().min(0).max(23), weekday: z.number().int().min(0).max(6), weekend: z.boolean() });

const offerSchema = z.object({
  current_offer_cycle: count,
  cycle_started_at: isoTime.nullable(),
  cycle_ends_at: isoTime.nullable(),
  offers_assigned: count,
  last_error: z.string().nullable(),
});

const ref = z.object({ 'xstate$$type': z.literal(1), id: z.string().min(1) });

const orchestratorContext = z.object({
  totalAgents: z.number().int().min(1).max(100_000_000),
  totalCycles: z.number().int().min(1).max(MAX_CHECKPOINT_CYCLES),
  startMs: z.number().int().min(-8.64e15).max(8.64e15),
  warmupCycles: cycleNo,
  breakerPercent: z.number().min(0).max(100),
  threshold: count,
  breakerOn: z.enum(['faults', 'all']).optional(),
  maxConcurrentAgents: z.number().int().min(1).max(Number.MAX_SAFE_INTEGER),
  offerCycleDays: z.number().min(0).max(1e6),
  cohorts: z.array(ref),
  cyclesCompleted: cycleNo,
  current: cycleInfoSchema.nullable(),
  activeCount: count,
  pendingCohorts: z.literal(0),
  cycleTotals: totalsSchema,
  lastCycle: z.object({ cycle: cycleNo, active: count, totals: totalsSchema }).nullable(),
  totals: totalsSchema,
  breakerTrips: count,
  offer: offerSchema,
  digest: z.string().regex(/^sha256:[0-9a-f]{64}$/),
});

const cohortContext = z.object({
  baseIndex: count,
  shoppers: z.array(ref),
  window: z.number().int().min(1).max(Number.MAX_SAFE_INTEGER),
  info: z.null(),
  active: count,
  next: count,
  pending: z.literal(0),
  totals: totalsSchema,
});

const LAST_ACTIONS = ['none', 'skip', 'browse', 'checkout', 'abandon', 'failed'] as const;

const shopperContext = z.object({
  runId: z.string().min(1),
  agentIndex: count,
  agentId: z.string().min(1),
  rng: z.tuple([int32ish, int32ish, int32ish, int32ish]),
  lastCycle: cycleNo,
  lastAction: z.enum(LAST_ACTIONS),
  shoppingThisCycle: z.boolean(),
  info: z.null(),
  session: z.null(),
});

const nodeBase = z.object({ status: z.literal('active'), historyValue: z.record(z.unknown()), children: z.record(z.unknown()) });

/** Prices up to 10,000,000.00 a unit. */
const cartLine = z.object({ product_id: z.string().min(1), quantity: z.number().int().min(1).max(1_000_000), unit_price_cents: z.number().int().min(0).max(1_000_000_000) });
const order = z.object({
  order_id: z.string().min(1),
  user_id: z.string(),
  total_cents: z.number().int(),
  discount_cents: z.number().int(),
  items_count: z.number().int().min(1),
  coupon_code: z.string().nullable(),
});
const mockStoreSchema = z.object({
  offerCycle: z.object({ number: count, startsAt: isoTime, endsAt: isoTime }).nullable(),
  carts: z.array(
    z.tuple([
      z.string().min(1),
      z.object({
        lines: z.array(cartLine),
        coupon: z.object({ code: z.string().min(1), percent: z.number().int().min(0).max(100) }).nullable(),
        lastCheckout: z.object({ key: z.string().min(1), order }).nullable(),
      }),
    ]),
  ),
  redeemed: z.array(z.tuple([z.string().min(1), z.array(z.string().min(1))])),
  calls: count,
});

/** The bundled store's state (format.ts StoreStateSection): what a resume puts back into the database. */
const storeStateSchema = z.object({
  carts: z.array(
    z.tuple([
      z.string().min(1),
      z.array(z.tuple([z.string().min(1), z.number().int().min(1).max(1_000_000), z.number().int().min(0).max(1_000_000_000)])),
      z.tuple([z.string().min(1), z.number().int().min(0).max(100), z.number().int().min(0).max(Number.MAX_SAFE_INTEGER)]).nullable(),
    ]),
  ),
  stock: z.array(z.tuple([z.string().min(1), z.number().int().min(0).max(2_147_483_647)])),
  offer_cycle: z.number().int().min(0).max(2_147_483_647).nullable(),
  memory: z
    .object({
      offer_cycles: z.array(z.tuple([z.number().int().min(0).max(2_147_483_647), isoTime, isoTime, z.string().regex(/^[0-9a-f]{16}$/, 'expected 16 hex digits')])),
      redeemed: z.array(z.tuple([z.string().min(1), z.array(z.string().min(1))])),
      orders: z.array(
        z.tuple([
          z.string().min(1),
          z.string().min(1),
          z.string().min(1),
          z.number().int().min(0).max(Number.MAX_SAFE_INTEGER),
          z.number().int().min(0).max(Number.MAX_SAFE_INTEGER),
          z.number().int().min(1).max(Number.MAX_SAFE_INTEGER),
          z.string().min(1).nullable(),
        ]),
      ),
      order_items: count,
    })
    .optional(),
});

/** Names of the states of a machine's region (top level when `region` is omitted). */
function stateNames(machine: { root: { states: Record<string, { states: Record<string, unknown> }> } }, region?: string): Set<string> {
  const states = region ? machine.root.states[region]?.states ?? {} : machine.root.states;
  return new Set(Object.keys(states));
}

const ORCHESTRATOR_REGIONS = ['cycle', 'control', 'breaker'] as const;
/** Checkpoints are taken between cycles only. */
const BOUNDARY_CYCLE_STATES = new Set(['waiting', 'done']);

/** `.items.3.price: Expected number, received string` (a leading dot unless at the root). */
function firstIssueOf(error: z.ZodError): string {
  const issue = error.issues[0];
  if (!issue) return ': does not match';
  return `${issue.path.map((p) => `.${String(p)}`).join('')}: ${issue.message}`;
}

function check<T>(schema: z.ZodType<T>, value: unknown, where: string): string | null {
  const r = schema.safeParse(value);
  return r.success ? null : `${where}${firstIssueOf(r.error)}`;
}

const TOTALS_OF_STATISTICS: [string, keyof z.infer<typeof totalsSchema>][] = [
  ['sessions_created', 'sessions'],
  ['checkouts_completed', 'checkouts'],
  ['sessions_abandoned', 'abandoned'],
  ['sessions_failed', 'failed'],
  ['idle_browses', 'idleBrowses'],
  ['carts_created', 'carts'],
  ['coupons_applied', 'couponsApplied'],
  ['events_created', 'events'],
  ['requests', 'calls'],
  ['revenue_cents', 'revenueCents'],
];

/** The first problem of the recorded options, or null (the recorded values, validated, in `out`). */
function checkRecordedConfig(ck: Checkpoint, file: string): { problem: string | null; recorded: Partial<RunConfig> } {
  let recorded: Partial<RunConfig>;
  try {
    recorded = fromPublicConfig(ck.simulation_config, `checkpoint ${file}`);
  } catch (err) {
    const msg = (err as Error).message;
    const prefix = `checkpoint ${file}: `;
    return { problem: msg.startsWith(prefix) ? msg.slice(prefix.length) : msg, recorded: {} };
  }
  for (const r of resumeRules()) {
    // A run recorded before profiles existed ran the seed profile's behaviour (src/run/start-run.ts).
    if (r.key === 'profile') continue;
    if (!(r.public in ck.simulation_config)) return { problem: `simulation_config.${r.public} is missing (a resume needs every option it carries or must match)`, recorded };
  }
  return { problem: null, recorded };
}

/** The first problem with a checkpoint's content, as one phrase, or null when it can be trusted. */
export function verifyCheckpoint(ck: Checkpoint, file: string): string | null {
  const { problem: configProblem, recorded } = checkRecordedConfig(ck, file);
  if (configProblem) return configProblem;

  const st = ck.simulation_state;
  const header = check(
    z.object({ run_id: z.string().min(1), current_cycle: cycleNo, total_cycles: z.number().int().min(1).max(MAX_CHECKPOINT_CYCLES), real_elapsed_seconds: z.number().min(0).max(1e12), is_replay: z.boolean(), resumed_from: z.string().nullable() }),
    st,
    'simulation_state',
  );
  if (header) return header;
  if (st.current_cycle > st.total_cycles) return `simulation_state.current_cycle ${st.current_cycle} is after simulation_state.total_cycles ${st.total_cycles}`;
  const ac = check(z.number().int().min(1).max(100_000_000), ck.agent_count, 'agent_count');
  if (ac) return ac;
  const sm = check(z.object({ cycles_completed: cycleNo }).passthrough(), ck.statistics, 'statistics');
  if (sm) return sm;

  // The orchestrator.
  const root = ck.xstate_snapshot;
  const rootShape = check(nodeBase.extend({ value: z.record(z.string()) }), root, 'xstate_snapshot');
  if (rootShape) return rootShape;
  for (const region of ORCHESTRATOR_REGIONS) {
    const v = (root.value as Record<string, unknown>)[region];
    if (typeof v !== 'string' || !stateNames(orchestratorMachine as never, region).has(v)) return `xstate_snapshot.value.${region}: ${JSON.stringify(v)} is not a state of the orchestrator`;
  }
  const cycleState = (root.value as Record<string, string>)['cycle'] as string;
  if (!BOUNDARY_CYCLE_STATES.has(cycleState)) return `xstate_snapshot.value.cycle: "${cycleState}" is not a cycle boundary (a checkpoint is taken between cycles)`;
  const or = orchestratorContext.safeParse(root.context);
  if (!or.success) return `xstate_snapshot.context${firstIssueOf(or.error)}`;
  const c = or.data;

  // The header, cross-checked with the snapshot.
  if (c.cyclesCompleted !== st.current_cycle) return `simulation_state.current_cycle ${st.current_cycle} disagrees with the snapshot's cycle ${c.cyclesCompleted}`;
  if (ck.statistics['cycles_completed'] !== c.cyclesCompleted) return `statistics.cycles_completed ${JSON.stringify(ck.statistics['cycles_completed'])} disagrees with the snapshot's cycle ${c.cyclesCompleted}`;
  if (c.totalCycles !== st.total_cycles) return `simulation_state.total_cycles ${st.total_cycles} disagrees with the snapshot's ${c.totalCycles}`;
  if (c.cyclesCompleted > c.totalCycles) return `the snapshot's cycle ${c.cyclesCompleted} is after its run length ${c.totalCycles}`;
  if (c.totalAgents !== ck.agent_count) return `agent_count ${ck.agent_count} disagrees with the snapshot's ${c.totalAgents} agents`;
  if (c.digest !== ck.digest) return `digest disagrees with the snapshot's digest`;
  if (JSON.stringify(c.offer) !== JSON.stringify(ck.offer_engine_state)) return 'offer_engine_state disagrees with the snapshot';
  // The statistics count what is in the database (src/model/totals.ts writtenOf).
  const written = writtenOf(c.totals as CycleTotals);
  const expected = (key: keyof z.infer<typeof totalsSchema>) => (key === 'sessions' ? written.sessions : key === 'failed' ? written.failed : key === 'events' ? written.events : c.totals[key]);
  for (const [pub, key] of TOTALS_OF_STATISTICS) {
    if (ck.statistics[pub] !== expected(key)) return `statistics.${pub} ${JSON.stringify(ck.statistics[pub])} disagrees with the snapshot's ${expected(key)}`;
  }
  if (ck.statistics['offers_assigned'] !== c.offer.offers_assigned) return `statistics.offers_assigned ${JSON.stringify(ck.statistics['offers_assigned'])} disagrees with the snapshot's ${c.offer.offers_assigned}`;
  if (recorded.start !== undefined && Date.parse(recorded.start) !== c.startMs) return `simulation_config.start ${recorded.start} disagrees with the snapshot's start`;
  if (recorded.warmupCycles !== undefined && recorded.warmupCycles !== c.warmupCycles) return `simulation_config.warmup_cycles ${recorded.warmupCycles} disagrees with the snapshot's ${c.warmupCycles}`;
  if (recorded.offerCycleDays !== undefined && recorded.offerCycleDays !== c.offerCycleDays) return `simulation_config.offer_cycle_days ${recorded.offerCycleDays} disagrees with the snapshot's ${c.offerCycleDays}`;
  if (c.breakerTrips > c.cyclesCompleted) return `xstate_snapshot.context.breakerTrips ${c.breakerTrips} is more than the cycles completed (${c.cyclesCompleted})`;
  if (c.offer.current_offer_cycle > c.cyclesCompleted + 1) return `the snapshot's offer cycle ${c.offer.current_offer_cycle} is after its cycle ${c.cyclesCompleted}`;
  if (recorded.agents != null && recorded.agents !== c.totalAgents) return `simulation_config.agents ${recorded.agents} disagrees with the snapshot's ${c.totalAgents} agents`;

  // The cohorts and their shoppers.
  const cohortIds: string[] = [];
  for (const [id, child] of Object.entries(root.children as Record<string, PersistedChild>)) {
    if (child !== null && typeof child === 'object' && child.src === 'cohort') cohortIds.push(id);
    else if (child === null || typeof child !== 'object' || (child.snapshot as { status?: unknown } | undefined)?.status === 'active') return `xstate_snapshot.children.${id} is an actor in flight or not an actor`;
  }
  if (cohortIds.length !== c.cohorts.length || c.cohorts.some((r, i) => r.id !== cohortIds[i])) return 'xstate_snapshot.context.cohorts does not match the snapshot\'s cohorts';
  const cohortStates = stateNames(cohortMachine as never);
  const shopperStates = stateNames(shopperMachine as never);
  let shoppers = 0;
  const seen = new Set<number>();
  for (const cid of cohortIds) {
    const child = root.children[cid] as PersistedChild;
    const where = `xstate_snapshot.children.${cid}`;
    if (child === null || typeof child !== 'object' || child.src !== 'cohort') return `${where} is not a cohort`;
    const node = child.snapshot as PersistedNode;
    const shape = check(nodeBase.extend({ value: z.string() }), node, where);
    if (shape) return shape;
    if (!cohortStates.has(node.value as string)) return `${where}.value: ${JSON.stringify(node.value)} is not a state of the cohort`;
    if (node.value !== 'idle') return `${where}.value: "${String(node.value)}" is not a cycle boundary`;
    const cc = check(cohortContext, node.context, `${where}.context`);
    if (cc) return cc;
    const refs = (node.context as { shoppers: { id: string }[] }).shoppers;
    const ids = Object.keys(node.children);
    if (ids.length !== refs.length || refs.some((r, i) => r.id !== ids[i])) return `${where}.context.shoppers does not match the cohort's shoppers`;
    const base = (node.context as { baseIndex: number }).baseIndex;
    for (const [i, id] of ids.entries()) {
      const s = node.children[id] as PersistedChild;
      const sw = `${where}.children.${id}`;
      if (s === null || typeof s !== 'object' || s.src !== 'shopper') return `${sw} is not a shopper`;
      const sn = s.snapshot as PersistedNode;
      const ss = check(nodeBase.extend({ value: z.string() }), sn, sw);
      if (ss) return ss;
      if (!shopperStates.has(sn.value as string)) return `${sw}.value: ${JSON.stringify(sn.value)} is not a state of the shopper`;
      if (sn.value !== 'idle') return `${sw}.value: "${String(sn.value)}" is not a cycle boundary (shoppers are idle between cycles)`;
      // One parse per shopper (the bulk of the file): the data comes from the same safeParse.
      const sr = shopperContext.safeParse(sn.context);
      if (!sr.success) return `${sw}.context${firstIssueOf(sr.error)}`;
      const ctx = sr.data;
      if (ctx.agentId !== id) return `${sw}.context.agentId ${ctx.agentId} is not the shopper's id`;
      if (ctx.runId !== st.run_id) return `${sw}.context.runId ${ctx.runId} is not the checkpoint's run ${st.run_id}`;
      if (ctx.agentIndex >= c.totalAgents || seen.has(ctx.agentIndex)) return `${sw}.context.agentIndex ${ctx.agentIndex} is out of range or repeated`;
      if (ctx.agentIndex !== base + i) return `${sw}.context.agentIndex ${ctx.agentIndex} is not its place in the cohort (${base + i})`;
      if (Object.keys(sn.children).length > 0) return `${sw}.children: a shopper has no children between cycles`;
      if (ctx.lastCycle > c.cyclesCompleted) return `${sw}.context.lastCycle ${ctx.lastCycle} is after the snapshot's cycle ${c.cyclesCompleted}`;
      seen.add(ctx.agentIndex);
      shoppers++;
    }
  }
  if (shoppers !== c.totalAgents) return `the snapshot holds ${shoppers} shoppers, its context says ${c.totalAgents}`;

  if (ck.mock_store_state !== null && ck.mock_store_state !== undefined) {
    const ms = check(mockStoreSchema, ck.mock_store_state, 'mock_store_state');
    if (ms) return ms;
  } else if (recorded.mockApi === true) {
    return 'mock_store_state is missing (the run used the mock store)';
  }
  if (ck.store_state !== null && ck.store_state !== undefined) {
    const ss = check(storeStateSchema, ck.store_state, 'store_state');
    if (ss) return ss;
  }
  return null;
}
