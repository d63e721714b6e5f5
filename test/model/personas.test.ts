import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { CATEGORIES, generateProducts, validateProducts } from '../../src/model/catalog.ts';
import { cycleInfo } from '../../src/model/calendar.ts';
import { generatePersonas, shoppingProbability, validatePersonas } from '../../src/model/personas.ts';
import { Rng, seedRng } from '../../src/model/rng.ts';
import { decideCycle } from '../../src/model/shopper-logic.ts';

describe('personas and catalog', () => {
  it('the committed data files are what the seeded generators make', () => {
    expect(JSON.parse(readFileSync('data/personas.json', 'utf8'))).toEqual(generatePersonas(372, 42));
    expect(JSON.parse(readFileSync('data/products.json', 'utf8'))).toEqual(generateProducts(240, 42));
  });

  it('has 372 valid personas and >= 200 products in >= 8 categories', () => {
    const p = validatePersonas(generatePersonas(372, 42), 'mem');
    expect(p).toHaveLength(372);
    const prods = validateProducts(generateProducts(240, 42), 'mem');
    expect(new Set(prods.map((x) => x.category)).size).toBeGreaterThanOrEqual(8);
    expect(CATEGORIES.length).toBeGreaterThanOrEqual(8);
  });

  it('the first N of a larger file equal a smaller one', () => {
    expect(generatePersonas(1000, 42).slice(0, 372)).toEqual(generatePersonas(372, 42));
  });

  it('is calibrated: about 40% of agents active on a weekday daytime cycle', () => {
    const personas = generatePersonas(20_000, 42);
    const info = cycleInfo(Date.parse('2024-01-03T00:00:00Z'), 15); // Wednesday 14:00
    let active = 0;
    personas.forEach((p, i) => {
      if (decideCycle(new Rng(seedRng(i)), p, info) !== 'skip') active++;
    });
    const fraction = active / personas.length;
    expect(fraction).toBeGreaterThan(0.33);
    expect(fraction).toBeLessThan(0.47);
  });

  it('shopping probability is frequency × hour affinity × day affinity', () => {
    const p = generatePersonas(1, 1)[0]!;
    expect(shoppingProbability(p, 14, false)).toBeCloseTo(p.shopping_frequency * p.hour_affinity[14]! * p.weekday_affinity, 12);
    expect(shoppingProbability(p, 14, true)).toBeCloseTo(p.shopping_frequency * p.hour_affinity[14]! * p.weekend_affinity, 12);
  });

  it('names the file, record and field of a bad persona', () => {
    const bad = generatePersonas(3, 1) as unknown as Record<string, unknown>[];
    bad[2]!['hour_affinity'] = [1, 2];
    expect(() => validatePersonas(bad, 'x.json')).toThrow('x.json: record 2 (agent_000003): field "hour_affinity" must be an array of 24 numbers in [0, 1], got an array of 2');
    const bad2 = generatePersonas(2, 1) as unknown as Record<string, unknown>[];
    bad2[1]!['price_sensitivity'] = 'high';
    expect(() => validatePersonas(bad2, 'x.json')).toThrow('record 1 (agent_000002): field "price_sensitivity" must be a number in [0, 1], got "high"');
    expect(() => validatePersonas({}, 'x.json')).toThrow('x.json: expected a JSON array of personas');
    const prods = generateProducts(3, 1) as unknown as Record<string, unknown>[];
    prods[1]!['price_cents'] = -5;
    expect(() => validateProducts(prods, 'p.json')).toThrow('p.json: record 1 (prod_0002): field "price_cents" must be an integer >= 1, got -5');
  });
});
