/**
 * The HTTP store client: StoreApi over undici, against the reference store or any server
 * that implements docs/store-api.yaml.
 *
 * Every call gets its intended start from the rate schedule (for latency corrected for
 * coordinated omission), then a connection slot (at most `connections` requests in flight on
 * the keep-alive pool, FIFO), then a token from the global bucket — which also holds the
 * "blocked until" gate a 429 set — and goes out at once through undici. When a slot and a
 * token are free the request starts synchronously, with no promise or timer in between
 * (the limit-off hot path: see test/bench/http.bench.ts).
 * A 429 waits its Retry-After (seconds or HTTP date) and retries, at most `maxRetries429`
 * times; meanwhile no request of this client goes to the origin. 5xx, timeouts and network
 * errors reject with StoreCallError 'failed'; other 4xx with 'rejected' and the server's code.
 */
import { Agent, type Dispatcher } from 'undici';
import type { Cart, CallContext, Offer, OfferCycleRequest, Order, Product, ProductQuery, StoreApi } from '../model/types.ts';
import { createLatencyTracker, type CallOutcome, type EndpointLatency, type LatencySummary } from './latency.ts';
import { createRateLimiter, realLimiterClock, type LimiterClock, type RateLimiter } from './rate-limiter.ts';
import { StoreCallError } from './store-error.ts';

export interface HttpStoreOptions {
  /** Origin (and optional base path) of the store, e.g. http://127.0.0.1:8787. */
  baseUrl: string;
  /** Keep-alive connections (and requests in flight). Default 50, the seed's limit_per_host. */
  connections?: number;
  /** Per attempt, headers and body included. Default 30 000 ms. */
  requestTimeoutMs?: number;
  /** Requests per second over all agents; 0 = no limit. Default 50. Ignored when `limiter` is given. */
  rateLimit?: number;
  /** Bucket capacity. Default max(2, ceil(rateLimit / 50)). */
  burst?: number;
  /** A shared limiter (e.g. one per origin across clients). */
  limiter?: RateLimiter;
  /** Retries after a 429 before the call fails. Default 5. */
  maxRetries429?: number;
  /** Retry-After longer than this is capped. Default 60 000 ms. */
  maxRetryAfterMs?: number;
  /** Wait when a 429 has no usable Retry-After. Default 1 000 ms. */
  defaultRetryAfterMs?: number;
  /** Defaults to a keep-alive undici Agent; tests pass a MockAgent. Not closed by close(). */
  dispatcher?: Dispatcher;
  clock?: LimiterClock;
  /** Wall-clock now for Retry-After HTTP dates. Default Date.now. */
  wallNow?: () => number;
}

export interface HttpMetrics {
  /** HTTP requests sent, 429 retries included. */
  requests: number;
  /** Store calls (StoreApi method invocations) finished. */
  calls: number;
  /** requests / seconds between the first send and the last response. */
  requests_per_second: number;
  latency_ms: LatencySummary;
  /** Coordinated-omission corrected: from when the rate limiter said the call was due. */
  latency_ms_from_due: LatencySummary;
  errors: number;
  rejected: number;
  endpoints: Record<string, EndpointLatency>;
  /** Responses by HTTP status (>= 400), e.g. { "503": 12, "429": 3 }. */
  http_errors: Record<string, number>;
  retries_429: number;
  timeouts: number;
  network_errors: number;
  in_flight: number;
  queued: number;
  rate_limit: { rate: number; burst: number };
}

export type HttpStore = StoreApi & {
  metrics(): HttpMetrics;
  /** Clears the latency histograms and counters (e.g. after a warm-up). */
  resetMetrics(): void;
  close(): Promise<void>;
};

interface CallSpec {
  endpoint: string;
  method: Dispatcher.HttpMethod;
  path: string;
  ctx?: CallContext;
  body?: unknown;
  headers?: Record<string, string>;
}

interface ErrorBody {
  error?: { code?: unknown; message?: unknown; field?: unknown };
}

class TimeoutSignal extends Error {
  constructor(ms: number) {
    super(`no response within ${ms} ms`);
    this.name = 'TimeoutError';
  }
}

type AbortListener = () => void;

/**
 * The per-attempt deadline as the abort signal undici takes (anything with `aborted`, `reason`
 * and add/removeEventListener): an AbortController per request cost ~8% of the client's CPU
 * at saturation (EventTarget set-up and listener bookkeeping).
 */
class Deadline {
  aborted = false;
  reason: unknown = undefined;
  private listeners: AbortListener[] | null = null;
  timer: NodeJS.Timeout | undefined = undefined;

  addEventListener(_type: string, fn: AbortListener): void {
    (this.listeners ??= []).push(fn);
  }

  removeEventListener(_type: string, fn: AbortListener): void {
    const l = this.listeners;
    if (!l) return;
    const i = l.indexOf(fn);
    if (i >= 0) l.splice(i, 1);
  }

  abort(reason: unknown): void {
    if (this.aborted) return;
    this.aborted = true;
    this.reason = reason;
    const l = this.listeners;
    this.listeners = null;
    if (l) for (const fn of l) fn();
  }
}

interface SendResult {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  sentAt: number;
}

/** Retry-After: delta-seconds or an HTTP date; returns ms to wait, or null when unusable. */
export function parseRetryAfter(value: string | string[] | undefined, wallNow: number): number | null {
  const v = Array.isArray(value) ? value[0] : value;
  if (v === undefined) return null;
  const t = v.trim();
  if (/^\d+(\.\d+)?$/.test(t)) return Number(t) * 1000;
  const date = Date.parse(t);
  if (Number.isNaN(date)) return null;
  return Math.max(0, date - wallNow);
}

function positiveInt(name: string, value: number): number {
  if (!Number.isInteger(value) || value < 1) throw new RangeError(`Expected \`${name}\` to be an integer >= 1, got ${String(value)}`);
  return value;
}

export function createHttpStore(options: HttpStoreOptions): HttpStore {
  const base = new URL(options.baseUrl);
  if (base.protocol !== 'http:' && base.protocol !== 'https:') throw new RangeError(`Expected \`baseUrl\` to be an http(s) URL, got ${options.baseUrl}`);
  const origin = base.origin;
  const basePath = base.pathname.replace(/\/+$/, '');
  const connections = positiveInt('connections', options.connections ?? 50);
  const timeoutMs = positiveInt('requestTimeoutMs', options.requestTimeoutMs ?? 30_000);
  const maxRetries = options.maxRetries429 ?? 5;
  const maxRetryAfterMs = options.maxRetryAfterMs ?? 60_000;
  const defaultRetryAfterMs = options.defaultRetryAfterMs ?? 1000;
  const clock = options.clock ?? realLimiterClock;
  const wallNow = options.wallNow ?? Date.now;
  const limiter = options.limiter ?? createRateLimiter({ rate: options.rateLimit ?? 50, ...(options.burst !== undefined ? { burst: options.burst } : {}), clock });
  const ownLimiter = options.limiter === undefined;
  const ownDispatcher = options.dispatcher === undefined;
  const dispatcher: Dispatcher =
    options.dispatcher ?? new Agent({ connections, pipelining: 1, keepAliveTimeout: 30_000, headersTimeout: timeoutMs, bodyTimeout: timeoutMs, connect: { timeout: Math.min(timeoutMs, 10_000) } });
  // Connection slots: at most `connections` sends in flight, the rest wait in FIFO order.
  let slotsBusy = 0;
  let slotWaiters: ({ resolve: () => void; reject: (e: unknown) => void } | undefined)[] = [];
  let slotHead = 0;
  const latency = createLatencyTracker();

  let requests = 0;
  let retries429 = 0;
  let timeouts = 0;
  let networkErrors = 0;
  let httpErrors: Record<string, number> = {};
  let firstSent = 0;
  let lastEnd = 0;
  let inFlight = 0;
  let closed = false;

  function headersFor(spec: CallSpec): Record<string, string> {
    const h: Record<string, string> = { accept: 'application/json', ...spec.headers };
    if (spec.ctx) {
      h['x-user-id'] = spec.ctx.agentId;
      h['x-sim-time'] = spec.ctx.at;
      h['x-request-id'] = `${spec.ctx.agentId}:${spec.ctx.cycle}:${spec.ctx.callSeq}`;
    }
    if (spec.body !== undefined) h['content-type'] = 'application/json';
    return h;
  }

  /** Resolves once a connection slot is taken; undefined when one was free at once. */
  function takeSlot(): Promise<void> | undefined {
    if (slotsBusy < connections && slotHead === slotWaiters.length) {
      slotsBusy++;
      return undefined;
    }
    return new Promise<void>((resolve, reject) => slotWaiters.push({ resolve, reject }));
  }

  function releaseSlot(): void {
    if (slotHead < slotWaiters.length) {
      // Handed over: slotsBusy stays.
      const w = slotWaiters[slotHead] as { resolve: () => void };
      slotWaiters[slotHead++] = undefined;
      if (slotHead > 1024 && slotHead * 2 > slotWaiters.length) {
        slotWaiters = slotWaiters.slice(slotHead);
        slotHead = 0;
      }
      w.resolve();
    } else slotsBusy--;
  }

  async function send(spec: CallSpec, body: string | undefined): Promise<SendResult> {
    // The token is taken with a connection in hand and the request starts inside the release,
    // so send times keep the limiter's guarantees (no bunching behind busy connections or a
    // busy event loop).
    const deadline = new Deadline();
    let sentAt = 0;
    let pending!: Promise<Dispatcher.ResponseData>;
    const start = () => {
      deadline.timer = setTimeout(() => deadline.abort(new TimeoutSignal(timeoutMs)), timeoutMs);
      sentAt = clock.now();
      if (requests === 0) firstSent = sentAt;
      requests++;
      inFlight++;
      pending = dispatcher.request({ origin, path: basePath + spec.path, method: spec.method, headers: headersFor(spec), body, signal: deadline });
      // Settled below; keeps an early rejection from being reported as unhandled meanwhile.
      pending.catch(() => {});
    };
    if (limiter.tryAcquire(start) === null) await limiter.acquire(undefined, start);
    try {
      const res = await pending;
      const text = await res.body.text();
      return { status: res.statusCode, headers: res.headers, text, sentAt };
    } catch (err) {
      if (deadline.aborted) throw deadline.reason;
      throw err;
    } finally {
      clearTimeout(deadline.timer);
      inFlight--;
    }
  }

  function storeError(spec: CallSpec, status: number, text: string): StoreCallError {
    let code = status >= 500 ? 'STORE_FAILED' : 'REJECTED';
    let message = text.slice(0, 200);
    try {
      const parsed = JSON.parse(text) as ErrorBody;
      if (typeof parsed.error?.code === 'string') code = parsed.error.code;
      if (typeof parsed.error?.message === 'string') message = parsed.error.message;
    } catch {
      // not JSON: keep the raw text
    }
    const kind = status >= 500 || status === 429 ? 'failed' : 'rejected';
    return new StoreCallError(kind, `${spec.endpoint}: ${status} ${code}: ${message}`, { status, code });
  }

  async function call<T>(spec: CallSpec): Promise<T> {
    if (closed) throw new StoreCallError('failed', `${spec.endpoint}: the store client is closed`, { code: 'CLIENT_CLOSED' });
    const body = spec.body === undefined ? undefined : JSON.stringify(spec.body);
    let firstDue: number | null = null;
    let lastSent = 0;
    let outcome: CallOutcome = 'failed';
    let tries429 = 0;
    try {
      for (;;) {
        if (firstDue === null) firstDue = limiter.intendedStart();
        let res: SendResult;
        const slot = takeSlot();
        if (slot !== undefined) {
          try {
            await slot;
          } catch {
            throw new StoreCallError('failed', `${spec.endpoint}: the store client is closed`, { code: 'CLIENT_CLOSED' });
          }
        }
        try {
          res = await send(spec, body);
        } catch (err) {
          if (err instanceof TimeoutSignal) {
            timeouts++;
            throw new StoreCallError('failed', `${spec.endpoint}: ${err.message}`, { code: 'TIMEOUT', cause: err });
          }
          networkErrors++;
          const code = (err as { code?: unknown }).code;
          throw new StoreCallError('failed', `${spec.endpoint}: ${err instanceof Error ? err.message : String(err)}`, { code: typeof code === 'string' ? code : 'NETWORK_ERROR', cause: err });
        } finally {
          releaseSlot();
        }
        lastSent = res.sentAt;
        if (res.status >= 400) httpErrors[res.status] = (httpErrors[res.status] ?? 0) + 1;
        if (res.status === 429 && tries429 < maxRetries) {
          tries429++;
          retries429++;
          const wait = Math.min(maxRetryAfterMs, parseRetryAfter(res.headers['retry-after'], wallNow()) ?? defaultRetryAfterMs);
          limiter.blockUntil(clock.now() + wait);
          continue;
        }
        if (res.status >= 400) {
          const e = storeError(spec, res.status, res.text);
          outcome = e.kind;
          throw e;
        }
        outcome = 'ok';
        if (res.status === 204 || res.text === '') return undefined as T;
        try {
          return JSON.parse(res.text) as T;
        } catch (err) {
          outcome = 'failed';
          throw new StoreCallError('failed', `${spec.endpoint}: ${res.status} with a body that is not JSON`, { status: res.status, code: 'BAD_RESPONSE', cause: err });
        }
      }
    } finally {
      const end = clock.now();
      lastEnd = end;
      if (lastSent > 0 && firstDue !== null) latency.record(spec.endpoint, end - lastSent, end - firstDue, outcome);
    }
  }

  const enc = encodeURIComponent;

  const store: HttpStore = {
    async listProducts(ctx: CallContext, q: ProductQuery): Promise<Product[]> {
      const params = new URLSearchParams();
      if (q.category) params.set('category', q.category);
      if (q.search) params.set('search', q.search);
      params.set('page', String(q.page));
      params.set('page_size', String(q.pageSize));
      const res = await call<{ items: Product[] }>({ endpoint: 'GET /products', method: 'GET', path: `/products?${params}`, ctx });
      return res.items;
    },

    getProduct(ctx, productId) {
      return call<Product>({ endpoint: 'GET /products/:id', method: 'GET', path: `/products/${enc(productId)}`, ctx });
    },

    getCart(ctx) {
      return call<Cart>({ endpoint: 'GET /cart', method: 'GET', path: '/cart', ctx });
    },

    addToCart(ctx, productId, quantity) {
      return call<Cart>({ endpoint: 'POST /cart/items', method: 'POST', path: '/cart/items', ctx, body: { product_id: productId, quantity } });
    },

    removeFromCart(ctx, productId) {
      return call<Cart>({ endpoint: 'DELETE /cart/items/:id', method: 'DELETE', path: `/cart/items/${enc(productId)}`, ctx });
    },

    async clearCart(ctx) {
      await call<void>({ endpoint: 'DELETE /cart', method: 'DELETE', path: '/cart', ctx });
    },

    async listOffers(ctx): Promise<Offer[]> {
      const res = await call<{ offers: Offer[] }>({ endpoint: 'GET /offers', method: 'GET', path: '/offers', ctx });
      return res.offers;
    },

    applyCoupon(ctx, code) {
      return call<Cart>({ endpoint: 'POST /cart/coupon', method: 'POST', path: '/cart/coupon', ctx, body: { code } });
    },

    checkout(ctx, idempotencyKey) {
      return call<Order>({ endpoint: 'POST /checkout', method: 'POST', path: '/checkout', ctx, body: {}, headers: { 'idempotency-key': idempotencyKey } });
    },

    startOfferCycle(request: OfferCycleRequest) {
      return call<{ offers_assigned: number }>({ endpoint: 'POST /offer-cycles', method: 'POST', path: '/offer-cycles', body: request });
    },

    metrics(): HttpMetrics {
      const r = latency.report();
      const seconds = requests > 0 ? (lastEnd - firstSent) / 1000 : 0;
      return {
        requests,
        calls: r.count,
        requests_per_second: seconds > 0 ? Math.round((requests / seconds) * 10) / 10 : 0,
        latency_ms: r.latency_ms,
        latency_ms_from_due: r.latency_ms_from_due,
        errors: r.errors,
        rejected: r.rejected,
        endpoints: r.endpoints,
        http_errors: { ...httpErrors },
        retries_429: retries429,
        timeouts,
        network_errors: networkErrors,
        in_flight: inFlight,
        queued: limiter.pending + (slotWaiters.length - slotHead),
        rate_limit: { rate: limiter.rate, burst: limiter.burst },
      };
    },

    resetMetrics() {
      latency.reset();
      requests = 0;
      retries429 = 0;
      timeouts = 0;
      networkErrors = 0;
      httpErrors = {};
      firstSent = 0;
      lastEnd = 0;
    },

    async close() {
      if (closed) return;
      closed = true;
      // Calls still waiting for a connection fail (they would never be sent).
      const waiting = slotWaiters.slice(slotHead);
      slotWaiters = [];
      slotHead = 0;
      for (const w of waiting) w?.reject(new Error('closed'));
      if (ownLimiter) limiter.close();
      if (ownDispatcher) await dispatcher.close();
    },
  };
  return store;
}
