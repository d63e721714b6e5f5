/**
 * Every error shopsim raises on purpose carries a stable `code` (for scripts and tests)
 * and, when it wraps another error, a `cause`. `exitCode` is what the CLI exits with.
 */
export type ShopsimErrorCode =
  | 'E_CONFIG'
  | 'E_INPUT'
  | 'E_PERSONAS'
  | 'E_PRODUCTS'
  | 'E_CHECKPOINT'
  | 'E_DATABASE'
  | 'E_STORE'
  | 'E_STORE_REJECTED'
  | 'E_UNSUPPORTED'
  | 'E_INTERNAL';

export class ShopsimError extends Error {
  readonly code: ShopsimErrorCode;
  readonly exitCode: number;

  constructor(code: ShopsimErrorCode, message: string, options: { cause?: unknown; exitCode?: number } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'ShopsimError';
    this.code = code;
    this.exitCode = options.exitCode ?? 2;
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
