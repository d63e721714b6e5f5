/**
 * `shopsim run`: argv → options → start → print. Composing the run is the application layer's
 * (src/run/start-run.ts); this file parses, wires the terminal and prints.
 */
import type { Command } from 'commander';
import { OPTION_SPECS, resolveConfig, type RunConfig } from '../config.ts';
import { isShopsimError, oneLine } from '../errors.ts';
import type { RunSummary } from '../model/run.ts';
import { renderSummary } from '../monitor/summary.ts';
import { openRunMonitoring } from './run-monitoring.ts';
import { openRun, prepareRun, type OpenedRun, type RunPlan } from '../run/start-run.ts';

export interface RunIo {
  env: Record<string, string | undefined>;
  stdout: NodeJS.WriteStream | { write(s: string): boolean; isTTY?: boolean };
  stderr: NodeJS.WriteStream | { write(s: string): boolean; isTTY?: boolean };
}

export function registerRunCommand(program: Command, io: RunIo): void {
  const cmd = program.command('run').description('run a simulation (see docs/cli.md)');
  for (const spec of OPTION_SPECS) {
    const flag = spec.kind === 'bool' ? (spec.default === true ? `--no-${spec.flag.slice(2)}` : spec.flag) : spec.key === 'inspect' ? `${spec.flag} [port]` : `${spec.flag} <value>`;
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
  const fail = (err: unknown, fallback: number) => {
    io.stderr.write(`shopsim: ${oneLine(err)}\n`);
    return isShopsimError(err) ? err.exitCode : fallback;
  };
  let plan: RunPlan;
  try {
    plan = prepareRun(resolveConfig(flags, io.env, configFile));
  } catch (err) {
    return fail(err, 2);
  }
  for (const w of plan.warnings) io.stderr.write(`shopsim: ${w}\n`);
  const config = plan.config;
  let opened: OpenedRun;
  try {
    opened = await openRun(plan);
  } catch (err) {
    return fail(err, 2);
  }
  // Logs, dashboard or plain lines, signals, inspector.
  let monitoring;
  try {
    monitoring = await openRunMonitoring({
      config,
      io: { stdout: io.stdout, stderr: io.stderr, ...(io.stdout === process.stdout ? { stdin: process.stdin } : {}) },
      agentIds: plan.personas.map((p) => p.id),
    });
  } catch (err) {
    await opened.close().catch(() => {});
    return fail(err, 2);
  }
  const { sim, execute } = opened.simulate({
    breakerAction: monitoring.breakerAction,
    ...(monitoring.inspect ? { inspect: monitoring.inspect } : {}),
    onEndRunError: (err) => io.stderr.write(`shopsim: could not record the end of the run: ${oneLine(err)}\n`),
  });
  const monitor = monitoring.attach(sim);

  let summary: RunSummary;
  try {
    summary = await execute();
  } catch (err) {
    monitor.detach();
    monitoring.logger.error({ event: 'run-failed', err }, 'run failed');
    io.stderr.write(`shopsim: run failed: ${oneLine(err)}\n`);
    await monitoring.close();
    await opened.close().catch(() => {});
    return isShopsimError(err) ? err.exitCode : 1;
  } finally {
    monitor.detach();
  }
  await opened.close();
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
