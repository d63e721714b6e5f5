/**
 * The baseline for the XState engine: a plain TypeScript loop that makes the same decisions
 * (the same src/model/shopper-logic.ts functions, in the same order, with the same per-agent
 * generators) and awaits the same store steps, with no actors. Its digest must equal the
 * XState run's — that is what makes the speed comparison fair.
 */
import { cycleInfo, type CycleInfo } from '../../src/model/calendar.ts';
import { Rng, seedRng, type RngState } from '../../src/model/rng.ts';
import {
  afterBrowse,
  afterCart,
  afterCheckout,
  afterCouponApplied,
  afterCouponRejected,
  afterFailure,
  afterOffers,
  decideCheckout,
  decideCycle,
  idempotencyKey,
  openSession,
  resultOf,
  toRecord,
  writeFailed,
  type Session,
  type ShopStep,
} from '../../src/model/shopper-logic.ts';
import { emptyTotals, foldResult, mergeTotals } from '../../src/model/totals.ts';
import type { CycleTotals, Persona, Recorder, ShopperCycleResult, StoreApi } from '../../src/model/types.ts';
import { activeAgentCount, breakerThreshold } from '../../src/model/warmup.ts';
import { EventLog } from '../../src/simulation/event-log.ts';
import { createGcPolicy } from '../../src/simulation/gc-policy.ts';
import { agentSeed } from '../../machines/cohort.machine.ts';
import { GENESIS_DIGEST } from '../../machines/orchestrator.machine.ts';
import { HOUR_MS } from '../../src/model/calendar.ts';
import type { StepBase } from '../../machines/shopper.types.ts';
import { addToCartStep, browseStep, checkoutStep, clearCartStep, couponStep, offersStep } from '../../src/simulation/shopper-steps.ts';

interface Agent {
  index: number;
  persona: Persona;
  rng: RngState;
}

function base(a: Agent, info: CycleInfo, s: Session | null): StepBase {
  return { agentId: a.persona.id, agentIndex: a.index, cycle: info.cycle, at: info.at, callsBefore: s?.calls ?? 0 };
}

function errorOf(err: unknown): { message: string; name: string; calls: number } {
  const e = err as { message?: string; name?: string; calls?: number };
  return { message: e?.message ?? String(err), name: e?.name ?? 'Error', calls: e?.calls ?? 0 };
}

async function agentCycle(runId: string, a: Agent, info: CycleInfo, store: StoreApi, recorder: Recorder, log: EventLog): Promise<ShopperCycleResult> {
  const peek = decideCycle(new Rng(a.rng), a.persona, info);
  const rng = new Rng(a.rng);
  if (peek === 'skip') {
    decideCycle(rng, a.persona, info);
    a.rng = rng.state();
    return resultOf(a.index, null);
  }
  const decision = decideCycle(rng, a.persona, info);
  let s = openSession(rng, a.persona, info, decision === 'shop' ? 'shop' : 'browse');
  a.rng = rng.state();
  let step: ShopStep = 'browse';
  try {
    const browsed = await browseStep(store, { ...base(a, info, s), category: s.category, page: s.page, viewDraws: s.viewDraws });
    let r = new Rng(a.rng);
    s = afterBrowse(r, a.persona, s, browsed);
    a.rng = r.state();
    if (s.status == null) {
      step = 'add_to_cart';
      const carted = await addToCartStep(store, { ...base(a, info, s), items: s.planned });
      s = afterCart(s, carted.cart, carted.calls);
      step = 'offers';
      const offers = await offersStep(store, base(a, info, s));
      r = new Rng(a.rng);
      s = afterOffers(r, a.persona, s, offers);
      a.rng = r.state();
      if (s.coupon != null) {
        step = 'coupon';
        const c = await couponStep(store, { ...base(a, info, s), code: s.coupon });
        s = c.applied ? afterCouponApplied(s, c.cart) : afterCouponRejected(s, c.reason);
      }
      r = new Rng(a.rng);
      decideCheckout(r, a.persona, s);
      a.rng = r.state();
      if (s.status == null) {
        step = 'checkout';
        const order = await checkoutStep(store, { ...base(a, info, s), idempotencyKey: idempotencyKey(runId, a.persona.id, info.cycle) });
        s = afterCheckout(s, order);
      }
    }
  } catch (err) {
    s = afterFailure(s, step, errorOf(err));
    await clearCartStep(store, base(a, info, s));
    s = { ...s, calls: s.calls + 1 };
  }
  const record = toRecord(runId, a.persona.id, a.index, s);
  try {
    await recorder.commitSession(record);
    log.add(record);
  } catch (err) {
    return writeFailed(a.index, s, errorOf(err).message);
  }
  return resultOf(a.index, s);
}

export interface PlainLoopOptions {
  runId: string;
  seed: number;
  personas: Persona[];
  cycles: number;
  startMs: number;
  warmupCycles: number;
  breakerPercent: number;
  offerCycleDays: number;
  store: StoreApi;
  recorder: Recorder;
}

export async function runPlainLoop(o: PlainLoopOptions): Promise<{ digest: string; totals: CycleTotals; offersAssigned: number }> {
  const agents: Agent[] = o.personas.map((persona, index) => ({ index, persona, rng: seedRng(agentSeed(o.seed, index)) }));
  const log = new EventLog();
  let digest = GENESIS_DIGEST;
  const totals = emptyTotals();
  let offerCycle = 0;
  let offerEnds: number | null = null;
  let offersAssigned = 0;
  const threshold = breakerThreshold(agents.length, o.breakerPercent);
  // The same memory discipline as the engine's driver (src/simulation/gc-policy.ts).
  const gc = createGcPolicy();
  for (let cycle = 1; cycle <= o.cycles; cycle++) {
    await new Promise<void>((resolve) => setImmediate(resolve));
    gc.atCycleBoundary();
    const info = cycleInfo(o.startMs, cycle);
    if (offerEnds === null || info.atMs >= offerEnds) {
      offerCycle++;
      offerEnds = info.atMs + o.offerCycleDays * 24 * HOUR_MS;
      const r = await o.store.startOfferCycle({ offer_cycle: offerCycle, starts_at: info.at, ends_at: new Date(offerEnds).toISOString(), user_ids: o.personas.map((p) => p.id) });
      offersAssigned += r.offers_assigned;
    }
    const active = activeAgentCount(cycle, agents.length, o.warmupCycles);
    const results = await Promise.all(agents.slice(0, active).map((a) => agentCycle(o.runId, a, info, o.store, o.recorder, log)));
    const cycleTotals = emptyTotals();
    for (const r of results) foldResult(cycleTotals, r);
    mergeTotals(totals, { ...cycleTotals, failureSamples: [] });
    digest = log.seal(cycle, digest);
    if (cycleTotals.failed > threshold) break;
  }
  return { digest, totals, offersAssigned };
}
