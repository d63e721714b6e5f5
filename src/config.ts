/**
 * Run configuration: defaults, environment, YAML config file and flags, validated in one
 * place. Precedence: flag > env > config file > default. Every failure is one line naming
 * the input (flag, env var or config key) and what was expected; the CLI exits 2.
 */
import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { inputError } from './errors.ts';

type Kind = 'int' | 'number' | 'bool' | 'string' | 'date' | 'enum';

interface OptionSpec {
  key: keyof RunConfig;
  flag: string;
  env?: string[];
  yaml?: string[];
  kind: Kind;
  min?: number;
  exclusiveMin?: boolean;
  max?: number;
  values?: string[];
  description: string;
}

export interface RunConfig {
  agents: number | null;
  personas: string;
  products: string;
  hours: number | null;
  cycles: number | null;
  timeScale: number;
  start: string;
  seed: number;
  warmupCycles: number;
  breakerPercent: number;
  breakerAction: 'exit' | 'wait';
  fast: boolean;
  mockApi: boolean;
  mockDb: boolean;
  mockFailRate: number;
  json: boolean;
  debug: boolean;
  cohortSize: number;
  maxConcurrentAgents: number;
  offerCycleDays: number;
  // checkpoints
  checkpointDir: string;
  checkpointInterval: number;
  keepCheckpoints: number;
  resume: boolean;
  resumeFrom: string | null;
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
}

export const DEFAULTS: RunConfig = {
  agents: null,
  personas: 'data/personas.json',
  products: 'data/products.json',
  hours: null,
  cycles: null,
  timeScale: 24,
  start: '2024-01-01T00:00:00Z',
  seed: 42,
  warmupCycles: 0,
  breakerPercent: 5,
  breakerAction: 'exit',
  fast: false,
  mockApi: false,
  mockDb: false,
  mockFailRate: 0,
  json: false,
  debug: false,
  cohortSize: 500,
  maxConcurrentAgents: 10_000,
  offerCycleDays: 7,
  checkpointDir: 'data/checkpoints',
  checkpointInterval: 10,
  keepCheckpoints: 5,
  resume: false,
  resumeFrom: null,
  fresh: false,
  apiUrl: null,
  rateLimit: 50,
  burst: null,
  connections: 50,
  requestTimeout: 30,
  databaseUrl: null,
  dataDir: 'data/pglite',
  dbPoolSize: 50,
  dbWriteTimeout: 30,
  dbGroupCommit: 0,
  dbConnectTimeout: 10,
  dbStatementTimeout: 60,
  dbIdleTimeout: 30,
  refresh: 5,
  color: true,
  memoryWarningMb: 12000,
  inspect: null,
  inspectAgents: null,
};

export const OPTION_SPECS: OptionSpec[] = [
  { key: 'agents', flag: '--agents', env: ['SIMULATION_AGENTS'], yaml: ['simulation.agents'], kind: 'int', min: 1, description: 'number of agents (default: all personas; the first N of the file)' },
  { key: 'personas', flag: '--personas', env: ['PERSONAS_FILE'], yaml: ['simulation.personas'], kind: 'string', description: 'persona file (the default falls back to the copy shipped with shopsim)' },
  { key: 'products', flag: '--products', env: ['PRODUCTS_FILE'], yaml: ['simulation.products'], kind: 'string', description: 'product catalog file (the default falls back to the copy shipped with shopsim)' },
  { key: 'hours', flag: '--hours', env: ['SIMULATION_HOURS'], yaml: ['simulation.hours'], kind: 'number', min: 0, exclusiveMin: true, description: 'real hours to run (cycles = hours × time-scale)' },
  { key: 'cycles', flag: '--cycles', env: ['SIMULATION_CYCLES'], yaml: ['simulation.cycles'], kind: 'int', min: 1, description: 'simulated hours (cycles) to run' },
  { key: 'timeScale', flag: '--time-scale', env: ['TIME_SCALE'], yaml: ['simulation.time_scale'], kind: 'number', min: 0, exclusiveMin: true, description: 'simulated hours per real hour' },
  { key: 'start', flag: '--start', env: ['SIMULATION_START'], yaml: ['simulation.start'], kind: 'date', description: 'simulated start (ISO-8601)' },
  { key: 'seed', flag: '--seed', env: ['SIMULATION_SEED'], yaml: ['simulation.seed'], kind: 'int', min: 0, max: 2 ** 48, description: 'random seed' },
  { key: 'warmupCycles', flag: '--warmup-cycles', env: ['WARMUP_CYCLES'], yaml: ['simulation.warmup_cycles'], kind: 'int', min: 0, description: 'warm-up ramp cycles (10/25/50/75/100%)' },
  { key: 'breakerPercent', flag: '--breaker-percent', env: ['CIRCUIT_BREAKER_THRESHOLD_PERCENT'], yaml: ['circuit_breaker.failure_threshold_percent'], kind: 'number', min: 0, max: 100, description: 'breaker threshold, percent of agents failing in one cycle' },
  { key: 'breakerAction', flag: '--breaker-action', env: ['BREAKER_ACTION'], yaml: ['circuit_breaker.action'], kind: 'enum', values: ['exit', 'wait'], description: 'without a terminal: exit (checkpoint, exit 3) or wait (until SIGUSR2)' },
  { key: 'fast', flag: '--fast', env: ['SIMULATION_FAST'], yaml: ['simulation.fast'], kind: 'bool', description: 'no real-time pacing' },
  { key: 'mockApi', flag: '--mock-api', env: ['MOCK_API'], yaml: ['simulation.mock_api'], kind: 'bool', description: 'in-process deterministic store' },
  { key: 'mockDb', flag: '--mock-db', env: ['MOCK_DB'], yaml: ['simulation.mock_db'], kind: 'bool', description: 'write nothing to a database' },
  { key: 'mockFailRate', flag: '--mock-fail-rate', env: ['MOCK_FAIL_RATE'], yaml: ['simulation.mock_fail_rate'], kind: 'number', min: 0, max: 1, description: 'mock store failure probability per call' },
  { key: 'json', flag: '--json', kind: 'bool', description: 'print one JSON summary on stdout' },
  { key: 'debug', flag: '--debug', env: ['DEBUG_LOGS'], kind: 'bool', description: 'debug logging' },
  { key: 'cohortSize', flag: '--cohort-size', env: ['COHORT_SIZE'], yaml: ['parallelization.cohort_size'], kind: 'int', min: 1, description: 'shoppers per cohort actor' },
  { key: 'maxConcurrentAgents', flag: '--max-concurrent-agents', env: ['MAX_CONCURRENT_AGENTS'], yaml: ['parallelization.max_concurrent_agents'], kind: 'int', min: 1, description: 'most agents in a session at once (all of them up to this many)' },
  { key: 'offerCycleDays', flag: '--offer-cycle-days', env: ['OFFER_CYCLE_DAYS'], yaml: ['offers.cycle_days'], kind: 'number', min: 0, exclusiveMin: true, description: 'simulated days per offer cycle' },
  { key: 'checkpointDir', flag: '--checkpoint-dir', env: ['CHECKPOINT_DIR'], yaml: ['checkpoints.dir'], kind: 'string', description: 'checkpoint directory' },
  { key: 'checkpointInterval', flag: '--checkpoint-interval', env: ['DEFAULT_CHECKPOINT_INTERVAL'], yaml: ['simulation.checkpoint_interval_cycles'], kind: 'int', min: 0, description: 'cycles between checkpoints (0 = only on stop)' },
  { key: 'keepCheckpoints', flag: '--keep-checkpoints', env: ['KEEP_CHECKPOINTS'], yaml: ['checkpoints.keep'], kind: 'int', min: 1, description: 'checkpoints of a run to keep' },
  { key: 'resume', flag: '--resume', kind: 'bool', description: 'resume from the newest valid checkpoint' },
  { key: 'resumeFrom', flag: '--resume-from', kind: 'string', description: 'resume from this checkpoint file' },
  { key: 'fresh', flag: '--fresh', kind: 'bool', description: 'ignore existing checkpoints (they stay on disk)' },
  { key: 'apiUrl', flag: '--api-url', env: ['API_URL', 'RAILWAY_API_URL'], yaml: ['api.url'], kind: 'string', description: 'store API base URL' },
  { key: 'rateLimit', flag: '--rate-limit', env: ['API_RATE_LIMIT_RPS'], yaml: ['simulation.rate_limit_rps'], kind: 'number', min: 0, description: 'requests per second (0 = no limit)' },
  { key: 'burst', flag: '--burst', env: ['API_BURST'], yaml: ['api.burst'], kind: 'int', min: 1, description: 'token bucket capacity' },
  { key: 'connections', flag: '--connections', env: ['API_CONNECTIONS'], yaml: ['api.connections'], kind: 'int', min: 1, description: 'keep-alive connections to the store' },
  { key: 'requestTimeout', flag: '--request-timeout', env: ['API_REQUEST_TIMEOUT'], yaml: ['api.request_timeout'], kind: 'number', min: 0, exclusiveMin: true, description: 'request timeout, seconds' },
  { key: 'databaseUrl', flag: '--database-url', env: ['DATABASE_URL'], yaml: ['database.url'], kind: 'string', description: 'PostgreSQL URL (default: embedded)' },
  { key: 'dataDir', flag: '--data-dir', env: ['SHOPSIM_DATA_DIR'], yaml: ['database.data_dir'], kind: 'string', description: 'embedded database directory' },
  { key: 'dbPoolSize', flag: '--db-pool-size', env: ['DB_POOL_SIZE'], yaml: ['database.pool_size'], kind: 'int', min: 1, description: 'database pool size' },
  { key: 'dbWriteTimeout', flag: '--db-write-timeout', env: ['DB_WRITE_TIMEOUT'], yaml: ['database.write_timeout'], kind: 'number', min: 0, exclusiveMin: true, description: 'seconds one agent-cycle commit may take before it counts as failed' },
  { key: 'dbGroupCommit', flag: '--db-group-commit', env: ['DB_GROUP_COMMIT'], yaml: ['database.group_commit'], kind: 'int', min: 0, description: 'agent-cycles per write statement (0 = one statement per agent-cycle, the seed\'s pattern; 50 for throughput)' },
  { key: 'dbConnectTimeout', flag: '--db-connect-timeout', env: ['DB_CONNECT_TIMEOUT', 'DB_POOL_TIMEOUT'], yaml: ['database.connect_timeout', 'database.pool_timeout'], kind: 'number', min: 0, exclusiveMin: true, description: 'seconds to wait for a database connection (the seed\'s pool_timeout)' },
  { key: 'dbStatementTimeout', flag: '--db-statement-timeout', env: ['DB_STATEMENT_TIMEOUT'], yaml: ['database.statement_timeout'], kind: 'number', min: 0, description: 'seconds a statement may run on the server (0 = no limit; not sent behind a transaction-mode pooler)' },
  { key: 'dbIdleTimeout', flag: '--db-idle-timeout', env: ['DB_IDLE_TIMEOUT'], yaml: ['database.idle_timeout'], kind: 'number', min: 0, exclusiveMin: true, description: 'seconds before an idle pooled connection is closed' },
  { key: 'refresh', flag: '--refresh', env: ['DASHBOARD_REFRESH_SECONDS'], yaml: ['monitoring.dashboard_refresh_seconds'], kind: 'number', min: 0, exclusiveMin: true, description: 'dashboard refresh, seconds' },
  { key: 'color', flag: '--color', kind: 'bool', description: 'colour output (--no-color, NO_COLOR)' },
  { key: 'memoryWarningMb', flag: '--memory-warning-mb', env: ['MEMORY_WARNING_MB'], yaml: ['monitoring.memory_warning_mb'], kind: 'int', min: 1, description: 'RSS warning threshold, MB' },
  { key: 'inspect', flag: '--inspect', kind: 'int', min: 0, max: 65535, description: 'Stately inspector port' },
  { key: 'inspectAgents', flag: '--inspect-agents', kind: 'string', description: 'agent ids to stream to the inspector' },
];

export type Source = 'flag' | 'env' | 'config' | 'default';

function coerce(spec: OptionSpec, raw: unknown, where: string): unknown {
  const bad = (expected: string) => inputError(`${where}: expected ${expected}, got ${JSON.stringify(raw)}`);
  switch (spec.kind) {
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
      const what = spec.kind === 'int' ? `an integer${range}` : `a number${range}`;
      if (!Number.isFinite(n) || (spec.kind === 'int' && !Number.isInteger(n))) throw bad(what);
      if (spec.min !== undefined && (spec.exclusiveMin ? n <= spec.min : n < spec.min)) throw bad(what);
      if (spec.max !== undefined && n > spec.max) throw bad(what);
      return n;
    }
    case 'date': {
      const s = raw instanceof Date ? raw.toISOString() : String(raw);
      if (!/^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?)?$/.test(s) || Number.isNaN(Date.parse(s))) {
        throw bad('an ISO-8601 date such as 2024-01-01T00:00:00Z');
      }
      return new Date(Date.parse(/T.*(Z|[+-]\d{2}:?\d{2})$/.test(s) || !s.includes('T') ? s : `${s}Z`)).toISOString();
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

/** Reads and parses a YAML config file (the seed's config/simulation.yaml shape). */
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

export interface ResolvedConfig {
  config: RunConfig;
  sources: Partial<Record<keyof RunConfig, Source>>;
}

/**
 * Merges flags (already parsed by commander; undefined = not given), env and config file
 * over the defaults, validating each value where it came from.
 */
export function resolveConfig(
  flags: Partial<Record<keyof RunConfig, unknown>>,
  env: Record<string, string | undefined>,
  configFile?: string,
): ResolvedConfig {
  const file = configFile ? loadConfigFile(configFile) : {};
  const config: RunConfig = { ...DEFAULTS };
  const sources: ResolvedConfig['sources'] = {};
  for (const spec of OPTION_SPECS) {
    let value: unknown;
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
          value = coerce(spec, getPath(file, yamlPath), `${configFile}: ${yamlPath}`);
          source = 'config';
        }
      }
    }
    if (source !== 'default') {
      (config as unknown as Record<string, unknown>)[spec.key] = value;
      sources[spec.key] = source;
    }
  }
  if (env['NO_COLOR'] !== undefined && env['NO_COLOR'] !== '' && sources.color !== 'flag') config.color = false;
  if (config.resume && config.fresh) throw inputError('--resume and --fresh: expected at most one of them');
  if (config.resumeFrom && config.fresh) throw inputError('--resume-from and --fresh: expected at most one of them');
  if (config.hours !== null && config.cycles !== null && sources.hours === sources.cycles) {
    throw inputError('--hours and --cycles: expected one of them, got both');
  }
  return { config, sources };
}

/** Total cycles of the run: --cycles, or --hours × time-scale, or one real hour. */
export function totalCycles(c: RunConfig, sources: ResolvedConfig['sources']): number {
  const useHours = c.hours !== null && (c.cycles === null || rank(sources.hours) > rank(sources.cycles));
  if (useHours) {
    const n = Math.round((c.hours as number) * c.timeScale);
    if (n < 1) throw inputError(`--hours ${c.hours} at --time-scale ${c.timeScale}: expected at least one cycle, got ${(c.hours as number) * c.timeScale}`);
    return n;
  }
  if (c.cycles !== null) return c.cycles;
  return Math.max(1, Math.round(c.timeScale));
}

function rank(s: Source | undefined): number {
  return s === 'flag' ? 3 : s === 'env' ? 2 : s === 'config' ? 1 : 0;
}

/** The configuration as written to the run row and checkpoints: no secrets. */
export function publicConfig(c: RunConfig, cycles: number): Record<string, unknown> {
  return {
    agents: c.agents,
    personas: c.personas,
    products: c.products,
    cycles,
    time_scale: c.timeScale,
    start: c.start,
    seed: c.seed,
    warmup_cycles: c.warmupCycles,
    breaker_percent: c.breakerPercent,
    fast: c.fast,
    mock_api: c.mockApi,
    mock_db: c.mockDb,
    mock_fail_rate: c.mockFailRate,
    cohort_size: c.cohortSize,
    max_concurrent_agents: c.maxConcurrentAgents,
    offer_cycle_days: c.offerCycleDays,
    rate_limit_rps: c.rateLimit,
    burst: c.burst,
    connections: c.connections,
    request_timeout_s: c.requestTimeout,
    api_url: c.apiUrl ? redactUrl(c.apiUrl) : null,
    database: c.databaseUrl ? redactUrl(c.databaseUrl) : 'embedded',
  };
}

/** host:port/path of a URL, never its credentials. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.hostname}${u.port ? `:${u.port}` : ''}${u.pathname === '/' ? '' : u.pathname}`;
  } catch {
    return '(unparseable URL)';
  }
}
