/** Profiles: validation (one line naming the field), the built-ins, and what applyProfile makes. */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { generatePersonas, validatePersonas } from '../../src/model/personas.ts';
import { applyProfile, curveDistance, validateProfile } from '../../src/model/profiles.ts';
import { BUILTIN_PROFILES, loadProfile } from '../../src/run/load-data.ts';

const dir = mkdtempSync(join(tmpdir(), 'shopsim-profile-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const retail = () => structuredClone(loadProfile('retail')) as unknown as Record<string, unknown>;

describe('validateProfile', () => {
  const cases: [string, (d: Record<string, unknown>) => void, string][] = [
    ['a target band upside down', (d) => ((d['targets'] as Record<string, unknown>)['conversion'] = { target: 0.02, min: 0.03, max: 0.01 }), 'p.yaml: field "targets.conversion.max" must be a number from 0.03 to 1, got 0.01'],
    ['an unknown rate', (d) => ((d['targets'] as Record<string, unknown>)['bounce'] = { target: 0.4, min: 0.3, max: 0.5 }), 'p.yaml: field "targets.bounce" is not a rate'],
    ['an hourly curve of 23', (d) => (d['hourly'] = new Array(23).fill(0.5)), 'p.yaml: field "hourly" must be a list of 24 numbers from 0 to 1, got an array of 23'],
    ['a weekday value above 1', (d) => ((d['weekday'] as number[])[3] = 1.5), 'p.yaml: field "weekday[3]" must be a number from 0 to 1, got 1.5'],
    ['an unknown segment', (d) => ((d['mix'] as Record<string, unknown>)['tourist'] = 0.1), 'p.yaml: field "mix.tourist" is not a segment'],
    ['a visit model without a generator', (d) => delete d['generator'], 'p.yaml: field "generator" must be a mapping, got nothing'],
    ['views of 0', (d) => ((d['generator'] as Record<string, unknown>)['views'] = { min: 0, max: 3 }), 'p.yaml: field "generator.views.min" must be a number from 1 to 12, got 0'],
    ['an unknown field', (d) => (d['colour'] = 'blue'), 'p.yaml: field "colour" is not a profile field'],
  ];
  for (const [what, change, message] of cases) {
    it(`refuses ${what} in one line`, () => {
      const d = retail();
      change(d);
      let err: unknown;
      try {
        validateProfile(d, 'p.yaml');
      } catch (e) {
        err = e;
      }
      expect(err).toMatchObject({ code: 'E_INPUT', exitCode: 2 });
      expect((err as Error).message.startsWith(message)).toBe(true);
      expect((err as Error).message).not.toContain('\n');
    });
  }

  it('accepts every built-in, and a fitted profile written back as YAML', () => {
    for (const name of BUILTIN_PROFILES) expect(loadProfile(name).name).toBe(name);
    const file = join(dir, 'again.yaml');
    writeFileSync(file, stringify(loadProfile('retail')));
    expect(loadProfile(file)).toEqual(loadProfile('retail'));
  });

  it('loadProfile names the flag and the profile: an unknown name, a missing file, bad YAML', () => {
    expect(() => loadProfile('wholesale')).toThrow('--profile wholesale: expected one of retail, seed, flash-sale or a YAML profile file');
    expect(() => loadProfile(join(dir, 'missing.yaml'))).toThrow(/--profile .*missing\.yaml: cannot read the file \(ENOENT\)/);
    const bad = join(dir, 'bad.yaml');
    writeFileSync(bad, 'name: [unclosed');
    expect(() => loadProfile(bad)).toThrow(/--profile .*bad\.yaml: not valid YAML/);
  });
});

describe('applyProfile', () => {
  const personas = generatePersonas(400, 42);
  it('keeps ids, names, categories and budgets; draws the habits; the result is a valid persona file', () => {
    const made = applyProfile(personas, loadProfile('retail'));
    expect(made.map((p) => [p.id, p.name, p.budget_cents])).toEqual(personas.map((p) => [p.id, p.name, p.budget_cents]));
    expect(made.every((p) => p.cart_intent !== undefined && p.views_per_session?.min === 3 && p.day_affinity?.length === 7)).toBe(true);
    expect(validatePersonas(JSON.parse(JSON.stringify(made)), 'made.json')).toHaveLength(400);
  });
  it('persona i depends only on i: the first 100 of 400 equal the profile applied to 100', () => {
    const p = loadProfile('flash-sale');
    expect(applyProfile(personas.slice(0, 100), p)).toEqual(applyProfile(personas, p).slice(0, 100));
  });
  it('follows the mix: flash-sale has no window shoppers, retail about 16% of them', () => {
    const count = (name: string, seg: string) => applyProfile(personas, loadProfile(name)).filter((x) => x.segment === seg).length;
    expect(count('flash-sale', 'window_shopper')).toBe(0);
    expect(count('retail', 'window_shopper') / 400).toBeGreaterThan(0.1);
    expect(count('retail', 'window_shopper') / 400).toBeLessThan(0.22);
  });
});

it('curveDistance: 0 for the same shape at any scale, 1 for disjoint curves', () => {
  expect(curveDistance([2, 4, 6], [1, 2, 3])).toBeCloseTo(0, 10);
  expect(curveDistance([1, 0], [0, 1])).toBe(1);
});
