/**
 * The terminal while a dashboard is up: the alternate screen with the cursor hidden, frames
 * drawn in place, keys read in raw mode. Whatever ends the process (the run finishing, a
 * forced exit, a crash), the user gets their terminal back: restore() runs on close, on the
 * process's 'exit' and on 'uncaughtExceptionMonitor'. Knows nothing about the simulation.
 */

export interface OutLike {
  write(s: string): boolean;
  isTTY?: boolean;
  columns?: number;
  rows?: number;
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

/** Where the process announces its end (the real `process` in the CLI). */
export interface ExitHooks {
  on(event: 'exit' | 'uncaughtExceptionMonitor', fn: () => void): unknown;
  off(event: 'exit' | 'uncaughtExceptionMonitor', fn: () => void): unknown;
}

export interface TerminalOptions {
  stdout: OutLike;
  /** Keys are read from it when it is a TTY with raw mode. */
  stdin?: InLike;
  /** Draw on the alternate screen (default true), so the user's scrollback survives the run. */
  alternateScreen?: boolean;
  /** Default: process. */
  exitHooks?: ExitHooks;
}

export interface Terminal {
  /** Whether keys can be read: stdin is a TTY that has raw mode. */
  readonly keys: boolean;
  /** The terminal's width now (80 when it does not say). */
  columns(): number;
  /** The terminal's height now (24 when it does not say). */
  rows(): number;
  /** Replaces the previous frame, line by line, without clearing the screen first (no flicker). */
  draw(frame: string): void;
  /** Sends what the user types to fn, a key at a time or more, in raw mode. Once; no-op without keys. */
  readKeys(fn: (text: string) => void): void;
  /** Raw mode off, cursor shown, main screen back. Idempotent. */
  restore(): void;
  /** Stops reading keys, restores the terminal and removes the exit hooks. Idempotent. */
  close(): void;
}

const CSI = '\u001b[';
const ALT_ON = `${CSI}?1049h`;
const ALT_OFF = `${CSI}?1049l`;
const HIDE_CURSOR = `${CSI}?25l`;
const SHOW_CURSOR = `${CSI}?25h`;

/** Takes over the terminal now: alternate screen, hidden cursor, cleared. */
export function openTerminal(options: TerminalOptions): Terminal {
  const { stdout, stdin } = options;
  const alt = options.alternateScreen !== false;
  const hooks: ExitHooks = options.exitHooks ?? process;
  const keys = stdin?.isTTY === true && typeof stdin.setRawMode === 'function';
  let rawOn = false;
  let screenOn = false;
  let closed = false;
  let onData: ((chunk: Buffer | string) => void) | null = null;

  function restore(): void {
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

  hooks.on('exit', restore);
  hooks.on('uncaughtExceptionMonitor', restore);
  stdout.write(`${alt ? ALT_ON : ''}${HIDE_CURSOR}${CSI}2J`);
  screenOn = true;

  return {
    keys,
    columns: () => stdout.columns ?? 80,
    rows: () => stdout.rows ?? 24,
    draw(frame) {
      // Home, each line then erase-to-end-of-line, then erase below: the old frame's leftovers go.
      stdout.write(`${CSI}H${frame.split('\n').join(`${CSI}K\n`)}${CSI}K\n${CSI}J`);
    },
    readKeys(fn) {
      if (!keys || !stdin || onData || closed) return;
      onData = (chunk) => fn(typeof chunk === 'string' ? chunk : chunk.toString('utf8'));
      stdin.setRawMode?.(true);
      rawOn = true;
      stdin.setEncoding?.('utf8');
      stdin.on('data', onData);
      stdin.resume();
    },
    restore,
    close() {
      if (closed) return;
      closed = true;
      if (onData && stdin) {
        stdin.off('data', onData);
        stdin.pause();
      }
      restore();
      hooks.off('exit', restore);
      hooks.off('uncaughtExceptionMonitor', restore);
    },
  };
}
