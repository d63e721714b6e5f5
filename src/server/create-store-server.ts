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
}

export interface StoreServer {
  readonly app: FastifyInstance;
  readonly backend: StoreBackend;
  listen(): Promise<{ url: string }>;
  /** Stops listening, drops hung requests and open connections. Does not close the backend. */
  close(): Promise<void>;
  faultCounts(): { rate_limited: number; hung: number; failed: number; delayed: number };
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

function sendError(reply: FastifyReply, status: number, code: string, message: string, field?: string): FastifyReply {
  return reply.code(status).send({ error: field === undefined ? { code, message } : { code, message, field } });
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
    async (req) => {
      const user = userOf(req);
      const b = req.body as { product_id: string; quantity: number };
      return backend.addToCart(user, b.product_id, b.quantity);
    },
  );

  app.delete('/cart/items/:id', { schema: { params: idParams } }, async (req) => backend.removeFromCart(userOf(req), (req.params as { id: string }).id));

  app.delete('/cart', async (req, reply) => {
    await backend.clearCart(userOf(req));
    return reply.code(204).send();
  });

  app.get('/offers', async (req) => backend.listOffers(userOf(req)));

  app.post(
    '/cart/coupon',
    { schema: { body: { type: 'object', additionalProperties: false, required: ['code'], properties: { code: { type: 'string', minLength: 1, maxLength: 128 } } } } },
    async (req) => {
      const user = userOf(req);
      const at = simTimeOf(req);
      return backend.applyCoupon(user, (req.body as { code: string }).code, at);
    },
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
  };
}
