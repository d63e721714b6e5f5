/**
 * Options: one table says, for every option of every command, its flag, environment variables,
 * YAML keys, type and range, default, the commands it serves, its key in the public config
 * (written to checkpoints and the runs table) and its rule on resume. Everything else is derived
 * from it: the defaults, the public config, what a resume carries from a checkpoint, the
 * simulation's config, and the validation of `run`, `serve`, `db` and `replay` flags alike.
 * Precedence: flag > env > config file > default. Every failure is one line naming the input
 * (flag, env var, config key or checkpoint field) and what was expected; the CLI exits 2.
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { inputError } from './errors.ts';
import type { SimulationConfig } from './model/run.ts';
import { redactUrl } from './url.ts';
import { parseThreshold } from './thresholds/thresholds.ts';
import { isCurrencyCode } from './monitor/money.ts';

export { redactUrl } from './url.ts';

/** 'bool-or-string': a flag alone is true; with a value, that value (`--resume [run-id]`). */
/** 'thresholds': repeatable flag, comma-separated env, YAML list or string; each parsed (src/thresholds/thresholds.ts). */
/** 'size': a byte size as rotating-file-stream takes it, a whole number with B, K, M or G (`10M`; powers of 1024). */
type Kind = 'int' | 'number' | 'bool' | 'bool-or-string' | 'string' | 'date' | 'enum' | 'http-url' | 'postgres-url' | 'duration' | 'thresholds' | 'size' | 'currency';

/**
 * The help groups, in the order `--help` shows them (src/cli/help-options.ts). Every option has one.
 */
export const GROUPS = {
  length: 'Run length and calendar',
  agents: 'Agents',
  store: 'Store and rate limit',
  database: 'Database',
  checkpoints: 'Checkpoints and resume',
  monitoring: 'Monitoring and output',
  dryRun: 'Dry run (nothing outside the process)',
  server: 'Server',
  faults: 'Fault injection',
  replay: 'Replay',
  calibrate: 'Calibration',
  ctl: 'Control',
  scale: 'Scale-out (BullMQ workers on Redis)',
} as const;
export type Group = keyof typeof GROUPS;

/** The commands options serve. */
export type CommandName = 'run' | 'serve' | 'db' | 'replay' | 'calibrate' | 'ctl' | 'worker';

/**
 * What `run --resume` does with an option the checkpoint recorded:
 *  - 'must-match': carried from the checkpoint; given again with another value, the run is refused
 *    (exit 2) because exactness needs the same value;
 *  - 'carry': carried from the checkpoint unless given again; a new value is honoured from the
 *    first resumed cycle on;
 *  - 'same-data': the run's data (agents, persona and product files): carried unless given again;
 *    a file may be named anew (moved), but what it holds is checked against the checkpoint's
 *    agent count and hashes, and a mismatch is refused (exit 2);
 *  - undefined: not carried; this invocation's value (or the default) applies.
 */
export type ResumeRule = 'must-match' | 'carry' | 'same-data';

/** The longest run: 10,000,000 simulated hours (about 1,141 years); a checkpoint claiming more is refused. */
export const MAX_CYCLES = 10_000_000;

export interface OptionSpec<T = unknown> {
  flag: string;
  /** One-letter alias for the most used options (`-a`); see docs/cli.md. */
  short?: string;
  /** The help group (GROUPS). */
  group: Group;
  env?: string[];
  yaml?: string[];
  kind: Kind;
  min?: number;
  exclusiveMin?: boolean;
  max?: number;
  values?: string[];
  /** `null` allowed (the default is null: "not set"). */
  nullable?: boolean;
  /** What an error says was expected, when the range alone says it badly ("a probability from 0 to 1"). */
  expected?: string;
  default: T;
  commands: CommandName[];
  /** Key in the public config (checkpoint simulation_config, runs table); absent = not recorded. */
  public?: string;
  resume?: ResumeRule;
  description: string;
}

export type KeyedSpec = OptionSpec & { key: string };

export interface RunConfig {
  agents: number | null;
  personas: string;
  products: string;
  hours: number | null;
  cycles: number | null;
  /** Real seconds (--duration 10m). */
  duration: number | null;
  /** Simulated seconds, whole hours (--sim-duration 7d). */
  simDuration: number | null;
  timeScale: number;
  start: string;
  seed: number;
  warmupCycles: number;
  breakerPercent: number;
  breakerAction: 'exit' | 'wait';
  breakerOn: 'faults' | 'all';
  fast: boolean;
  mockApi: boolean;
  mockDb: boolean;
  mockFailRate: number;
  recordAnswers: boolean;
  allowMissingAnswers: boolean;
  json: boolean;
  debug: boolean;
  cohortSize: number;
  workers: number;
  maxConcurrentAgents: number;
  offerCycleDays: number;
  profile: string;
  // checkpoints
  checkpointDir: string;
  checkpointInterval: number;
  keepCheckpoints: number;
  /** true: the newest unfinished run; a string: that run id. */
  resume: boolean | string;
  resumeFrom: string | null;
  /** --threshold expressions, normalised (`http_p95_ms<500`). */
  threshold: string[];
  thresholdAbort: boolean;
  fresh: boolean;
  // store
  apiUrl: string | null;
  rateLimit: number;
  burst: number | null;
  connections: number;
  requestTimeout: number;
  // database
  databaseUrl: string | null;
  dataDir: string;
  logDir: string | null;
  /** Rotate a log file at this size (`10M`). */
  logMaxSize: string;
  /** Rotated files kept per log file. */
  logKeep: number;
  /** ISO 4217 code of the catalog's prices, for every money figure shown (`USD`). */
  currency: string;
  dbPoolSize: number;
  dbWriteTimeout: number;
  dbGroupCommit: number;
  dbConnectTimeout: number;
  dbStatementTimeout: number;
  dbIdleTimeout: number;
  // monitoring
  refresh: number;
  color: boolean;
  memoryWarningMb: number;
  inspect: number | null;
  inspectAgents: string | null;
  web: number | null;
  reportHtml: string | null;
  // scale-out
  redis: string | null;
  redisPrefix: string;
  workersExpected: number;
  workersTimeout: number;
  workerLockTimeout: number;
  workerDbPool: number;
}

const RUN: CommandName[] = ['run'];

/** The port of `--web` given without one. */
export const DEFAULT_WEB_PORT = 8477;

/** The options of `shopsim run`, in help order. */
const RUN_SPECS: { [K in keyof RunConfig]: OptionSpec<RunConfig[K]> } = {
  agents: { flag: '--agents', short: '-a', group: 'agents', env: ['SIMULATION_AGENTS'], yaml: ['simulation.agents'], kind: 'int', min: 1, nullable: true, default: null, commands: ['run', 'calibrate'], public: 'agents', resume: 'same-data', description: 'number of agents (default: all personas; the first N of the file)' },
  personas: { flag: '--personas', group: 'agents', env: ['PERSONAS_FILE'], yaml: ['simulation.personas'], kind: 'string', default: 'data/personas.json', commands: ['run', 'replay', 'calibrate', 'worker'], public: 'personas', resume: 'same-data', description: 'persona file (when the default is absent: the copy shipped with shopsim)' },
  products: { flag: '--products', group: 'agents', env: ['PRODUCTS_FILE'], yaml: ['simulation.products'], kind: 'string', default: 'data/products.json', commands: ['run', 'replay', 'calibrate', 'worker'], public: 'products', resume: 'same-data', description: 'product catalog file (when the default is absent: the copy shipped with shopsim)' },
  hours: { flag: '--hours', group: 'length', env: ['SIMULATION_HOURS'], yaml: ['simulation.hours'], kind: 'number', min: 0, exclusiveMin: true, nullable: true, default: null, commands: RUN, description: 'real hours to run (cycles = hours × time-scale)' },
  // The public `cycles` is the run's total (--cycles, --sim-duration, or --hours / --duration × time-scale); resume handles it itself.
  cycles: { flag: '--cycles', short: '-c', group: 'length', env: ['SIMULATION_CYCLES'], yaml: ['simulation.cycles'], kind: 'int', min: 1, max: MAX_CYCLES, nullable: true, default: null, commands: RUN, public: 'cycles', description: 'simulated hours (cycles) to run (default: one real hour, i.e. --time-scale cycles)' },
  duration: { flag: '--duration', short: '-d', group: 'length', env: ['SIMULATION_DURATION'], yaml: ['simulation.duration'], kind: 'duration', nullable: true, default: null, commands: RUN, description: 'real time to run, e.g. 90s, 10m, 2h (cycles = duration × time-scale)' },
  simDuration: { flag: '--sim-duration', group: 'length', env: ['SIMULATION_SIM_DURATION'], yaml: ['simulation.sim_duration'], kind: 'duration', nullable: true, default: null, commands: RUN, description: 'simulated time to run in whole hours, e.g. 36h, 7d, 2w (cycles = simulated hours)' },
  timeScale: { flag: '--time-scale', short: '-t', group: 'length', env: ['TIME_SCALE'], yaml: ['simulation.time_scale'], kind: 'number', min: 0, exclusiveMin: true, default: 24, commands: RUN, public: 'time_scale', resume: 'carry', description: 'simulated hours per real hour' },
  start: { flag: '--start', group: 'length', env: ['SIMULATION_START'], yaml: ['simulation.start'], kind: 'date', default: '2024-01-01T00:00:00Z', commands: RUN, public: 'start', resume: 'must-match', description: 'simulated start (ISO-8601)' },
  seed: { flag: '--seed', short: '-s', group: 'agents', env: ['SIMULATION_SEED'], yaml: ['simulation.seed'], kind: 'int', min: 0, max: 2 ** 48, default: 42, commands: ['run', 'calibrate'], public: 'seed', resume: 'must-match', description: 'random seed' },
  warmupCycles: { flag: '--warmup-cycles', group: 'length', env: ['WARMUP_CYCLES'], yaml: ['simulation.warmup_cycles'], kind: 'int', min: 0, default: 0, commands: RUN, public: 'warmup_cycles', resume: 'must-match', description: 'warm-up ramp cycles (10/25/50/75/100%)' },
  breakerPercent: { flag: '--breaker-percent', group: 'agents', env: ['CIRCUIT_BREAKER_THRESHOLD_PERCENT'], yaml: ['circuit_breaker.failure_threshold_percent'], kind: 'number', min: 0, max: 100, default: 5, commands: RUN, public: 'breaker_percent', resume: 'carry', description: 'breaker threshold, percent of agents failing in one cycle' },
  breakerOn: { flag: '--breaker-on', group: 'agents', env: ['BREAKER_ON'], yaml: ['circuit_breaker.counts'], kind: 'enum', values: ['faults', 'all'], default: 'faults', commands: RUN, public: 'breaker_on', resume: 'carry', description: "what the breaker counts: faults (5xx, timeouts, bad answers; store rule refusals such as out of stock are outcomes) or all failed sessions" },
  breakerAction: { flag: '--breaker-action', group: 'agents', env: ['BREAKER_ACTION'], yaml: ['circuit_breaker.action'], kind: 'enum', values: ['exit', 'wait'], default: 'exit', commands: RUN, description: 'without a terminal: exit (checkpoint, exit 3) or wait (until SIGUSR2)' },
  fast: { flag: '--fast', group: 'length', env: ['SIMULATION_FAST'], yaml: ['simulation.fast'], kind: 'bool', default: false, commands: RUN, public: 'fast', resume: 'carry', description: 'no real-time pacing' },
  mockApi: { flag: '--mock-api', group: 'dryRun', env: ['MOCK_API'], yaml: ['simulation.mock_api'], kind: 'bool', default: false, commands: ['run', 'replay'], public: 'mock_api', resume: 'must-match', description: 'in-process deterministic store' },
  mockDb: { flag: '--mock-db', group: 'dryRun', env: ['MOCK_DB'], yaml: ['simulation.mock_db'], kind: 'bool', default: false, commands: ['run', 'serve'], public: 'mock_db', resume: 'must-match', description: 'write nothing to a database' },
  mockFailRate: { flag: '--mock-fail-rate', group: 'dryRun', env: ['MOCK_FAIL_RATE'], yaml: ['simulation.mock_fail_rate'], kind: 'number', min: 0, max: 1, default: 0, commands: RUN, public: 'mock_fail_rate', resume: 'must-match', description: 'mock store failure probability per call' },
  recordAnswers: { flag: '--record-answers', group: 'store', env: ['RECORD_ANSWERS'], yaml: ['simulation.record_answers'], kind: 'bool', default: true, commands: RUN, public: 'record_answers', resume: 'carry', description: 'record the store answers the decisions read, beside the checkpoints, for exact replay (real-store runs; --no-record-answers to turn off)' },
  allowMissingAnswers: { flag: '--allow-missing-answers', group: 'checkpoints', kind: 'bool', default: false, commands: RUN, description: 'resume even when the recorded store answers up to the checkpoint are missing or cut short (the run is then no longer exactly replayable before the resume)' },
  json: { flag: '--json', short: '-j', group: 'monitoring', kind: 'bool', default: false, commands: ['run', 'replay', 'calibrate'], description: 'print one JSON summary on stdout' },
  debug: { flag: '--debug', group: 'monitoring', env: ['DEBUG_LOGS'], kind: 'bool', default: false, commands: RUN, description: 'debug logging' },
  // The cohorts are in the checkpointed tree: another size cannot be applied to a restored run.
  cohortSize: { flag: '--cohort-size', group: 'agents', env: ['COHORT_SIZE'], yaml: ['parallelization.cohort_size'], kind: 'int', min: 1, default: 500, commands: RUN, public: 'cohort_size', resume: 'must-match', description: 'shoppers per cohort actor' },
  // Not recorded: a run checkpointed with workers resumes with any count, or in-process (same digest).
  workers: { flag: '--workers', group: 'agents', env: ['SHOPSIM_WORKERS'], yaml: ['parallelization.workers'], kind: 'int', min: 0, default: 0, commands: RUN, description: 'worker threads that run the cohorts (0 = all in this thread; the digest is the same; see docs/scaling.md)' },
  maxConcurrentAgents: { flag: '--max-concurrent-agents', group: 'agents', env: ['MAX_CONCURRENT_AGENTS'], yaml: ['parallelization.max_concurrent_agents'], kind: 'int', min: 1, default: 10_000, commands: RUN, public: 'max_concurrent_agents', resume: 'carry', description: 'most agents in a session at once (all of them up to this many)' },
  offerCycleDays: { flag: '--offer-cycle-days', group: 'agents', env: ['OFFER_CYCLE_DAYS'], yaml: ['offers.cycle_days'], kind: 'number', min: 0, exclusiveMin: true, default: 7, commands: RUN, public: 'offer_cycle_days', resume: 'must-match', description: 'simulated days per offer cycle' },
  // The profile shapes the personas (src/model/profiles.ts); the whole profile is recorded with the run as profile_spec.
  profile: { flag: '--profile', group: 'agents', env: ['SHOPSIM_PROFILE'], yaml: ['simulation.profile'], kind: 'string', default: 'retail', commands: ['run', 'calibrate'], public: 'profile', resume: 'must-match', description: 'traffic profile: retail, seed (the original behaviour), flash-sale, or a YAML profile file' },
  checkpointDir: { flag: '--checkpoint-dir', group: 'checkpoints', env: ['CHECKPOINT_DIR'], yaml: ['checkpoints.dir'], kind: 'string', default: 'data/checkpoints', commands: ['run', 'ctl'], description: 'checkpoint directory (when not given: checkpoints beside --data-dir, as the logs)' },
  checkpointInterval: { flag: '--checkpoint-interval', group: 'checkpoints', env: ['DEFAULT_CHECKPOINT_INTERVAL'], yaml: ['simulation.checkpoint_interval_cycles'], kind: 'int', min: 0, default: 10, commands: RUN, description: 'cycles between checkpoints (0 = only on stop)' },
  keepCheckpoints: { flag: '--keep-checkpoints', group: 'checkpoints', env: ['KEEP_CHECKPOINTS'], yaml: ['checkpoints.keep'], kind: 'int', min: 1, default: 5, commands: RUN, description: 'checkpoints of a run to keep' },
  resume: { flag: '--resume', group: 'checkpoints', kind: 'bool-or-string', default: false, commands: RUN, description: 'resume the newest unfinished run (its newest valid checkpoint), or the run named: --resume RUN_ID' },
  resumeFrom: { flag: '--resume-from', group: 'checkpoints', kind: 'string', nullable: true, default: null, commands: RUN, description: 'resume from this checkpoint file' },
  fresh: { flag: '--fresh', group: 'checkpoints', kind: 'bool', default: false, commands: RUN, description: 'ignore existing checkpoints (they stay on disk)' },
  apiUrl: { flag: '--api-url', group: 'store', env: ['API_URL', 'RAILWAY_API_URL'], yaml: ['api.url'], kind: 'http-url', nullable: true, default: null, commands: RUN, public: 'api_url', description: 'store API base URL (default: the bundled reference store, in this process)' },
  rateLimit: { flag: '--rate-limit', group: 'store', env: ['API_RATE_LIMIT_RPS'], yaml: ['simulation.rate_limit_rps'], kind: 'number', min: 0, default: 50, commands: RUN, public: 'rate_limit_rps', description: 'requests per second (0 = no limit)' },
  burst: { flag: '--burst', group: 'store', env: ['API_BURST'], yaml: ['api.burst'], kind: 'int', min: 1, nullable: true, default: null, commands: RUN, public: 'burst', description: 'token bucket capacity' },
  connections: { flag: '--connections', group: 'store', env: ['API_CONNECTIONS'], yaml: ['api.connections'], kind: 'int', min: 1, default: 50, commands: RUN, public: 'connections', description: 'keep-alive connections to the store' },
  requestTimeout: { flag: '--request-timeout', group: 'store', env: ['API_REQUEST_TIMEOUT'], yaml: ['api.request_timeout'], kind: 'number', min: 0, exclusiveMin: true, default: 30, commands: RUN, public: 'request_timeout_s', description: 'request timeout, seconds' },
  databaseUrl: { flag: '--database-url', group: 'database', env: ['DATABASE_URL'], yaml: ['database.url'], kind: 'postgres-url', nullable: true, default: null, commands: ['run', 'serve', 'db', 'worker'], public: 'database', description: 'PostgreSQL URL (default: embedded; a worker given the run\'s database writes its sessions there itself)' },
  dataDir: { flag: '--data-dir', group: 'database', env: ['SHOPSIM_DATA_DIR'], yaml: ['database.data_dir'], kind: 'string', default: 'data/pglite', commands: ['run', 'serve', 'db', 'ctl'], description: 'embedded database directory' },
  logDir: { flag: '--log-dir', group: 'monitoring', env: ['SHOPSIM_LOG_DIR'], yaml: ['logging.dir'], kind: 'string', nullable: true, default: null, commands: RUN, description: 'log directory (default: logs beside --data-dir, i.e. data/logs)' },
  logMaxSize: { flag: '--log-max-size', group: 'monitoring', env: ['SHOPSIM_LOG_MAX_SIZE'], yaml: ['logging.max_size'], kind: 'size', default: '10M', commands: RUN, description: 'rotate a log file when it reaches this size: a whole number with B, K, M or G (powers of 1024)' },
  logKeep: { flag: '--log-keep', group: 'monitoring', env: ['SHOPSIM_LOG_KEEP'], yaml: ['logging.keep'], kind: 'int', min: 1, max: 1000, default: 5, commands: RUN, description: 'rotated files kept per log file (simulation.log.1 is the newest)' },
  dbPoolSize: { flag: '--db-pool-size', group: 'database', env: ['DB_POOL_SIZE'], yaml: ['database.pool_size'], kind: 'int', min: 1, default: 50, commands: ['run', 'db'], description: 'database pool size' },
  dbWriteTimeout: { flag: '--db-write-timeout', group: 'database', env: ['DB_WRITE_TIMEOUT'], yaml: ['database.write_timeout'], kind: 'number', min: 0, exclusiveMin: true, default: 30, commands: RUN, description: 'seconds one agent-cycle commit may take before it counts as failed' },
  dbGroupCommit: { flag: '--db-group-commit', group: 'database', env: ['DB_GROUP_COMMIT'], yaml: ['database.group_commit'], kind: 'int', min: 0, default: 0, commands: RUN, description: "agent-cycles per write statement (0 = one statement per agent-cycle; 50 for throughput)" },
  dbConnectTimeout: { flag: '--db-connect-timeout', group: 'database', env: ['DB_CONNECT_TIMEOUT', 'DB_POOL_TIMEOUT'], yaml: ['database.connect_timeout', 'database.pool_timeout'], kind: 'number', min: 0, exclusiveMin: true, default: 10, commands: RUN, description: "seconds to wait for a free database connection" },
  dbStatementTimeout: { flag: '--db-statement-timeout', group: 'database', env: ['DB_STATEMENT_TIMEOUT'], yaml: ['database.statement_timeout'], kind: 'number', min: 0, default: 60, commands: RUN, description: 'seconds a statement may run on the server (0 = no limit; not sent behind a transaction-mode pooler)' },
  dbIdleTimeout: { flag: '--db-idle-timeout', group: 'database', env: ['DB_IDLE_TIMEOUT'], yaml: ['database.idle_timeout'], kind: 'number', min: 0, exclusiveMin: true, default: 30, commands: RUN, description: 'seconds before an idle pooled connection is closed' },
  refresh: { flag: '--refresh', group: 'monitoring', env: ['DASHBOARD_REFRESH_SECONDS'], yaml: ['monitoring.dashboard_refresh_seconds'], kind: 'number', min: 0, exclusiveMin: true, default: 5, commands: RUN, description: 'dashboard refresh, seconds' },
  color: { flag: '--color', group: 'monitoring', kind: 'bool', default: true, commands: RUN, description: 'colour output (--no-color, NO_COLOR)' },
  memoryWarningMb: { flag: '--memory-warning-mb', group: 'monitoring', env: ['MEMORY_WARNING_MB'], yaml: ['monitoring.memory_warning_mb'], kind: 'int', min: 1, default: 12000, commands: RUN, description: 'RSS warning threshold, MB' },
  inspect: { flag: '--inspect', group: 'monitoring', kind: 'int', min: 0, max: 65535, expected: 'a port from 0 to 65535', nullable: true, default: null, commands: ['run', 'replay'], description: 'Stately inspector port' },
  web: { flag: '--web', group: 'monitoring', kind: 'int', min: 0, max: 65535, expected: 'a port from 0 to 65535', nullable: true, default: null, commands: RUN, description: `live web view and control API on 127.0.0.1 (port ${DEFAULT_WEB_PORT} when given without one; 0 = any free port; see docs/web.md)` },
  threshold: { flag: '--threshold', group: 'monitoring', env: ['SHOPSIM_THRESHOLDS'], yaml: ['thresholds.checks'], kind: 'thresholds', default: [], commands: RUN, description: "pass/fail check METRIC OP NUMBER, repeatable: 'http_p95_ms<500', 'error_rate<0.05' (env: comma-separated; a failed one exits 99; see docs/cli.md)" },
  thresholdAbort: { flag: '--threshold-abort', group: 'monitoring', env: ['SHOPSIM_THRESHOLD_ABORT'], yaml: ['thresholds.abort'], kind: 'bool', default: false, commands: RUN, description: 'stop the run (with a checkpoint) at the first cycle end where a threshold fails' },
  currency: { flag: '--currency', group: 'monitoring', env: ['SHOPSIM_CURRENCY'], yaml: ['simulation.currency'], kind: 'currency', default: 'USD', commands: RUN, description: "ISO 4217 code of the catalog's prices (cents of it), for money in the summary, dashboard and report; --json has it as currency" },
  reportHtml: { flag: '--report-html', group: 'monitoring', env: ['SHOPSIM_REPORT_HTML'], yaml: ['monitoring.report_html'], kind: 'string', nullable: true, default: null, commands: RUN, description: 'at the end, write the run\'s HTML report to this file (one self-contained file, opens offline; see docs/web.md)' },
  inspectAgents: { flag: '--inspect-agents', group: 'monitoring', kind: 'string', nullable: true, default: null, commands: ['run', 'replay'], description: 'agent ids to stream to the inspector' },
  // Scale-out: cohorts on `shopsim worker` processes through BullMQ on Redis (docs/scaling.md). The URL may hold a password: never recorded.
  redis: { flag: '--redis', group: 'scale', env: ['SHOPSIM_REDIS_URL'], yaml: ['scale.redis'], kind: 'string', nullable: true, default: null, commands: ['run', 'worker'], description: 'Redis URL (redis://HOST:6379): run the cohorts on `shopsim worker` processes joined there (see docs/scaling.md)' },
  redisPrefix: { flag: '--redis-prefix', group: 'scale', env: ['SHOPSIM_REDIS_PREFIX'], yaml: ['scale.redis_prefix'], kind: 'string', default: 'shopsim', commands: ['run', 'worker'], description: 'with --redis: the key prefix of everything the run and its workers write there (one run at a time per prefix)' },
  workersExpected: { flag: '--workers-expected', group: 'scale', env: ['SHOPSIM_WORKERS_EXPECTED'], yaml: ['scale.workers_expected'], kind: 'int', min: 1, default: 1, commands: RUN, description: 'with --redis: workers to wait for before the first cycle' },
  workersTimeout: { flag: '--workers-timeout', group: 'scale', env: ['SHOPSIM_WORKERS_TIMEOUT'], yaml: ['scale.workers_timeout'], kind: 'duration', default: 120, commands: RUN, description: 'with --redis: how long to wait for --workers-expected workers (e.g. 30s, 5m), else exit 2' },
  workerLockTimeout: { flag: '--worker-lock-timeout', group: 'scale', env: ['SHOPSIM_WORKER_LOCK_TIMEOUT'], yaml: ['scale.worker_lock_timeout'], kind: 'duration', default: 10, commands: RUN, description: "with --redis: a lost worker's jobs (each its slot's cohorts of a cycle) are taken over by the others after about this long (its job lock; stalled checks every half of it)" },
  workerDbPool: { flag: '--worker-db-pool', group: 'scale', env: ['SHOPSIM_WORKER_DB_POOL'], yaml: ['scale.worker_db_pool'], kind: 'int', min: 1, default: 4, commands: RUN, description: 'on PostgreSQL, with --workers or --redis: connections of each worker thread\'s own pool, through which it writes its cohorts\' sessions' },
};

/** Options of `shopsim serve` that `run` does not have (it shares --database-url, --data-dir, --mock-db). */
export interface ServeOnlyConfig {
  host: string;
  port: number;
  storeProducts: string;
  failRate: number;
  latencyMs: number;
  jitterMs: number;
  maxRps: number;
  hangRate: number;
  storeSeed: number;
  log: boolean;
}

const SERVE: CommandName[] = ['serve'];
const SERVE_SPECS: { [K in keyof ServeOnlyConfig]: OptionSpec<ServeOnlyConfig[K]> } = {
  host: { flag: '--host', group: 'server', kind: 'string', default: '127.0.0.1', commands: SERVE, description: 'address to bind' },
  port: { flag: '--port', group: 'server', kind: 'int', min: 0, max: 65535, expected: 'an integer from 0 to 65535', default: 8787, commands: SERVE, description: 'port (0 = any free port)' },
  storeProducts: { flag: '--products', group: 'server', kind: 'string', default: 'data/products.json', commands: SERVE, description: 'product catalog (generated when the default file is absent)' },
  failRate: { flag: '--fail-rate', group: 'faults', kind: 'number', min: 0, max: 1, expected: 'a probability from 0 to 1', default: 0, commands: SERVE, description: 'answer this share of requests with 503' },
  latencyMs: { flag: '--latency-ms', group: 'faults', kind: 'number', min: 0, expected: 'a number of milliseconds >= 0', default: 0, commands: SERVE, description: 'delay every answer by this many milliseconds' },
  jitterMs: { flag: '--jitter-ms', group: 'faults', kind: 'number', min: 0, expected: 'a number of milliseconds >= 0', default: 0, commands: SERVE, description: 'plus or minus up to this many milliseconds' },
  maxRps: { flag: '--max-rps', group: 'faults', kind: 'int', min: 0, expected: 'an integer >= 0 (0 = no limit)', default: 0, commands: SERVE, description: 'beyond n requests in any second: 429 with Retry-After (0 = no limit)' },
  hangRate: { flag: '--hang-rate', group: 'faults', kind: 'number', min: 0, max: 1, expected: 'a probability from 0 to 1', default: 0, commands: SERVE, description: 'never answer this share of requests' },
  storeSeed: { flag: '--seed', group: 'server', kind: 'int', min: 0, max: 2 ** 48, default: 42, commands: SERVE, description: 'seeds offers and fault draws' },
  log: { flag: '--log', group: 'server', kind: 'bool', default: false, commands: SERVE, description: 'log every request (pino JSON on stdout)' },
};

/** Options of `shopsim calibrate` that `run` does not have (it shares --profile, --agents, --seed, --personas, --products, --json). */
export interface CalibrateOnlyConfig {
  days: number;
  out: string | null;
  maxRounds: number;
}

const CALIBRATE_SPECS: { [K in keyof CalibrateOnlyConfig]: OptionSpec<CalibrateOnlyConfig[K]> } = {
  days: { flag: '--days', group: 'calibrate', kind: 'number', min: 0, exclusiveMin: true, max: 365, default: 7, commands: ['calibrate'], description: 'simulated days of each measuring run' },
  out: { flag: '--out', group: 'calibrate', kind: 'string', nullable: true, default: null, commands: ['calibrate'], description: 'write the fitted profile here (default: NAME.fitted.yaml beside the profile file, or in the working directory for a built-in)' },
  maxRounds: { flag: '--max-rounds', group: 'calibrate', kind: 'int', min: 1, max: 50, default: 8, commands: ['calibrate'], description: 'most measuring runs of the fit' },
};

/** Options of `shopsim replay` that `run` does not have. */
export interface ReplayOnlyConfig {
  untilCycle: number | null;
  verify: boolean;
  agent: string | null;
}

const REPLAY_SPECS: { [K in keyof ReplayOnlyConfig]: OptionSpec<ReplayOnlyConfig[K]> } = {
  untilCycle: { flag: '--until-cycle', group: 'replay', kind: 'int', min: 1, nullable: true, default: null, commands: ['replay'], description: "stop after this cycle (default: the run's last cycle)" },
  verify: { flag: '--verify', group: 'replay', kind: 'bool', default: false, commands: ['replay'], description: 'compare the digest with every later checkpoint of the same run on disk; exit 1 on divergence' },
  agent: { flag: '--agent', group: 'replay', kind: 'string', nullable: true, default: null, commands: ['replay'], description: "print this shopper's timeline: cycle, simulated time, states, store calls with their answers, outcome" },
};

/** Options of `shopsim worker` that `run` does not have (it shares --redis, --personas, --products). */
export interface WorkerOnlyConfig {
  concurrency: number;
  verbose: boolean;
}

const WORKER_SPECS: { [K in keyof WorkerOnlyConfig]: OptionSpec<WorkerOnlyConfig[K]> } = {
  concurrency: { flag: '--concurrency', group: 'scale', env: ['SHOPSIM_WORKER_CONCURRENCY'], kind: 'int', min: 1, max: 256, default: 1, commands: ['worker'], description: "worker threads, one cohort at a time each (each thread takes its own slot's job of the cycle; about one per core)" },
  verbose: { flag: '--verbose', group: 'scale', kind: 'bool', default: false, commands: ['worker'], description: 'a line per cohort started and done' },
};

/** Options of `shopsim ctl` that `run` does not have (it shares --checkpoint-dir: the run files are beside it). */
export interface CtlOnlyConfig {
  ctlRun: string | null;
}

const CTL_SPECS: { [K in keyof CtlOnlyConfig]: OptionSpec<CtlOnlyConfig[K]> } = {
  ctlRun: { flag: '--run', group: 'ctl', kind: 'string', nullable: true, default: null, commands: ['ctl'], description: 'the run id to talk to (default: the newest run with --web still running)' },
};

function keyed(table: Record<string, OptionSpec>): KeyedSpec[] {
  return Object.entries(table).map(([key, spec]) => ({ key, ...spec }));
}

/** Every option of every command. */
export const ALL_SPECS: KeyedSpec[] = [
  ...keyed(RUN_SPECS as Record<string, OptionSpec>),
  ...keyed(SERVE_SPECS as Record<string, OptionSpec>),
  ...keyed(REPLAY_SPECS as Record<string, OptionSpec>),
  ...keyed(CALIBRATE_SPECS as Record<string, OptionSpec>),
  ...keyed(CTL_SPECS as Record<string, OptionSpec>),
  ...keyed(WORKER_SPECS as Record<string, OptionSpec>),
];

/** The options a command takes, in help order. */
export function specsFor(command: CommandName): KeyedSpec[] {
  return ALL_SPECS.filter((s) => s.commands.includes(command));
}

/** The options of `shopsim run` (all of RunConfig). */
export const OPTION_SPECS: (KeyedSpec & { key: keyof RunConfig })[] = keyed(RUN_SPECS as Record<string, OptionSpec>) as (KeyedSpec & { key: keyof RunConfig })[];

function defaultsOf<T>(table: Record<string, OptionSpec>): T {
  return Object.fromEntries(Object.entries(table).map(([k, s]) => [k, s.default])) as T;
}

export const DEFAULTS: RunConfig = defaultsOf<RunConfig>(RUN_SPECS as Record<string, OptionSpec>);
export const SERVE_DEFAULTS: ServeOnlyConfig = defaultsOf<ServeOnlyConfig>(SERVE_SPECS as Record<string, OptionSpec>);

export type Source = 'flag' | 'env' | 'config' | 'default';

/** Validates one raw value (string from argv/env, or a YAML/JSON value) against its spec. */
export function coerce(spec: OptionSpec, raw: unknown, where: string): unknown {
  const bad = (expected: string) => inputError(`${where}: expected ${expected}, got ${JSON.stringify(spec.kind.endsWith('-url') && typeof raw === 'string' ? redactUrl(raw) : raw)}`);
  if (raw === null && spec.nullable) return null;
  switch (spec.kind) {
    case 'http-url':
    case 'postgres-url': {
      if (typeof raw !== 'string' || raw === '') throw bad(spec.kind === 'http-url' ? 'an http(s) URL such as http://127.0.0.1:8787' : 'a postgres:// or postgresql:// URL');
      let u: URL;
      try {
        u = new URL(raw);
      } catch {
        throw bad(spec.kind === 'http-url' ? 'an http(s) URL such as http://127.0.0.1:8787' : 'a postgres:// or postgresql:// URL');
      }
      const ok = spec.kind === 'http-url' ? ['http:', 'https:'] : ['postgres:', 'postgresql:'];
      if (!ok.includes(u.protocol)) {
        throw inputError(`${where}: expected ${spec.kind === 'http-url' ? 'an http(s) URL' : 'a postgres:// or postgresql:// URL'}, got protocol ${u.protocol}`);
      }
      return spec.kind === 'http-url' ? raw.replace(/\/+$/, '') : raw;
    }
    case 'bool-or-string': {
      if (typeof raw === 'boolean') return raw;
      const s = String(raw);
      if (['1', 'true', 'yes', 'on'].includes(s.toLowerCase())) return true;
      if (['0', 'false', 'no', 'off', ''].includes(s.toLowerCase())) return false;
      if (!/^[\w.:-]{1,200}$/.test(s)) throw bad('true, false or a run id (letters, digits, . _ : -)');
      return s;
    }
    case 'bool': {
      if (typeof raw === 'boolean') return raw;
      const s = String(raw).toLowerCase();
      if (['1', 'true', 'yes', 'on'].includes(s)) return true;
      if (['0', 'false', 'no', 'off', ''].includes(s)) return false;
      throw bad('true or false');
    }
    case 'int':
    case 'number': {
      const n = typeof raw === 'number' ? raw : typeof raw === 'string' && raw.trim() !== '' ? Number(raw) : NaN;
      const range =
        spec.max !== undefined
          ? ` ${spec.exclusiveMin ? '>' : '>='} ${spec.min ?? '-inf'} and <= ${spec.max}`
          : spec.min !== undefined
            ? ` ${spec.exclusiveMin ? '>' : '>='} ${spec.min}`
            : '';
      const what = spec.expected ?? (spec.kind === 'int' ? `an integer${range}` : `a number${range}`);
      if (!Number.isFinite(n) || (spec.kind === 'int' && !Number.isInteger(n))) throw bad(what);
      if (spec.min !== undefined && (spec.exclusiveMin ? n <= spec.min : n < spec.min)) throw bad(what);
      if (spec.max !== undefined && n > spec.max) throw bad(what);
      return n;
    }
    case 'duration': {
      // A number of seconds, or a number with a unit: 90s, 10m, 1.5h, 7d, 2w.
      if (typeof raw === 'number' && Number.isFinite(raw) && raw > 0) return raw;
      const m = typeof raw === 'string' ? /^\s*(\d+(?:\.\d+)?)\s*(s|m|min|h|d|w)?\s*$/.exec(raw) : null;
      const n = m ? Number(m[1]) * { s: 1, m: 60, min: 60, h: 3600, d: 86_400, w: 604_800 }[(m[2] ?? 's') as 's'] : NaN;
      if (!(n > 0)) throw bad('a duration > 0 such as 90s, 10m, 2h or 7d');
      return n;
    }
    case 'date': {
      const s = raw instanceof Date ? raw.toISOString() : String(raw);
      if (!/^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?)?$/.test(s) || Number.isNaN(Date.parse(s))) {
        throw bad('an ISO-8601 date such as 2024-01-01T00:00:00Z');
      }
      return new Date(Date.parse(/T.*(Z|[+-]\d{2}:?\d{2})$/.test(s) || !s.includes('T') ? s : `${s}Z`)).toISOString();
    }
    case 'thresholds': {
      const list = Array.isArray(raw) ? raw : typeof raw === 'string' ? raw.split(',') : null;
      if (!list || list.some((t) => typeof t !== 'string')) throw bad("a list of expressions such as ['http_p95_ms<500']");
      return (list as string[]).filter((t) => t.trim() !== '').map((t) => parseThreshold(t, where).text);
    }
    case 'size': {
      const m = typeof raw === 'string' || typeof raw === 'number' ? /^\s*(\d+)\s*([BKMG])?\s*$/i.exec(String(raw)) : null;
      if (!m || Number(m[1]) < 1) throw bad('a size such as 300K, 10M or 1G (a whole number >= 1 with B, K, M or G)');
      return `${Number(m[1])}${(m[2] ?? 'B').toUpperCase()}`;
    }
    case 'currency': {
      const code = typeof raw === 'string' ? raw.trim().toUpperCase() : '';
      if (!isCurrencyCode(code)) throw bad('an ISO 4217 currency code such as USD, EUR or JPY');
      return code;
    }
    case 'enum': {
      const s = String(raw);
      if (!spec.values?.includes(s)) throw bad(`one of ${spec.values?.join(', ')}`);
      return s;
    }
    default: {
      if (typeof raw !== 'string' && typeof raw !== 'number') throw bad('a string');
      const s = String(raw);
      if (s.length === 0) throw bad('a non-empty string');
      return s;
    }
  }
}

function getPath(obj: unknown, path: string): unknown {
  let cur: unknown = obj;
  for (const part of path.split('.')) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<string, unknown>)[part];
  }
  return cur;
}

/** Reads and parses a YAML config file (the shape of config/simulation.yaml in docs/cli.md). */
export function loadConfigFile(file: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw inputError(`--config ${file}: cannot read the file (${(err as NodeJS.ErrnoException).code ?? 'error'})`, err);
  }
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (err) {
    const msg = err instanceof Error ? err.message.split('\n')[0] : String(err);
    throw inputError(`--config ${file}: not valid YAML: ${msg}`, err);
  }
  if (doc === null || doc === undefined) return {};
  if (typeof doc !== 'object' || Array.isArray(doc)) throw inputError(`--config ${file}: expected a YAML mapping at the top level`);
  return doc as Record<string, unknown>;
}

export interface Resolved<T> {
  config: T;
  sources: Partial<Record<keyof T, Source>>;
}

export type ResolvedConfig = Resolved<RunConfig>;

/**
 * Merges flags (already parsed by commander; undefined = not given), env and config file over the
 * defaults of `specs`, validating each value where it came from.
 */
export function resolveOptions<T>(
  specs: KeyedSpec[],
  flags: Partial<Record<string, unknown>>,
  env: Record<string, string | undefined>,
  file: Record<string, unknown> = {},
  fileName?: string,
): Resolved<T> {
  const config: Record<string, unknown> = {};
  const sources: Record<string, Source> = {};
  for (const spec of specs) {
    let value: unknown = spec.default;
    let source: Source = 'default';
    const flagValue = flags[spec.key];
    if (flagValue !== undefined) {
      value = coerce(spec, flagValue, spec.flag);
      source = 'flag';
    } else {
      const envName = spec.env?.find((e) => env[e] !== undefined && env[e] !== '');
      if (envName) {
        value = coerce(spec, env[envName], `${envName} (environment)`);
        source = 'env';
      } else {
        const yamlPath = spec.yaml?.find((p) => getPath(file, p) !== undefined);
        if (yamlPath) {
          value = coerce(spec, getPath(file, yamlPath), `${fileName}: ${yamlPath}`);
          source = 'config';
        }
      }
    }
    config[spec.key] = value;
    if (source !== 'default') sources[spec.key] = source;
  }
  return { config: config as T, sources: sources as Partial<Record<keyof T, Source>> };
}

/** `shopsim run`: flags > env > config file > defaults, and the checks across options. */
export function resolveConfig(
  flags: Partial<Record<keyof RunConfig, unknown>>,
  env: Record<string, string | undefined>,
  configFile?: string,
): ResolvedConfig {
  const file = configFile ? loadConfigFile(configFile) : {};
  const { config, sources } = resolveOptions<RunConfig>(OPTION_SPECS, flags, env, file, configFile);
  if (env['NO_COLOR'] !== undefined && env['NO_COLOR'] !== '' && sources.color !== 'flag') config.color = false;
  // The checkpoints follow the data directory unless given (the table's default is data/pglite's).
  if (sources.checkpointDir === undefined) config.checkpointDir = defaultCheckpointDir(config.dataDir);
  if (config.resume && config.fresh) throw inputError('--resume and --fresh: expected at most one of them');
  if (config.resumeFrom && config.fresh) throw inputError('--resume-from and --fresh: expected at most one of them');
  if (config.resumeFrom && config.resume !== false) throw inputError('--resume and --resume-from: expected at most one of them');
  // The run's length: at most one of its four options from the same place (a flag beats a config file's).
  const given = LENGTH_KEYS.filter((k) => config[k] !== null);
  for (const a of given) {
    const b = given.find((k) => k !== a && sources[k] === sources[a]);
    if (b) throw inputError(`${RUN_SPECS[a].flag} and ${RUN_SPECS[b].flag}: expected one of them, got both`);
  }
  return { config, sources };
}

/**
 * The checkpoint directory when none is given: `checkpoints` beside the embedded database
 * directory, as the logs are (data/pglite → data/checkpoints; /srv/shop/pglite → /srv/shop/checkpoints).
 */
export function defaultCheckpointDir(dataDir: string): string {
  return join(dirname(dataDir), 'checkpoints');
}

/**
 * For the commands that read these two by hand (runs, clean, checkpoints list): --checkpoint-dir,
 * else CHECKPOINT_DIR, else beside --data-dir / SHOPSIM_DATA_DIR / data/pglite.
 */
export function checkpointDirFrom(flags: { checkpointDir?: string | undefined; dataDir?: string | undefined }, env: Record<string, string | undefined>): string {
  return flags.checkpointDir ?? (env['CHECKPOINT_DIR'] || defaultCheckpointDir(flags.dataDir ?? (env['SHOPSIM_DATA_DIR'] || DEFAULTS.dataDir)));
}

/** The options that say how long a run is; the one from the highest-ranked source wins. */
const LENGTH_KEYS = ['hours', 'cycles', 'duration', 'simDuration'] as const;

/**
 * Total cycles of the run: --cycles, or --sim-duration in simulated hours, or --hours / --duration
 * × time-scale, or one real hour (time-scale cycles).
 */
export function totalCycles(c: RunConfig, sources: ResolvedConfig['sources']): number {
  const given = LENGTH_KEYS.filter((k) => c[k] !== null);
  const chosen = given.reduce<(typeof LENGTH_KEYS)[number] | null>((best, k) => (best === null || rank(sources[k]) > rank(sources[best]) ? k : best), null);
  const realCycles = (flag: string, hours: number) => {
    const n = Math.round(hours * c.timeScale);
    if (n < 1) throw inputError(`${flag} at --time-scale ${c.timeScale}: expected at least one cycle, got ${hours * c.timeScale}`);
    if (n > MAX_CYCLES) throw inputError(`${flag} at --time-scale ${c.timeScale}: expected at most ${MAX_CYCLES} cycles, got ${n}`);
    return n;
  };
  switch (chosen) {
    case 'cycles':
      return c.cycles as number;
    case 'hours':
      return realCycles(`--hours ${c.hours}`, c.hours as number);
    case 'duration':
      return realCycles(`--duration ${c.duration} s`, (c.duration as number) / 3600);
    case 'simDuration': {
      const h = (c.simDuration as number) / 3600;
      if (!Number.isInteger(h)) throw inputError(`--sim-duration: expected whole simulated hours (one cycle is one simulated hour), got ${h.toFixed(3)} h`);
      if (h > MAX_CYCLES) throw inputError(`--sim-duration: expected at most ${MAX_CYCLES} simulated hours, got ${h}`);
      return h;
    }
    default:
      return Math.max(1, Math.round(c.timeScale));
  }
}

function rank(s: Source | undefined): number {
  return s === 'flag' ? 3 : s === 'env' ? 2 : s === 'config' ? 1 : 0;
}

/** The configuration as written to the run row and checkpoints: the options with a public key; no secrets. */
export function publicConfig(c: RunConfig, cycles: number): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const spec of OPTION_SPECS) {
    if (!spec.public) continue;
    const value = c[spec.key];
    if (spec.key === 'cycles') out[spec.public] = cycles;
    else if (spec.key === 'databaseUrl') out[spec.public] = typeof value === 'string' ? redactUrl(value) : 'embedded';
    else if (spec.kind.endsWith('-url')) out[spec.public] = typeof value === 'string' ? redactUrl(value) : null;
    else out[spec.public] = value;
  }
  return out;
}

/**
 * The options a checkpoint recorded (its simulation_config), validated like any other input:
 * the file is outside the process. Keys it lacks are absent from the result; URLs (stored
 * redacted) are not read back.
 */
export function fromPublicConfig(recorded: Record<string, unknown>, where: string): Partial<RunConfig> {
  const out: Record<string, unknown> = {};
  for (const spec of OPTION_SPECS) {
    if (!spec.public || spec.kind.endsWith('-url') || !(spec.public in recorded)) continue;
    out[spec.key] = coerce(spec, recorded[spec.public], `${where}: simulation_config.${spec.public}`);
  }
  return out as Partial<RunConfig>;
}

/** The options `run --resume` carries from a checkpoint, with their rule. */
export function resumeRules(): { key: keyof RunConfig; flag: string; public: string; rule: ResumeRule }[] {
  return OPTION_SPECS.filter((s) => s.resume && s.public).map((s) => ({ key: s.key, flag: s.flag, public: s.public as string, rule: s.resume as ResumeRule }));
}

/** The simulation's configuration for a resolved run. */
export function simulationConfigOf(c: RunConfig, run: { cycles: number; runId?: string; breakerAction?: 'exit' | 'wait' }): SimulationConfig & { runId: string } {
  return {
    runId: run.runId ?? '',
    seed: c.seed,
    cycles: run.cycles,
    startMs: Date.parse(c.start),
    timeScale: c.timeScale,
    fast: c.fast,
    warmupCycles: c.warmupCycles,
    breakerPercent: c.breakerPercent,
    breakerAction: run.breakerAction ?? c.breakerAction,
    breakerOn: c.breakerOn,
    cohortSize: c.cohortSize,
    maxConcurrentAgents: c.maxConcurrentAgents,
    offerCycleDays: c.offerCycleDays,
    checkpointInterval: c.checkpointInterval,
  };
}
