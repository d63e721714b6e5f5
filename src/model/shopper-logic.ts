/**
 * The shopper's decisions, as functions over plain data. The XState shopper machine
 * sequences them (machines/shopper.machine.ts) and the plain-loop baseline in test/bench
 * calls the same functions in the same order, so both make identical decisions and
 * produce identical event logs. Everything random comes from the agent's own Rng.
 *
 * Not pure: the after* steps, decideCheckout and afterFailure change the Session they are
 * given (calls, events, status…) and return that same object. The machine calls them inside
 * `assign`, which XState expects to build new values. It is safe here because a session
 * lives only inside one agent's cycle and checkpoints are taken between cycles (session is
 * null then); what it costs is that a mid-cycle snapshot (the Stately inspector's) sees its
 * session change under it. Returning new sessions instead was tried and measured (issue 10):
 * no CPU cost within noise, but +55-60 MB peak RSS for the engine and +115-125 MB for the
 * plain loop at 100,000 agents × 24 cycles (most likely copies made while 100,000 calls are
 * in flight outliving the young generation), so they were not kept.
 */
import { HOUR_MS, type CycleInfo } from './calendar.ts';
import { shoppingProbability, visitProbability } from './personas.ts';
import type { Rng } from './rng.ts';
import type {
  Cart,
  CycleOutcome,
  Offer,
  Order,
  Persona,
  Product,
  SessionEvent,
  SessionKind,
  SessionRecord,
  SessionStatus,
  ShopperCycleResult,
} from './types.ts';

export type CycleDecision = 'skip' | 'browse' | 'shop';

/** Where a session is; kept in the actor's context only while a cycle runs. */
export interface Session {
  kind: SessionKind;
  cycle: number;
  startMs: number;
  events: SessionEvent[];
  /** Store calls made so far this cycle (next call is callSeq + 1). */
  calls: number;
  category: string;
  page: number;
  viewDraws: number[];
  products: Product[];
  planned: { productId: string; quantity: number }[];
  cart: Cart | null;
  offers: Offer[];
  coupon: string | null;
  couponApplied: boolean;
  carted: boolean;
  order: Order | null;
  status: SessionStatus | null;
  notes: string | null;
  /** `refusal`: the step ended on a store rule's answer (out of stock…), not a fault. */
  failure: { step: string; message: string; refusal?: boolean } | null;
}

export const PAGE_SIZE = 12;
/** Simulated seconds between two events of a session. */
const EVENT_SPACING_MS = 37_000;

/**
 * Skip, browse only, or shop: the first draw(s) of every cycle. A profile-made persona (one
 * with cart_intent) first decides to visit, then whether this visit shops; a persona without
 * it follows the seed's formula (shop, else browse with browse_propensity × hour affinity).
 */
export function decideCycle(rng: Rng, persona: Persona, info: CycleInfo): CycleDecision {
  if (persona.cart_intent !== undefined) {
    if (rng.next() >= visitProbability(persona, info.hour, info.weekday, info.weekend)) return 'skip';
    return rng.next() < persona.cart_intent ? 'shop' : 'browse';
  }
  const p = shoppingProbability(persona, info.hour, info.weekend);
  if (rng.next() < p) return 'shop';
  const browse = persona.browse_propensity * (persona.hour_affinity[info.hour] ?? 0);
  return rng.next() < browse ? 'browse' : 'skip';
}

function addEvent(s: Session, type: string, payload: Record<string, unknown>): void {
  const seq = s.events.length + 1;
  s.events.push({ seq, type, at: new Date(s.startMs + seq * EVENT_SPACING_MS).toISOString(), payload });
}

/** Opens a session: when in the hour it starts, what to browse, which listed items to look at. */
export function openSession(rng: Rng, persona: Persona, info: CycleInfo, kind: SessionKind): Session {
  const startMs = info.atMs + rng.int(0, 50) * 60_000;
  const category = rng.pick(persona.preferred_categories);
  const page = rng.int(1, 2);
  const range = persona.views_per_session;
  const views = range ? rng.int(range.min, range.max) : kind === 'shop' ? rng.int(1, 2) : rng.int(2, 3);
  const viewDraws: number[] = [];
  for (let i = 0; i < views; i++) viewDraws.push(rng.next());
  const s: Session = {
    kind,
    cycle: info.cycle,
    startMs: Math.min(startMs, info.atMs + HOUR_MS - 600_000),
    events: [],
    calls: 0,
    category,
    page,
    viewDraws,
    products: [],
    planned: [],
    cart: null,
    offers: [],
    coupon: null,
    couponApplied: false,
    carted: false,
    order: null,
    status: null,
    notes: null,
    failure: null,
  };
  addEvent(s, 'session_started', { kind, category });
  return s;
}

export interface BrowseOutput {
  products: Product[];
  viewed: Product[];
  calls: number;
}

/** After browsing: record what was seen; a shopper also plans what to put in the cart. */
export function afterBrowse(rng: Rng, persona: Persona, s: Session, out: BrowseOutput): Session {
  s.calls += out.calls;
  s.products = out.products;
  addEvent(s, 'products_listed', { category: s.category, page: s.page, count: out.products.length });
  for (const p of out.viewed) addEvent(s, 'product_viewed', { product_id: p.id, price_cents: p.price_cents });
  if (s.kind === 'browse') {
    s.status = 'completed';
    return s;
  }
  // Plan the basket: affordable items, cheaper ones preferred by price-sensitive personas.
  const want = rng.int(persona.basket_size.min, persona.basket_size.max);
  const candidates = out.products.filter((p) => p.stock > 0 && p.price_cents <= persona.budget_cents);
  let spend = 0;
  for (let i = 0; i < want && candidates.length > 0; i++) {
    const weights = candidates.map((p) => {
      const priceFactor = 1 / (1 + (persona.price_sensitivity * p.price_cents) / 2000);
      return Math.max(1e-6, priceFactor * (0.5 + p.rating / 10));
    });
    const idx = rng.weighted(weights);
    const product = candidates[idx] as Product;
    const quantity = rng.chance(0.15) ? 2 : 1;
    if (spend + product.price_cents * quantity > persona.budget_cents) break;
    spend += product.price_cents * quantity;
    s.planned.push({ productId: product.id, quantity });
    candidates.splice(idx, 1);
  }
  if (s.planned.length === 0) {
    addEvent(s, 'cart_abandoned', { reason: 'nothing_affordable', total_cents: 0 });
    s.status = 'abandoned';
  }
  return s;
}

export function afterCart(s: Session, cart: Cart, calls: number): Session {
  s.calls += calls;
  s.cart = cart;
  s.carted = true;
  for (const line of s.planned) addEvent(s, 'cart_item_added', { product_id: line.productId, quantity: line.quantity });
  return s;
}

/** After viewing offers: maybe pick the best one the cart qualifies for. */
export function afterOffers(rng: Rng, persona: Persona, s: Session, offers: Offer[]): Session {
  s.calls += 1;
  s.offers = offers;
  addEvent(s, 'offers_viewed', { count: offers.length });
  const subtotal = s.cart?.subtotal_cents ?? 0;
  const usable = offers.filter((o) => o.min_spend_cents <= subtotal);
  if (usable.length > 0 && rng.next() < persona.coupon_affinity) {
    let best = usable[0] as Offer;
    for (const o of usable) if (o.discount_percent > best.discount_percent) best = o;
    s.coupon = best.code;
  }
  return s;
}

export function afterCouponApplied(s: Session, cart: Cart): Session {
  s.calls += 1;
  s.cart = cart;
  s.couponApplied = true;
  addEvent(s, 'coupon_applied', { code: s.coupon, discount_cents: cart.discount_cents });
  return s;
}

export function afterCouponRejected(s: Session, reason: string): Session {
  s.calls += 1;
  addEvent(s, 'coupon_rejected', { code: s.coupon, reason: reason.slice(0, 200) });
  s.coupon = null;
  return s;
}

/** Check out or walk away: abandonment tendency, raised by price sensitivity on a big cart. */
export function decideCheckout(rng: Rng, persona: Persona, s: Session): 'checkout' | 'abandon' {
  const total = s.cart?.total_cents ?? 0;
  const pressure = Math.min(1, total / Math.max(1, persona.budget_cents));
  let p = persona.abandonment_tendency + persona.price_sensitivity * pressure * 0.25;
  if (s.couponApplied) p *= 0.6;
  if (rng.next() < Math.min(0.95, p)) {
    addEvent(s, 'cart_abandoned', { reason: 'changed_mind', total_cents: total });
    s.status = 'abandoned';
    return 'abandon';
  }
  addEvent(s, 'checkout_started', { total_cents: total });
  return 'checkout';
}

export function afterCheckout(s: Session, order: Order): Session {
  s.calls += 1;
  s.order = order;
  s.status = 'completed';
  addEvent(s, 'checkout_completed', { order_id: order.order_id, total_cents: order.total_cents, items: order.items_count });
  return s;
}

/** Steps whose failure sends the session down the failure path. */
export type ShopStep = 'browse' | 'add_to_cart' | 'offers' | 'coupon' | 'checkout' | 'write';

/** The failure path: record `<step>_failed`, the cart and coupon are cleared, the session fails. */
export function afterFailure(s: Session, step: ShopStep, error: { message: string; name?: string; calls?: number; refusal?: boolean }): Session {
  s.calls += error.calls ?? 0;
  const message = error.message.slice(0, 500);
  addEvent(s, `${step}_failed`, { error: message, error_type: error.name ?? 'Error' });
  s.cart = null;
  s.coupon = null;
  s.status = 'failed';
  s.notes = message;
  s.failure = error.refusal === true ? { step, message, refusal: true } : { step, message };
  return s;
}

export function idempotencyKey(runId: string, agentId: string, cycle: number): string {
  return `${runId}:${agentId}:${cycle}`;
}

export function sessionId(runId: string, agentId: string, cycle: number): string {
  return `${runId}:${cycle}:${agentId}`;
}

export function toRecord(runId: string, agentId: string, agentIndex: number, s: Session): SessionRecord {
  const last = s.events[s.events.length - 1];
  return {
    runId,
    sessionId: sessionId(runId, agentId, s.cycle),
    agentId,
    agentIndex,
    cycle: s.cycle,
    kind: s.kind,
    status: s.status ?? 'completed',
    simStart: new Date(s.startMs).toISOString(),
    simEnd: last ? last.at : new Date(s.startMs).toISOString(),
    notes: s.notes,
    events: s.events,
    order: s.order ? { orderId: s.order.order_id, totalCents: s.order.total_cents, itemsCount: s.order.items_count } : null,
  };
}

export function outcomeOf(s: Session): CycleOutcome {
  if (s.status === 'failed') return 'failed';
  if (s.kind === 'browse') return 'browse';
  return s.status === 'abandoned' ? 'abandon' : 'checkout';
}

export function resultOf(agentIndex: number, s: Session | null): ShopperCycleResult {
  if (!s) return { agentIndex, outcome: 'skip', events: 0, calls: 0, revenueCents: 0, couponApplied: false, carted: false, failure: null };
  return {
    agentIndex,
    outcome: outcomeOf(s),
    events: s.events.length,
    calls: s.calls,
    revenueCents: s.order?.total_cents ?? 0,
    couponApplied: s.couponApplied,
    carted: s.carted,
    failure: s.failure,
  };
}

/** When a commit fails the whole agent-cycle is rolled back: it counts as a failure. */
export function writeFailed(agentIndex: number, s: Session, message: string): ShopperCycleResult {
  const r = resultOf(agentIndex, s);
  return { ...r, outcome: 'failed', revenueCents: 0, failure: { step: 'write', message: message.slice(0, 500) } };
}
