/**
 * Structured run logs (pino): everything at info (debug with --debug) to
 * data/logs/simulation.log, errors also to data/logs/simulation_errors.log (the seed's file).
 * Logs never go to stdout (it belongs to the summary / --json). Secrets are never written:
 * credentials inside URLs are masked in every string, and secret-looking keys are censored.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import pino, { type Logger } from 'pino';

export type { Logger } from 'pino';

export interface RunLoggerOptions {
  /** Directory of the log files (created if missing). Default data/logs. */
  dir?: string;
  debug?: boolean;
}

export interface RunLogger {
  logger: Logger;
  files: { log: string; errors: string };
  /** Flushes the files. */
  close(): void;
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
  mkdirSync(dir, { recursive: true });
  const files = { log: join(dir, 'simulation.log'), errors: join(dir, 'simulation_errors.log') };
  // Synchronous appends: a handful of lines per cycle, and nothing is lost when the CLI
  // ends the process right after the run (see src/cli/main.ts).
  const all = pino.destination({ dest: files.log, sync: true, append: true });
  const errors = pino.destination({ dest: files.errors, sync: true, append: true });
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
    close() {
      try {
        all.flushSync();
        errors.flushSync();
      } catch {
        // already closed
      }
    },
  };
}
