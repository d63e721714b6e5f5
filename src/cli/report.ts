/**
 * `shopsim report [--run ID | --list] [--json]`: the funnel of a run (default: the newest), or
 * the list of runs, from the database, as cli-table3 tables or as JSON. It only reads: it
 * neither creates an embedded database nor migrates a server. The embedded database may be
 * held by a running simulation: then the report connects to its loopback server.
 */
import { existsSync } from 'node:fs';
import Table from 'cli-table3';
import type { Command } from 'commander';
import { sql } from 'slonik';
import { z } from 'zod';
import { openDatabase, type Database } from '../db/connection.ts';
import { DEFAULT_DATA_DIR } from '../db/embedded.ts';
import { buildReport, listRuns, type Report, type RunListing } from '../db/report.ts';
import { ShopsimError } from '../errors.ts';
import { DEFAULT_CURRENCY, formatMoney, isCurrencyCode } from '../monitor/money.ts';
import { coerce, OPTION_SPECS } from '../config.ts';
import { addDatabaseOptions, databaseOptionsFrom, type DbFlags, type DbIo } from './db.ts';

async function hasShopsimTables(db: Database): Promise<boolean> {
  return db.pool.oneFirst(sql.type(z.object({ ok: z.boolean() }))`
    SELECT to_regclass('runs') IS NOT NULL AND to_regclass('shopping_sessions') IS NOT NULL AS ok`);
}

const pct = (x: number) => `${(x * 100).toFixed(1)}%`;
/** The run's recorded currency (its summary's), else the fallback (--currency, default USD). */
function currencyOf(summary: Record<string, unknown> | null | undefined, fallback: string): string {
  const c = summary?.['currency'];
  return typeof c === 'string' && isCurrencyCode(c) ? c : fallback;
}
const int = (n: number) => n.toLocaleString('en-US');

function table(head: string[], rows: (string | number)[][], align?: ('left' | 'right')[]): string {
  const t = new Table({ head, style: { head: [], border: [], compact: true }, ...(align ? { colAligns: align } : {}) });
  for (const r of rows) t.push(r.map(String));
  return t.toString();
}

/** The report as text tables (no colour codes). */
export function renderReport(r: Report, fallbackCurrency: string = DEFAULT_CURRENCY): string {
  const currency = currencyOf(r.run.summary, fallbackCurrency);
  const money = (cents: number) => formatMoney(cents, currency);
  const f = r.funnel;
  const share = (n: number) => (f.sessions > 0 ? pct(n / f.sessions) : '-');
  const summary = r.run.summary ?? {};
  const parts = [
    `Run ${r.run.id}  seed ${r.run.seed}  started ${r.run.started_at}  ${r.run.ended_at ? `ended ${r.run.ended_at}` : 'not ended'}` +
      `${r.run.is_replay ? `  resumed from ${r.run.resumed_from ?? '?'}` : ''}` +
      `${typeof summary['exit_reason'] === 'string' ? `  exit: ${summary['exit_reason']}` : ''}`,
    table(
      ['Funnel', 'Count', 'Of sessions'],
      [
        ['Sessions', int(f.sessions), share(f.sessions)],
        ['Browse-only', int(f.browse_only), share(f.browse_only)],
        ['Carts', int(f.carts), share(f.carts)],
        ['Coupons applied', int(f.coupons_applied), share(f.coupons_applied)],
        ['Checkouts', int(f.checkouts), share(f.checkouts)],
        ['Abandoned', int(f.abandoned), share(f.abandoned)],
        ['Failed', int(f.failed), share(f.failed)],
        ...(f.active > 0 ? [['Active (orphaned)', int(f.active), share(f.active)]] : []),
      ],
      ['left', 'right', 'right'],
    ),
    table(
      ['Rate', 'Value'],
      [
        ['Conversion (checkouts / sessions)', pct(r.rates.conversion_rate)],
        ['Cart conversion (checkouts / carts)', pct(r.rates.cart_conversion_rate)],
        ['Abandonment (abandoned / decided)', pct(r.rates.abandonment_rate)],
        ['Failure (failed / sessions)', pct(r.rates.failure_rate)],
        ['Revenue', money(r.revenue.revenue_cents)],
        ['Average order', money(r.revenue.average_order_cents)],
        ['Events', int(f.events)],
        ['Agents with sessions', int(f.agents)],
      ],
      ['left', 'right'],
    ),
    table(
      ['Hour (UTC)', 'Sessions', 'Checkouts', 'Conversion', 'Revenue'],
      r.by_hour.filter((h) => h.sessions > 0).map((h) => [String(h.hour).padStart(2, '0') + ':00', int(h.sessions), int(h.checkouts), pct(h.conversion_rate), money(h.revenue_cents)]),
      ['left', 'right', 'right', 'right', 'right'],
    ),
    table(
      ['Weekday', 'Sessions', 'Checkouts', 'Conversion', 'Revenue'],
      r.by_weekday.map((d) => [d.weekday, int(d.sessions), int(d.checkouts), d.sessions > 0 ? pct(d.conversion_rate) : '-', money(d.revenue_cents)]),
      ['left', 'right', 'right', 'right', 'right'],
    ),
  ];
  if (r.targets) {
    const t = r.targets;
    const val = (x: number) => (x >= 1.5 ? x.toFixed(2) : pct(x));
    parts.push(
      table(
        [`Target (profile ${t.profile})`, 'Band', 'Achieved', 'Inside'],
        [
          ...t.rates.map((x) => [`${x.rate} (${x.definition})`, `${val(x.min)} – ${val(x.max)}`, val(x.achieved), x.inside ? 'yes' : 'NO']),
          ['hourly curve distance (0 = same shape)', `≤ ${t.curve_tolerance}`, t.curve_distance.toFixed(4), t.curve_distance <= t.curve_tolerance ? 'yes' : 'NO'],
        ],
        ['left', 'right', 'right', 'left'],
      ),
      table(
        ['Hour (UTC)', 'Sessions', 'Orders', 'Target'],
        t.curve.map((h) => [String(h.hour).padStart(2, '0') + ':00', pct(h.sessions_share), pct(h.orders_share), pct(h.target_share)]),
        ['left', 'right', 'right', 'right'],
      ),
    );
  }
  if (r.top_failures.length > 0) {
    parts.push(
      table(
        ['Most frequent errors of failed sessions', 'Sessions'],
        r.top_failures.map((x) => [x.error.length > 66 ? `${x.error.slice(0, 65)}…` : x.error, int(x.sessions)]),
        ['left', 'right'],
      ),
    );
  }
  return parts.join('\n');
}

/** `report --list`: the runs in the database, newest first. */
export function renderRunList(runs: RunListing[], fallbackCurrency: string = DEFAULT_CURRENCY): string {
  if (runs.length === 0) return 'No runs in the database yet: run `shopsim run` first';
  return table(
    ['Run', 'Started', 'Ended', 'Exit', 'Agents', 'Cycles', 'Sessions', 'Checkouts', 'Revenue'],
    runs.map((r) => [
      r.id + (r.is_replay ? ' (resumed)' : ''),
      r.started_at.slice(0, 19).replace('T', ' '),
      r.ended_at ? r.ended_at.slice(0, 19).replace('T', ' ') : '-',
      r.exit_reason ?? (r.ended_at ? '?' : 'running or crashed'),
      r.agents === null ? '-' : int(r.agents),
      r.cycles_completed === null ? '-' : int(r.cycles_completed),
      int(r.sessions),
      int(r.checkouts),
      formatMoney(r.revenue_cents, r.currency ?? fallbackCurrency),
    ]),
    ['left', 'left', 'left', 'left', 'right', 'right', 'right', 'right', 'right'],
  );
}

export function registerReportCommand(program: Command, io?: DbIo): void {
  const cmd = program
    .command('report')
    .description("funnel, rates, revenue and conversion by hour and weekday of a run, and the run's rates and hourly curve against its profile's targets, from the database")
    .option('--run <id>', 'the run to report (default: the newest)')
    .option('--list', 'list the runs in the database instead (newest first, at most 50)')
    .option('--json', 'print the report (or the list) as one JSON object')
    .option('--currency <code>', 'ISO 4217 code for runs that did not record theirs (default: USD) [env: SHOPSIM_CURRENCY]')
    .option('--html <file>', 'write the report as one self-contained HTML file (charts, machine map, thresholds, config; opens offline) instead');
  addDatabaseOptions(cmd).action(async (flags: DbFlags & { run?: string; json?: boolean; list?: boolean; currency?: string; html?: string }) => {
    const out = io ?? { env: process.env, stdout: process.stdout, stderr: process.stderr };
    const spec = OPTION_SPECS.find((s) => s.key === 'currency')!;
    const given = flags.currency ?? (out.env['SHOPSIM_CURRENCY'] || undefined);
    const fallback = given === undefined ? DEFAULT_CURRENCY : (coerce(spec, given, flags.currency !== undefined ? '--currency' : 'SHOPSIM_CURRENCY (environment)') as string);
    delete flags.currency;
    const html = flags.html === undefined ? null : await import('../web/html-report.ts');
    if (html && flags.html !== undefined) {
      if (flags.list || flags.json) throw new ShopsimError('E_INPUT', `--html ${flags.html}: not with ${flags.list ? '--list' : '--json'}`, { exitCode: 2 });
      html.checkReportFile(flags.html, '--html');
    }
    const options = databaseOptionsFrom(flags, out.env);
    // A report only reads: it never creates an embedded database nor migrates a server.
    if (!options.databaseUrl && !existsSync(options.dataDir ?? DEFAULT_DATA_DIR)) {
      throw new ShopsimError('E_INPUT', `No embedded database in ${options.dataDir ?? DEFAULT_DATA_DIR}: run \`shopsim run\` first, or give --data-dir or --database-url`, { exitCode: 2 });
    }
    const db = await openDatabase({ ...options, poolSize: 2, attachToRunning: true, migrate: false });
    try {
      if (!(await hasShopsimTables(db))) {
        throw new ShopsimError('E_INPUT', `${db.describe()} has no shopsim tables: run \`shopsim run\` (or \`shopsim db migrate\`) against it first`, { exitCode: 2 });
      }
      // PostgreSQL sums and counts can arrive as BigInt; JSON has numbers.
      const json = (o: unknown) => JSON.stringify(o, (_k, v: unknown) => (typeof v === 'bigint' ? Number(v) : v));
      if (flags.list) {
        const runs = await listRuns(db.pool);
        out.stdout.write(flags.json ? `${json({ runs })}\n` : `${renderRunList(runs, fallback)}\n`);
        return;
      }
      const report = await buildReport(db.pool, flags.run);
      if (html && flags.html !== undefined) {
        const config = await db.pool.maybeOneFirst(sql.type(z.object({ config: z.record(z.unknown()).nullable() }))`SELECT config FROM runs WHERE id = ${report.run.id}`);
        const data = html.htmlReportData({ summary: { run_id: report.run.id, seed: report.run.seed, ...(report.run.summary ?? {}) }, config: config ?? null, db: report });
        const w = html.writeHtmlReport(flags.html, data);
        out.stdout.write(`HTML report of run ${report.run.id} written to ${w.path} (${Math.ceil(w.bytes / 1024)} KB; opens offline)\n`);
        return;
      }
      out.stdout.write(flags.json ? `${json({ ...report, currency: currencyOf(report.run.summary, fallback) })}\n` : `${renderReport(report, fallback)}\n`);
    } finally {
      await db.close();
    }
  });
}
