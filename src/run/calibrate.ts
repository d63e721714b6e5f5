/**
 * Measuring a profile and fitting its generator: `shopsim calibrate`, the profile tests and
 * the benchmark run the simulation in mock mode (the deterministic store, no database),
 * seeded, fold every committed session into the funnel (src/model/funnel.ts) and compare the
 * rates with the profile's bands. The fit is a fixed-point iteration on the generator's
 * parameters, each moved by the ratio (or the difference) of target and achieved; it is
 * reproducible because every run it makes is.
 */
import { DEFAULTS, simulationConfigOf } from '../config.ts';
import { emptyFunnel, foldSession, ratesOf, weekdayShare, type FunnelCounts } from '../model/funnel.ts';
import { applyProfile, curveDistance, inBand, RATE_NAMES, type GeneratorParams, type Profile, type RateName } from '../model/profiles.ts';
import type { Persona, Product, Recorder } from '../model/types.ts';
import { createSimulation } from '../simulation/create-simulation.ts';
import { createMockStore } from '../store/mock-store.ts';

export interface MeasureOptions {
  personas: Persona[];
  products: Product[];
  days: number;
  seed?: number;
  start?: string;
}

export interface Measurement {
  rates: Record<RateName, number>;
  /** Sessions by simulated hour, summed over the run. */
  hourly: number[];
  ordersByHour: number[];
  /** Sessions by weekday, Sunday first. */
  byWeekday: number[];
  /** Mean share of agents with a session in a weekday daytime hour (11:00–16:00). */
  weekdayDaytimeShare: number;
  /** Distance of the sessions' hourly curve from the profile's (curveDistance; its weekday curve scales every hour alike). */
  curveDistance: number;
  /** The largest request count of one cycle, and which cycle. */
  busiestCycle: { cycle: number; requests: number; sessions: number };
  sessions: number;
  requests: number;
  seconds: number;
}

/** One seeded mock-mode run of the profile over `days` simulated days. */
export async function measureProfile(profile: Profile, o: MeasureOptions): Promise<Measurement> {
  const personas = applyProfile(o.personas, profile);
  const funnel: FunnelCounts = emptyFunnel(personas.length);
  const recorder: Recorder = {
    async beginRun() {},
    async commitSession(r) {
      foldSession(funnel, r);
    },
    async prepareResume() {
      return { orphanedSessions: 0, discardedSessions: 0 };
    },
    async endRun() {},
    async close() {},
  };
  const seed = o.seed ?? DEFAULTS.seed;
  const config = { ...simulationConfigOf({ ...DEFAULTS, seed, start: o.start ?? DEFAULTS.start, fast: true, breakerPercent: 100 }, { cycles: Math.round(o.days * 24), runId: `calibrate-${profile.name}`, breakerAction: 'wait' }) };
  const store = createMockStore({ seed, products: o.products, agentIds: personas.map((p) => p.id) });
  const sim = createSimulation(config, { personas, products: o.products, store, recorder });
  const busiest = { cycle: 0, requests: 0, sessions: 0 };
  sim.events.on('cycle', (c) => {
    if (c.totals.calls > busiest.requests) Object.assign(busiest, { cycle: c.cycle, requests: c.totals.calls, sessions: c.totals.sessions });
  });
  const t0 = performance.now();
  const summary = await sim.run();
  const seconds = (performance.now() - t0) / 1000;
  return {
    rates: ratesOf(funnel),
    hourly: funnel.byHour,
    ordersByHour: funnel.ordersByHour,
    byWeekday: funnel.byWeekday,
    weekdayDaytimeShare: weekdayShare(funnel, 11, 16),
    curveDistance: curveDistance(funnel.byHour, profile.hourly),
    busiestCycle: busiest,
    sessions: funnel.sessions,
    requests: Number(summary['requests'] ?? 0),
    seconds,
  };
}

export interface Verdict {
  rate: RateName;
  target: number;
  min: number;
  max: number;
  achieved: number;
  inside: boolean;
}

/** Each targeted rate against its band. */
export function verdicts(profile: Profile, m: Measurement): Verdict[] {
  const out: Verdict[] = [];
  for (const rate of RATE_NAMES) {
    const band = profile.targets[rate];
    if (!band) continue;
    out.push({ rate, ...band, achieved: m.rates[rate], inside: inBand(m.rates[rate], band) });
  }
  return out;
}

export function withinTolerance(profile: Profile, m: Measurement): boolean {
  return verdicts(profile, m).every((v) => v.inside) && m.curveDistance <= profile.curve_tolerance;
}

const clamp = (x: number, lo: number, hi: number) => Math.min(hi, Math.max(lo, x));
const r4 = (x: number) => Math.round(x * 10_000) / 10_000;

/** One step of the fit: each parameter moved toward the rate it drives most. */
function step(profile: Profile, g: GeneratorParams, m: Measurement): GeneratorParams {
  const t = profile.targets;
  const next: GeneratorParams = { ...g, views: { ...g.views } };
  const ratio = (target: number | undefined, achieved: number) => (target === undefined || achieved <= 0 ? 1 : clamp(target / achieved, 0.33, 3));
  // Visits: the busiest weekday hour's share of agents.
  next.visit_rate = r4(clamp(g.visit_rate * ratio(t.peak_active_share?.target, m.rates.peak_active_share), 0.001, 1));
  // Carts: the share of sessions that cart, or of browse-only ones.
  const atcTarget = t.add_to_cart?.target ?? (t.browse_only ? 1 - t.browse_only.target : undefined);
  next.cart_intent = r4(clamp(g.cart_intent * ratio(atcTarget, m.rates.add_to_cart), 0.0001, 1));
  // Abandonment: aim between the stated abandonment and the one conversion / add-to-cart imply.
  const implied = t.conversion && atcTarget ? 1 - t.conversion.target / atcTarget : undefined;
  const goals = [t.cart_abandonment?.target, implied].filter((x): x is number => x !== undefined);
  if (goals.length > 0) {
    const goal = goals.reduce((a, b) => a + b, 0) / goals.length;
    next.abandonment = r4(clamp(g.abandonment + (goal - m.rates.cart_abandonment), 0, 0.95));
  }
  // Product pages: centre the range on the target (one call more or less per page).
  if (t.views_per_session) {
    const centre = (g.views.min + g.views.max) / 2 + (t.views_per_session.target - m.rates.views_per_session);
    const half = Math.max(0, Math.round((g.views.max - g.views.min) / 2));
    const lo = clamp(Math.round(centre - half), 1, 12);
    next.views = { min: lo, max: clamp(Math.round(centre + half), lo, 12) };
  }
  if (t.coupon_use) next.coupon_scale = r4(clamp(g.coupon_scale * ratio(t.coupon_use.target, m.rates.coupon_use), 0, 10));
  return next;
}

export interface CalibrateOptions extends MeasureOptions {
  /** Most measuring runs (default 8). */
  maxRounds?: number;
  onRound?: (round: number, m: Measurement, profile: Profile) => void;
}

export interface CalibrateResult {
  /** The fitted profile: the file's targets and curve, the fitted generator. */
  profile: Profile;
  measurement: Measurement;
  rounds: number;
  ok: boolean;
  seconds: number;
}

/**
 * Fits the generator's parameters (visit rate, cart intent, abandonment, product pages, coupon
 * scale) to the profile's targets. The hourly and weekday curves are not fitted: a visit's
 * chance is proportional to them, so the sessions follow the curve as given (the curve's
 * distance is measured and checked against curve_tolerance all the same).
 */
export async function calibrateProfile(start: Profile, o: CalibrateOptions): Promise<CalibrateResult> {
  if (start.model === 'seed' || !start.generator) throw new Error('the seed profile has no generator to fit');
  const t0 = performance.now();
  const maxRounds = o.maxRounds ?? 8;
  let current: Profile = start;
  let best: { profile: Profile; m: Measurement; misses: number } | null = null;
  let rounds = 0;
  for (; rounds < maxRounds; ) {
    const m = await measureProfile(current, o);
    rounds++;
    o.onRound?.(rounds, m, current);
    const misses = verdicts(start, m).filter((v) => !v.inside).length + (m.curveDistance > start.curve_tolerance ? 1 : 0);
    if (!best || misses < best.misses) best = { profile: current, m, misses };
    if (misses === 0) break;
    current = { ...current, generator: step(start, current.generator as GeneratorParams, m) };
  }
  const b = best as { profile: Profile; m: Measurement; misses: number };
  return { profile: b.profile, measurement: b.m, rounds, ok: b.misses === 0, seconds: (performance.now() - t0) / 1000 };
}
