/**
 * buildReport(pool, runId?): the funnel of one run, as data. The CLI (src/cli/report.ts)
 * renders it; `--json` prints it as is. Numbers come from the shopping_sessions rows, whose
 * funnel columns (carted, coupon_applied, revenue_cents, event_count) the recorder fills from
 * the same SessionRecord the simulation's totals are folded from, so they agree with the
 * run's JSON summary.
 */
import { sql, type DatabasePool } from 'slonik';
import { z } from 'zod';
import { ShopsimError } from '../errors.ts';
import { curveDistance, inBand, RATE_DEFINITIONS, RATE_NAMES, validateProfile, type Profile, type RateName } from '../model/profiles.ts';

export interface RunInfo {
  id: string;
  seed: number;
  started_at: string;
  ended_at: string | null;
  is_replay: boolean;
  resumed_from: string | null;
  summary: Record<string, unknown> | null;
}

export interface Funnel {
  sessions: number;
  browse_only: number;
  shop_sessions: number;
  carts: number;
  coupons_applied: number;
  checkouts: number;
  abandoned: number;
  failed: number;
  /** Sessions still `active` (only after a crash, until a resume cleans them up). */
  active: number;
  events: number;
  agents: number;
}

export interface Rates {
  /** checkouts / sessions */
  conversion_rate: number;
  /** checkouts / carts */
  cart_conversion_rate: number;
  /** abandoned / (checkouts + abandoned): of the shopping sessions that reached a decision, how many walked away */
  abandonment_rate: number;
  /** failed / sessions */
  failure_rate: number;
}

export interface Bucket {
  sessions: number;
  checkouts: number;
  conversion_rate: number;
  revenue_cents: number;
}

/** The run's rates against the targets of the profile it recorded (runs.config.profile_spec). */
export interface TargetReport {
  profile: string;
  rates: { rate: RateName; definition: string; target: number; min: number; max: number; achieved: number; inside: boolean }[];
  /** 24 rows: each hour's share of the run's sessions and orders beside the profile's curve, normalised the same way. */
  curve: { hour: number; sessions_share: number; orders_share: number; target_share: number }[];
  curve_distance: number;
  curve_tolerance: number;
  /** Every rate inside its band and the curve within its tolerance. */
  inside: boolean;
}

export interface Report {
  run: RunInfo;
  /** Null for a run recorded without a profile (before profiles existed). */
  targets: TargetReport | null;
  funnel: Funnel;
  rates: Rates;
  revenue: { revenue_cents: number; orders: number; average_order_cents: number };
  /** 24 rows, hour of simulated session start (UTC). */
  by_hour: (Bucket & { hour: number })[];
  /** 7 rows, Monday first. */
  by_weekday: (Bucket & { weekday: string; isodow: number })[];
  /** The most frequent errors of failed sessions (their `notes`), at most 5, most frequent first. */
  top_failures: { error: string; sessions: number }[];
}

const WEEKDAYS = ['Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat', 'Sun'];

const runRow = z.object({
  id: z.string(),
  seed: z.coerce.number(),
  started_at: z.number(),
  ended_at: z.number().nullable(),
  is_replay: z.boolean(),
  resumed_from: z.string().nullable(),
  summary: z.record(z.unknown()).nullable(),
  config: z.record(z.unknown()).nullable(),
});

const funnelRow = z.object({
  sessions: z.number(),
  browse_only: z.number(),
  shop_sessions: z.number(),
  carts: z.number(),
  coupons_applied: z.number(),
  checkouts: z.number(),
  abandoned: z.number(),
  failed: z.number(),
  active: z.number(),
  events: z.number(),
  agents: z.number(),
  revenue_cents: z.number(),
  coupon_orders: z.number(),
  items: z.number(),
});

const failureRow = z.object({ error: z.string(), sessions: z.number() });

const bucketRow = z.object({ k: z.number(), sessions: z.number(), checkouts: z.number(), revenue_cents: z.number() });

const ratio = (a: number, b: number) => (b > 0 ? Math.round((a / b) * 10_000) / 10_000 : 0);

/**
 * The report of `runId`, or of the newest run (by start time) when omitted.
 * @throws ShopsimError E_INPUT when the database holds no such run (or no run at all).
 */
export async function buildReport(pool: DatabasePool, runId?: string): Promise<Report> {
  const r = runId
    ? await pool.maybeOne(sql.type(runRow)`
        SELECT id, seed, started_at, ended_at, is_replay, resumed_from, summary, config FROM runs WHERE id = ${runId}`)
    : await pool.maybeOne(sql.type(runRow)`
        SELECT id, seed, started_at, ended_at, is_replay, resumed_from, summary, config FROM runs
        ORDER BY started_at DESC, updated_at DESC LIMIT 1`);
  if (!r) {
    throw new ShopsimError('E_INPUT', runId ? `No run "${runId}" in the database` : 'No runs in the database yet: run `shopsim run` first', { exitCode: 2 });
  }
  const f = await pool.one(sql.type(funnelRow)`
    SELECT
      count(*)::int AS sessions,
      count(*) FILTER (WHERE kind = 'browse' AND status = 'completed')::int AS browse_only,
      count(*) FILTER (WHERE kind = 'shop')::int AS shop_sessions,
      count(*) FILTER (WHERE carted)::int AS carts,
      count(*) FILTER (WHERE coupon_applied)::int AS coupons_applied,
      count(*) FILTER (WHERE kind = 'shop' AND status = 'completed')::int AS checkouts,
      count(*) FILTER (WHERE status = 'abandoned')::int AS abandoned,
      count(*) FILTER (WHERE status = 'failed')::int AS failed,
      count(*) FILTER (WHERE status = 'active')::int AS active,
      coalesce(sum(event_count), 0)::float8 AS events,
      count(DISTINCT agent_id)::int AS agents,
      coalesce(sum(revenue_cents) FILTER (WHERE status = 'completed'), 0)::float8 AS revenue_cents,
      count(*) FILTER (WHERE kind = 'shop' AND status = 'completed' AND coupon_applied)::int AS coupon_orders,
      coalesce(sum(items_count) FILTER (WHERE kind = 'shop' AND status = 'completed'), 0)::float8 AS items
    FROM shopping_sessions WHERE run_id = ${r.id}`);

  const bucketQuery = (part: 'hour' | 'isodow') => sql.type(bucketRow)`
    SELECT extract(${part === 'hour' ? sql.fragment`hour` : sql.fragment`isodow`} FROM simulated_start AT TIME ZONE 'UTC')::int AS k,
      count(*)::int AS sessions,
      count(*) FILTER (WHERE kind = 'shop' AND status = 'completed')::int AS checkouts,
      coalesce(sum(revenue_cents) FILTER (WHERE status = 'completed'), 0)::float8 AS revenue_cents
    FROM shopping_sessions WHERE run_id = ${r.id}
    GROUP BY 1 ORDER BY 1`;
  const failures = f.failed === 0 ? [] : await pool.any(sql.type(failureRow)`
    SELECT coalesce(notes, '(no error recorded)') AS error, count(*)::int AS sessions
    FROM shopping_sessions WHERE run_id = ${r.id} AND status = 'failed'
    GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT 5`);
  const hours = await pool.any(bucketQuery('hour'));
  const days = await pool.any(bucketQuery('isodow'));
  const bucket = (rows: readonly z.infer<typeof bucketRow>[], k: number): Bucket => {
    const row = rows.find((x) => x.k === k);
    const sessions = row?.sessions ?? 0;
    const checkouts = row?.checkouts ?? 0;
    return { sessions, checkouts, conversion_rate: ratio(checkouts, sessions), revenue_cents: row?.revenue_cents ?? 0 };
  };

  const profile = profileOf(r.config);
  const targets = profile ? await targetReport(pool, r.id, profile, f, hours, agentsOf(r.summary, r.config, f.agents)) : null;
  const { revenue_cents, coupon_orders: _couponOrders, items: _items, ...funnel } = f;
  return {
    run: {
      id: r.id,
      seed: r.seed,
      started_at: new Date(r.started_at).toISOString(),
      ended_at: r.ended_at === null ? null : new Date(r.ended_at).toISOString(),
      is_replay: r.is_replay,
      resumed_from: r.resumed_from,
      summary: r.summary,
    },
    targets,
    funnel,
    rates: {
      conversion_rate: ratio(f.checkouts, f.sessions),
      cart_conversion_rate: ratio(f.checkouts, f.carts),
      abandonment_rate: ratio(f.abandoned, f.checkouts + f.abandoned),
      failure_rate: ratio(f.failed, f.sessions),
    },
    revenue: { revenue_cents, orders: f.checkouts, average_order_cents: f.checkouts > 0 ? Math.round(revenue_cents / f.checkouts) : 0 },
    by_hour: Array.from({ length: 24 }, (_, hour) => ({ hour, ...bucket(hours, hour) })),
    by_weekday: WEEKDAYS.map((weekday, i) => ({ weekday, isodow: i + 1, ...bucket(days, i + 1) })),
    top_failures: failures.map((x) => ({ error: x.error, sessions: x.sessions })),
  };
}

/** The profile a run recorded, or null (none, or not a valid profile: then there is nothing to compare with). */
function profileOf(config: Record<string, unknown> | null): Profile | null {
  const spec = config?.['profile_spec'];
  if (spec === undefined || spec === null) return null;
  try {
    return validateProfile(spec, 'runs.config.profile_spec');
  } catch {
    return null;
  }
}

function agentsOf(summary: Record<string, unknown> | null, config: Record<string, unknown> | null, withSessions: number): number {
  const n = summary?.['agents'] ?? config?.['agents'];
  return typeof n === 'number' && n > 0 ? n : withSessions;
}

const viewsRow = z.object({ views: z.number() });
const peakRow = z.object({ peak: z.number() });

async function targetReport(
  pool: DatabasePool,
  runId: string,
  profile: Profile,
  f: z.infer<typeof funnelRow>,
  hours: readonly z.infer<typeof bucketRow>[],
  agents: number,
): Promise<TargetReport> {
  const views = await pool.oneFirst(sql.type(viewsRow)`
    SELECT count(*)::float8 AS views FROM shopping_session_events WHERE run_id = ${runId} AND type = 'product_viewed'`);
  const peak = await pool.oneFirst(sql.type(peakRow)`
    SELECT coalesce(max(n), 0)::int AS peak FROM (
      SELECT count(*) AS n FROM shopping_sessions
      WHERE run_id = ${runId} AND extract(isodow FROM simulated_start AT TIME ZONE 'UTC') BETWEEN 1 AND 5
      GROUP BY cycle) c`);
  const div = (a: number, b: number) => (b > 0 ? a / b : 0);
  const achieved: Record<RateName, number> = {
    conversion: div(f.checkouts, f.sessions),
    add_to_cart: div(f.carts, f.sessions),
    cart_abandonment: f.carts > 0 ? 1 - f.checkouts / f.carts : 0,
    browse_only: div(f.browse_only, f.sessions),
    views_per_session: div(views, f.sessions),
    peak_active_share: div(peak, agents),
    coupon_use: div(f.coupon_orders, f.checkouts),
    items_per_order: div(f.items, f.checkouts),
  };
  const rates: TargetReport['rates'] = [];
  for (const rate of RATE_NAMES) {
    const band = profile.targets[rate];
    if (!band) continue;
    const value = Math.round(achieved[rate] * 10_000) / 10_000;
    rates.push({ rate, definition: RATE_DEFINITIONS[rate], ...band, achieved: value, inside: inBand(achieved[rate], band) });
  }
  const sessionsBy = Array.from({ length: 24 }, (_, h) => hours.find((x) => x.k === h)?.sessions ?? 0);
  const ordersBy = Array.from({ length: 24 }, (_, h) => hours.find((x) => x.k === h)?.checkouts ?? 0);
  const sum = (a: number[]) => a.reduce((x, y) => x + y, 0);
  const targetSum = sum(profile.hourly);
  const curve = sessionsBy.map((n, hour) => ({
    hour,
    sessions_share: ratio(n, sum(sessionsBy)),
    orders_share: ratio(ordersBy[hour] ?? 0, sum(ordersBy)),
    target_share: ratio(profile.hourly[hour] ?? 0, targetSum),
  }));
  const distance = Math.round(curveDistance(sessionsBy, profile.hourly) * 10_000) / 10_000;
  return {
    profile: profile.name,
    rates,
    curve,
    curve_distance: distance,
    curve_tolerance: profile.curve_tolerance,
    inside: rates.every((x) => x.inside) && distance <= profile.curve_tolerance,
  };
}

/** One line of `shopsim report --list`. */
export interface RunListing {
  id: string;
  seed: number;
  started_at: string;
  ended_at: string | null;
  /** From the run's summary (null while it runs, or after a crash). */
  exit_reason: string | null;
  agents: number | null;
  cycles_completed: number | null;
  is_replay: boolean;
  /** Counted from the database. */
  sessions: number;
  checkouts: number;
  revenue_cents: number;
  /** ISO 4217 code the run's money is in, from its summary (null: not recorded, an older run). */
  currency: string | null;
}

const listingRow = z.object({
  id: z.string(),
  seed: z.coerce.number(),
  started_at: z.number(),
  ended_at: z.number().nullable(),
  is_replay: z.boolean(),
  summary: z.record(z.unknown()).nullable(),
  sessions: z.number(),
  checkouts: z.number(),
  revenue_cents: z.number(),
});

/** The runs in the database, newest first (at most `limit`). */
export async function listRuns(pool: DatabasePool, limit = 50): Promise<RunListing[]> {
  const rows = await pool.any(sql.type(listingRow)`
    SELECT r.id, r.seed, r.started_at, r.ended_at, r.is_replay, r.summary,
      coalesce(s.sessions, 0)::int AS sessions, coalesce(s.checkouts, 0)::int AS checkouts,
      coalesce(s.revenue_cents, 0)::float8 AS revenue_cents
    FROM (SELECT * FROM runs ORDER BY started_at DESC, updated_at DESC LIMIT ${limit}) r
    LEFT JOIN LATERAL (
      SELECT count(*) AS sessions,
        count(*) FILTER (WHERE kind = 'shop' AND status = 'completed') AS checkouts,
        sum(revenue_cents) FILTER (WHERE status = 'completed') AS revenue_cents
      FROM shopping_sessions WHERE run_id = r.id
    ) s ON true
    ORDER BY r.started_at DESC, r.updated_at DESC`);
  const num = (v: unknown) => (typeof v === 'number' ? v : null);
  return rows.map((r) => ({
    id: r.id,
    // slonik does not run the zod schema by default: int8 arrives as a BigInt.
    seed: Number(r.seed),
    started_at: new Date(r.started_at).toISOString(),
    ended_at: r.ended_at === null ? null : new Date(r.ended_at).toISOString(),
    exit_reason: typeof r.summary?.['exit_reason'] === 'string' ? (r.summary['exit_reason'] as string) : null,
    agents: num(r.summary?.['agents']),
    cycles_completed: num(r.summary?.['cycles_completed']),
    is_replay: r.is_replay,
    sessions: r.sessions,
    checkouts: r.checkouts,
    revenue_cents: r.revenue_cents,
    currency: typeof r.summary?.['currency'] === 'string' && /^[A-Z]{3}$/.test(r.summary['currency'] as string) ? (r.summary['currency'] as string) : null,
  }));
}
