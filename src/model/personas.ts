/**
 * Personas: a seeded generator (segments with their own habits) and a validator for
 * data/personas.json. See docs/agent-model.md for the model and its calibration.
 */
import { Rng, seedRng } from './rng.ts';
import { CATEGORIES } from './catalog.ts';
import type { Persona } from './types.ts';
import {
  expectInt,
  expectNumber,
  expectRecordArray,
  expectString,
  expectStringArray,
  expectUnitArray,
  checkRecordsWithIds,
  validationError,
} from './validate.ts';

export type HourProfile = 'daytime' | 'evening' | 'night_owl' | 'office' | 'weekend';

export interface Segment {
  name: string;
  weight: number;
  frequency: [number, number];
  profile: HourProfile;
  weekday: [number, number];
  weekend: [number, number];
  browse: [number, number];
  price: [number, number];
  coupon: [number, number];
  abandon: [number, number];
  basket: [number, number];
  budget: [number, number];
}

export const SEGMENTS: readonly Segment[] = [
  { name: 'bargain_hunter', weight: 0.2, frequency: [0.3, 0.5], profile: 'evening', weekday: [0.7, 0.9], weekend: [0.8, 1.0], browse: [0.25, 0.4], price: [0.7, 0.95], coupon: [0.7, 0.95], abandon: [0.25, 0.45], basket: [1, 3], budget: [3000, 12000] },
  { name: 'loyal_regular', weight: 0.18, frequency: [0.35, 0.55], profile: 'daytime', weekday: [0.8, 1.0], weekend: [0.6, 0.8], browse: [0.15, 0.3], price: [0.2, 0.5], coupon: [0.3, 0.6], abandon: [0.08, 0.2], basket: [1, 4], budget: [8000, 30000] },
  { name: 'window_shopper', weight: 0.16, frequency: [0.15, 0.3], profile: 'daytime', weekday: [0.7, 0.9], weekend: [0.8, 1.0], browse: [0.35, 0.55], price: [0.5, 0.8], coupon: [0.2, 0.5], abandon: [0.45, 0.7], basket: [1, 2], budget: [2000, 8000] },
  { name: 'impulse_buyer', weight: 0.14, frequency: [0.35, 0.6], profile: 'evening', weekday: [0.7, 0.9], weekend: [0.8, 1.0], browse: [0.15, 0.3], price: [0.1, 0.35], coupon: [0.2, 0.5], abandon: [0.05, 0.15], basket: [1, 3], budget: [5000, 25000] },
  { name: 'weekend_warrior', weight: 0.12, frequency: [0.3, 0.5], profile: 'weekend', weekday: [0.25, 0.45], weekend: [0.9, 1.0], browse: [0.15, 0.3], price: [0.3, 0.6], coupon: [0.4, 0.7], abandon: [0.1, 0.25], basket: [2, 5], budget: [8000, 40000] },
  { name: 'night_owl', weight: 0.1, frequency: [0.3, 0.5], profile: 'night_owl', weekday: [0.7, 0.9], weekend: [0.8, 1.0], browse: [0.2, 0.35], price: [0.3, 0.6], coupon: [0.3, 0.6], abandon: [0.15, 0.3], basket: [1, 3], budget: [4000, 15000] },
  { name: 'business_buyer', weight: 0.1, frequency: [0.3, 0.5], profile: 'office', weekday: [0.9, 1.0], weekend: [0.1, 0.3], browse: [0.1, 0.2], price: [0.1, 0.3], coupon: [0.1, 0.3], abandon: [0.05, 0.12], basket: [2, 6], budget: [15000, 60000] },
];

/** Hour-of-day shapes (0..1) before per-agent jitter. */
const PROFILES: Record<HourProfile, number[]> = {
  daytime:   [0.03, 0.02, 0.01, 0.01, 0.01, 0.03, 0.1, 0.25, 0.45, 0.65, 0.8, 0.9, 1.0, 0.95, 0.85, 0.8, 0.8, 0.85, 0.9, 0.85, 0.7, 0.45, 0.2, 0.08],
  evening:   [0.15, 0.06, 0.03, 0.01, 0.01, 0.02, 0.05, 0.15, 0.3, 0.4, 0.5, 0.6, 0.75, 0.65, 0.55, 0.55, 0.65, 0.8, 0.95, 1.0, 1.0, 0.9, 0.65, 0.35],
  night_owl: [0.9, 0.8, 0.6, 0.4, 0.2, 0.08, 0.03, 0.03, 0.05, 0.1, 0.2, 0.3, 0.4, 0.4, 0.4, 0.45, 0.5, 0.55, 0.65, 0.75, 0.85, 0.95, 1.0, 1.0],
  office:    [0.01, 0.01, 0.0, 0.0, 0.0, 0.02, 0.08, 0.3, 0.75, 1.0, 1.0, 0.95, 0.8, 0.95, 1.0, 0.95, 0.8, 0.5, 0.25, 0.15, 0.1, 0.06, 0.03, 0.02],
  weekend:   [0.08, 0.04, 0.02, 0.01, 0.01, 0.02, 0.05, 0.15, 0.35, 0.6, 0.85, 1.0, 1.0, 0.95, 0.9, 0.9, 0.9, 0.9, 0.85, 0.8, 0.7, 0.5, 0.3, 0.15],
};

const FIRST = ['Ava', 'Ben', 'Chloe', 'Dev', 'Elena', 'Farid', 'Grace', 'Hiro', 'Ines', 'Jonas', 'Kemi', 'Liam', 'Maya', 'Noah', 'Olga', 'Priya', 'Quinn', 'Rosa', 'Sami', 'Tara', 'Umar', 'Vera', 'Wes', 'Xin', 'Yara', 'Zoe'];
const LAST = ['Adams', 'Brown', 'Costa', 'Diaz', 'Evans', 'Fischer', 'Garcia', 'Haddad', 'Ito', 'Jensen', 'Kowalski', 'Lopez', 'Moreau', 'Nguyen', 'Okafor', 'Patel', 'Rossi', 'Silva', 'Tanaka', 'Weber'];

function round3(x: number): number {
  return Math.round(x * 1000) / 1000;
}

function between(rng: Rng, [lo, hi]: [number, number]): number {
  return round3(lo + rng.next() * (hi - lo));
}

export function personaId(index: number): string {
  return `agent_${String(index + 1).padStart(6, '0')}`;
}

/** `count` personas; the same seed gives the same file, and the first N of a larger file equal a smaller one. */
export function generatePersonas(count: number, seed: number): Persona[] {
  const personas: Persona[] = [];
  const weights = SEGMENTS.map((s) => s.weight);
  for (let i = 0; i < count; i++) {
    // One generator per persona, so persona i does not depend on how many come before or after.
    const rng = new Rng(seedRng((seed * 0x9e3779b1 + i * 0x85ebca6b) >>> 0));
    const seg = SEGMENTS[rng.weighted(weights)] as Segment;
    const shape = PROFILES[seg.profile];
    const hour = shape.map((v) => round3(Math.min(1, Math.max(0, v * (0.85 + rng.next() * 0.3)))));
    const nCats = rng.int(2, 4);
    const cats: string[] = [];
    while (cats.length < nCats) {
      const c = rng.pick(CATEGORIES);
      if (!cats.includes(c)) cats.push(c);
    }
    const basketMin = seg.basket[0];
    const basketMax = rng.int(Math.max(basketMin, seg.basket[1] - 1), seg.basket[1]);
    personas.push({
      id: personaId(i),
      name: `${rng.pick(FIRST)} ${rng.pick(LAST)}`,
      segment: seg.name,
      shopping_frequency: between(rng, seg.frequency),
      hour_affinity: hour,
      weekday_affinity: between(rng, seg.weekday),
      weekend_affinity: between(rng, seg.weekend),
      browse_propensity: between(rng, seg.browse),
      price_sensitivity: between(rng, seg.price),
      coupon_affinity: between(rng, seg.coupon),
      abandonment_tendency: between(rng, seg.abandon),
      basket_size: { min: basketMin, max: basketMax },
      preferred_categories: cats,
      budget_cents: Math.round(between(rng, seg.budget) / 100) * 100,
    });
  }
  return personas;
}

/** Validates parsed JSON as a persona list; throws one line naming file, record and field. */
export function validatePersonas(data: unknown, file: string): Persona[] {
  const records = expectRecordArray(data, file, 'personas');
  checkRecordsWithIds(records, file, (r, at) => {
    expectString(r, 'name', at);
    expectString(r, 'segment', at);
    for (const f of ['shopping_frequency', 'weekday_affinity', 'weekend_affinity', 'browse_propensity', 'price_sensitivity', 'coupon_affinity', 'abandonment_tendency']) {
      expectNumber(r, f, at, 0, 1);
    }
    expectUnitArray(r, 'hour_affinity', at, 24);
    const basket = r['basket_size'];
    if (basket === null || typeof basket !== 'object' || Array.isArray(basket)) {
      throw validationError(at, 'basket_size', 'must be an object {min, max}');
    }
    const b = basket as Record<string, unknown>;
    expectInt(b, 'min', { ...at }, 1, 50);
    expectInt(b, 'max', { ...at }, b['min'] as number, 50);
    expectStringArray(r, 'preferred_categories', at);
    expectInt(r, 'budget_cents', at, 1);
    // Fields written by a profile (src/model/profiles.ts); optional.
    if (r['cart_intent'] !== undefined) expectNumber(r, 'cart_intent', at, 0, 1);
    if (r['day_affinity'] !== undefined) expectUnitArray(r, 'day_affinity', at, 7);
    const views = r['views_per_session'];
    if (views !== undefined) {
      if (views === null || typeof views !== 'object' || Array.isArray(views)) throw validationError(at, 'views_per_session', 'must be an object {min, max}');
      const v = views as Record<string, unknown>;
      expectInt(v, 'min', { ...at }, 1, 12);
      expectInt(v, 'max', { ...at }, v['min'] as number, 12);
    }
  });
  return records as unknown as Persona[];
}

/** Chance that the persona shops in a cycle: frequency × hour affinity × day affinity (the seed's formula). */
export function shoppingProbability(p: Persona, hour: number, weekend: boolean): number {
  return p.shopping_frequency * (p.hour_affinity[hour] ?? 0) * (weekend ? p.weekend_affinity : p.weekday_affinity);
}

/**
 * A profile-made persona's chance of visiting the store in a cycle (any session):
 * frequency × hour affinity × the weekday's affinity (day_affinity, Sunday first).
 */
export function visitProbability(p: Persona, hour: number, weekday: number, weekend: boolean): number {
  const day = p.day_affinity?.[weekday] ?? (weekend ? p.weekend_affinity : p.weekday_affinity);
  return p.shopping_frequency * (p.hour_affinity[hour] ?? 0) * day;
}
