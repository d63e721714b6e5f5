/**
 * `shopsim run`: argv → options → start → print. Composing the run is the application layer's
 * (src/run/start-run.ts); this file parses, wires the terminal and prints.
 */
import { performance } from 'node:perf_hooks';
import { dirname, join, resolve } from 'node:path';
import { Option, type Command } from 'commander';
import { DEFAULT_WEB_PORT, defaultCheckpointDir, OPTION_SPECS, publicConfig, resolveConfig, type RunConfig } from '../config.ts';
import { inputError, isShopsimError, oneLine } from '../errors.ts';
import type { RunSummary } from '../model/run.ts';
import { renderBanner } from '../monitor/banner.ts';
import type { OpenedRun, RunPlan } from '../run/start-run.ts';
import { redactUrl } from '../url.ts';
import { addSpecOptions } from './help-options.ts';

const RUN_EXAMPLES = `
Examples:
  shopsim run --mock-api --mock-db --fast -c 24    one simulated day in seconds, nothing outside the process
  shopsim run -a 50 -d 10m                         50 agents for ten real minutes (bundled store, embedded database)
  shopsim run --sim-duration 7d --fast             a simulated week, as fast as it goes
  shopsim run --api-url http://127.0.0.1:8787 --fast -c 24
                                                   against \`shopsim serve --port 8787\` in another terminal
  shopsim run --resume                             continue the newest checkpoint (same seed and data)
  shopsim run --database-url postgres://user@host/db -a 1000 -t 48
  shopsim run -j --mock-api --mock-db --fast -c 24 one JSON summary on stdout (for scripts)

Length: one of -c/--cycles, --sim-duration, -d/--duration, --hours; none = one real hour.
Keys on a terminal: p pause, r resume, c checkpoint, s stats, q quit. Without one: SIGTERM stops
with a checkpoint, SIGUSR1 checkpoints, SIGUSR2 pauses and resumes. Exit codes: 0 done, 2 bad
input, 3 breaker open, 99 a --threshold failed, 130/143 stopped by SIGINT/SIGTERM, 1 crash.
`;

export interface RunIo {
  env: Record<string, string | undefined>;
  stdout: NodeJS.WriteStream | { write(s: string): boolean; isTTY?: boolean };
  stderr: NodeJS.WriteStream | { write(s: string): boolean; isTTY?: boolean };
}

export function registerRunCommand(program: Command, io: RunIo): void {
  const cmd = program.command('run').description('run a simulation: agents shop on a simulated calendar against a store, recorded in a database (see docs/cli.md)');
  addSpecOptions(cmd, OPTION_SPECS);
  cmd.addOption(new Option('--config <file>', 'YAML config file (keys as in docs/cli.md: simulation.agents, database.url, …); flags and env win over it').helpGroup('Options:'));
  cmd.addHelpText('after', RUN_EXAMPLES);
  cmd.action(async (_opts: Record<string, unknown>, command: Command) => {
    const opts = command.opts<Record<string, unknown>>();
    const flags: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(opts)) {
      if (command.getOptionValueSource(k) === 'cli') flags[k] = v;
    }
    if (flags['inspect'] === true) flags['inspect'] = 8080;
    if (flags['web'] === true) flags['web'] = DEFAULT_WEB_PORT;
    const configFile = flags['config'] as string | undefined;
    delete flags['config'];
    process.exitCode = await runCommand(flags as Partial<Record<keyof RunConfig, unknown>>, configFile, io);
  });
}

/** The one line a resume prints before its first cycle: which run, checkpoint, store and database. */
export function resumeLine(plan: RunPlan, describe: { store: string; database: string }): string | null {
  if (!plan.resume) return null;
  const st = plan.resume.checkpoint.simulation_state;
  const modes = plan.config.fast ? '--fast' : `paced, --time-scale ${plan.config.timeScale}`;
  return (
    `resuming run ${st.run_id} (${plan.resume.chosen ?? 'named by --resume-from'}) from ${plan.resume.file}, cycle ${st.current_cycle} of ${plan.cycles}; ` +
    `store: ${describe.store}; database: ${describe.database}; ${modes}`
  );
}

/** Returns the process exit code: 0 done, 2 bad input, 3 breaker open, 4 checkpoints could not be written, 130/143 signals, 1 crash. */
export async function runCommand(flags: Partial<Record<keyof RunConfig, unknown>>, configFile: string | undefined, io: RunIo): Promise<number> {
  const fail = (err: unknown, fallback: number) => {
    io.stderr.write(`shopsim: ${oneLine(err)}\n`);
    return isShopsimError(err) ? err.exitCode : fallback;
  };
  let plan: RunPlan;
  // The application layer pulls in XState, PGlite, fastify and slonik: imported here, after the
  // flags are known good, so `run --help` and bad flags answer at once.
  let resolved;
  try {
    resolved = resolveConfig(flags, io.env, configFile);
  } catch (err) {
    return fail(err, 2);
  }
  // --redis: the options it needs are checked before anything is prepared (one line, exit 2).
  const scale = resolved.config.redis ? await import('../scale/distributed-run.ts') : null;
  try {
    scale?.checkDistributedOptions(resolved.config);
    if (scale) await (await import('../scale/bullmq-transport.ts')).probeRedis(resolved.config.redis as string);
  } catch (err) {
    return fail(err, 2);
  }
  const { openRun, prepareRun } = await import('../run/start-run.ts');
  // --report-html FILE is written at the end: a FILE that cannot be is said now, before the run.
  const reportHtml = resolved.config.reportHtml;
  const htmlReport = reportHtml === null ? null : await import('../web/html-report.ts');
  try {
    if (htmlReport && reportHtml !== null) htmlReport.checkReportFile(reportHtml, '--report-html');
    plan = prepareRun(resolved);
  } catch (err) {
    return fail(err, 2);
  }
  const config = plan.config;
  const logDir = logDirOf(config);
  const interactive = io.stdout.isTTY === true && !config.json;
  for (const line of renderBanner(bannerFacts(plan, logDir, interactive))) io.stderr.write(`${line}\n`);
  for (const w of plan.warnings) io.stderr.write(`shopsim: ${w}\n`);
  // A store given by URL answers before the database opens: started together (`shopsim serve &
  // shopsim run --api-url …`), the store's process takes the embedded database and the run shares it.
  if (config.apiUrl && !config.mockApi) {
    const waiting = slowStep(io.stderr, `waiting for the store at ${redactUrl(config.apiUrl)} to answer`);
    // Waited for up to the request timeout (at most a minute): long enough for a store started
    // at the same moment, short enough that a wrong URL is said at once.
    const waitMs = Math.min(STORE_WAIT_MS, config.requestTimeout * 1000);
    const answered = await storeAnswers(config.apiUrl, waitMs);
    waiting.done(answered ? '' : null);
    if (!answered) {
      io.stderr.write(`shopsim: the store at ${redactUrl(config.apiUrl)} does not answer (GET /health within ${waitMs / 1000} s; is \`shopsim serve\` running?); nothing was written\n`);
      return 2;
    }
  }
  // --redis: Redis answers, the run is published and the expected workers have joined before anything is written.
  let distributed: Awaited<ReturnType<NonNullable<typeof scale>['openDistributedRun']>> | null = null;
  if (scale) {
    try {
      distributed = await scale.openDistributedRun({ config, runId: plan.runId, personas: plan.personas, products: plan.products, say: (l) => io.stderr.write(`shopsim: ${l}\n`) });
    } catch (err) {
      return fail(err, 2);
    }
  }
  let opened: OpenedRun;
  const opening = slowStep(io.stderr, openingWhat(config));
  try {
    opened = await openRun(plan);
  } catch (err) {
    opening.done(null);
    await distributed?.close().catch(() => {});
    return fail(err, 2);
  }
  // The bundled store's port is known only now: say it, and how long the start took if it was slow.
  const bundled = !config.mockApi && !config.apiUrl;
  opening.done(bundled ? `store ${opened.backends.describe.store}` : '', bundled);
  const { openRunMonitoring } = await import('./run-monitoring.ts');
  const line = resumeLine(plan, opened.backends.describe);
  if (line) io.stderr.write(`shopsim: ${line}\n`);
  for (const notice of opened.notices) io.stderr.write(`shopsim: ${notice}\n`);
  // Logs, dashboard or plain lines, signals, inspector.
  let monitoring;
  try {
    monitoring = await openRunMonitoring({
      config,
      logDir,
      io: { stdout: io.stdout, stderr: io.stderr, ...(io.stdout === process.stdout ? { stdin: process.stdin } : {}) },
      agentIds: plan.personas.map((p) => p.id),
      runId: plan.runId,
    });
  } catch (err) {
    await distributed?.close().catch(() => {});
    await opened.close().catch(() => {});
    return fail(err, 2);
  }
  // --redis: the cohorts' store and database as the workers reach them (docs/scaling.md).
  let distributedExecutor: Awaited<ReturnType<NonNullable<typeof distributed>['executor']>> | null = null;
  if (distributed) {
    try {
      if (opened.replayStore) throw inputError('--redis: a run served recorded answers (a replay) runs in one process; run it without --redis; nothing was written');
      distributedExecutor = await distributed.executor({ mockStore: opened.backends.mockStore, storeUrl: opened.backends.storeUrl, recorder: config.mockDb ? null : opened.backends.recorder, answers: opened.answersWriter,
        postgres: config.databaseUrl && opened.backends.db?.databaseId ? { databaseId: opened.backends.db.databaseId } : null });
    } catch (err) {
      await monitoring.close();
      await distributed.close().catch(() => {});
      await opened.close().catch(() => {});
      return fail(err, 2);
    }
  }
  const { evaluateThresholds, parseThreshold, THRESHOLD_EXIT_CODE, thresholdFigures } = await import('../thresholds/thresholds.ts');
  const thresholds = config.threshold.map((t) => parseThreshold(t));
  const { sim, execute } = opened.simulate({
    breakerAction: monitoring.breakerAction,
    ...(monitoring.inspect ? { inspect: monitoring.inspect } : {}),
    onEndRunError: (err) => io.stderr.write(`shopsim: could not record the end of the run: ${oneLine(err)}\n`),
    // Recorded with the run (runs.summary), so `shopsim report --html` has them too.
    completeSummary: (s) => {
      const results = evaluateThresholds(thresholds, s);
      const occ = sim.occupancy(0);
      return {
        ...s,
        ...(results.length > 0 ? { thresholds: results.map((r) => ({ threshold: r.text, actual: r.actual, ok: r.ok })) } : {}),
        ...(occ ? { final_occupancy: { counts: occ.counts, total: occ.total } } : {}),
      };
    },
    ...(distributed && distributedExecutor ? { executor: distributedExecutor, workerHttpMetrics: distributed.workerHttpMetrics, workerDbWrites: distributed.workerDbWrites, workerTable: distributed.workerTable } : {}),
  });
  const monitor = monitoring.attach(sim, plan.personas);
  // The per-cycle figures the HTML report charts (only what it needs of each cycle report).
  const cycleFigures: import('../web/html-report.ts').CycleFigures[] = [];
  const onCycleReport = (r: import('../model/run.ts').CycleReport) => {
    const t = r.totals;
    cycleFigures.push({ cycle: r.cycle, simulatedTime: r.simulatedTime, totals: { sessions: t.sessions, checkouts: t.checkouts, abandoned: t.abandoned, failed: t.failed } });
  };
  if (htmlReport) sim.events.on('cycle', onCycleReport);
  // Thresholds at every cycle end, on the run's figures so far: the first failure of each is said
  // once, and with --threshold-abort the run stops there (a graceful stop: checkpoint, exit 99).
  const saidFailed = new Set<string>();
  let abortedBy: string | null = null;
  const onCycleThresholds = () => {
    for (const r of evaluateThresholds(thresholds, thresholdFigures(sim.stats()))) {
      if (r.ok || saidFailed.has(r.text)) continue;
      saidFailed.add(r.text);
      io.stderr.write(`shopsim: threshold ${r.text} failing at cycle ${sim.stats().cyclesCompleted} (${r.metric} ${r.actual})${config.thresholdAbort && abortedBy === null ? '; stopping (--threshold-abort)' : ''}\n`);
      if (config.thresholdAbort && abortedBy === null) {
        abortedBy = r.text;
        sim.stop();
      }
    }
  };
  if (thresholds.length > 0) sim.events.on('cycle', onCycleThresholds);

  let summary: RunSummary;
  try {
    summary = await execute();
  } catch (err) {
    monitor.detach();
    monitoring.logger.error({ event: 'run-failed', err }, 'run failed');
    io.stderr.write(`shopsim: run failed: ${oneLine(err)}\n`);
    if (distributed) {
      // A distributed run stopped by its transport (Redis lost, a cohort failing every attempt) goes on from its last checkpoint.
      const last = sim.stats().lastCheckpoint;
      if (last) io.stderr.write(`shopsim: the last checkpoint is ${resolve(last)}; continue with: shopsim run --resume-from ${resolve(last)} (with --redis, or without it to run in-process)\n`);
      await distributed.close().catch(() => {});
    }
    await monitoring.close();
    await opened.close().catch(() => {});
    return isShopsimError(err) ? err.exitCode : 1;
  } finally {
    monitor.detach();
    sim.events.off('cycle', onCycleThresholds);
    sim.events.off('cycle', onCycleReport);
  }
  if (htmlReport && reportHtml !== null) {
    // The funnel by hour and weekday from the database when the run was recorded in one (as
    // `shopsim report --html` shows it), else from the cycle reports.
    try {
      const db = opened.backends.db;
      const fromDb = db ? await (await import('../db/report.ts')).buildReport(db.pool, summary.run_id).catch(() => null) : null;
      const data = htmlReport.htmlReportData({ summary, config: publicConfig(config, plan.cycles), db: fromDb, cycles: cycleFigures });
      const w = htmlReport.writeHtmlReport(reportHtml, data);
      io.stderr.write(`shopsim: HTML report written to ${w.path} (${Math.ceil(w.bytes / 1024)} KB; opens offline)\n`);
    } catch (err) {
      io.stderr.write(`shopsim: could not write the HTML report ${reportHtml}: ${oneLine(err)}\n`);
    }
  }
  if (distributed) {
    // The workers as their last heartbeats described them (per-worker rows of the summary).
    const { runRates } = await import('../monitor/worker-rows.ts');
    const table = distributed.workerTable();
    const live = new Map(table.rows.map((r) => [r.id, runRates(r, summary.real_elapsed_seconds)]));
    summary = { ...summary, workers: distributed.workerRows().map((w) => ({ ...w, worker_id: w.id, ...live.get(`${w.host}:${w.pid}`) })), workers_total: runRates(table.totals, summary.real_elapsed_seconds) };
    await distributed.close();
  }
  await opened.close();
  // Thresholds are judged on the run's final figures (the summary's), one result per expression.
  const thresholdResults = evaluateThresholds(thresholds, summary);
  if (thresholdResults.length > 0) summary = { ...summary, thresholds: thresholdResults.map((r) => ({ threshold: r.text, actual: r.actual, ok: r.ok })) };
  monitoring.logger.info({ event: 'summary', summary }, 'run finished');
  await monitoring.close();
  // The flags that find this run's database (report, resume), when not the defaults.
  const reportArgs = config.databaseUrl ? '--database-url …' : config.dataDir !== 'data/pglite' ? `--data-dir ${resolve(config.dataDir)}` : '';
  const resumeFromArgs = reportArgs ? ` ${reportArgs}` : '';
  if (config.json) io.stdout.write(`${JSON.stringify(summary)}\n`);
  else {
    const { renderSummary } = await import('../monitor/summary.ts');
    // Paths a user can paste from anywhere.
    const shown = { ...summary, last_checkpoint: summary.last_checkpoint ? resolve(summary.last_checkpoint) : null };
    // `--resume RUN_ID` finds the run's newest checkpoint where this run wrote them: its database and checkpoint dir.
    const ownCheckpointDir = resolve(config.checkpointDir) !== resolve(defaultCheckpointDir(config.dataDir));
    const resumeArgs = [reportArgs, ownCheckpointDir ? `--checkpoint-dir ${resolve(config.checkpointDir)}` : ''].filter(Boolean).join(' ');
    const width = 'columns' in io.stdout && typeof io.stdout.columns === 'number' && io.stdout.columns > 0 ? io.stdout.columns : 80;
    // On a terminal, its height less the prompt's row (an 80×24 one shows the whole summary); else 25.
    const rows = 'rows' in io.stdout && typeof io.stdout.rows === 'number' && io.stdout.rows > 0 ? Math.max(16, io.stdout.rows - 1) : 25;
    io.stdout.write(`${renderSummary(shown, { color: config.color && io.stdout.isTTY === true, width, rows, resumeArgs, ...(reportArgs ? { reportArgs } : {}) })}\n`);
    const { workerSummaryLines } = await import('../monitor/summary.ts');
    for (const line of workerSummaryLines(summary, width)) io.stdout.write(`${line}\n`);
  }

  if (summary.exit_reason === 'breaker') {
    const why =
      summary.breaker.last_cycle_failures > summary.breaker.threshold
        ? `more than ${summary.breaker.threshold} agent failures in one cycle`
        : `every session of the last cycle failed, and at least 3 in a row: is the store reachable?`;
    io.stderr.write(`shopsim: stopped because the circuit breaker opened (${why}). Fix the cause, then continue with: shopsim run --resume\n`);
    return 3;
  }
  if (summary.exit_reason === 'checkpoint_failed') {
    io.stderr.write(
      `shopsim: stopped because checkpoints kept failing to be written to ${config.checkpointDir} (${summary.checkpoint_failures} failed writes; disk full or read-only?). ` +
        `The last good checkpoint is ${summary.last_checkpoint ?? 'none of this run'}; free space, then continue with: shopsim run --resume\n`,
    );
    return 4;
  }
  if (abortedBy !== null) {
    io.stderr.write(`shopsim: stopped by --threshold-abort (${abortedBy} failed) at cycle ${summary.cycles_completed} of ${summary.cycles_total}${summary.last_checkpoint ? `; continue with: shopsim run --resume-from ${resolve(summary.last_checkpoint)}${resumeFromArgs}` : ''}\n`);
    return THRESHOLD_EXIT_CODE;
  }
  if (summary.exit_reason === 'stopped' && summary.last_checkpoint) {
    io.stderr.write(`shopsim: stopped at cycle ${summary.cycles_completed} of ${summary.cycles_total}; continue with: shopsim run --resume-from ${resolve(summary.last_checkpoint)}${resumeFromArgs}\n`);
  }
  const requested = monitor.requestedExitCode();
  if (requested !== null) return requested;
  const failed = thresholdResults.filter((r) => !r.ok);
  if (failed.length > 0) {
    io.stderr.write(`shopsim: ${failed.length} threshold${failed.length > 1 ? 's' : ''} failed: ${failed.map((r) => `${r.text} (${r.metric} ${r.actual})`).join(', ')}\n`);
    return THRESHOLD_EXIT_CODE;
  }
  return 0;
}

/** Where a run's logs go: --log-dir, else `logs` beside the embedded database directory (data/logs). */
export function logDirOf(config: Pick<RunConfig, 'logDir' | 'dataDir'>): string {
  return config.logDir ?? join(dirname(config.dataDir), 'logs');
}

function bannerFacts(plan: RunPlan, logDir: string, keys: boolean): Parameters<typeof renderBanner>[0] {
  const c = plan.config;
  const startMs = Date.parse(c.start);
  const done = plan.resume ? plan.resume.checkpoint.simulation_state.current_cycle : 0;
  return {
    runId: plan.runId,
    agents: plan.personas.length,
    cycles: plan.cycles,
    simStart: new Date(startMs).toISOString(),
    simEnd: new Date(startMs + plan.cycles * 3_600_000).toISOString(),
    realSeconds: c.fast ? null : ((plan.cycles - done) * 3600) / c.timeScale,
    timeScale: c.timeScale,
    resumeFrom: plan.resume ? { file: plan.resume.file, cycle: done } : null,
    store: c.mockApi ? 'mock (in this process, deterministic)' : c.apiUrl ? redactUrl(c.apiUrl) : 'bundled reference store (in this process, 127.0.0.1, port picked at start)',
    database: c.mockDb ? 'none (--mock-db)' : c.databaseUrl ? redactUrl(c.databaseUrl) : `embedded at ${resolve(c.dataDir)}`,
    checkpoints: `${resolve(c.checkpointDir)} (${c.checkpointInterval === 0 ? 'on stop only' : `every ${c.checkpointInterval} cycles and on stop`}, keeping ${c.keepCheckpoints})`,
    logs: resolve(logDir),
    inspector: c.inspect !== null ? `127.0.0.1:${c.inspect}` : null,
    pid: process.pid,
    keys,
    userSignals: process.platform !== 'win32',
  };
}

function openingWhat(c: RunConfig): string {
  const parts: string[] = [];
  if (!c.mockDb) parts.push(c.databaseUrl ? 'connecting to the database and migrating it' : `opening the embedded database in ${resolve(c.dataDir)} (created and migrated on first use)`);
  if (!c.mockApi && !c.apiUrl) parts.push('starting the bundled store');
  return parts.join(', ') || 'preparing the agents';
}

/**
 * A start-up step that may be slow: one line when it has taken more than a second, and one
 * when it ends (only if the first was printed).
 */
function slowStep(out: { write(s: string): unknown }, what: string): { done(detail: string | null, always?: boolean): void } {
  const t0 = performance.now();
  let said = false;
  const timer = setTimeout(() => {
    said = true;
    out.write(`shopsim: ${what}…\n`);
  }, 1000);
  timer.unref();
  return {
    done(detail, always = false) {
      clearTimeout(timer);
      if (detail !== null && (said || always)) out.write(`shopsim: ready after ${((performance.now() - t0) / 1000).toFixed(1)} s${detail ? `; ${detail}` : ''}\n`);
    },
  };
}

const STORE_WAIT_MS = 60_000;

/** Whether the store answers GET /health with any HTTP status within `ms` (polled). */
async function storeAnswers(baseUrl: string, ms: number): Promise<boolean> {
  const t0 = performance.now();
  while (performance.now() - t0 < ms) {
    try {
      const res = await fetch(`${baseUrl}/health`, { signal: AbortSignal.timeout(2000) });
      await res.body?.cancel();
      return true;
    } catch {
      await new Promise((r) => setTimeout(r, 250));
    }
  }
  return false;
}
