/**
 * The funnel of a run as counts folded from its SessionRecords, and the profile's rates
 * computed from them (src/model/profiles.ts RATE_DEFINITIONS). `shopsim calibrate` and the
 * tests fold the records an in-process run commits; `shopsim report` computes the same rates
 * from the database (src/db/report.ts).
 */
import type { RateName } from './profiles.ts';
import type { SessionRecord } from './types.ts';

export interface FunnelCounts {
  agents: number;
  sessions: number;
  browseOnly: number;
  carts: number;
  orders: number;
  couponOrders: number;
  items: number;
  views: number;
  /** Sessions by hour of simulated start (UTC), 24 values. */
  byHour: number[];
  /** Orders by hour of simulated start. */
  ordersByHour: number[];
  /** Sessions by weekday of simulated start, Sunday first. */
  byWeekday: number[];
  /** Sessions per cycle, for the busiest weekday hour. */
  byCycle: Map<number, { sessions: number; weekend: boolean; hour: number }>;
}

export function emptyFunnel(agents: number): FunnelCounts {
  return { agents, sessions: 0, browseOnly: 0, carts: 0, orders: 0, couponOrders: 0, items: 0, views: 0, byHour: new Array(24).fill(0), ordersByHour: new Array(24).fill(0), byWeekday: new Array(7).fill(0), byCycle: new Map() };
}

/** Adds one committed session to the counts. */
export function foldSession(f: FunnelCounts, r: SessionRecord): void {
  f.sessions++;
  const start = new Date(r.simStart);
  const hour = start.getUTCHours();
  const day = start.getUTCDay();
  f.byHour[hour] = (f.byHour[hour] ?? 0) + 1;
  f.byWeekday[day] = (f.byWeekday[day] ?? 0) + 1;
  const c = f.byCycle.get(r.cycle) ?? { sessions: 0, weekend: day === 0 || day === 6, hour };
  c.sessions++;
  f.byCycle.set(r.cycle, c);
  if (r.kind === 'browse' && r.status === 'completed') f.browseOnly++;
  let carted = false;
  let coupon = false;
  for (const e of r.events) {
    if (e.type === 'product_viewed') f.views++;
    else if (e.type === 'cart_item_added') carted = true;
    else if (e.type === 'coupon_applied') coupon = true;
  }
  if (carted) f.carts++;
  if (r.order) {
    f.orders++;
    f.items += r.order.itemsCount;
    if (coupon) f.couponOrders++;
    f.ordersByHour[hour] = (f.ordersByHour[hour] ?? 0) + 1;
  }
}

const ratio = (a: number, b: number) => (b > 0 ? a / b : 0);

/** Every rate of RATE_NAMES from the counts. */
export function ratesOf(f: FunnelCounts): Record<RateName, number> {
  let peak = 0;
  for (const c of f.byCycle.values()) if (!c.weekend && c.sessions > peak) peak = c.sessions;
  return {
    conversion: ratio(f.orders, f.sessions),
    add_to_cart: ratio(f.carts, f.sessions),
    cart_abandonment: f.carts > 0 ? 1 - f.orders / f.carts : 0,
    browse_only: ratio(f.browseOnly, f.sessions),
    views_per_session: ratio(f.views, f.sessions),
    peak_active_share: ratio(peak, f.agents),
    coupon_use: ratio(f.couponOrders, f.orders),
    items_per_order: ratio(f.items, f.orders),
  };
}

/** Mean share of agents with a session in weekday cycles whose hour is in [from, to] (daytime: 11–16). */
export function weekdayShare(f: FunnelCounts, from: number, to: number): number {
  let sum = 0;
  let n = 0;
  for (const c of f.byCycle.values()) {
    if (c.weekend || c.hour < from || c.hour > to) continue;
    sum += c.sessions;
    n++;
  }
  return n > 0 && f.agents > 0 ? sum / n / f.agents : 0;
}
