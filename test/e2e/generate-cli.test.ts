import { describe, expect, it } from 'vitest';
import { generateProducts } from '../../src/model/catalog.ts';
import { generatePersonas } from '../../src/model/personas.ts';
import { shopsim } from './helpers.ts';

describe('shopsim personas|products generate', () => {
  it('writes the seeded generators\' output as JSON on stdout', async () => {
    const [p, q] = await Promise.all([shopsim(['personas', 'generate', '--count', '5', '--seed', '9']), shopsim(['products', 'generate', '--count', '12', '--seed', '9'])]);
    expect(p.code).toBe(0);
    expect(JSON.parse(p.stdout)).toEqual(generatePersonas(5, 9));
    expect(q.code).toBe(0);
    expect(JSON.parse(q.stdout)).toEqual(generateProducts(12, 9));
  });

  it('refuses a bad count or seed with one line, exit 2', async () => {
    const [a, b] = await Promise.all([shopsim(['personas', 'generate', '--count', '0']), shopsim(['products', 'generate', '--seed', '-1'])]);
    expect(a.code).toBe(2);
    expect(a.stderr.trim()).toBe('shopsim: --count: expected an integer from 1 to 10000000, got "0"');
    expect(b.code).toBe(2);
    expect(b.stderr.trim()).toBe('shopsim: --seed: expected an integer >= 0, got "-1"');
  });
});
