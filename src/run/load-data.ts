/** Reads and validates the persona and product files; one line per problem, exit 2. */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { inputError } from '../errors.ts';
import { validateProducts } from '../model/catalog.ts';
import { validatePersonas } from '../model/personas.ts';
import { validateProfile, type Profile } from '../model/profiles.ts';
import { parse as parseYaml } from 'yaml';
import type { Persona, Product } from '../model/types.ts';

/** The default data files, relative to the working directory; shopsim ships both. */
const BUNDLED = new Set(['data/personas.json', 'data/products.json']);

/** The nearest directory above this module holding a package.json: shopsim's root, from src/ or dist/src/. */
function packageRoot(): string | null {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(join(dir, 'package.json'))) return dir;
    const up = dirname(dir);
    if (up === dir) return null;
    dir = up;
  }
}

/**
 * Where a data file is read from: as given, except that a default path (`data/personas.json`,
 * `data/products.json`) missing from the working directory falls back to the copy shipped with
 * shopsim, so `npx shopsim run` works from any directory. A file the user names is never replaced.
 */
export function dataFilePath(file: string): string {
  if (!BUNDLED.has(file) || existsSync(file)) return file;
  const root = packageRoot();
  const bundled = root ? join(root, file) : null;
  return bundled && existsSync(bundled) ? bundled : file;
}

function readJson(file: string, flag: string): unknown {
  let text: string;
  try {
    text = readFileSync(dataFilePath(file), 'utf8');
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

/** The profiles shipped in data/profiles/ (`--profile NAME`). */
export const BUILTIN_PROFILES = ['retail', 'seed', 'flash-sale'] as const;

/** Where a built-in profile's file is: data/profiles/NAME.yaml shipped with shopsim. */
function builtinProfilePath(name: string): string {
  const root = packageRoot();
  return join(root ?? '.', 'data', 'profiles', `${name}.yaml`);
}

/**
 * `--profile NAME|FILE`: a built-in profile by name, or a YAML profile file, validated.
 * @throws ShopsimError E_INPUT (exit 2), one line naming the profile and what was wrong.
 */
export function loadProfile(spec: string, flag = '--profile'): Profile {
  const builtin = (BUILTIN_PROFILES as readonly string[]).includes(spec);
  if (!builtin && !/[/\\.]/.test(spec)) {
    throw inputError(`${flag} ${spec}: expected one of ${BUILTIN_PROFILES.join(', ')} or a YAML profile file`);
  }
  const file = builtin ? builtinProfilePath(spec) : spec;
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw inputError(`${flag} ${spec}: cannot read the file (${(err as NodeJS.ErrnoException).code ?? 'error'})`, err);
  }
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (err) {
    throw inputError(`${flag} ${spec}: not valid YAML: ${err instanceof Error ? (err.message.split('\n')[0] ?? '') : String(err)}`, err);
  }
  return validateProfile(doc, `${flag} ${spec}`);
}
