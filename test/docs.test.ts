/** The documents say what the code does: tables generated from the code are checked against it. */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { optionsMarkdown } from '../src/cli/options-doc.ts';

describe('docs/cli.md', () => {
  it("holds the run options table exactly as the option table renders it (regenerate: see src/cli/options-doc.ts)", () => {
    const doc = readFileSync(new URL('../docs/cli.md', import.meta.url), 'utf8');
    const table = optionsMarkdown('run');
    expect(table.split('\n').length).toBeGreaterThan(40);
    expect(doc).toContain(table);
  });

  it('holds the serve options table exactly as the option table renders it', () => {
    const doc = readFileSync(new URL('../docs/cli.md', import.meta.url), 'utf8');
    const table = optionsMarkdown('serve');
    expect(table).toContain('`--fail-rate <n>`');
    expect(doc).toContain(table);
  });
});
