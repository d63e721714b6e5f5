import { ShopsimError } from '../errors.ts';

export type StoreCallKind = 'rejected' | 'failed';

export interface StoreCallErrorOptions {
  /** The HTTP status the store answered with; null when none arrived (timeout, network). */
  status?: number | null;
  /** The store's own error code (COUPON_EXPIRED, TIMEOUT…); default REJECTED or STORE_FAILED. */
  storeCode?: string;
  /** Store calls the step had made, this one included. Default 1. */
  calls?: number;
  cause?: unknown;
}

/**
 * A store call that did not succeed. `kind: 'rejected'` (code E_STORE_REJECTED) is a business
 * refusal the shopper can live with (4xx: invalid coupon, empty cart); `kind: 'failed'`
 * (E_STORE_FAILED: 5xx, timeout, network) sends the session down its failure path. The CLI
 * exits 1 if one ever reaches it, as it did before these were ShopsimErrors.
 */
export class StoreCallError extends ShopsimError {
  readonly kind: StoreCallKind;
  readonly status: number | null;
  readonly storeCode: string;
  /** Store calls the step had made when it failed, this one included. */
  readonly calls: number;
  /**
   * A store rule's answer (out of stock, coupon not valid, product gone, empty cart): a 4xx
   * refusal other than 400 (a malformed request is shopsim's fault, not the shop's answer).
   * A session that ends on one is still `failed` in the database, but by default it is not
   * a fault: the circuit breaker does not count it (--breaker-on faults).
   */
  readonly refusal: boolean;

  constructor(kind: StoreCallKind, message: string, opts: StoreCallErrorOptions = {}) {
    super(kind === 'rejected' ? 'E_STORE_REJECTED' : 'E_STORE_FAILED', message, { cause: opts.cause, exitCode: 1 });
    // These names are written into session events (error_type) and so into the run digest.
    this.name = kind === 'rejected' ? 'StoreRejectedError' : 'StoreFailedError';
    this.kind = kind;
    this.status = opts.status ?? null;
    this.storeCode = opts.storeCode ?? (kind === 'rejected' ? 'REJECTED' : 'STORE_FAILED');
    this.calls = opts.calls ?? 1;
    this.refusal = kind === 'rejected' && this.status !== 400;
  }
}
