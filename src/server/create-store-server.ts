/**
 * The reference store: the HTTP API of docs/store-api.yaml over a StoreBackend, with fault
 * injection. Every request is validated (400 `{ error: { code, message, field } }` naming the
 * field); business refusals come from the backend as StoreRuleError (src/model/store-rules.ts).
 */
import type { Socket } from 'node:net';
import Fastify, { type FastifyError, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { planOffers } from '../model/offers.ts';
import type { StoreBackend } from '../model/store-backend.ts';
import { isStoreRuleError, StoreRuleError } from '../model/store-rules.ts';
import type { OfferCycleRequest } from '../model/types.ts';
import { createFaultInjector, type FaultOptions } from './faults.ts';

export interface StoreServerOptions extends FaultOptions {
  /** Default 127.0.0.1. */
  host?: string;
  /** Default 8787; 0 = an ephemeral port. */
  port?: number;
  backend: StoreBackend;
  /** Seeds offer assignment and fault draws. Default 42. */
  seed?: number;
  /** Fastify's logger (pino). Default off. */
  logger?: boolean;
  /**
   * How many answers to cart changes sent with an Idempotency-Key are kept, so that the same
   * call sent again is answered as the first time and not applied twice (oldest dropped first).
   * Default 200,000; 0 turns it off.
   */
  idempotentAnswers?: number;
}

export interface StoreServer {
  readonly app: FastifyInstance;
  readonly backend: StoreBackend;
  listen(): Promise<{ url: string }>;
  /** Stops listening, drops hung requests and open connections. Does not close the backend. */
  close(): Promise<void>;
  faultCounts(): { rate_limited: number; hung: number; failed: number; delayed: number };
  /** Cart changes answered from the kept answer of an earlier call with the same Idempotency-Key. */
  idempotentReplays(): number;
  /**
   * Answers refused with INSUFFICIENT_STOCK since the server started: where two shoppers want
   * the last units of a product in the same cycle, the one whose request arrives first gets them
   * and the other is refused, so this bounds the answers the order of arrival decided
   * (docs/store-api.md, "Same seed, same digest").
   */
  stockRefusals(): number;
}

const USER_ID = /^[A-Za-z0-9_.:@-]{1,128}$/;
const ISO_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2})$/;
const POSITIVE_INT = '^[1-9][0-9]{0,5}$';

function fail(status: number, code: string, message: string, field?: string): never {
  throw new StoreRuleError(status, code, message, field);
}

function header(req: FastifyRequest, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

function userOf(req: FastifyRequest): string {
  const id = header(req, 'x-user-id');
  if (id === undefined || id === '') fail(400, 'MISSING_USER', 'the X-User-Id header is required', 'X-User-Id');
  if (!USER_ID.test(id)) fail(400, 'VALIDATION_ERROR', 'X-User-Id must be 1–128 characters of A-Z a-z 0-9 _ . : @ -', 'X-User-Id');
  return id;
}

function simTimeOf(req: FastifyRequest): string {
  const t = header(req, 'x-sim-time');
  if (t === undefined || t === '') return new Date().toISOString();
  if (!ISO_TIME.test(t) || Number.isNaN(Date.parse(t))) fail(400, 'VALIDATION_ERROR', `X-Sim-Time must be an ISO-8601 date-time with a zone, got ${JSON.stringify(t.slice(0, 40))}`, 'X-Sim-Time');
  return new Date(Date.parse(t)).toISOString();
}

/** Fastify/ajv validation errors → the field they are about. */
function validationField(err: FastifyError): string | undefined {
  const v = err.validation?.[0];
  if (!v) return undefined;
  const params = v.params as Record<string, unknown>;
  const path = v.instancePath.replace(/^\//, '').replace(/\//g, '.');
  if (typeof params['missingProperty'] === 'string') return path ? `${path}.${params['missingProperty']}` : params['missingProperty'];
  if (typeof params['additionalProperty'] === 'string') return path ? `${path}.${params['additionalProperty']}` : params['additionalProperty'];
  return path || err.validationContext;
}

/** The error body every refusal has: `{ error: { code, message[, field] } }`. */
function errorBody(code: string, message: string, field?: string): { error: { code: string; message: string; field?: string } } {
  return { error: field === undefined ? { code, message } : { code, message, field } };
}

function sendError(reply: FastifyReply, status: number, code: string, message: string, field?: string): FastifyReply {
  return reply.code(status).send(errorBody(code, message, field));
}

/** What a cart change answered: kept per (user, Idempotency-Key) for the same call sent again. */
interface KeptAnswer {
  /** The call the key was first sent with: method, path and body. */
  call: string;
  /** Settles when the first call's answer is known (a copy sent while it runs waits for it). */
  done: Promise<void>;
  status: number;
  /** The answer's JSON as first sent (a string: later changes to the cart cannot reach it), none for a 204. */
  json: string | undefined;
}

export function createStoreServer(options: StoreServerOptions): StoreServer {
  const host = options.host ?? '127.0.0.1';
  const port = options.port ?? 8787;
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new RangeError(`Expected \`port\` to be an integer from 0 to 65535, got ${String(port)}`);
  const seed = options.seed ?? 42;
  const backend = options.backend;
  const faults = createFaultInjector({ ...options, seed });
  const hung = new Set<Socket>();
  let stockRefusals = 0;
  const keepAnswers = options.idempotentAnswers ?? 200_000;
  if (!Number.isInteger(keepAnswers) || keepAnswers < 0) throw new RangeError(`Expected \`idempotentAnswers\` to be an integer >= 0, got ${String(options.idempotentAnswers)}`);
  // Insertion order is age order: the oldest answer is the first key.
  const kept = new Map<string, KeptAnswer>();
  let replays = 0;

  /**
   * A cart change (add, remove, coupon, clear) sent with an Idempotency-Key: the first call is
   * applied and its answer kept — the cart it left, or the store's refusal (a 4xx of the rules) —
   * and the same call sent again with the same key gets that answer (`Idempotent-Replayed: true`)
   * and changes nothing. shopsim sends a key per call (docs/store-api.md): a call whose answer
   * was lost with a worker is sent again by the cohort's re-run, and must not add to the cart
   * twice. The same key with another call is refused (409 IDEMPOTENCY_KEY_REUSED). Answers the
   * store did not decide — a 429, an injected failure, a malformed request — are not kept.
   */
  function idempotent(handler: (req: FastifyRequest, reply: FastifyReply) => Promise<unknown>) {
    return async (req: FastifyRequest, reply: FastifyReply): Promise<unknown> => {
      const key = keepAnswers > 0 ? header(req, 'idempotency-key') : undefined;
      if (key === undefined || key === '') return handler(req, reply);
      if (key.length > 200) fail(400, 'VALIDATION_ERROR', 'Idempotency-Key must be at most 200 characters', 'Idempotency-Key');
      const id = `${userOf(req)}\n${key}`;
      const call = `${req.method} ${req.url}\n${req.body === undefined ? '' : JSON.stringify(req.body)}`;
      const seen = kept.get(id);
      if (seen) {
        if (seen.call !== call) fail(409, 'IDEMPOTENCY_KEY_REUSED', `Idempotency-Key ${JSON.stringify(key.slice(0, 80))} was sent with another call (${seen.call.split('\n')[0]})`, 'Idempotency-Key');
        await seen.done;
        if (kept.get(id) === seen) {
          replays++;
          reply.header('idempotent-replayed', 'true');
          if (seen.json === undefined) return reply.code(seen.status).send();
          return reply.code(seen.status).header('content-type', 'application/json; charset=utf-8').send(seen.json);
        }
        // The first call's answer was not one to keep (it failed): this one is applied.
      }
      let settle!: () => void;
      const entry: KeptAnswer = { call, done: new Promise<void>((r) => (settle = r)), status: 200, json: undefined };
      kept.set(id, entry);
      if (kept.size > keepAnswers) kept.delete(kept.keys().next().value as string);
      try {
        const body = await handler(req, reply);
        // A handler that sent the reply itself (DELETE /cart: 204, no body).
        if (reply.sent) {
          entry.status = reply.statusCode;
        } else {
          entry.status = 200;
          entry.json = JSON.stringify(body);
        }
        return body;
      } catch (err) {
        // A refusal of the rules is kept as the error handler words it (and sent by it, as any refusal).
        if (isStoreRuleError(err) && err.status < 500) {
          entry.status = err.status;
          entry.json = JSON.stringify(errorBody(err.storeCode, err.message, err.field));
        } else kept.delete(id);
        throw err;
      } finally {
        settle();
      }
    };
  }

  const app = Fastify({
    logger: options.logger ?? false,
    bodyLimit: 64 * 1024 * 1024,
    keepAliveTimeout: 60_000,
    forceCloseConnections: true,
    ajv: { customOptions: { coerceTypes: false, removeAdditional: false, allErrors: false } },
  });

  app.setErrorHandler((err: FastifyError, _req, reply) => {
    if (isStoreRuleError(err)) {
      if (err.storeCode === 'INSUFFICIENT_STOCK') stockRefusals++;
      return sendError(reply, err.status, err.storeCode, err.message, err.field);
    }
    if (err.validation) return sendError(reply, 400, 'VALIDATION_ERROR', `${err.validationContext ?? 'request'} ${err.message.replace(/^(body|querystring|params)\s*/, '')}`, validationField(err));
    if (err.code === 'FST_ERR_CTP_INVALID_JSON_BODY' || err.code === 'FST_ERR_CTP_EMPTY_JSON_BODY' || err instanceof SyntaxError) return sendError(reply, 400, 'INVALID_JSON', err.message, 'body');
    if (err.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') return sendError(reply, 415, 'UNSUPPORTED_MEDIA_TYPE', err.message, 'Content-Type');
    if (err.code === 'FST_ERR_CTP_BODY_TOO_LARGE') return sendError(reply, 413, 'BODY_TOO_LARGE', err.message, 'body');
    const status = err.statusCode && err.statusCode >= 400 ? err.statusCode : 500;
    if (status < 500) return sendError(reply, status, 'BAD_REQUEST', err.message);
    reply.log.error(err);
    return sendError(reply, status, 'INTERNAL', `the store failed: ${err.message}`);
  });

  app.setNotFoundHandler((req, reply) => sendError(reply, 404, 'NOT_FOUND', `no route ${req.method} ${req.url.split('?')[0]}`));

  if (faults.active) {
    app.addHook('onRequest', async (req, reply) => {
      if (req.url === '/health') return;
      const d = faults.decide(performance.now());
      if (d.kind === 'rate_limited') {
        reply.header('retry-after', String(d.retryAfterSeconds));
        return sendError(reply, 429, 'RATE_LIMITED', `more than ${options.maxRps} requests per second; retry after ${d.retryAfterSeconds} s`);
      }
      if (d.kind === 'hang') {
        const socket = req.raw.socket;
        hung.add(socket);
        socket.once('close', () => hung.delete(socket));
        return new Promise<void>(() => {});
      }
      if (d.delayMs > 0) await new Promise((r) => setTimeout(r, d.delayMs));
      if (d.kind === 'fail') return sendError(reply, 503, 'INJECTED_FAILURE', 'injected failure (--fail-rate)');
    });
  }

  app.get('/health', async () => {
    const s = await backend.stats();
    return { status: 'ok', backend: backend.kind, offer_cycle: s.offer_cycle };
  });

  app.get(
    '/products',
    {
      schema: {
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: {
            category: { type: 'string', minLength: 1, maxLength: 64 },
            search: { type: 'string', minLength: 1, maxLength: 100 },
            page: { type: 'string', pattern: POSITIVE_INT },
            page_size: { type: 'string', pattern: POSITIVE_INT },
          },
        },
      },
    },
    async (req) => {
      const q = req.query as { category?: string; search?: string; page?: string; page_size?: string };
      const page = q.page === undefined ? 1 : Number(q.page);
      const pageSize = q.page_size === undefined ? 20 : Number(q.page_size);
      if (pageSize > 100) fail(400, 'VALIDATION_ERROR', `page_size must be at most 100, got ${pageSize}`, 'page_size');
      const res = await backend.listProducts({ ...(q.category ? { category: q.category } : {}), ...(q.search ? { search: q.search } : {}), page, pageSize });
      return { items: res.items, page, page_size: pageSize, total: res.total };
    },
  );

  const idParams = { type: 'object', required: ['id'], properties: { id: { type: 'string', minLength: 1, maxLength: 128 } } };

  app.get('/products/:id', { schema: { params: idParams } }, async (req) => {
    const { id } = req.params as { id: string };
    const p = await backend.getProduct(id);
    if (!p) fail(404, 'PRODUCT_NOT_FOUND', `product ${id} not found`, 'id');
    return p;
  });

  app.get('/cart', async (req) => backend.getCart(userOf(req)));

  app.post(
    '/cart/items',
    {
      schema: {
        body: {
          type: 'object',
          additionalProperties: false,
          required: ['product_id', 'quantity'],
          properties: { product_id: { type: 'string', minLength: 1, maxLength: 128 }, quantity: { type: 'integer', minimum: 1, maximum: 99 } },
        },
      },
    },
    idempotent(async (req) => {
      const user = userOf(req);
      const b = req.body as { product_id: string; quantity: number };
      return backend.addToCart(user, b.product_id, b.quantity);
    }),
  );

  app.delete('/cart/items/:id', { schema: { params: idParams } }, idempotent(async (req) => backend.removeFromCart(userOf(req), (req.params as { id: string }).id)));

  app.delete(
    '/cart',
    idempotent(async (req, reply) => {
      await backend.clearCart(userOf(req));
      return reply.code(204).send();
    }),
  );

  app.get('/offers', async (req) => backend.listOffers(userOf(req)));

  app.post(
    '/cart/coupon',
    { schema: { body: { type: 'object', additionalProperties: false, required: ['code'], properties: { code: { type: 'string', minLength: 1, maxLength: 128 } } } } },
    idempotent(async (req) => {
      const user = userOf(req);
      const at = simTimeOf(req);
      return backend.applyCoupon(user, (req.body as { code: string }).code, at);
    }),
  );

  app.post('/checkout', async (req, reply) => {
    const user = userOf(req);
    const at = simTimeOf(req);
    const key = header(req, 'idempotency-key');
    if (key === undefined || key === '') fail(400, 'MISSING_IDEMPOTENCY_KEY', 'the Idempotency-Key header is required', 'Idempotency-Key');
    if (key.length > 200) fail(400, 'VALIDATION_ERROR', 'Idempotency-Key must be at most 200 characters', 'Idempotency-Key');
    const body = req.body;
    if (body !== undefined && body !== null && !(typeof body === 'object' && !Array.isArray(body) && Object.keys(body).length === 0)) {
      fail(400, 'VALIDATION_ERROR', 'checkout takes no body (or {})', 'body');
    }
    const { order, replayed } = await backend.checkout(user, key, at);
    if (replayed) reply.header('idempotent-replayed', 'true');
    return reply.code(replayed ? 200 : 201).send(order);
  });

  app.post(
    '/offer-cycles',
    {
      schema: {
        body: {
          type: 'object',
          additionalProperties: false,
          required: ['offer_cycle', 'starts_at', 'ends_at', 'user_ids'],
          properties: {
            offer_cycle: { type: 'integer', minimum: 0 },
            starts_at: { type: 'string', format: 'date-time' },
            ends_at: { type: 'string', format: 'date-time' },
            user_ids: { type: 'array', maxItems: 5_000_000, items: { type: 'string', pattern: USER_ID.source } },
          },
        },
      },
    },
    async (req, reply) => {
      const b = req.body as OfferCycleRequest;
      if (Date.parse(b.ends_at) <= Date.parse(b.starts_at)) fail(400, 'VALIDATION_ERROR', `ends_at (${b.ends_at}) must be after starts_at (${b.starts_at})`, 'ends_at');
      const res = await backend.startOfferCycle(b, planOffers(seed, b));
      return reply.code(201).send(res);
    },
  );

  return {
    app,
    backend,
    async listen() {
      const address = await app.listen({ host, port });
      return { url: address.replace('[::1]', '127.0.0.1') };
    },
    async close() {
      for (const s of hung) s.destroy();
      hung.clear();
      await app.close();
    },
    faultCounts: () => faults.counts(),
    stockRefusals: () => stockRefusals,
    idempotentReplays: () => replays,
  };
}
