/**
 * A request the store refuses: a stable `code` (COUPON_EXPIRED, CART_EMPTY…), the HTTP
 * status it is sent with, and the request field it is about, when there is one.
 * Backends throw it; the server turns it into `{ "error": { code, message, field } }`.
 */
export class StoreRuleError extends Error {
  readonly code: string;
  readonly status: number;
  readonly field: string | undefined;

  constructor(status: number, code: string, message: string, field?: string) {
    super(message);
    this.name = 'StoreRuleError';
    this.status = status;
    this.code = code;
    this.field = field;
  }
}

export function isStoreRuleError(err: unknown): err is StoreRuleError {
  return err instanceof StoreRuleError;
}
