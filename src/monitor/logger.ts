/**
 * Structured run logs (pino): everything at info (debug with --debug) to
 * data/logs/simulation.log, errors also to data/logs/simulation_errors.log (the seed's file).
 * Logs never go to stdout (it belongs to the summary / --json). Secrets are never written:
 * credentials inside URLs are masked in every string, and secret-looking keys are censored.
 */
import { closeSync, fsyncSync, mkdirSync, openSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import pino, { type Logger } from 'pino';
import { inputError } from '../errors.ts';

export type { Logger } from 'pino';

export interface RunLoggerOptions {
  /** Directory of the log files (created if missing). Default data/logs. */
  dir?: string;
  debug?: boolean;
  /**
   * Called once per file on its first failed write (a full disk, a removed directory): the
   * run goes on and later lines to that file are dropped. Log writes are never fatal.
   */
  onWriteError?: (file: string, err: unknown) => void;
}

export interface RunLogger {
  logger: Logger;
  files: { log: string; errors: string };
  /** Lines that could not be written (disk full…), per file. */
  dropped(): { log: number; errors: number };
  /** Flushes the files. */
  close(): void;
}

/**
 * An append-only file destination for pino that never throws: pino's synchronous destination
 * (sonic-boom) throws on ENOSPC from inside a log call, which ended runs at a full disk. Writes
 * are synchronous (nothing is lost when the CLI ends the process right after the run); a failed
 * write drops the line, counts it and tells `onError` once.
 */
export function safeFileDestination(file: string, onError: (err: unknown) => void = () => {}) {
  const fd = openSync(file, 'a');
  let dropped = 0;
  let open = true;
  return {
    write(line: string): boolean {
      if (!open) return true;
      try {
        const buf = Buffer.from(line, 'utf8');
        let off = 0;
        while (off < buf.length) off += writeSync(fd, buf, off, buf.length - off);
      } catch (err) {
        if (dropped++ === 0) onError(err);
      }
      return true;
    },
    flushSync(): void {
      try {
        fsyncSync(fd);
      } catch {
        // a full or gone disk: nothing more to do
      }
    },
    end(): void {
      if (!open) return;
      open = false;
      try {
        closeSync(fd);
      } catch {}
    },
    dropped: () => dropped,
  };
}

const SECRET_KEYS = ['password', 'passwd', 'secret', 'token', 'apiKey', 'api_key', 'authorization', 'cookie', 'databaseUrl', 'database_url', 'DATABASE_URL'];

/** `postgres://user:pw@host/db` → `postgres://***@host/db`, anywhere in a string. */
export function redactSecrets(s: string): string {
  return s
    .replace(/([a-z][a-z0-9+.-]*:\/\/)[^\s/@:]*(?::[^\s/@]*)?@/gi, '$1***@')
    .replace(/\b(password|passwd|pwd|token|api[_-]?key|secret)=([^\s&;]+)/gi, '$1=***');
}

/** Deep copy with every string passed through redactSecrets (depth-limited). */
export function redactDeep(value: unknown, depth = 0): unknown {
  if (typeof value === 'string') return redactSecrets(value);
  if (depth > 6 || value === null || typeof value !== 'object') return value;
  if (value instanceof Error) {
    return { type: value.name, message: redactSecrets(value.message), stack: value.stack ? redactSecrets(value.stack) : undefined, code: (value as { code?: unknown }).code };
  }
  if (Array.isArray(value)) return value.map((v) => redactDeep(v, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) out[k] = SECRET_KEYS.includes(k) && v !== null && v !== undefined ? '[redacted]' : redactDeep(v, depth + 1);
  return out;
}

export function createRunLogger(options: RunLoggerOptions = {}): RunLogger {
  const dir = options.dir ?? join('data', 'logs');
  const files = { log: join(dir, 'simulation.log'), errors: join(dir, 'simulation_errors.log') };
  let all: ReturnType<typeof safeFileDestination>;
  let errors: ReturnType<typeof safeFileDestination>;
  const onWriteError = options.onWriteError ?? (() => {});
  // Opened at start: a log directory that cannot be written is bad input (exit 2) before the run.
  try {
    mkdirSync(dir, { recursive: true });
    all = safeFileDestination(files.log, (err) => onWriteError(files.log, err));
    errors = safeFileDestination(files.errors, (err) => onWriteError(files.errors, err));
  } catch (err) {
    throw inputError(`log directory ${dir}: cannot write the log files there (${(err as NodeJS.ErrnoException).code ?? String(err)})`, err);
  }
  // Synchronous appends: a handful of lines per cycle, and nothing is lost when the CLI
  // ends the process right after the run (see src/cli/main.ts). Never throws (safeFileDestination).
  const level = options.debug ? 'debug' : 'info';
  const logger = pino(
    {
      level,
      base: { pid: process.pid },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { log: (obj) => redactDeep(obj) as Record<string, unknown> },
      hooks: {
        logMethod(args, method) {
          method.apply(
            this,
            args.map((a) => (typeof a === 'string' ? redactSecrets(a) : a)) as Parameters<typeof method>,
          );
        },
      },
    },
    pino.multistream([
      { level, stream: all },
      { level: 'error', stream: errors },
    ]),
  );
  return {
    logger,
    files,
    dropped: () => ({ log: all.dropped(), errors: errors.dropped() }),
    close() {
      all.flushSync();
      errors.flushSync();
    },
  };
}
