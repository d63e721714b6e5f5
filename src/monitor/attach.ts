/**
 * attachMonitor(sim, options): the edge between a running simulation and its user.
 *  - On a terminal (interactive): redraws renderDashboard() in place every --refresh seconds
 *    on the alternate screen, and reads keys in raw mode: p pause, r resume (also closes an
 *    open breaker), c checkpoint now, s stats line, q graceful quit, Ctrl-C graceful stop
 *    (a second one forces the exit). The terminal is always restored: on detach, on exit
 *    and on an uncaught exception.
 *  - Otherwise: one logfmt line per cycle on stderr, banners and notices as plain lines.
 *  - Signals either way: SIGINT / SIGTERM graceful stop (exit 130 / 143; a second one forces
 *    the exit), SIGUSR1 checkpoint now, SIGUSR2 toggle pause (and resume an open breaker).
 */
import type { CycleReport, Simulation, SimulationStats } from '../simulation/create-simulation.ts';
import { formatCycleLine, formatStatsLine } from './cycle-line.ts';
import { breakerBanner, renderDashboard } from './dashboard.ts';
import type { Logger } from './logger.ts';
import { memoryWarning, readMemory as defaultReadMemory, type MemoryReading } from './memory.ts';

export interface OutLike {
  write(s: string): boolean;
  isTTY?: boolean;
  columns?: number;
}

export interface InLike {
  isTTY?: boolean;
  setRawMode?(mode: boolean): unknown;
  on(event: 'data', fn: (chunk: Buffer | string) => void): unknown;
  off(event: 'data', fn: (chunk: Buffer | string) => void): unknown;
  resume(): unknown;
  pause(): unknown;
  setEncoding?(enc: BufferEncoding): unknown;
}

export interface AttachOptions {
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
  /** What the simulation does when the breaker opens (only changes the hints shown). */
  breakerAction: 'exit' | 'wait';
  logger?: Logger;
  /** Installs the SIGINT/SIGTERM/SIGUSR1/SIGUSR2 handlers (default true). */
  signals?: boolean;
  /** Use the alternate screen for the dashboard (default true). */
  alternateScreen?: boolean;
  /** Forced exit (second Ctrl-C / signal). Default process.exit. */
  exit?: (code: number) => void;
  readMemory?: () => MemoryReading;
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

const CSI = '\u001b[';
const ALT_ON = `${CSI}?1049h`;
const ALT_OFF = `${CSI}?1049l`;
const HIDE_CURSOR = `${CSI}?25l`;
const SHOW_CURSOR = `${CSI}?25h`;

const SIGNAL_EXIT: Record<string, number> = { SIGINT: 130, SIGTERM: 143 };

export function attachMonitor(sim: Simulation, options: AttachOptions): MonitorHandle {
  const { stdout, stderr, logger } = options;
  const interactive = options.interactive;
  const stdin = options.stdin;
  const keys = interactive && stdin?.isTTY === true && typeof stdin.setRawMode === 'function';
  const alt = options.alternateScreen !== false;
  const readMemory = options.readMemory ?? (() => defaultReadMemory());
  const forceExit = options.exit ?? ((code: number) => process.exit(code));
  const notices: string[] = [];
  let requestedExit: number | null = null;
  let statusOverride: string | null = null;
  let detached = false;
  let rawOn = false;
  let screenOn = false;
  let lastBreakerTrips = -1;
  let lastMemoryWarnAt = -Infinity;
  let timer: NodeJS.Timeout | null = null;

  const stamp = () => new Date().toISOString().slice(11, 19);

  function notify(message: string): void {
    logger?.info({ event: 'notice' }, message);
    if (interactive) {
      notices.push(`${stamp()} ${message}`);
      if (notices.length > 6) notices.splice(0, notices.length - 6);
      redraw();
    } else {
      stderr.write(`shopsim: ${message}\n`);
    }
  }

  function currentMemory(): MemoryReading | null {
    try {
      return readMemory();
    } catch {
      return null;
    }
  }

  function checkMemory(memory: MemoryReading | null): void {
    if (!memory) return;
    const warning = memoryWarning(memory, options.memoryWarningMb);
    if (!warning) return;
    const now = Date.now();
    if (now - lastMemoryWarnAt < 60_000) return;
    lastMemoryWarnAt = now;
    logger?.warn({ event: 'memory', ...memory }, warning);
    if (!interactive) stderr.write(`shopsim: ${warning}\n`);
  }

  function redraw(): void {
    if (!interactive || detached) return;
    let stats: SimulationStats;
    try {
      stats = sim.stats();
    } catch {
      return;
    }
    const memory = currentMemory();
    checkMemory(memory);
    const frame = renderDashboard(
      { stats, memory, memoryWarningMb: options.memoryWarningMb, warmupCycles: sim.config.warmupCycles, keys, notices, statusOverride },
      { width: Math.min(stdout.columns ?? 80, 100), color: options.color },
    );
    stdout.write(`${CSI}H${frame.split('\n').join(`${CSI}K\n`)}${CSI}K\n${CSI}J`);
  }

  function restoreTerminal(): void {
    if (rawOn && stdin?.setRawMode) {
      try {
        stdin.setRawMode(false);
      } catch {
        // the terminal is gone
      }
      rawOn = false;
    }
    if (screenOn) {
      stdout.write(`${SHOW_CURSOR}${alt ? ALT_OFF : ''}`);
      screenOn = false;
    }
  }

  // --- actions shared by keys and signals -------------------------------------------------
  function pause(source: string): void {
    const s = sim.stats();
    if (s.status === 'paused' || s.status === 'stopping' || s.status === 'stopped') return;
    sim.pause();
    notify(`paused (${source}): the running cycle finishes, no new cycle starts; ${keys ? 'r resumes' : 'SIGUSR2 resumes'}`);
  }

  function resume(source: string): void {
    const s = sim.stats();
    if (s.status !== 'paused' && s.status !== 'breaker_open') return;
    sim.resume();
    notify(s.status === 'breaker_open' ? `circuit breaker closed, resumed (${source})` : `resumed (${source})`);
  }

  function togglePause(source: string): void {
    const s = sim.stats();
    if (s.status === 'paused' || s.status === 'breaker_open') resume(source);
    else pause(source);
  }

  function checkpoint(source: string): void {
    notify(`checkpoint requested (${source}): written at the next cycle boundary`);
    sim.checkpointNow().then(
      (path) => {
        if (path) {
          logger?.info({ event: 'checkpoint', trigger: 'manual', path }, 'checkpoint written');
          notify(`checkpoint written: ${path}`);
        } else {
          notify('no checkpoint written: checkpoints are not available for this run');
        }
      },
      (err: unknown) => {
        logger?.error({ event: 'checkpoint', err }, 'checkpoint failed');
        notify(`checkpoint failed: ${err instanceof Error ? err.message : String(err)}`);
      },
    );
  }

  function gracefulStop(code: number, source: string): void {
    if (requestedExit !== null && code !== 0) {
      logger?.warn({ event: 'force-exit', source }, 'forced exit');
      restoreTerminal();
      stderr.write(`shopsim: ${source} again: exiting now without a final checkpoint\n`);
      forceExit(code);
      return;
    }
    if (requestedExit !== null) return;
    requestedExit = code;
    statusOverride = code === 0 ? 'QUITTING' : 'STOPPING';
    logger?.info({ event: 'stop', source, exitCode: code }, 'graceful stop requested');
    sim.stop();
    notify(`${source}: finishing the running cycle, writing a final checkpoint, then exiting` + (code === 0 ? '' : ` (${source} again forces the exit)`));
  }

  // --- keys -------------------------------------------------------------------------------
  function onKey(chunk: Buffer | string): void {
    const text = typeof chunk === 'string' ? chunk : chunk.toString('utf8');
    for (const ch of text) {
      switch (ch) {
        case 'p':
        case 'P':
          pause('p');
          break;
        case 'r':
        case 'R':
          resume('r');
          break;
        case 'c':
        case 'C':
          checkpoint('c');
          break;
        case 's':
        case 'S': {
          const line = formatStatsLine(sim.stats(), currentMemory());
          logger?.info({ event: 'stats' }, line);
          notify(line);
          break;
        }
        case 'q':
        case 'Q':
          gracefulStop(0, 'q');
          break;
        case '\u0003':
          gracefulStop(130, 'Ctrl-C');
          break;
        default:
          break;
      }
    }
  }

  // --- signals ------------------------------------------------------------------------------
  const signalHandlers: [NodeJS.Signals, () => void][] = [];
  if (options.signals !== false) {
    signalHandlers.push(['SIGINT', () => gracefulStop(SIGNAL_EXIT['SIGINT'] as number, 'SIGINT')]);
    signalHandlers.push(['SIGTERM', () => gracefulStop(SIGNAL_EXIT['SIGTERM'] as number, 'SIGTERM')]);
    if (process.platform !== 'win32') {
      // A SIGUSR1 listener also keeps Node from opening its debugger on that signal.
      signalHandlers.push(['SIGUSR1', () => checkpoint('SIGUSR1')]);
      signalHandlers.push(['SIGUSR2', () => togglePause('SIGUSR2')]);
    }
    for (const [sig, fn] of signalHandlers) process.on(sig, fn);
  }

  // --- simulation events --------------------------------------------------------------------
  const onCycle = (r: CycleReport) => {
    const stats = sim.stats();
    const memory = currentMemory();
    logger?.info(
      {
        event: 'cycle',
        cycle: r.cycle,
        simulatedTime: r.simulatedTime,
        active: r.active,
        sessions: r.totals.sessions,
        checkouts: r.totals.checkouts,
        abandoned: r.totals.abandoned,
        failed: r.totals.failed,
        threshold: r.threshold,
        events: r.totals.events,
        durationSeconds: r.durationSeconds,
        lagSeconds: r.lagSeconds,
        rssMb: memory?.rssMb,
        digest: r.digest,
      },
      'cycle complete',
    );
    if (r.totals.failed > 0) {
      logger?.error({ event: 'agent-failures', cycle: r.cycle, failed: r.totals.failed, threshold: r.threshold, samples: r.totals.failureSamples }, `${r.totals.failed} agents failed in cycle ${r.cycle}`);
    }
    checkMemory(memory);
    if (!interactive) stderr.write(`${formatCycleLine(r, stats, memory)}\n`);
  };
  const onBreaker = (stats: SimulationStats) => {
    if (stats.breaker.trips === lastBreakerTrips) return;
    lastBreakerTrips = stats.breaker.trips;
    logger?.error(
      { event: 'breaker-open', cycle: stats.cyclesCompleted, failures: stats.breaker.lastCycleFailures, threshold: stats.breaker.threshold, samples: stats.lastCycle?.totals.failureSamples ?? [] },
      'circuit breaker open',
    );
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
    logger?.info({ event: 'checkpoint', ...c }, 'checkpoint written');
    notify(`checkpoint (${c.trigger}, cycle ${c.cycle}) written: ${c.path}`);
  };
  const onStarted = (info: { startupSeconds: number }) => {
    logger?.info({ event: 'started', ...info, config: sim.config }, 'simulation started');
    redraw();
  };
  const onControl = () => redraw();
  sim.events.on('cycle', onCycle);
  sim.events.on('breaker-open', onBreaker);
  sim.events.on('checkpoint', onCheckpoint);
  sim.events.on('started', onStarted);
  sim.events.on('control', onControl);

  // --- terminal -------------------------------------------------------------------------------
  const onExit = () => restoreTerminal();
  const onCrash = () => restoreTerminal();
  if (interactive) {
    process.on('exit', onExit);
    process.on('uncaughtExceptionMonitor', onCrash);
    stdout.write(`${alt ? ALT_ON : ''}${HIDE_CURSOR}${CSI}2J`);
    screenOn = true;
    if (keys && stdin) {
      stdin.setRawMode?.(true);
      rawOn = true;
      stdin.setEncoding?.('utf8');
      stdin.on('data', onKey);
      stdin.resume();
    }
    timer = setInterval(redraw, Math.max(100, options.refreshSeconds * 1000));
    timer.unref();
    redraw();
  }

  return {
    detach() {
      if (detached) return;
      detached = true;
      if (timer) clearInterval(timer);
      sim.events.off('cycle', onCycle);
      sim.events.off('breaker-open', onBreaker);
      sim.events.off('checkpoint', onCheckpoint);
      sim.events.off('started', onStarted);
      sim.events.off('control', onControl);
      for (const [sig, fn] of signalHandlers) process.off(sig, fn);
      if (keys && stdin) {
        stdin.off('data', onKey);
        stdin.pause();
      }
      restoreTerminal();
      process.off('exit', onExit);
      process.off('uncaughtExceptionMonitor', onCrash);
    },
    requestedExitCode: () => requestedExit,
    notify,
    redraw,
  };
}
