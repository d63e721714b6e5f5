/** `shopsim personas generate` and `shopsim products generate`: seeded data files. */
import { writeFileSync, renameSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Command } from 'commander';
import { inputError } from '../errors.ts';
import { generateProducts } from '../model/catalog.ts';
import { generatePersonas } from '../model/personas.ts';

function positiveInt(flag: string, raw: string, max: number): number {
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1 || n > max) throw inputError(`${flag}: expected an integer from 1 to ${max}, got ${JSON.stringify(raw)}`);
  return n;
}

function seedOf(raw: string): number {
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0) throw inputError(`--seed: expected an integer >= 0, got ${JSON.stringify(raw)}`);
  return n;
}

function emit(data: unknown, out: string | undefined): void {
  const text = `${JSON.stringify(data, null, 1)}\n`;
  if (!out) {
    process.stdout.write(text);
    return;
  }
  mkdirSync(dirname(out), { recursive: true });
  const tmp = `${out}.${process.pid}.tmp`;
  writeFileSync(tmp, text);
  renameSync(tmp, out);
  process.stderr.write(`wrote ${out}\n`);
}

const GENERATORS = [
  { noun: 'personas', what: 'persona file', count: '372', max: 10_000_000, make: generatePersonas },
  { noun: 'products', what: 'product catalog', count: '240', max: 1_000_000, make: generateProducts },
] as const;

export function registerGenerateCommands(program: Command, nouns: string[] = GENERATORS.map((g) => g.noun)): void {
  for (const g of GENERATORS.filter((x) => nouns.includes(x.noun))) {
    program
      .command(g.noun)
      .description(`${g.what}s`)
      .command('generate')
      .description(`write a seeded ${g.what} (JSON) to stdout or --out`)
      .option('--count <n>', `number of ${g.noun}`, g.count)
      .option('--seed <n>', 'generator seed', '42')
      .option('--out <file>', 'write to this file instead of stdout')
      .action((o: { count: string; seed: string; out?: string }) => {
        emit(g.make(positiveInt('--count', o.count, g.max), seedOf(o.seed)), o.out);
      });
  }
}
