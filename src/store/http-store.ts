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
 * times; the other calls go on, at a pace the limiter cuts on each 429 and recovers gradually
 * (AIMD, see rate-limiter.ts). Without a rate limit (0) nothing can be cut, so a 429 holds
 * every call of this client until its Retry-After. 5xx, timeouts and network
 * errors reject with StoreCallError 'failed'; other 4xx with 'rejected' and the server's code.
 */
import { Pool, type Dispatcher } from 'undici';
import type { Cart, CallContext, Offer, OfferCycleRequest, Order, Product, ProductQuery, StoreApi } from '../model/types.ts';
import { createLatencyTracker, type CallOutcome, type EndpointLatency, type HistogramBucket, type LatencySummary } from '../metrics/latency.ts';
import { createRateLimiter, realLimiterClock, type Grant, type LimiterClock, type RateLimiter } from './rate-limiter.ts';
import { z } from 'zod/v4';
import { checkAnswer, cartSchema, offerCycleAnswerSchema, offerListSchema, offerSchema, orderSchema, productPageSchema, productSchema } from './contract-schemas.ts';
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
  /** The run's one rate schedule, shared with other clients (createSharedLimiterState; made for `rateLimit`). */
  limiterState?: SharedArrayBuffer;
  /** Bucket capacity. Default 1. */
  burst?: number;
  /** A shared limiter (e.g. one per origin across clients). */
  limiter?: RateLimiter;
  /** Retries after a 429 before the call fails. Default 5. */
  maxRetries429?: number;
  /** Retry-After longer than this is capped. Default 60 000 ms. */
  maxRetryAfterMs?: number;
  /** Wait when a 429 has no usable Retry-After. Default 1 000 ms. */
  defaultRetryAfterMs?: number;
  /** Defaults to a keep-alive undici Pool for the origin; tests pass a MockAgent. Not closed by close(). */
  dispatcher?: Dispatcher;
  clock?: LimiterClock;
  /** Wall-clock now for Retry-After HTTP dates. Default Date.now. */
  wallNow?: () => number;
  /**
   * How StoreApi calls map onto the store's HTTP API. Default: shopsim's contract
   * (docs/store-api.yaml). A store with other endpoints supplies its own mapping and keeps
   * this transport — rate limit, keep-alive pool, 429 handling, timeouts, latency metrics
   * (see src/store/adapter.ts).
   */
  routes?: StoreRoutes;
  /** Reads a refusal's code and message from an error body. Default: `{ error: { code, message } }`. */
  parseError?: (status: number, body: string) => { code?: string; message?: string };
  /** Told of every 429 with the wait it asked (ms): a run with several clients holds the others too (docs/scaling.md). */
  onRetryAfter?: (waitMs: number) => void;
  /**
   * With it, every cart change (a POST or DELETE other than the checkout, which has its own key)
   * carries `Idempotency-Key: <prefix>:<agent>:<cycle>:<call>` — one key per call — so that a store
   * that keeps the answers of keyed calls (the bundled one does) applies a call sent again only
   * once: a cohort run again after its worker was lost re-sends the calls whose answers were in
   * flight. The prefix is the run id and a token of the coordinator process, so a resumed run
   * (whose carts start over) never meets the keys of the run it resumes.
   */
  callKeyPrefix?: string;
}

/** One HTTP request of a store call. `endpoint` names it in the latency metrics. */
export interface StoreRequest {
  endpoint: string;
  method: Dispatcher.HttpMethod;
  path: string;
  ctx?: CallContext;
  body?: unknown;
  headers?: Record<string, string>;
}

/** Sends one request through the transport and returns the parsed JSON body (undefined for 204/empty). */
export type StoreCall = <T>(request: StoreRequest) => Promise<T>;

/** A mapping of the StoreApi onto some HTTP API, over the transport's `call`. */
export type StoreRoutes = (call: StoreCall) => StoreApi;

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
  /** Calls by latency (from the send), in fixed buckets: the HTML report's histogram. */
  latency_histogram_ms: HistogramBucket[];
  /** Responses by HTTP status (>= 400), e.g. { "503": 12, "429": 3 }. */
  http_errors: Record<string, number>;
  retries_429: number;
  /** The limiter's pace now (req/s): the setting, or less after a 429 cut it (0 = no limit). */
  effective_rate: number;
  timeouts: number;
  network_errors: number;
  in_flight: number;
  queued: number;
  /** `shared`: the schedule is the run's, shared with other clients (worker threads); their rates are not added. */
  rate_limit: { rate: number; burst: number; shared?: true };
}

export type HttpStore = StoreApi & {
  metrics(): HttpMetrics;
  /** No request of this client is sent for `ms` (another client of the run was answered 429 with that Retry-After). */
  holdFor(ms: number): void;
  close(): Promise<void>;
};

interface ErrorBody {
  error?: { code?: unknown; message?: unknown; field?: unknown };
}

class TimeoutSignal extends Error {
  constructor(ms: number) {
    super(`no response within ${ms} ms`);
    this.name = 'TimeoutError';
  }
}

const noop = (): void => {};

/**
 * One attempt as an undici dispatch handler (the legacy onConnect/onHeaders/onData/onComplete
 * form every Dispatcher, MockAgent included, accepts): the body is collected into one string
 * with no Readable stream, RequestHandler or AbortSignal in between. The per-attempt deadline
 * aborts through the dispatcher's own abort callback.
 * At saturation the request()/body.text() layers cost ~10% of the client's CPU.
 */
class Attempt {
  status = 0;
  rawHeaders: (Buffer | string)[] | null = null;
  timedOut: TimeoutSignal | null = null;
  timer: NodeJS.Timeout | undefined = undefined;
  /** Starts the attempt (the limiter's onRelease). */
  start: (g: Grant) => void = noop;
  /** The limiter's release number (for arrivedBy). */
  seq = -1;
  private chunks: Buffer[] = [];
  private abortFn: ((err: Error) => void) | null = null;
  private done = false;
  resolve!: (text: string) => void;
  reject!: (err: unknown) => void;

  onConnect(abort: (err: Error) => void): void {
    if (this.timedOut) abort(this.timedOut);
    else this.abortFn = abort;
  }

  onHeaders(statusCode: number, rawHeaders: (Buffer | string)[]): boolean {
    if (statusCode < 200) return true; // 1xx: informational, the final response follows
    this.status = statusCode;
    this.rawHeaders = rawHeaders;
    return true;
  }

  onData(chunk: Buffer): boolean {
    this.chunks.push(chunk);
    return true;
  }

  onComplete(): void {
    if (this.done) return;
    this.done = true;
    clearTimeout(this.timer);
    const c = this.chunks;
    let text = c.length === 0 ? '' : c.length === 1 ? (c[0] as Buffer).toString('utf8') : Buffer.concat(c).toString('utf8');
    if (text.charCodeAt(0) === 0xfeff) text = text.slice(1); // as undici's body.text()
    this.resolve(text);
  }

  onError(err: Error): void {
    if (this.done) return;
    this.done = true;
    clearTimeout(this.timer);
    this.reject(this.timedOut ?? err);
  }

  timeout(ms: number): void {
    if (this.done) return;
    this.timedOut = new TimeoutSignal(ms);
    const abort = this.abortFn;
    if (abort) abort(this.timedOut);
  }

  /** A response header (lower-case name), only read for a 429's Retry-After. */
  header(name: string): string | undefined {
    const h = this.rawHeaders;
    if (!h) return undefined;
    for (let i = 0; i + 1 < h.length; i += 2) if (String(h[i]).toLowerCase() === name) return String(h[i + 1]);
    return undefined;
  }
}

function onAttemptTimeout(a: Attempt, ms: number): void {
  a.timeout(ms);
}

interface SendResult {
  status: number;
  retryAfter: string | undefined;
  text: string;
  sentAt: number;
}

/** Retry-After: delta-seconds or an HTTP date; returns ms to wait, or null when unusable. */
export function parseRetryAfter(value: string | undefined, wallNow: number): number | null {
  if (value === undefined) return null;
  const t = value.trim();
  if (/^\d+(\.\d+)?$/.test(t)) return Number(t) * 1000;
  const date = Date.parse(t);
  if (Number.isNaN(date)) return null;
  return Math.max(0, date - wallNow);
}

function positiveInt(name: string, value: number): number {
  if (!Number.isInteger(value) || value < 1) throw new RangeError(`Expected \`${name}\` to be an integer >= 1, got ${String(value)}`);
  return value;
}

/** The error body of shopsim's contract: `{ "error": { "code", "message", "field"? } }`. */
export function parseContractError(_status: number, text: string): { code?: string; message?: string } {
  try {
    const parsed = JSON.parse(text) as ErrorBody;
    return {
      ...(typeof parsed.error?.code === 'string' ? { code: parsed.error.code } : {}),
      ...(typeof parsed.error?.message === 'string' ? { message: parsed.error.message } : {}),
    };
  } catch {
    return {}; // not JSON: the raw text is the message
  }
}

export function createHttpStore(options: HttpStoreOptions): HttpStore {
  const parseError = options.parseError ?? parseContractError;
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
  const callKeyPrefix = options.callKeyPrefix;
  if (callKeyPrefix !== undefined && (callKeyPrefix === '' || callKeyPrefix.length > 120)) throw new RangeError(`Expected \`callKeyPrefix\` to be 1–120 characters, got ${callKeyPrefix.length}`);
  const wallNow = options.wallNow ?? Date.now;
  const limiter = options.limiter ?? createRateLimiter({ rate: options.rateLimit ?? 50, ...(options.burst !== undefined ? { burst: options.burst } : {}), ...(options.limiterState ? { shared: options.limiterState } : {}), clock });
  const ownLimiter = options.limiter === undefined;
  const ownDispatcher = options.dispatcher === undefined;
  const dispatcher: Dispatcher =
    options.dispatcher ?? new Pool(origin, { connections, pipelining: 1, keepAliveTimeout: 30_000, headersTimeout: timeoutMs, bodyTimeout: timeoutMs, connect: { timeout: Math.min(timeoutMs, 10_000) } });
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

  function headersFor(spec: StoreRequest): Record<string, string> {
    const h: Record<string, string> = { accept: 'application/json', ...spec.headers };
    if (spec.ctx) {
      h['x-user-id'] = spec.ctx.agentId;
      h['x-sim-time'] = spec.ctx.at;
      h['x-request-id'] = `${spec.ctx.agentId}:${spec.ctx.cycle}:${spec.ctx.callSeq}`;
      if (callKeyPrefix !== undefined && spec.method !== 'GET' && h['idempotency-key'] === undefined) h['idempotency-key'] = `${callKeyPrefix}:${spec.ctx.agentId}:${spec.ctx.cycle}:${spec.ctx.callSeq}`;
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

  async function send(spec: StoreRequest, body: string | undefined, sent: { at: number; out: boolean }): Promise<SendResult> {
    // The token is taken with a connection in hand and the request starts inside the release,
    // so send times keep the limiter's guarantees (no bunching behind busy connections or a
    // busy event loop).
    const a = new Attempt();
    const done = new Promise<string>((resolve, reject) => {
      a.resolve = resolve;
      a.reject = reject;
    });
    let sentAt = 0;
    // A property, not a const: tsx (esbuild keepNames) wraps every named closure in a __name()
    // call that cost ~1% of the client's CPU here.
    a.start = (g: Grant): void => {
      a.seq = g.seq;
      a.timer = setTimeout(onAttemptTimeout, timeoutMs, a, timeoutMs);
      sentAt = clock.now();
      sent.at = sentAt;
      sent.out = true;
      if (requests === 0) firstSent = sentAt;
      requests++;
      inFlight++;
      dispatcher.dispatch({ origin, path: basePath + spec.path, method: spec.method, headers: headersFor(spec), body }, a);
    };
    try {
      if (limiter.tryAcquire(a.start) === null) {
        // Settled below; keeps an early failure from being reported as unhandled meanwhile.
        done.catch(noop);
        await limiter.acquire(undefined, a.start);
      }
    } catch (err) {
      if (sentAt > 0) inFlight--;
      clearTimeout(a.timer);
      throw err;
    }
    try {
      let text: string;
      try {
        text = await done;
      } finally {
        // The store read the request by its answer (or the attempt's failure: a timeout, a dropped
        // connection) at the latest: the limiter's sliding window counts it from there
        // (rate-limiter.ts). Nothing is taken off that time: a store that reads a request late
        // answers it as fast as any other, so "answered − the fastest answer" put arrivals up to
        // 31 ms before the store's own clock had them (BENCH=pacing with BENCH_PACING_DEBUG checks
        // every bound against the store's arrival).
        if (a.seq >= 0) limiter.arrivedBy(a.seq, clock.now());
      }
      return { status: a.status, retryAfter: a.status === 429 ? a.header('retry-after') : undefined, text, sentAt };
    } finally {
      inFlight--;
    }
  }

  function storeError(spec: StoreRequest, status: number, text: string): StoreCallError {
    let code = status >= 500 ? 'STORE_FAILED' : 'REJECTED';
    let message = text.slice(0, 200);
    const parsed = parseError(status, text);
    if (parsed.code) code = parsed.code;
    if (parsed.message) message = parsed.message;
    const kind = status >= 500 || status === 429 ? 'failed' : 'rejected';
    return new StoreCallError(kind, `${spec.endpoint}: ${status} ${code}: ${message}`, { status, storeCode: code });
  }

  async function call<T>(spec: StoreRequest): Promise<T> {
    if (closed) throw new StoreCallError('failed', `${spec.endpoint}: the store client is closed`, { storeCode: 'CLIENT_CLOSED' });
    const body = spec.body === undefined ? undefined : JSON.stringify(spec.body);
    let firstDue: number | null = null;
    let lastSent = 0;
    let outcome: CallOutcome = 'failed';
    let tries429 = 0;
    // When the attempt went out: set before an answer arrives, so a timeout or a dropped
    // connection is measured (and counted in `errors`) like any other failed call.
    const sent = { at: 0, out: false };
    try {
      for (;;) {
        if (firstDue === null) firstDue = limiter.intendedStart();
        let res: SendResult;
        const slot = takeSlot();
        if (slot !== undefined) {
          try {
            await slot;
          } catch {
            throw new StoreCallError('failed', `${spec.endpoint}: the store client is closed`, { storeCode: 'CLIENT_CLOSED' });
          }
        }
        try {
          res = await send(spec, body, sent);
        } catch (err) {
          lastSent = sent.at;
          if (err instanceof TimeoutSignal) {
            timeouts++;
            throw new StoreCallError('failed', `${spec.endpoint}: ${err.message}`, { storeCode: 'TIMEOUT', cause: err });
          }
          networkErrors++;
          const code = (err as { code?: unknown }).code;
          throw new StoreCallError('failed', `${spec.endpoint}: ${err instanceof Error ? err.message : String(err)}`, { storeCode: typeof code === 'string' ? code : 'NETWORK_ERROR', cause: err });
        } finally {
          releaseSlot();
        }
        lastSent = res.sentAt;
        if (res.status >= 400) httpErrors[res.status] = (httpErrors[res.status] ?? 0) + 1;
        if (res.status === 429 && tries429 < maxRetries) {
          tries429++;
          retries429++;
          const wait = Math.min(maxRetryAfterMs, parseRetryAfter(res.retryAfter, wallNow()) ?? defaultRetryAfterMs);
          options.onRetryAfter?.(wait);
          if (limiter.rate > 0) {
            limiter.backOff();
            await new Promise<void>((resolve) => clock.setTimer(resolve, wait));
          } else limiter.blockUntil(clock.now() + wait);
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
          throw new StoreCallError('failed', `${spec.endpoint}: ${res.status} with a body that is not JSON`, { status: res.status, storeCode: 'BAD_RESPONSE', cause: err });
        }
      }
    } finally {
      const end = clock.now();
      lastEnd = end;
      if (sent.out && firstDue !== null) latency.record(spec.endpoint, end - lastSent, end - firstDue, outcome, end);
    }
  }

  const store: HttpStore = {
    ...(options.routes ? checkedApi(options.routes(call)) : contractRoutes(call)),

    metrics(): HttpMetrics {
      const r = latency.report(clock.now());
      const seconds = requests > 0 ? (lastEnd - firstSent) / 1000 : 0;
      return {
        requests,
        calls: r.count,
        requests_per_second: seconds > 0 ? Math.round((requests / seconds) * 10) / 10 : 0,
        latency_ms: r.latency_ms,
        latency_ms_from_due: r.latency_ms_from_due,
        ...(r.recent_latency_ms ? { recent_latency_ms: r.recent_latency_ms } : {}),
        errors: r.errors,
        rejected: r.rejected,
        endpoints: r.endpoints,
        latency_histogram_ms: r.latency_histogram_ms,
        http_errors: { ...httpErrors },
        retries_429: retries429,
        effective_rate: Math.round(limiter.effectiveRate * 10) / 10,
        timeouts,
        network_errors: networkErrors,
        in_flight: inFlight,
        queued: limiter.pending + (slotWaiters.length - slotHead),
        rate_limit: { rate: limiter.rate, burst: limiter.burst, ...(limiter.shared ? { shared: true as const } : {}) },
      };
    },


    holdFor(ms: number) {
      if (ms > 0) limiter.blockUntil(clock.now() + Math.min(ms, maxRetryAfterMs));
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

const enc = encodeURIComponent;

/** shopsim's store contract (docs/store-api.yaml) as StoreRoutes: the default mapping. Every body is checked against the contract's schema before it is read. */
export const contractRoutes: StoreRoutes = (call) => ({
  async listProducts(ctx: CallContext, q: ProductQuery): Promise<Product[]> {
    const params = new URLSearchParams();
    if (q.category) params.set('category', q.category);
    if (q.search) params.set('search', q.search);
    params.set('page', String(q.page));
    params.set('page_size', String(q.pageSize));
    const endpoint = 'GET /products';
    return checkAnswer(endpoint, productPageSchema, await call<unknown>({ endpoint, method: 'GET', path: `/products?${params}`, ctx })).items;
  },

  async getProduct(ctx, productId) {
    const endpoint = 'GET /products/:id';
    return checkAnswer(endpoint, productSchema, await call<unknown>({ endpoint, method: 'GET', path: `/products/${enc(productId)}`, ctx }));
  },

  async getCart(ctx) {
    const endpoint = 'GET /cart';
    return checkAnswer(endpoint, cartSchema, await call<unknown>({ endpoint, method: 'GET', path: '/cart', ctx }));
  },

  async addToCart(ctx, productId, quantity) {
    const endpoint = 'POST /cart/items';
    return checkAnswer(endpoint, cartSchema, await call<unknown>({ endpoint, method: 'POST', path: '/cart/items', ctx, body: { product_id: productId, quantity } }));
  },

  async removeFromCart(ctx, productId) {
    const endpoint = 'DELETE /cart/items/:id';
    return checkAnswer(endpoint, cartSchema, await call<unknown>({ endpoint, method: 'DELETE', path: `/cart/items/${enc(productId)}`, ctx }));
  },

  async clearCart(ctx) {
    // 204, no body: nothing to check.
    await call<void>({ endpoint: 'DELETE /cart', method: 'DELETE', path: '/cart', ctx });
  },

  async listOffers(ctx): Promise<Offer[]> {
    const endpoint = 'GET /offers';
    return checkAnswer(endpoint, offerListSchema, await call<unknown>({ endpoint, method: 'GET', path: '/offers', ctx })).offers;
  },

  async applyCoupon(ctx, code) {
    const endpoint = 'POST /cart/coupon';
    return checkAnswer(endpoint, cartSchema, await call<unknown>({ endpoint, method: 'POST', path: '/cart/coupon', ctx, body: { code } }));
  },

  async checkout(ctx, idempotencyKey) {
    const endpoint = 'POST /checkout';
    return checkAnswer(endpoint, orderSchema, await call<unknown>({ endpoint, method: 'POST', path: '/checkout', ctx, body: {}, headers: { 'idempotency-key': idempotencyKey } }));
  },

  async startOfferCycle(request: OfferCycleRequest) {
    const endpoint = 'POST /offer-cycles';
    return checkAnswer(endpoint, offerCycleAnswerSchema, await call<unknown>({ endpoint, method: 'POST', path: '/offer-cycles', body: request }));
  },
});

/**
 * A mapping other than the contract (src/store/adapter.ts) answers in StoreApi's own types: those
 * answers are checked against the same schemas, so an adapter's mistake or its store's odd
 * body is a BAD_RESPONSE failure too, not a crash.
 */
export function checkedApi(api: StoreApi): StoreApi {
  const products = z.array(productSchema);
  const offers = z.array(offerSchema);
  return {
    listProducts: async (ctx, q) => checkAnswer('listProducts', products, await api.listProducts(ctx, q)),
    getProduct: async (ctx, id) => checkAnswer('getProduct', productSchema, await api.getProduct(ctx, id)),
    getCart: async (ctx) => checkAnswer('getCart', cartSchema, await api.getCart(ctx)),
    addToCart: async (ctx, id, qty) => checkAnswer('addToCart', cartSchema, await api.addToCart(ctx, id, qty)),
    removeFromCart: async (ctx, id) => checkAnswer('removeFromCart', cartSchema, await api.removeFromCart(ctx, id)),
    clearCart: (ctx) => api.clearCart(ctx),
    listOffers: async (ctx) => checkAnswer('listOffers', offers, await api.listOffers(ctx)),
    applyCoupon: async (ctx, code) => checkAnswer('applyCoupon', cartSchema, await api.applyCoupon(ctx, code)),
    checkout: async (ctx, key) => checkAnswer('checkout', orderSchema, await api.checkout(ctx, key)),
    startOfferCycle: async (req) => checkAnswer('startOfferCycle', offerCycleAnswerSchema, await api.startOfferCycle(req)),
  };
}
