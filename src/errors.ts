/**
 * One family of errors, like slonik's packages/errors: everything shopsim raises on purpose is a
 * ShopsimError with a stable `code` (for scripts and tests), the `cause` it wraps, and the
 * `exitCode` the CLI exits with. Subclasses add the context of their room:
 * StoreCallError (src/store/store-error.ts), StoreRuleError (src/model/store-rules.ts) and
 * CheckpointError (here).
 */
export type ShopsimErrorCode =
  /** Bad user input: a flag, an env var, a config or data file. */
  | 'E_INPUT'
  | 'E_CHECKPOINT'
  | 'E_DATABASE'
  /** A store call that failed (5xx, timeout, network): the shopper's failure path. */
  | 'E_STORE_FAILED'
  /** A store call the store refused (4xx): the shopper goes on. */
  | 'E_STORE_REJECTED'
  /** A request the reference store refuses by its rules (server side of E_STORE_REJECTED). */
  | 'E_STORE_RULE';

export interface ShopsimErrorOptions {
  cause?: unknown;
  /** Default 2 (bad input). */
  exitCode?: number;
}

export class ShopsimError extends Error {
  readonly code: ShopsimErrorCode;
  readonly exitCode: number;

  constructor(code: ShopsimErrorCode, message: string, options: ShopsimErrorOptions = {}) {
    // No own `cause` property when there is none, so a logged error stays small.
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'ShopsimError';
    this.code = code;
    this.exitCode = options.exitCode ?? 2;
  }
}

/** A checkpoint that cannot be read, parsed or used; the message starts with its file. Exit 2. */
export class CheckpointError extends ShopsimError {
  readonly file: string;

  constructor(file: string, problem: string, options: { cause?: unknown } = {}) {
    super('E_CHECKPOINT', `checkpoint ${file}: ${problem}`, { cause: options.cause, exitCode: 2 });
    this.name = 'CheckpointError';
    this.file = file;
  }
}

/** Bad user input: a flag, an env var, a config or data file. The CLI prints the message and exits 2. */
export function inputError(message: string, cause?: unknown): ShopsimError {
  return new ShopsimError('E_INPUT', message, { cause, exitCode: 2 });
}

export function isShopsimError(err: unknown): err is ShopsimError {
  return err instanceof ShopsimError;
}

/** One line, whatever the error: used wherever an error meets a human. */
export function oneLine(err: unknown): string {
  const msg = err instanceof Error ? err.message : String(err);
  return msg.replace(/\s*\n\s*/g, ' ').trim();
}
