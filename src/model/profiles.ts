/**
 * Calibration profiles: what a run's traffic should look like (target rates with their bands,
 * an hour-of-day and a weekday curve, a persona mix) and the persona generator's parameters
 * that produce it. `applyProfile` turns the personas of a file (ids, names, categories,
 * budgets) into the profile's shoppers; the `seed` model leaves them as written, so the seed's
 * behaviour (and its pinned digests) stays reachable. Pure: parsing YAML and reading files is
 * done by the caller (src/run/load-data.ts). See docs/agent-model.md.
 */
import { ShopsimError } from '../errors.ts';
import { SEGMENTS, type Segment } from './personas.ts';
import { hash32, Rng, seedRng } from './rng.ts';
import type { Persona } from './types.ts';

/** The rates a profile can target; how each is measured is in RATE_DEFINITIONS. */
export const RATE_NAMES = ['conversion', 'add_to_cart', 'cart_abandonment', 'browse_only', 'views_per_session', 'peak_active_share', 'coupon_use', 'items_per_order'] as const;
export type RateName = (typeof RATE_NAMES)[number];

export const RATE_DEFINITIONS: Record<RateName, string> = {
  conversion: 'orders / sessions',
  add_to_cart: 'sessions that put something in the cart / sessions',
  cart_abandonment: '1 - orders / sessions with a cart',
  browse_only: 'browse-only sessions / sessions',
  views_per_session: 'product pages opened / sessions',
  peak_active_share: 'sessions in the busiest weekday hour / agents',
  coupon_use: 'orders with a coupon / orders',
  items_per_order: 'units per order',
};

export interface RateBand {
  target: number;
  min: number;
  max: number;
}

export interface GeneratorParams {
  /** shopping_frequency before jitter: the chance of a visit at hour affinity 1 and day affinity 1. */
  visit_rate: number;
  /** Share of visits that shop (put things in a cart), averaged over the mix. */
  cart_intent: number;
  /** Base abandonment_tendency, averaged over the mix. */
  abandonment: number;
  /** Product pages opened per session. */
  views: { min: number; max: number };
  /** Multiplies each segment's coupon affinity. */
  coupon_scale: number;
  /** Caps each segment's planned basket (items per shopping session). */
  basket_max: number;
}

export interface Profile {
  name: string;
  description: string;
  /** 'visit': personas are made by the profile; 'seed': the persona file's own behaviour, the seed's decisions. */
  model: 'visit' | 'seed';
  targets: Partial<Record<RateName, RateBand>>;
  /** Largest distance allowed between the achieved and the target hourly curve of sessions (half the sum of |differences| of the normalised curves, 0..1). */
  curve_tolerance: number;
  /** 24 relative visit rates by simulated hour (0..1, the peak hour 1). */
  hourly: number[];
  /** 7 relative visit rates, Sunday first (0..1). */
  weekday: number[];
  /** Segment weights (names of src/model/personas.ts SEGMENTS). */
  mix: Record<string, number>;
  generator: GeneratorParams | null;
}

function bad(where: string, field: string, problem: string): ShopsimError {
  return new ShopsimError('E_INPUT', `${where}: field "${field}" ${problem}`, { exitCode: 2 });
}

function describe(v: unknown): string {
  if (v === undefined) return 'nothing';
  if (v === null) return 'null';
  if (Array.isArray(v)) return `an array of ${v.length}`;
  if (typeof v === 'object') return 'a mapping';
  return JSON.stringify(v);
}

function obj(v: unknown, where: string, field: string): Record<string, unknown> {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) throw bad(where, field, `must be a mapping, got ${describe(v)}`);
  return v as Record<string, unknown>;
}

function num(v: unknown, where: string, field: string, min: number, max: number): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || v < min || v > max) throw bad(where, field, `must be a number from ${min} to ${max}, got ${describe(v)}`);
  return v;
}

function int(v: unknown, where: string, field: string, min: number, max: number): number {
  const n = num(v, where, field, min, max);
  if (!Number.isInteger(n)) throw bad(where, field, `must be an integer from ${min} to ${max}, got ${describe(v)}`);
  return n;
}

function curve(v: unknown, where: string, field: string, length: number): number[] {
  if (!Array.isArray(v) || v.length !== length) throw bad(where, field, `must be a list of ${length} numbers from 0 to 1, got ${describe(v)}`);
  const out = v.map((x, i) => num(x, where, `${field}[${i}]`, 0, 1));
  if (!out.some((x) => x > 0)) throw bad(where, field, 'must have at least one value above 0');
  return out;
}

const RATE_RANGE: Record<RateName, number> = { conversion: 1, add_to_cart: 1, cart_abandonment: 1, browse_only: 1, views_per_session: 12, peak_active_share: 1, coupon_use: 1, items_per_order: 50 };

/**
 * A parsed profile document, validated like any input from outside the process.
 * @throws ShopsimError E_INPUT (exit 2): one line naming `where`, the field and what was wrong.
 */
export function validateProfile(doc: unknown, where: string): Profile {
  const d = obj(doc, where, '(top level)');
  const known = new Set(['name', 'description', 'model', 'targets', 'curve_tolerance', 'hourly', 'weekday', 'mix', 'generator']);
  for (const k of Object.keys(d)) if (!known.has(k)) throw bad(where, k, `is not a profile field (expected one of ${[...known].join(', ')})`);
  if (typeof d['name'] !== 'string' || !/^[a-z0-9][a-z0-9_-]{0,63}$/i.test(d['name'])) throw bad(where, 'name', `must be a name of letters, digits, - and _, got ${describe(d['name'])}`);
  const description = d['description'] === undefined ? '' : d['description'];
  if (typeof description !== 'string') throw bad(where, 'description', `must be a string, got ${describe(description)}`);
  const model = d['model'] ?? 'visit';
  if (model !== 'visit' && model !== 'seed') throw bad(where, 'model', `must be visit or seed, got ${describe(model)}`);
  const t = obj(d['targets'], where, 'targets');
  const targets: Partial<Record<RateName, RateBand>> = {};
  for (const k of Object.keys(t)) {
    if (!(RATE_NAMES as readonly string[]).includes(k)) throw bad(where, `targets.${k}`, `is not a rate (expected one of ${RATE_NAMES.join(', ')})`);
    const name = k as RateName;
    const b = obj(t[k], where, `targets.${k}`);
    const hi = RATE_RANGE[name];
    const min = num(b['min'], where, `targets.${k}.min`, 0, hi);
    const max = num(b['max'], where, `targets.${k}.max`, min, hi);
    const target = num(b['target'], where, `targets.${k}.target`, min, max);
    targets[name] = { target, min, max };
  }
  if (Object.keys(targets).length === 0) throw bad(where, 'targets', 'must name at least one rate');
  const curveTolerance = num(d['curve_tolerance'] ?? 0.1, where, 'curve_tolerance', 0, 1);
  const hourly = curve(d['hourly'], where, 'hourly', 24);
  const weekday = curve(d['weekday'], where, 'weekday', 7);
  const m = obj(d['mix'], where, 'mix');
  const names = SEGMENTS.map((s) => s.name);
  const mix: Record<string, number> = {};
  for (const k of Object.keys(m)) {
    if (!names.includes(k)) throw bad(where, `mix.${k}`, `is not a segment (expected one of ${names.join(', ')})`);
    mix[k] = num(m[k], where, `mix.${k}`, 0, 1000);
  }
  if (!Object.values(mix).some((w) => w > 0)) throw bad(where, 'mix', 'must give at least one segment a weight above 0');
  let generator: GeneratorParams | null = null;
  if (model === 'visit') {
    const g = obj(d['generator'], where, 'generator');
    const v = obj(g['views'], where, 'generator.views');
    const vmin = int(v['min'], where, 'generator.views.min', 1, 12);
    generator = {
      visit_rate: num(g['visit_rate'], where, 'generator.visit_rate', 0, 1),
      cart_intent: num(g['cart_intent'], where, 'generator.cart_intent', 0, 1),
      abandonment: num(g['abandonment'], where, 'generator.abandonment', 0, 0.95),
      views: { min: vmin, max: int(v['max'], where, 'generator.views.max', vmin, 12) },
      coupon_scale: num(g['coupon_scale'] ?? 1, where, 'generator.coupon_scale', 0, 10),
      basket_max: int(g['basket_max'] ?? 50, where, 'generator.basket_max', 1, 50),
    };
  }
  return { name: d['name'], description, model, targets, curve_tolerance: curveTolerance, hourly, weekday, mix, generator };
}

/**
 * How each segment leans, relative to the mix's average (normalised in applyProfile): a loyal
 * regular or an impulse buyer carts more of its visits than a window shopper; a window shopper
 * and a bargain hunter abandon more of their carts. Reasoning, not published figures.
 */
const LEANING: Record<string, { intent: number; abandon: number }> = {
  bargain_hunter: { intent: 0.9, abandon: 1.1 },
  loyal_regular: { intent: 1.5, abandon: 0.8 },
  window_shopper: { intent: 0.4, abandon: 1.25 },
  impulse_buyer: { intent: 1.4, abandon: 0.8 },
  weekend_warrior: { intent: 1.0, abandon: 0.95 },
  night_owl: { intent: 0.9, abandon: 1.0 },
  business_buyer: { intent: 1.3, abandon: 0.85 },
};

const round3 = (x: number) => Math.round(x * 1000) / 1000;
const clamp = (x: number, lo: number, hi: number) => Math.min(hi, Math.max(lo, x));

/** Salt of the profile's per-persona generators (independent of the run's seed: personas are data). */
const PROFILE_SALT = 0x70726f66;

/**
 * The profile's shoppers for these personas. Persona i keeps its id, name, categories and
 * budget; its segment is drawn from the mix and its habits from the segment, the curves and the
 * generator's parameters, with a generator seeded from i alone — so the first N of a larger
 * file get the same shoppers as a file of N. The `seed` model returns the personas unchanged.
 */
export function applyProfile(personas: Persona[], profile: Profile): Persona[] {
  const g = profile.generator;
  if (profile.model === 'seed' || !g) return personas;
  const segments = SEGMENTS.filter((s) => (profile.mix[s.name] ?? 0) > 0);
  const weights = segments.map((s) => profile.mix[s.name] as number);
  const total = weights.reduce((a, b) => a + b, 0);
  const mean = (f: (s: Segment) => number) => segments.reduce((a, s, i) => a + f(s) * (weights[i] as number), 0) / total;
  const intentNorm = mean((s) => LEANING[s.name]?.intent ?? 1);
  const abandonNorm = mean((s) => LEANING[s.name]?.abandon ?? 1);
  const weekdayMean = (profile.weekday.slice(1, 6).reduce((a, b) => a + b, 0)) / 5;
  const weekendMean = ((profile.weekday[0] ?? 0) + (profile.weekday[6] ?? 0)) / 2;
  return personas.map((p, i) => {
    const rng = new Rng(seedRng(hash32(PROFILE_SALT, i)));
    const seg = segments[rng.weighted(weights)] as Segment;
    const lean = LEANING[seg.name] ?? { intent: 1, abandon: 1 };
    const jitter = () => 0.85 + rng.next() * 0.3;
    const between = ([lo, hi]: [number, number]) => lo + rng.next() * (hi - lo);
    const hour = profile.hourly.map((v) => round3(clamp(v * jitter(), 0, 1)));
    const basketMin = Math.min(seg.basket[0], g.basket_max);
    const basketMax = Math.min(g.basket_max, rng.int(Math.max(seg.basket[0], seg.basket[1] - 1), seg.basket[1]));
    return {
      ...p,
      segment: seg.name,
      shopping_frequency: round3(clamp(g.visit_rate * jitter(), 0, 1)),
      hour_affinity: hour,
      weekday_affinity: round3(weekdayMean),
      weekend_affinity: round3(weekendMean),
      day_affinity: profile.weekday.map(round3),
      price_sensitivity: round3(between(seg.price)),
      coupon_affinity: round3(clamp(between(seg.coupon) * g.coupon_scale, 0, 1)),
      abandonment_tendency: round3(clamp((g.abandonment * lean.abandon * jitter()) / abandonNorm, 0, 0.95)),
      basket_size: { min: basketMin, max: Math.max(basketMin, basketMax) },
      cart_intent: round3(clamp((g.cart_intent * lean.intent * jitter()) / intentNorm, 0, 1)),
      views_per_session: { ...g.views },
    };
  });
}

/** Half the sum of |a - t| of the two curves, each normalised to sum 1 (0 = same shape, 1 = disjoint). */
export function curveDistance(achieved: number[], target: number[]): number {
  const sa = achieved.reduce((a, b) => a + b, 0);
  const st = target.reduce((a, b) => a + b, 0);
  if (sa <= 0 || st <= 0) return 1;
  let d = 0;
  for (let i = 0; i < target.length; i++) d += Math.abs((achieved[i] ?? 0) / sa - (target[i] ?? 0) / st);
  return d / 2;
}

export function inBand(value: number, band: RateBand): boolean {
  return value >= band.min && value <= band.max;
}
