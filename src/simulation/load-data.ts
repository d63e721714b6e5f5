/** Reads and validates the persona and product files; one line per problem, exit 2. */
import { readFileSync } from 'node:fs';
import { inputError } from '../errors.ts';
import { validateProducts } from '../model/catalog.ts';
import { validatePersonas } from '../model/personas.ts';
import type { Persona, Product } from '../model/types.ts';

function readJson(file: string, flag: string): unknown {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw inputError(`${flag} ${file}: cannot read the file (${(err as NodeJS.ErrnoException).code ?? 'error'})`, err);
  }
  try {
    return JSON.parse(text);
  } catch (err) {
    throw inputError(`${flag} ${file}: not valid JSON (${err instanceof Error ? err.message : String(err)})`, err);
  }
}

export function loadPersonas(file: string): Persona[] {
  return validatePersonas(readJson(file, '--personas'), file);
}

export function loadProducts(file: string): Product[] {
  return validateProducts(readJson(file, '--products'), file);
}

/** The first `agents` personas of the file (all when null). */
export function selectAgents(personas: Persona[], agents: number | null, file: string): Persona[] {
  if (agents === null) return personas;
  if (agents > personas.length) {
    throw inputError(`--agents ${agents}: expected at most ${personas.length} (the number of personas in ${file}); make more with: shopsim personas generate --count ${agents} --out FILE`);
  }
  return personas.slice(0, agents);
}
