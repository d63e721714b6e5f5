/**
 * Data files: the default persona and product files are found from any working directory
 * (shopsim ships them); files the user names are read as given, with one-line errors.
 */
import { mkdtempSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { isAbsolute, join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { dataFilePath, loadPersonas, loadProducts } from '../../src/run/load-data.ts';

describe('data files', () => {
  const home = process.cwd();
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'shopsim-data-'));
    process.chdir(dir);
  });
  afterEach(() => {
    process.chdir(home);
    rmSync(dir, { recursive: true, force: true });
  });

  it('falls back to the shipped copy of a default file missing from the working directory', () => {
    const personas = dataFilePath('data/personas.json');
    expect(isAbsolute(personas)).toBe(true);
    expect(personas).toBe(join(home, 'data/personas.json'));
    expect(loadPersonas('data/personas.json')).toHaveLength(372);
    expect(loadProducts('data/products.json').length).toBeGreaterThan(0);
  });

  it('prefers the working directory copy, and never replaces a file the user named', () => {
    mkdirSync('data');
    writeFileSync('data/products.json', '[]');
    expect(dataFilePath('data/products.json')).toBe('data/products.json');
    expect(() => loadProducts('data/products.json')).toThrow(/data\/products\.json/);
    expect(dataFilePath('mine/personas.json')).toBe('mine/personas.json');
    expect(() => loadPersonas('mine/personas.json')).toThrow(/^--personas mine\/personas\.json: cannot read the file \(ENOENT\)$/);
  });
});
