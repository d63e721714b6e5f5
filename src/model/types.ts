/**
 * The contracts between the pure core (machines/, src/model/) and the edges (src/store,
 * src/db, src/monitor). Money is integer cents; simulated times are ISO-8601 UTC strings.
 */

export interface Persona {
  id: string;
  name: string;
  segment: string;
  /** Base chance of shopping in a cycle, before hour and day affinities (0..1). */
  shopping_frequency: number;
  /** 24 values (0..1), index = simulated hour of day (UTC). */
  hour_affinity: number[];
  weekday_affinity: number;
  weekend_affinity: number;
  /** Chance that a cycle in which the agent does not shop is still spent browsing (0..1). */
  browse_propensity: number;
  /** 0 = buys anything, 1 = only cheap things and hard to convert. */
  price_sensitivity: number;
  /** Chance of applying an available coupon (0..1). */
  coupon_affinity: number;
  /** Base chance of abandoning a cart at checkout (0..1). */
  abandonment_tendency: number;
  basket_size: { min: number; max: number };
  preferred_categories: string[];
  /** Spending limit per session, in cents. */
  budget_cents: number;
  /**
   * Profile-made personas only (src/model/profiles.ts). When set, a cycle is a visit with
   * probability `shopping_frequency × hour_affinity[h] × day affinity`, and a visit becomes a
   * shopping session (one that puts things in a cart) with this probability; browse_propensity
   * is then unused. Absent: the seed's formula (docs/agent-model.md).
   */
  cart_intent?: number;
  /** Product pages opened per session (both kinds); absent: 1–2 when shopping, 2–3 when browsing. */
  views_per_session?: { min: number; max: number };
  /** Seven day multipliers, Sunday first; absent: weekday_affinity / weekend_affinity. */
  day_affinity?: number[];
}

export interface Product {
  id: string;
  sku: string;
  name: string;
  category: string;
  price_cents: number;
  stock: number;
  rating: number;
}

export interface CartLine {
  product_id: string;
  quantity: number;
  unit_price_cents: number;
}

export interface Cart {
  user_id: string;
  items: CartLine[];
  coupon_code: string | null;
  subtotal_cents: number;
  discount_cents: number;
  total_cents: number;
}

export interface Offer {
  offer_id: string;
  code: string;
  description: string;
  discount_percent: number;
  min_spend_cents: number;
  offer_cycle: number;
  valid_from: string;
  valid_until: string;
}

export interface Order {
  order_id: string;
  user_id: string;
  total_cents: number;
  discount_cents: number;
  items_count: number;
  coupon_code: string | null;
}

/** Who is calling, for what cycle, and which call of the agent's cycle this is. */
export interface CallContext {
  agentId: string;
  agentIndex: number;
  cycle: number;
  /** Simulated time of the call (ISO). The store uses it for coupon validity. */
  at: string;
  /** 1-based number of this call within the agent's cycle; stable across runs. */
  callSeq: number;
}

export interface ProductQuery {
  category?: string;
  search?: string;
  page: number;
  pageSize: number;
}

export interface OfferCycleRequest {
  offer_cycle: number;
  starts_at: string;
  ends_at: string;
  /** Agents that may receive offers (all agents of the run). */
  user_ids: string[];
}

/**
 * What a shopper can ask of a store. Implemented by the deterministic mock store
 * (src/store/mock-store.ts) and the HTTP client (src/store/). Methods reject with a
 * StoreCallError: `kind: 'rejected'` for a business refusal (4xx: invalid coupon, empty cart),
 * `kind: 'failed'` for a 5xx, a timeout or a network error.
 */
export interface StoreApi {
  listProducts(ctx: CallContext, query: ProductQuery): Promise<Product[]>;
  getProduct(ctx: CallContext, productId: string): Promise<Product>;
  getCart(ctx: CallContext): Promise<Cart>;
  addToCart(ctx: CallContext, productId: string, quantity: number): Promise<Cart>;
  removeFromCart(ctx: CallContext, productId: string): Promise<Cart>;
  clearCart(ctx: CallContext): Promise<void>;
  listOffers(ctx: CallContext): Promise<Offer[]>;
  applyCoupon(ctx: CallContext, code: string): Promise<Cart>;
  checkout(ctx: CallContext, idempotencyKey: string): Promise<Order>;
  startOfferCycle(request: OfferCycleRequest): Promise<{ offers_assigned: number }>;
}

export type SessionKind = 'browse' | 'shop';
export type SessionStatus = 'completed' | 'abandoned' | 'failed';

export interface SessionEvent {
  /** 1-based, per agent per cycle. */
  seq: number;
  type: string;
  /** Simulated time (ISO). */
  at: string;
  payload: Record<string, unknown>;
}

/** One agent's cycle, written in one transaction (session row + all events + final status). */
export interface SessionRecord {
  runId: string;
  sessionId: string;
  agentId: string;
  agentIndex: number;
  cycle: number;
  kind: SessionKind;
  status: SessionStatus;
  simStart: string;
  simEnd: string;
  notes: string | null;
  events: SessionEvent[];
  order: { orderId: string; totalCents: number; itemsCount: number } | null;
}

export interface RunMeta {
  runId: string;
  seed: number;
  config: Record<string, unknown>;
  isReplay: boolean;
  resumedFrom: string | null;
  startedAt: string;
  personas: Persona[];
  products: Product[];
}

/**
 * Where sessions go. `commitSession` is one transaction; it rejects when nothing of the
 * agent-cycle was written. Implemented by the mock recorder and the PostgreSQL sink (src/db).
 */
export interface Recorder {
  beginRun(meta: RunMeta): Promise<void>;
  commitSession(record: SessionRecord): Promise<void>;
  /** Called on resume before the first cycle: drop what a crashed run wrote after `cycle`. */
  prepareResume(runId: string, lastCompletedCycle: number): Promise<{ orphanedSessions: number; discardedSessions: number }>;
  endRun(runId: string, summary: Record<string, unknown>): Promise<void>;
  close(): Promise<void>;
  /** Write figures so far (a database recorder: commits, failures, statements, commit latency). */
  metrics?(): DbWriteMetrics;
  /**
   * Settles writes whose outcome was unknown (answer lost) and that were counted as failed:
   * their rows are removed if they landed, so the database holds what the run counted. Called
   * by the driver at every cycle boundary, before a checkpoint; `pending` are those it could
   * not settle yet (the database still does not answer).
   */
  reconcile?(): Promise<{ pending: number; removed: number }>;
}

/** What a database recorder reports of its writes (summary `db_writes`, dashboard row "DB writes"). */
export interface DbWriteMetrics {
  /** Agent-cycles written. */
  commits: number;
  /** Agent-cycles whose write failed (rolled back; counted as that agent's failure). */
  failed: number;
  /** Statements sent: one per agent-cycle, or one per batch with group commit (plus retries). */
  statements: number;
  events: number;
  /** Writes sent again after a lost answer (timeout, dropped connection); idempotent. */
  retried: number;
  /** Agent-cycles counted as failed whose write may still have landed (not yet reconciled). */
  in_doubt: number;
  /** Rows of such writes found in the database and removed, so it holds what the run counted. */
  in_doubt_removed: number;
  /** From commitSession to its answer, waiting for a connection (and a batch) included. */
  commit_ms: { p50: number; p95: number; p99: number; max: number; mean: number; count: number };
}

/** What a shopper tells its cohort at the end of its cycle. */
export type CycleOutcome = 'skip' | 'browse' | 'checkout' | 'abandon' | 'failed';

export interface ShopperCycleResult {
  agentIndex: number;
  outcome: CycleOutcome;
  events: number;
  calls: number;
  revenueCents: number;
  couponApplied: boolean;
  carted: boolean;
  /** `refusal`: a store rule's answer (out of stock, coupon not valid…), not a fault. */
  failure: { step: string; message: string; refusal?: boolean } | null;
}

/** Totals folded over the agents of a cycle (cohort → orchestrator). */
export interface CycleTotals {
  agents: number;
  sessions: number;
  idleBrowses: number;
  carts: number;
  couponsApplied: number;
  checkouts: number;
  abandoned: number;
  failed: number;
  /**
   * Of `failed`, sessions that ended on a store rule's answer (a 4xx refusal: out of stock,
   * coupon not valid…) rather than a fault. Absent in totals restored from a checkpoint
   * written before it existed (read as 0).
   */
  refusals?: number;
  /**
   * Of `failed`, agent-cycles whose commit failed: rolled back, so neither the session nor its
   * events are in the database (and `unwrittenEvents` of `events`). Absent when none (and in
   * totals restored from a checkpoint written before it existed).
   */
  unwritten?: number;
  unwrittenEvents?: number;
  events: number;
  calls: number;
  revenueCents: number;
  /** Up to a few failure messages, for the breaker banner. */
  failureSamples: { agentIndex: number; step: string; message: string }[];
}
