/**
 * Everything `shopsim run` (and `replay`) needs around a simulation to watch and steer it,
 * behind one call so the commands stay thin: the logs, the terminal decision (dashboard and
 * keys, or plain lines), the breaker action that fits it, the Stately inspector, and the
 * monitor itself once the simulation exists.
 */
import type { Persona } from '../model/types.ts';
import type { InspectionEvent } from 'xstate';
import type { RunConfig } from '../config.ts';
import type { InspectorHandle } from '../inspect/inspector.ts';
import type { Simulation } from '../simulation/types.ts';
import { createRunLogger, type Logger, type RunLogger } from '../monitor/logger.ts';
import { parseThreshold } from '../thresholds/thresholds.ts';
import { attachMonitor, type MonitorHandle } from './attach-monitor.ts';
import type { InLike, OutLike } from './terminal.ts';
import { removeRunFile, runsDirOf, writeRunFile } from '../web/run-file.ts';
import type { WebServer } from '../web/server.ts';

export interface RunMonitoringIo {
  stdout: OutLike;
  stderr: OutLike;
  stdin?: InLike;
}

export interface RunMonitoring {
  /** Dashboard and keys (stdout is a terminal and not --json). */
  interactive: boolean;
  /** The breaker action for SimulationConfig: a terminal always waits for `r`. */
  breakerAction: 'exit' | 'wait';
  logger: Logger;
  /** For SimulationDeps.inspect when --inspect is on. */
  inspect: ((event: InspectionEvent) => void) | undefined;
  inspector: InspectorHandle | null;
  /** The web view and control API (--web), or null. */
  web: WebServer | null;
  /** Starts the dashboard / lines / signal handling for this simulation. */
  /** `personas` give the calendar's expected work per simulated hour (the ETA). */
  attach(sim: Simulation, personas?: readonly Persona[]): MonitorHandle;
  /** Flushes the logs and stops the inspector and web servers (and removes the run file). */
  close(): Promise<void>;
}

export interface RunMonitoringOptions {
  config: Pick<RunConfig, 'json' | 'debug' | 'refresh' | 'color' | 'memoryWarningMb' | 'breakerAction' | 'inspect' | 'inspectAgents'> & Partial<Pick<RunConfig, 'web' | 'checkpointDir' | 'logMaxSize' | 'logKeep' | 'currency' | 'threshold'>>;
  /** The run's id (names the --web run file). */
  runId?: string;
  io: RunMonitoringIo;
  /** Ids of the run's agents, in order (the inspector samples the first few by default). */
  agentIds: string[];
  /** Log directory (default data/logs). */
  logDir?: string;
}

/** Whether a run shows the live dashboard: stdout is a terminal and --json is off. */
export function wantsDashboard(stdout: OutLike, json: boolean): boolean {
  return stdout.isTTY === true && !json;
}

export async function openRunMonitoring(options: RunMonitoringOptions): Promise<RunMonitoring> {
  const { config, io } = options;
  const interactive = wantsDashboard(io.stdout, config.json);
  const runLogger: RunLogger = createRunLogger({
    ...(options.logDir ? { dir: options.logDir } : {}),
    debug: config.debug,
    ...(config.logMaxSize ? { maxSize: config.logMaxSize } : {}),
    ...(config.logKeep ? { keep: config.logKeep } : {}),
    // A log file that cannot be written (disk full) is a warning, never the end of the run.
    onWriteError: (file, err) => io.stderr.write(`shopsim: warning: cannot write the log file ${file} (${(err as NodeJS.ErrnoException).code ?? String(err)}); its lines are dropped, the run goes on\n`),
  });
  const logger = runLogger.logger;
  let inspector: InspectorHandle | null = null;
  if (config.inspect !== null && config.inspect !== undefined) {
    // The inspector (ws, @statelyai/inspect) and the web view (prom-client…) load only when asked for.
    const { startInspector } = await import('../inspect/inspector.ts');
    inspector = await startInspector({ port: config.inspect, agents: config.inspectAgents, agentIds: options.agentIds });
    const msg =
      `Stately inspector: open ${inspector.url} in a browser (the page loads the inspector from stately.ai: the browser needs internet). ` +
      `Streaming the orchestrator, the cohorts and shoppers ${inspector.agents.join(', ')}.`;
    io.stderr.write(`shopsim: ${msg}\n`);
    logger.info({ event: 'inspector', url: inspector.url, agents: inspector.agents }, msg);
  }
  let web: WebServer | null = null;
  let runFile: string | null = null;
  if (config.web !== null && config.web !== undefined) {
    const runId = options.runId ?? 'run';
    try {
      const { startWebServer } = await import('../web/server.ts');
      web = await startWebServer({ port: config.web, runId });
      runFile = writeRunFile(runsDirOf(config.checkpointDir ?? 'data/checkpoints'), { runId, pid: process.pid, url: web.origin, token: web.token, startedAt: new Date().toISOString() });
    } catch (err) {
      if (inspector) await inspector.close();
      if (web) await web.close();
      await runLogger.close();
      throw err;
    }
    const msg = `web view: open ${web.pageUrl} (control token also in ${runFile}, mode 0600; shopsim ctl uses it)`;
    io.stderr.write(`shopsim: ${msg}\n`);
    // The log gets the URL without the token.
    logger.info({ event: 'web', url: web.origin, runFile }, 'web view started');
  }
  let monitor: MonitorHandle | null = null;
  return {
    interactive,
    breakerAction: interactive ? 'wait' : config.breakerAction,
    logger,
    inspect: inspector?.inspect,
    inspector,
    web,
    attach(sim, personas) {
      // Validated when the config was resolved; shown on the dashboard and the web page.
      const thresholds = (config.threshold ?? []).map((t) => parseThreshold(t));
      web?.attach(sim, { thresholds });
      monitor = attachMonitor(sim, {
        stdout: io.stdout,
        stderr: io.stderr,
        ...(io.stdin ? { stdin: io.stdin } : {}),
        interactive,
        refreshSeconds: config.refresh,
        color: config.color && interactive,
        memoryWarningMb: config.memoryWarningMb,
        ...(config.currency ? { currency: config.currency } : {}),
        breakerAction: interactive ? 'wait' : config.breakerAction,
        logger,
        ...(personas ? { personas } : {}),
        ...(thresholds.length > 0 ? { thresholds } : {}),
      });
      if (inspector && interactive) monitor.notify(`Stately inspector: ${inspector.url}`);
      if (web && interactive) monitor.notify(`web view: ${web.pageUrl}`);
      return monitor;
    },
    async close() {
      monitor?.detach();
      if (inspector) await inspector.close();
      if (runFile) removeRunFile(runFile);
      if (web) await web.close();
      await runLogger.close();
    },
  };
}
