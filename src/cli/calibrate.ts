/**
 * `shopsim calibrate --profile FILE [--agents N] [--days D] [--seed S] [--out FILE]`: fits the
 * profile's generator to its targets with seeded mock-mode runs (src/run/calibrate.ts), writes
 * the fitted profile (YAML) and prints target vs achieved for every rate and the hourly curve's
 * distance. Exit 0 when every rate is inside its band and the curve within curve_tolerance,
 * 1 when the fit could not get there (the best profile found is still written), 2 on bad input.
 */
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import Table from 'cli-table3';
import type { Command } from 'commander';
import { stringify as toYaml } from 'yaml';
import { resolveOptions, specsFor, type CalibrateOnlyConfig, type RunConfig } from '../config.ts';
import { inputError, isShopsimError, oneLine } from '../errors.ts';
import { RATE_DEFINITIONS, type Profile } from '../model/profiles.ts';
import { calibrateProfile, verdicts, type CalibrateResult } from '../run/calibrate.ts';
import { BUILTIN_PROFILES, loadPersonas, loadProducts, loadProfile, selectAgents } from '../run/load-data.ts';

type CalibrateConfig = Pick<RunConfig, 'profile' | 'agents' | 'seed' | 'personas' | 'products' | 'json'> & CalibrateOnlyConfig;

export interface CalibrateIo {
  env: Record<string, string | undefined>;
  stdout: { write(s: string): boolean };
  stderr: { write(s: string): boolean };
}

function outPath(c: CalibrateConfig, profile: Profile): string {
  if (c.out) return c.out;
  const builtin = (BUILTIN_PROFILES as readonly string[]).includes(c.profile);
  return builtin ? `${profile.name}.fitted.yaml` : join(dirname(c.profile), `${basename(c.profile).replace(/\.ya?ml$/i, '')}.fitted.yaml`);
}

const fmt = (x: number) => (Math.abs(x) >= 1.5 ? x.toFixed(2) : `${(x * 100).toFixed(2)}%`);

export function renderFit(r: CalibrateResult, start: Profile): string {
  const t = new Table({ head: ['Rate', 'Target', 'Band', 'Achieved', 'Inside'], style: { head: [], border: [], compact: true }, colAligns: ['left', 'right', 'right', 'right', 'left'] });
  for (const v of verdicts(start, r.measurement)) {
    t.push([`${v.rate} (${RATE_DEFINITIONS[v.rate]})`, fmt(v.target), `${fmt(v.min)} – ${fmt(v.max)}`, fmt(v.achieved), v.inside ? 'yes' : 'NO']);
  }
  const d = r.measurement.curveDistance;
  t.push(['hourly curve distance (0 = same shape)', '0', `≤ ${start.curve_tolerance}`, d.toFixed(4), d <= start.curve_tolerance ? 'yes' : 'NO']);
  return t.toString();
}

/** Returns the exit code: 0 within tolerance, 1 not, 2 bad input. */
export async function calibrateCommand(flags: Record<string, unknown>, io: CalibrateIo): Promise<number> {
  let c: CalibrateConfig;
  let start: Profile;
  try {
    ({ config: c } = resolveOptions<CalibrateConfig>(specsFor('calibrate'), flags, io.env));
    start = loadProfile(c.profile);
    if (start.model === 'seed') throw inputError(`--profile ${c.profile}: the seed model has no generator to fit (model: visit profiles only)`);
  } catch (err) {
    io.stderr.write(`shopsim: ${oneLine(err)}\n`);
    return isShopsimError(err) ? err.exitCode : 1;
  }
  try {
    const personas = selectAgents(loadPersonas(c.personas), c.agents, c.personas);
    const products = loadProducts(c.products);
    const out = outPath(c, start);
    const result = await calibrateProfile(start, {
      personas,
      products,
      days: c.days,
      seed: c.seed,
      maxRounds: c.maxRounds,
      onRound: (n, m) => {
        const misses = verdicts(start, m).filter((v) => !v.inside).map((v) => v.rate);
        io.stderr.write(`round ${n}: ${m.sessions} sessions, ${misses.length === 0 ? 'every rate inside its band' : `outside: ${misses.join(', ')}`}, curve ${m.curveDistance.toFixed(4)} (${m.seconds.toFixed(1)} s)\n`);
      },
    });
    const header = `# Fitted by shopsim calibrate from ${c.profile}: ${personas.length} agents x ${c.days} days, seed ${c.seed}, ${result.rounds} rounds, ${result.ok ? 'within' : 'NOT within'} tolerance.\n`;
    mkdirSync(dirname(out) || '.', { recursive: true });
    const tmp = `${out}.${process.pid}.tmp`;
    writeFileSync(tmp, header + toYaml(result.profile, { flowCollectionPadding: false }));
    renameSync(tmp, out);
    if (c.json) {
      io.stdout.write(`${JSON.stringify({ ok: result.ok, rounds: result.rounds, seconds: result.seconds, out, generator: result.profile.generator, verdicts: verdicts(start, result.measurement), curve_distance: result.measurement.curveDistance, busiest_cycle: result.measurement.busiestCycle })}\n`);
    } else {
      io.stdout.write(`${renderFit(result, start)}\n${result.ok ? 'within tolerance' : 'NOT within tolerance'} after ${result.rounds} rounds (${result.seconds.toFixed(1)} s); wrote ${out}\n`);
    }
    return result.ok ? 0 : 1;
  } catch (err) {
    io.stderr.write(`shopsim: ${oneLine(err)}\n`);
    return isShopsimError(err) ? err.exitCode : 1;
  }
}

export function registerCalibrateCommand(program: Command, io: CalibrateIo): void {
  const cmd = program.command('calibrate').description("fit a profile's persona generator to its targets with seeded mock-mode runs; write the fitted profile");
  for (const spec of specsFor('calibrate')) {
    cmd.option(spec.kind === 'bool' ? spec.flag : `${spec.flag} <value>`, spec.description);
  }
  cmd.action(async (_opts: Record<string, unknown>, command: Command) => {
    const opts = command.opts<Record<string, unknown>>();
    const flags: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(opts)) if (command.getOptionValueSource(k) === 'cli') flags[k] = v;
    process.exitCode = await calibrateCommand(flags, io);
  });
}
