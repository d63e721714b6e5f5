/**
 * attachMonitor(sim, options): the edge between a running simulation and its user, put
 * together from the parts that each do one job:
 *  - the run log (src/monitor/log-events.ts), with or without a terminal;
 *  - on a terminal (interactive): the terminal (./terminal.ts) shows renderDashboard(), redrawn
 *    in place every --refresh seconds, and passes keys to the controls;
 *  - otherwise: one logfmt line per cycle on stderr, banners and notices as plain lines;
 *  - signals either way, and keys, through the controls (./controls.ts);
 *  - memory warnings, at most once a minute (src/monitor/memory.ts).
 * See docs/operations.md.
 */
import { formatCycleLine } from '../monitor/cycle-line.ts';
import { breakerBanner, renderDashboard } from '../monitor/dashboard.ts';
import { evaluateThresholds, thresholdFigures, type Threshold } from '../thresholds/thresholds.ts';
import { logSimulationEvents } from '../monitor/log-events.ts';
import { calendarWeights, createRateWindow, etaSeconds, type WindowRates } from '../monitor/live-rates.ts';
import type { Persona } from '../model/types.ts';
import type { Logger } from '../monitor/logger.ts';
import { memoryWarnings, readMemory as defaultReadMemory, type MemoryReading } from '../monitor/memory.ts';
import type { CycleReport, SimulationStats } from '../model/run.ts';
import type { Simulation } from '../simulation/types.ts';
import { createControls, type SignalSource } from './controls.ts';
import { openTerminal, type ExitHooks, type InLike, type OutLike, type Terminal } from './terminal.ts';

export interface AttachOptions {
  /** The run's personas: expected work per simulated hour for the ETA (absent: every cycle counts the same). */
  personas?: readonly Persona[];
  stdout: OutLike;
  stderr: OutLike;
  /** Keys are read from it when interactive and it is a TTY. */
  stdin?: InLike;
  /** Dashboard on stdout (a terminal, and not --json). */
  interactive: boolean;
  /** Dashboard redraw period, seconds (--refresh). */
  refreshSeconds: number;
  color: boolean;
  memoryWarningMb: number;
  /** ISO 4217 code of the money shown (default USD). */
  currency?: string;
  /** What the simulation does when the breaker opens (only changes the hints shown). */
  breakerAction: 'exit' | 'wait';
  logger?: Logger;
  /** The SIGINT/SIGTERM/SIGUSR1/SIGUSR2 source: true or absent the process, false none. */
  signals?: boolean | SignalSource;
  /** Where the terminal hears of the process's exit or crash (default process). */
  exitHooks?: ExitHooks;
  /** Use the alternate screen for the dashboard (default true). */
  alternateScreen?: boolean;
  /** Forced exit (second Ctrl-C / signal). Default process.exit. */
  exit?: (code: number) => void;
  readMemory?: () => MemoryReading;
  /** --threshold expressions: their results on the figures so far are a dashboard line. */
  thresholds?: readonly Threshold[];
}

export interface MonitorHandle {
  /** Stops redrawing, restores the terminal, removes the signal handlers. Idempotent. */
  detach(): void;
  /** The exit code a user action asked for: q → 0, SIGINT / Ctrl-C → 130, SIGTERM → 143; else null. */
  requestedExitCode(): number | null;
  /** A message for the user: a dashboard notice on a terminal, a stderr line otherwise. */
  notify(message: string): void;
  /** Redraws now (interactive only). */
  redraw(): void;
}

/** Notices kept under the dashboard. */
const NOTICES = 6;

export function attachMonitor(sim: Simulation, options: AttachOptions): MonitorHandle {
  const { stdout, stderr, logger, interactive } = options;
  const readMemory = options.readMemory ?? (() => defaultReadMemory());
  const forceExit = options.exit ?? ((code: number) => process.exit(code));
  const signals: SignalSource | undefined = options.signals === false ? undefined : options.signals === true || options.signals === undefined ? process : options.signals;
  const memoryWarningDue = memoryWarnings(options.memoryWarningMb);
  const notices: string[] = [];
  // Rates over the last 30 s of wall-clock time; a pause restarts the window (no decay).
  const rateWindow = createRateWindow(30_000);
  const weights = options.personas ? calendarWeights(options.personas, sim.config.startMs, sim.config.cycles) : undefined;
  function live(stats: SimulationStats): { rates: WindowRates; etaSeconds: number | null } {
    const now = Date.now();
    const paused = stats.status === 'paused' || stats.status === 'breaker_open';
    if (paused) rateWindow.clear();
    else {
      const m = stats.metrics;
      const num = (k: string, d: number) => (typeof m[k] === 'number' ? (m[k] as number) : d);
      rateWindow.add({ atMs: now, requests: num('requests', stats.totals.calls), calls: num('calls', stats.totals.calls), errors: num('errors', stats.totals.failed), sessions: stats.totals.sessions });
    }
    return { rates: rateWindow.rates(now, paused), etaSeconds: etaSeconds(stats.cyclesCompleted, stats.totalCycles, stats.realElapsedSeconds, weights) };
  }
  let detached = false;
  let lastBreakerTrips = -1;
  let timer: NodeJS.Timeout | null = null;

  const stamp = () => new Date().toISOString().slice(11, 19);

  function currentMemory(): MemoryReading | null {
    try {
      return readMemory();
    } catch {
      return null;
    }
  }

  function checkMemory(memory: MemoryReading | null): void {
    if (!memory) return;
    const warning = memoryWarningDue(memory, Date.now());
    if (!warning) return;
    logger?.warn({ event: 'memory', ...memory }, warning);
    if (!interactive) stderr.write(`shopsim: ${warning}\n`);
  }

  function notify(message: string): void {
    logger?.info({ event: 'notice' }, message);
    if (interactive) {
      notices.push(`${stamp()} ${message}`);
      if (notices.length > NOTICES) notices.splice(0, notices.length - NOTICES);
      redraw();
    } else {
      stderr.write(`shopsim: ${message}\n`);
    }
  }

  // Opened before the controls: whether keys work changes what the pause notice says.
  const terminal: Terminal | null = interactive
    ? openTerminal({
        stdout,
        ...(options.stdin ? { stdin: options.stdin } : {}),
        ...(options.alternateScreen !== undefined ? { alternateScreen: options.alternateScreen } : {}),
        ...(options.exitHooks ? { exitHooks: options.exitHooks } : {}),
      })
    : null;
  const keys = terminal?.keys ?? false;

  const controls = createControls(sim, {
    notify,
    logger,
    keys,
    signals,
    readMemory: currentMemory,
    forceExit(code, reason) {
      // Back to the main screen first, so the reason is seen.
      terminal?.restore();
      stderr.write(`shopsim: ${reason}\n`);
      forceExit(code);
    },
  });

  function redraw(): void {
    if (!terminal || detached) return;
    let stats: SimulationStats;
    try {
      stats = sim.stats();
    } catch {
      return;
    }
    const memory = currentMemory();
    checkMemory(memory);
    const frame = renderDashboard(
      { stats, memory, memoryWarningMb: options.memoryWarningMb, warmupCycles: sim.config.warmupCycles, keys, notices, statusOverride: controls.statusOverride(), live: live(stats), ...(options.currency ? { currency: options.currency } : {}),
        ...(options.thresholds?.length ? { thresholds: evaluateThresholds(options.thresholds, thresholdFigures(stats)) } : {}) },
      { width: Math.min(terminal.columns(), 100), height: terminal.rows(), color: options.color },
    );
    terminal.draw(frame);
  }

  // The log records come first, then what the user sees (as before the split).
  const stopLogging = logger ? logSimulationEvents(sim, logger, { readMemory: currentMemory }) : () => {};
  const onCycle = (r: CycleReport) => {
    const memory = currentMemory();
    checkMemory(memory);
    if (!interactive) {
      const stats = sim.stats();
      stderr.write(`${formatCycleLine(r, stats, memory, live(stats))}\n`);
    }
  };
  const onBreaker = (stats: SimulationStats) => {
    if (stats.breaker.trips === lastBreakerTrips) return;
    lastBreakerTrips = stats.breaker.trips;
    if (interactive) {
      redraw();
      return;
    }
    const hint =
      options.breakerAction === 'wait'
        ? `The run is paused: send SIGUSR2 to resume (kill -USR2 ${process.pid}), SIGTERM to stop with a checkpoint.`
        : 'Writing a checkpoint and exiting (exit code 3); continue later with: shopsim run --resume';
    for (const line of breakerBanner(stats, hint)) stderr.write(`shopsim: ${line}\n`);
  };
  const onCheckpoint = (c: { path: string; trigger: string; cycle: number }) => {
    notify(`checkpoint (${c.trigger}, cycle ${c.cycle}) written: ${c.path}`);
  };
  const onCheckpointFailed = (f: { trigger: string; cycle: number; message: string; inARow: number; limit: number }) => {
    const next = f.inARow >= f.limit ? `${f.limit} in a row: stopping the run (exit 4); the last good checkpoint is kept` : 'retrying at the next cycle; the last good checkpoint is kept';
    notify(`warning: checkpoint (${f.trigger}, cycle ${f.cycle}) could not be written: ${f.message}; ${next}`);
  };
  const onStarted = () => redraw();
  const onControl = () => redraw();
  sim.events.on('cycle', onCycle);
  sim.events.on('breaker-open', onBreaker);
  sim.events.on('checkpoint', onCheckpoint);
  sim.events.on('checkpoint-failed', onCheckpointFailed);
  sim.events.on('started', onStarted);
  sim.events.on('control', onControl);

  if (terminal) {
    terminal.readKeys((text) => controls.keys(text));
    timer = setInterval(redraw, Math.max(100, options.refreshSeconds * 1000));
    timer.unref();
    redraw();
  }

  return {
    detach() {
      if (detached) return;
      detached = true;
      if (timer) clearInterval(timer);
      stopLogging();
      sim.events.off('cycle', onCycle);
      sim.events.off('breaker-open', onBreaker);
      sim.events.off('checkpoint', onCheckpoint);
      sim.events.off('checkpoint-failed', onCheckpointFailed);
      sim.events.off('started', onStarted);
      sim.events.off('control', onControl);
      controls.close();
      terminal?.close();
    },
    requestedExitCode: () => controls.requestedExitCode(),
    notify,
    redraw,
  };
}
