/**
 * A store call that did not succeed. `kind: 'rejected'` is a business refusal the shopper
 * can live with (4xx: invalid coupon, empty cart); `kind: 'failed'` (5xx, timeout, network)
 * sends the session down its failure path. `calls` counts the calls the step had made.
 */
export class StoreCallError extends Error {
  readonly kind: 'rejected' | 'failed';
  readonly status: number | null;
  readonly errorCode: string;
  calls: number;

  constructor(kind: 'rejected' | 'failed', message: string, opts: { status?: number | null; code?: string; calls?: number; cause?: unknown } = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = kind === 'rejected' ? 'StoreRejectedError' : 'StoreFailedError';
    this.kind = kind;
    this.status = opts.status ?? null;
    this.errorCode = opts.code ?? (kind === 'rejected' ? 'REJECTED' : 'STORE_FAILED');
    this.calls = opts.calls ?? 1;
  }
}

export function isStoreCallError(err: unknown): err is StoreCallError {
  return err instanceof StoreCallError;
}
