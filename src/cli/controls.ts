/**
 * Keys and process signals, mapped to what a user may do to a running simulation: pause,
 * resume (which also closes an open breaker), checkpoint now, a stats line, and a graceful
 * stop whose exit code the command returns (q 0, SIGINT / Ctrl-C 130, SIGTERM 143). A second
 * stop request asks for an immediate exit through forceExit: ending the process is the
 * caller's decision, made in one place.
 *
 *   keys     p pause · r resume · c checkpoint · s stats · q quit · Ctrl-C stop
 *   signals  SIGINT / SIGTERM stop · SIGUSR1 checkpoint · SIGUSR2 toggle pause
 */
import { formatStatsLine } from '../monitor/cycle-line.ts';
import type { Logger } from '../monitor/logger.ts';
import type { MemoryReading } from '../monitor/memory.ts';
import type { SimulationStats } from '../model/run.ts';

/** What the controls steer. A Simulation is one. */
export interface RunControls {
  pause(): void;
  resume(): void;
  stop(): void;
  checkpointNow(): Promise<string | null>;
  stats(): SimulationStats;
}

/** Where signals come from (the real `process` in the CLI). */
export interface SignalSource {
  on(signal: NodeJS.Signals, fn: () => void): unknown;
  off(signal: NodeJS.Signals, fn: () => void): unknown;
}

export interface ControlsOptions {
  /** Tells the user (and the log) what happened. */
  notify(message: string): void;
  logger?: Logger | undefined;
  /** Whether keys are read: the pause notice names `r` or SIGUSR2. */
  keys: boolean;
  /** Installs the SIGINT / SIGTERM (and SIGUSR1 / SIGUSR2) handlers on it; none when absent. */
  signals?: SignalSource | undefined;
  /** SIGUSR1 / SIGUSR2 exist (not on Windows). Default: not win32. */
  userSignals?: boolean;
  /** A second stop request: end the process now with code; reason is the line for the user. */
  forceExit(code: number, reason: string): void;
  /** Memory figures for the stats line. */
  readMemory?: () => MemoryReading | null;
}

export interface Controls {
  /** Handles typed text: each known key in it, in order. */
  keys(text: string): void;
  /** The exit code a stop asked for (q 0, SIGINT / Ctrl-C 130, SIGTERM 143), else null. */
  requestedExitCode(): number | null;
  /** QUITTING after q, STOPPING after a signal or Ctrl-C, else null: the status to show. */
  statusOverride(): string | null;
  /** Removes the signal handlers. Idempotent. */
  close(): void;
}

const SIGNAL_EXIT = { SIGINT: 130, SIGTERM: 143 } as const;

export function createControls(target: RunControls, options: ControlsOptions): Controls {
  const { notify, logger } = options;
  const readMemory = options.readMemory ?? (() => null);
  let requestedExit: number | null = null;

  function pause(source: string): void {
    const s = target.stats();
    if (s.status === 'paused' || s.status === 'stopping' || s.status === 'stopped') return;
    target.pause();
    notify(`paused (${source}): the running cycle finishes, no new cycle starts; ${options.keys ? 'r resumes' : 'SIGUSR2 resumes'}`);
  }

  function resume(source: string): void {
    const s = target.stats();
    if (s.status !== 'paused' && s.status !== 'breaker_open') return;
    target.resume();
    notify(s.status === 'breaker_open' ? `circuit breaker closed, resumed (${source})` : `resumed (${source})`);
  }

  function togglePause(source: string): void {
    const s = target.stats();
    if (s.status === 'paused' || s.status === 'breaker_open') resume(source);
    else pause(source);
  }

  function checkpoint(source: string): void {
    notify(`checkpoint requested (${source}): written at the next cycle boundary`);
    target.checkpointNow().then(
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

  function stats(): void {
    const line = formatStatsLine(target.stats(), readMemory());
    logger?.info({ event: 'stats' }, line);
    notify(line);
  }

  function gracefulStop(code: number, source: string): void {
    if (requestedExit !== null && code !== 0) {
      logger?.warn({ event: 'force-exit', source }, 'forced exit');
      options.forceExit(code, `${source} again: exiting now without a final checkpoint`);
      return;
    }
    if (requestedExit !== null) return;
    requestedExit = code;
    logger?.info({ event: 'stop', source, exitCode: code }, 'graceful stop requested');
    target.stop();
    notify(`${source}: finishing the running cycle, writing a final checkpoint, then exiting` + (code === 0 ? '' : ` (${source} again forces the exit)`));
  }

  function key(ch: string): void {
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
      case 'S':
        stats();
        break;
      case 'q':
      case 'Q':
        gracefulStop(0, 'q');
        break;
      case '\u0003': // Ctrl-C: raw mode delivers it as a key, not as SIGINT
        gracefulStop(130, 'Ctrl-C');
        break;
      default:
        break;
    }
  }

  const handlers: [NodeJS.Signals, () => void][] = [];
  const signals = options.signals;
  if (signals) {
    handlers.push(['SIGINT', () => gracefulStop(SIGNAL_EXIT.SIGINT, 'SIGINT')]);
    handlers.push(['SIGTERM', () => gracefulStop(SIGNAL_EXIT.SIGTERM, 'SIGTERM')]);
    if (options.userSignals ?? process.platform !== 'win32') {
      // A SIGUSR1 listener also keeps Node from opening its debugger on that signal.
      handlers.push(['SIGUSR1', () => checkpoint('SIGUSR1')]);
      handlers.push(['SIGUSR2', () => togglePause('SIGUSR2')]);
    }
    for (const [sig, fn] of handlers) signals.on(sig, fn);
  }

  return {
    keys(text) {
      for (const ch of text) key(ch);
    },
    requestedExitCode: () => requestedExit,
    statusOverride: () => (requestedExit === null ? null : requestedExit === 0 ? 'QUITTING' : 'STOPPING'),
    close() {
      if (!signals) return;
      for (const [sig, fn] of handlers.splice(0)) signals.off(sig, fn);
    },
  };
}
