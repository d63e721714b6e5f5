/**
 * `shopsim run`: argv → config → simulation. Thin on purpose: everything it does is
 * available to a library user through createSimulation.
 */
import { randomBytes } from 'node:crypto';
import type { Command } from 'commander';
import { OPTION_SPECS, publicConfig, resolveConfig, totalCycles, type RunConfig } from '../config.ts';
import { isShopsimError, oneLine } from '../errors.ts';
import { renderSummary } from '../monitor/summary.ts';
import { openRunMonitoring } from './run-monitoring.ts';
import { openBackends } from '../simulation/backends.ts';
import { createSimulation, type RunSummary, type SimulationConfig } from '../simulation/create-simulation.ts';
import { loadPersonas, loadProducts, selectAgents } from '../simulation/load-data.ts';
import { restoreStateOf, validateCheckpoint } from '../checkpoint/load.ts';
import { planResume, type ResumePlan } from '../checkpoint/resume.ts';
import { createCheckpointer } from '../checkpoint/save.ts';
import type { RestoreState } from '../simulation/create-simulation.ts';

export interface RunIo {
  env: Record<string, string | undefined>;
  stdout: NodeJS.WriteStream | { write(s: string): boolean; isTTY?: boolean };
  stderr: NodeJS.WriteStream | { write(s: string): boolean; isTTY?: boolean };
}

export function newRunId(now = new Date()): string {
  const stamp = now.toISOString().replace(/[-:]/g, '').replace(/\..*$/, '').replace('T', '-');
  return `run-${stamp}-${randomBytes(3).toString('hex')}`;
}

export function registerRunCommand(program: Command, io: RunIo): void {
  const cmd = program.command('run').description('run a simulation (see docs/cli.md)');
  for (const spec of OPTION_SPECS) {
    const flag = spec.kind === 'bool' ? (spec.key === 'color' ? '--no-color' : spec.flag) : spec.key === 'inspect' ? `${spec.flag} [port]` : `${spec.flag} <value>`;
    const env = spec.env ? ` [env: ${spec.env.join(', ')}]` : '';
    cmd.option(flag, `${spec.description}${env}`);
  }
  cmd.option('--config <file>', 'YAML config file (the seed\'s config/simulation.yaml shape)');
  cmd.action(async (_opts: Record<string, unknown>, command: Command) => {
    const opts = command.opts<Record<string, unknown>>();
    const flags: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(opts)) {
      if (command.getOptionValueSource(k) === 'cli') flags[k] = v;
    }
    if (flags['inspect'] === true) flags['inspect'] = 8080;
    const configFile = flags['config'] as string | undefined;
    delete flags['config'];
    process.exitCode = await runCommand(flags as Partial<Record<keyof RunConfig, unknown>>, configFile, io);
  });
}

/** Returns the process exit code: 0 done, 2 bad input, 3 breaker open, 130/143 signals, 1 crash. */
export async function runCommand(flags: Partial<Record<keyof RunConfig, unknown>>, configFile: string | undefined, io: RunIo): Promise<number> {
  let resolved;
  let personas;
  let products;
  let cycles: number;
  let resume: ResumePlan | null = null;
  let restore: RestoreState | undefined;
  try {
    resolved = resolveConfig(flags, io.env, configFile);
    // --resume / --resume-from: settings not given again come from the checkpoint (src/checkpoint/resume.ts).
    resume = planResume(resolved);
    if (resume) {
      for (const w of resume.warnings) io.stderr.write(`shopsim: ${w}\n`);
      resolved = { ...resolved, config: resume.config };
    }
    cycles = totalCycles(resolved.config, resolved.sources);
    personas = selectAgents(loadPersonas(resolved.config.personas), resolved.config.agents, resolved.config.personas);
    products = loadProducts(resolved.config.products);
    if (resume) {
      validateCheckpoint(resume.file, resume.checkpoint, { personas, products });
      restore = restoreStateOf(resume.file, resume.checkpoint, personas);
    }
  } catch (err) {
    io.stderr.write(`shopsim: ${oneLine(err)}\n`);
    return isShopsimError(err) ? err.exitCode : 2;
  }
  const config = resolved.config;
  let backends;
  try {
    backends = await openBackends(config, personas, products);
  } catch (err) {
    io.stderr.write(`shopsim: ${oneLine(err)}\n`);
    return isShopsimError(err) ? err.exitCode : 2;
  }
  if (resume?.checkpoint.mock_store_state && backends.mockStore) backends.mockStore.importState(resume.checkpoint.mock_store_state);
  // Logs, dashboard or plain lines, signals, inspector (src/monitor/run-monitoring.ts).
  let monitoring;
  try {
    monitoring = await openRunMonitoring({
      config,
      io: { stdout: io.stdout, stderr: io.stderr, ...(io.stdout === process.stdout ? { stdin: process.stdin } : {}) },
      agentIds: personas.map((p) => p.id),
    });
  } catch (err) {
    io.stderr.write(`shopsim: ${oneLine(err)}\n`);
    await backends.close().catch(() => {});
    return isShopsimError(err) ? err.exitCode : 2;
  }
  const simConfig: SimulationConfig = {
    runId: resume ? resume.checkpoint.simulation_state.run_id : newRunId(),
    seed: config.seed,
    cycles,
    startMs: Date.parse(config.start),
    timeScale: config.timeScale,
    fast: config.fast,
    warmupCycles: config.warmupCycles,
    breakerPercent: config.breakerPercent,
    breakerAction: monitoring.breakerAction,
    cohortSize: config.cohortSize,
    maxConcurrentAgents: config.maxConcurrentAgents,
    offerCycleDays: config.offerCycleDays,
    checkpointInterval: config.checkpointInterval,
  };
  const sim = createSimulation(simConfig, {
    personas,
    products,
    store: backends.store,
    recorder: backends.recorder,
    ...(backends.metrics ? { metrics: backends.metrics } : {}),
    ...(monitoring.inspect ? { inspect: monitoring.inspect } : {}),
    ...(restore ? { restore } : {}),
    checkpointer: createCheckpointer({
      dir: config.checkpointDir,
      keep: config.keepCheckpoints,
      publicConfig: publicConfig(config, cycles),
      personas,
      products,
      mockStore: backends.mockStore,
      isReplay: resume !== null,
      resumedFrom: resume?.file ?? null,
    }),
  });

  const monitor = monitoring.attach(sim);

  let summary: RunSummary;
  try {
    await backends.recorder.beginRun({
      runId: simConfig.runId,
      seed: config.seed,
      config: publicConfig(config, cycles),
      isReplay: resume !== null,
      resumedFrom: resume?.file ?? null,
      startedAt: new Date().toISOString(),
      personas,
      products,
    });
    if (resume) await backends.recorder.prepareResume(simConfig.runId, resume.checkpoint.simulation_state.current_cycle);
    summary = await sim.run();
    try {
      await backends.recorder.endRun(simConfig.runId, summary);
    } catch (err) {
      // The run itself is over and its checkpoint written; a database that went away only
      // loses the run row's end time and summary (written again by a resumed run).
      io.stderr.write(`shopsim: could not record the end of the run: ${oneLine(err)}\n`);
    }
  } catch (err) {
    monitor.detach();
    monitoring.logger.error({ event: 'run-failed', err }, 'run failed');
    io.stderr.write(`shopsim: run failed: ${oneLine(err)}\n`);
    await monitoring.close();
    await backends.close().catch(() => {});
    return isShopsimError(err) ? err.exitCode : 1;
  } finally {
    monitor.detach();
  }
  await backends.close();
  summary['store'] = backends.describe.store;
  summary['database'] = backends.describe.database;
  monitoring.logger.info({ event: 'summary', summary }, 'run finished');
  await monitoring.close();
  if (config.json) io.stdout.write(`${JSON.stringify(summary)}\n`);
  else io.stdout.write(`${renderSummary(summary, { color: config.color && io.stdout.isTTY === true })}\n`);

  if (summary.exit_reason === 'breaker') {
    io.stderr.write(
      `shopsim: stopped because the circuit breaker opened (more than ${summary.breaker.threshold} agent failures in one cycle). ` +
        `Fix the cause, then continue with: shopsim run --resume\n`,
    );
    return 3;
  }
  const requested = monitor.requestedExitCode();
  if (requested !== null) return requested;
  return 0;
}
