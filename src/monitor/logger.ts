/**
 * Structured run logs (pino): everything at info (debug with --debug) to
 * data/logs/simulation.log, errors also to data/logs/simulation_errors.log (the seed's file),
 * each rotated by size (--log-max-size, --log-keep).
 * Logs never go to stdout (it belongs to the summary / --json). Secrets are never written:
 * credentials inside URLs are masked in every string, and secret-looking keys are censored.
 */
import { closeSync, mkdirSync, openSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import pino, { type Logger } from 'pino';
import { createStream } from 'rotating-file-stream';
import { inputError } from '../errors.ts';

export type { Logger } from 'pino';

export interface RunLoggerOptions {
  /** Directory of the log files (created if missing). Default data/logs. */
  dir?: string;
  debug?: boolean;
  /** Rotate a file when it reaches this size (rotating-file-stream's syntax: `10M`). Default 10M. */
  maxSize?: string;
  /** Rotated files kept per log file. Default 5. */
  keep?: number;
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
  /** Writes out what is buffered and closes the files. */
  close(): Promise<void>;
}

/**
 * A log file destination for pino, rotated by size (rotating-file-stream, the classical
 * logrotate scheme: at `size` the file becomes `NAME.1`, `NAME.1` becomes `NAME.2`… and the
 * oldest beyond `keep` is dropped), that never throws: a write or rotation that fails (a full
 * disk, a removed directory) drops the line and the ones after it, counts them and tells
 * `onError` once. Writes are asynchronous: `end()` resolves once what was written is on disk.
 */
export function rotatingFileDestination(file: string, rotation: { size: string; keep: number }, onError: (err: unknown) => void = () => {}) {
  // Opened once here, synchronously: a file that cannot be created is said before the run starts.
  closeSync(openSync(file, 'a'));
  const stream = createStream(basename(file), { path: dirname(file), size: rotation.size, rotate: rotation.keep });
  let dropped = 0;
  let failed = false;
  stream.on('error', (err) => {
    if (!failed) {
      failed = true;
      onError(err);
    }
  });
  // Non-blocking problems of the library (a rotated file it could not remove): not the run's concern.
  stream.on('warning', () => {});
  return {
    write(line: string): boolean {
      if (failed || stream.destroyed || stream.writableEnded) {
        dropped++;
        return true;
      }
      stream.write(line, (err) => {
        if (err) dropped++;
      });
      return true;
    },
    end(): Promise<void> {
      if (failed || stream.destroyed || stream.writableEnded) return Promise.resolve();
      return new Promise((resolve) => {
        stream.once('error', () => resolve());
        stream.end(() => resolve());
      });
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
  let all: ReturnType<typeof rotatingFileDestination>;
  let errors: ReturnType<typeof rotatingFileDestination>;
  const rotation = { size: options.maxSize ?? '10M', keep: options.keep ?? 5 };
  const onWriteError = options.onWriteError ?? (() => {});
  // Opened at start: a log directory that cannot be written is bad input (exit 2) before the run.
  try {
    mkdirSync(dir, { recursive: true });
    all = rotatingFileDestination(files.log, rotation, (err) => onWriteError(files.log, err));
    errors = rotatingFileDestination(files.errors, rotation, (err) => onWriteError(files.errors, err));
  } catch (err) {
    throw inputError(`log directory ${dir}: cannot write the log files there (${(err as NodeJS.ErrnoException).code ?? String(err)})`, err);
  }
  // A handful of lines per cycle; close() waits for them, so nothing is lost when the CLI ends
  // the process right after the run (see src/cli/main.ts). Never throws (rotatingFileDestination).
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
    async close() {
      await Promise.all([all.end(), errors.end()]);
    },
  };
}
