/**
 * Run configuration through its exported functions: precedence per key (flag > env > config
 * file > default), coercion and its one-line messages, --hours vs --cycles, NO_COLOR, and a
 * public form without secrets. Flags are given as commander hands them over: strings for
 * values, booleans for switches, undefined when not given.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { checkpointDirFrom, loadConfigFile, publicConfig, redactUrl, resolveConfig, totalCycles } from '../src/config.ts';

const dir = mkdtempSync(join(tmpdir(), 'shopsim-config-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let files = 0;
function yamlFile(text: string): string {
  const file = join(dir, `config-${++files}.yaml`);
  writeFileSync(file, text);
  return file;
}

/** The error `fn` throws: it must be a one-line input error (exit 2). */
function inputErrorOf(fn: () => unknown): Error {
  let caught: unknown;
  try {
    fn();
  } catch (err) {
    caught = err;
  }
  expect(caught, 'expected an error').toBeInstanceOf(Error);
  expect(caught).toMatchObject({ code: 'E_INPUT', exitCode: 2 });
  expect((caught as Error).message).not.toContain('\n');
  return caught as Error;
}

describe('resolveConfig: defaults', () => {
  it('with nothing given, every key has its default and no source', () => {
    const { config, sources } = resolveConfig({}, {});
    expect(sources).toEqual({});
    expect(config).toMatchObject({
      agents: null,
      hours: null,
      cycles: null,
      timeScale: 24,
      start: '2024-01-01T00:00:00Z',
      seed: 42,
      warmupCycles: 0,
      breakerPercent: 5,
      breakerAction: 'exit',
      fast: false,
      cohortSize: 500,
      maxConcurrentAgents: 10_000,
      offerCycleDays: 7,
      checkpointInterval: 10,
      keepCheckpoints: 5,
      rateLimit: 50,
      connections: 50,
      requestTimeout: 30,
      databaseUrl: null,
      apiUrl: null,
      color: true,
    });
  });
});

describe('resolveConfig: precedence flag > env > config file > default, per key', () => {
  const file = yamlFile('simulation:\n  time_scale: 48\n  seed: 3\ncircuit_breaker:\n  failure_threshold_percent: 10\n');

  it('each level beats the ones below it', () => {
    const env = { TIME_SCALE: '96' };
    expect(resolveConfig({ timeScale: '12' }, env, file)).toMatchObject({ config: { timeScale: 12 }, sources: { timeScale: 'flag' } });
    expect(resolveConfig({}, env, file)).toMatchObject({ config: { timeScale: 96 }, sources: { timeScale: 'env' } });
    expect(resolveConfig({}, {}, file)).toMatchObject({ config: { timeScale: 48 }, sources: { timeScale: 'config' } });
    const none = resolveConfig({}, {});
    expect(none.config.timeScale).toBe(24);
    expect(none.sources.timeScale).toBeUndefined();
  });

  it('decides each key on its own', () => {
    const { config, sources } = resolveConfig({ seed: '7' }, { TIME_SCALE: '96', SIMULATION_SEED: '8' }, file);
    expect(config).toMatchObject({ seed: 7, timeScale: 96, breakerPercent: 10, cohortSize: 500 });
    expect(sources).toEqual({ seed: 'flag', timeScale: 'env', breakerPercent: 'config' });
  });

  it('an empty environment variable counts as not set', () => {
    expect(resolveConfig({}, { TIME_SCALE: '' }, file)).toMatchObject({ config: { timeScale: 48 }, sources: { timeScale: 'config' } });
  });

  it('takes the first alias that is set, for env names and config keys alike', () => {
    expect(resolveConfig({}, { API_URL: 'http://a.test', RAILWAY_API_URL: 'http://b.test' }).config.apiUrl).toBe('http://a.test');
    expect(resolveConfig({}, { RAILWAY_API_URL: 'http://b.test' }).config.apiUrl).toBe('http://b.test');
    expect(resolveConfig({}, { DB_POOL_TIMEOUT: '4' }).config.dbConnectTimeout).toBe(4);
    expect(resolveConfig({}, {}, yamlFile('database:\n  pool_timeout: 6\n')).config.dbConnectTimeout).toBe(6);
    expect(resolveConfig({}, {}, yamlFile('database:\n  connect_timeout: 5\n  pool_timeout: 6\n')).config.dbConnectTimeout).toBe(5);
  });

  it('a flag not given (undefined) falls through; a switch given as false is a flag', () => {
    expect(resolveConfig({ fast: undefined }, { SIMULATION_FAST: 'true' })).toMatchObject({ config: { fast: true }, sources: { fast: 'env' } });
    expect(resolveConfig({ fast: false }, { SIMULATION_FAST: 'true' })).toMatchObject({ config: { fast: false }, sources: { fast: 'flag' } });
  });
});

describe('resolveConfig: coercion, one line per bad value', () => {
  it('integers: whole numbers within the range', () => {
    expect(resolveConfig({ agents: '20', seed: '0' }, {}).config).toMatchObject({ agents: 20, seed: 0 });
    expect(inputErrorOf(() => resolveConfig({ agents: '0' }, {})).message).toBe('--agents: expected an integer >= 1, got "0"');
    expect(inputErrorOf(() => resolveConfig({ cycles: '2.5' }, {})).message).toBe('--cycles: expected an integer >= 1 and <= 10000000, got "2.5"');
    expect(inputErrorOf(() => resolveConfig({ cycles: 'abc' }, {})).message).toBe('--cycles: expected an integer >= 1 and <= 10000000, got "abc"');
    expect(inputErrorOf(() => resolveConfig({ seed: String(2 ** 48 + 1) }, {})).message).toBe(`--seed: expected an integer >= 0 and <= ${2 ** 48}, got "${2 ** 48 + 1}"`);
    expect(inputErrorOf(() => resolveConfig({ inspect: '70000' }, {})).message).toBe('--inspect: expected a port from 0 to 65535, got "70000"');
  });

  it('numbers: finite, within the range, exclusive lower bounds said as >', () => {
    expect(resolveConfig({ timeScale: '0.5', mockFailRate: '1' }, {}).config).toMatchObject({ timeScale: 0.5, mockFailRate: 1 });
    expect(inputErrorOf(() => resolveConfig({ timeScale: '0' }, {})).message).toBe('--time-scale: expected a number > 0, got "0"');
    expect(inputErrorOf(() => resolveConfig({ breakerPercent: '101' }, {})).message).toBe('--breaker-percent: expected a number >= 0 and <= 100, got "101"');
    expect(inputErrorOf(() => resolveConfig({ mockFailRate: 'NaN' }, {})).message).toBe('--mock-fail-rate: expected a number >= 0 and <= 1, got "NaN"');
    expect(inputErrorOf(() => resolveConfig({ dbStatementTimeout: '-1' }, {})).message).toBe('--db-statement-timeout: expected a number >= 0, got "-1"');
    expect(inputErrorOf(() => resolveConfig({ rateLimit: 'Infinity' }, {})).message).toBe('--rate-limit: expected a number >= 0, got "Infinity"');
  });

  it('names where the value came from: the flag, the env var, or the file and key', () => {
    expect(inputErrorOf(() => resolveConfig({}, { TIME_SCALE: '-1' })).message).toBe('TIME_SCALE (environment): expected a number > 0, got "-1"');
    expect(inputErrorOf(() => resolveConfig({}, { DB_POOL_TIMEOUT: '0' })).message).toBe('DB_POOL_TIMEOUT (environment): expected a number > 0, got "0"');
    const file = yamlFile('simulation:\n  time_scale: fast\n');
    expect(inputErrorOf(() => resolveConfig({}, {}, file)).message).toBe(`${file}: simulation.time_scale: expected a number > 0, got "fast"`);
    // A YAML number arrives as a number, and is shown as one.
    const negative = yamlFile('simulation:\n  agents: -3\n');
    expect(inputErrorOf(() => resolveConfig({}, {}, negative)).message).toBe(`${negative}: simulation.agents: expected an integer >= 1, got -3`);
  });

  it('booleans: true/false, yes/no, on/off, 1/0 in any case; anything else is refused', () => {
    for (const word of ['1', 'true', 'TRUE', 'yes', 'on']) expect(resolveConfig({}, { MOCK_API: word }).config.mockApi).toBe(true);
    for (const word of ['0', 'false', 'No', 'off']) expect(resolveConfig({}, { MOCK_API: word }).config.mockApi).toBe(false);
    expect(resolveConfig({}, {}, yamlFile('simulation:\n  mock_db: true\n')).config.mockDb).toBe(true);
    expect(inputErrorOf(() => resolveConfig({}, { MOCK_API: 'maybe' })).message).toBe('MOCK_API (environment): expected true or false, got "maybe"');
  });

  it('dates: ISO-8601, normalised to UTC; a time without a zone is UTC', () => {
    expect(resolveConfig({ start: '2024-03-01' }, {}).config.start).toBe('2024-03-01T00:00:00.000Z');
    expect(resolveConfig({ start: '2024-03-01T10:00' }, {}).config.start).toBe('2024-03-01T10:00:00.000Z');
    expect(resolveConfig({ start: '2024-03-01T10:00:00+02:00' }, {}).config.start).toBe('2024-03-01T08:00:00.000Z');
    expect(resolveConfig({}, { SIMULATION_START: '2024-03-01T10:00:00.5Z' }).config.start).toBe('2024-03-01T10:00:00.500Z');
    for (const bad of ['yesterday', '2024-13-01', '01/03/2024']) {
      expect(inputErrorOf(() => resolveConfig({ start: bad }, {})).message).toBe(`--start: expected an ISO-8601 date such as 2024-01-01T00:00:00Z, got "${bad}"`);
    }
  });

  it('enums: one of the listed values', () => {
    expect(resolveConfig({ breakerAction: 'wait' }, {}).config.breakerAction).toBe('wait');
    expect(inputErrorOf(() => resolveConfig({ breakerAction: 'later' }, {})).message).toBe('--breaker-action: expected one of exit, wait, got "later"');
  });

  it('log sizes: a whole number with B, K, M or G (rotating-file-stream syntax), normalised; else one line', () => {
    expect(resolveConfig({}, {}).config.logMaxSize).toBe('10M');
    expect(resolveConfig({ logMaxSize: '300k' }, {}).config.logMaxSize).toBe('300K');
    expect(resolveConfig({}, { SHOPSIM_LOG_MAX_SIZE: '4096' }).config.logMaxSize).toBe('4096B');
    expect(inputErrorOf(() => resolveConfig({ logMaxSize: '10MB' }, {})).message).toBe('--log-max-size: expected a size such as 300K, 10M or 1G (a whole number >= 1 with B, K, M or G), got "10MB"');
    expect(inputErrorOf(() => resolveConfig({ logMaxSize: '0M' }, {})).message).toMatch(/^--log-max-size: expected a size/);
    expect(inputErrorOf(() => resolveConfig({ logKeep: '0' }, {})).message).toBe('--log-keep: expected an integer >= 1 and <= 1000, got "0"');
  });

  it('the checkpoint directory follows --data-dir unless given: beside it, as the logs; a given one wins', () => {
    expect(resolveConfig({}, {}).config.checkpointDir).toBe(join('data', 'checkpoints'));
    expect(resolveConfig({ dataDir: '/srv/shop/pglite' }, {}).config.checkpointDir).toBe('/srv/shop/checkpoints');
    expect(resolveConfig({}, { SHOPSIM_DATA_DIR: '/srv/x/db' }).config.checkpointDir).toBe('/srv/x/checkpoints');
    expect(resolveConfig({ dataDir: '/srv/shop/pglite', checkpointDir: '/ck' }, {}).config.checkpointDir).toBe('/ck');
    expect(resolveConfig({ dataDir: '/srv/shop/pglite' }, { CHECKPOINT_DIR: '/env-ck' }).config.checkpointDir).toBe('/env-ck');
    expect(checkpointDirFrom({ dataDir: '/srv/shop/pglite' }, {})).toBe('/srv/shop/checkpoints');
    expect(checkpointDirFrom({}, { SHOPSIM_DATA_DIR: '/a/b', CHECKPOINT_DIR: '' })).toBe('/a/checkpoints');
    expect(checkpointDirFrom({ checkpointDir: 'mine' }, { CHECKPOINT_DIR: '/env-ck' })).toBe('mine');
  });

  it('currency: an ISO 4217 code, upper-cased; anything else is one line', () => {
    expect(resolveConfig({}, {}).config.currency).toBe('USD');
    expect(resolveConfig({ currency: 'eur' }, {}).config.currency).toBe('EUR');
    expect(resolveConfig({}, { SHOPSIM_CURRENCY: 'JPY' }).config.currency).toBe('JPY');
    expect(inputErrorOf(() => resolveConfig({ currency: 'XYZ' }, {})).message).toBe('--currency: expected an ISO 4217 currency code such as USD, EUR or JPY, got "XYZ"');
    expect(inputErrorOf(() => resolveConfig({ currency: '$' }, {})).message).toMatch(/^--currency: expected an ISO 4217/);
    expect(inputErrorOf(() => resolveConfig({}, { SHOPSIM_CURRENCY: 'euro' })).message).toMatch(/^SHOPSIM_CURRENCY \(environment\): expected an ISO 4217/);
  });

  it('strings: an empty one is refused, not taken as "not given"', () => {
    expect(inputErrorOf(() => resolveConfig({ personas: '' }, {})).message).toBe('--personas: expected a non-empty string, got ""');
    expect(inputErrorOf(() => resolveConfig({ agents: '' }, {})).message).toBe('--agents: expected an integer >= 1, got ""');
    const file = yamlFile('api:\n  url: [a, b]\n');
    expect(inputErrorOf(() => resolveConfig({}, {}, file)).message).toBe(`${file}: api.url: expected an http(s) URL such as http://127.0.0.1:8787, got ["a","b"]`);
  });

  it('refuses --resume or --resume-from together with --fresh', () => {
    expect(inputErrorOf(() => resolveConfig({ resume: true, fresh: true }, {})).message).toBe('--resume and --fresh: expected at most one of them');
    expect(inputErrorOf(() => resolveConfig({ resumeFrom: 'x.json', fresh: true }, {})).message).toBe('--resume-from and --fresh: expected at most one of them');
  });
});

describe('--hours vs --cycles, and totalCycles', () => {
  const total = (flags: Record<string, unknown>, env: Record<string, string> = {}, file?: string) => {
    const { config, sources } = resolveConfig(flags, env, file);
    return totalCycles(config, sources);
  };

  it('--cycles is the number of cycles; --hours is hours × time-scale; neither is one real hour', () => {
    expect(total({ cycles: '30' })).toBe(30);
    expect(total({ hours: '2' })).toBe(48);
    expect(total({ hours: '0.5', timeScale: '3' })).toBe(2);
    expect(total({})).toBe(24);
    expect(total({ timeScale: '96' })).toBe(96);
    expect(total({ timeScale: '0.3' })).toBe(1);
  });

  it('both from the same level is refused; from different levels the higher one wins', () => {
    expect(inputErrorOf(() => resolveConfig({ hours: '1', cycles: '5' }, {})).message).toBe('--hours and --cycles: expected one of them, got both');
    expect(inputErrorOf(() => resolveConfig({}, { SIMULATION_HOURS: '1', SIMULATION_CYCLES: '5' })).message).toBe('--hours and --cycles: expected one of them, got both');
    expect(total({ hours: '1' }, { SIMULATION_CYCLES: '5' })).toBe(24);
    expect(total({ cycles: '5' }, { SIMULATION_HOURS: '1' })).toBe(5);
    expect(total({}, { SIMULATION_HOURS: '2' }, yamlFile('simulation:\n  cycles: 5\n'))).toBe(48);
    expect(total({}, { SIMULATION_CYCLES: '5' }, yamlFile('simulation:\n  hours: 2\n'))).toBe(5);
  });

  it('refuses --hours that make no whole cycle, in one line', () => {
    const { config, sources } = resolveConfig({ hours: '0.01' }, {});
    expect(inputErrorOf(() => totalCycles(config, sources)).message).toBe('--hours 0.01 at --time-scale 24: expected at least one cycle, got 0.24');
  });
});

describe('NO_COLOR', () => {
  it('a non-empty NO_COLOR turns colour off unless a flag says otherwise', () => {
    expect(resolveConfig({}, { NO_COLOR: '1' }).config.color).toBe(false);
    expect(resolveConfig({}, { NO_COLOR: '' }).config.color).toBe(true);
    expect(resolveConfig({ color: true }, { NO_COLOR: '1' }).config.color).toBe(true);
    expect(resolveConfig({ color: false }, {}).config.color).toBe(false);
  });
});

describe('publicConfig: what runs and checkpoints record', () => {
  it('carries the run settings under snake_case keys, with the cycles given', () => {
    const { config } = resolveConfig({ agents: '20', timeScale: '48', seed: '7', mockApi: true, cohortSize: '100' }, {});
    expect(publicConfig(config, 96)).toMatchObject({
      agents: 20,
      cycles: 96,
      time_scale: 48,
      seed: 7,
      mock_api: true,
      cohort_size: 100,
      breaker_percent: 5,
      database: 'embedded',
      api_url: null,
    });
  });

  it('never carries a password, a user name or a query string of the database or store URL', () => {
    const { config } = resolveConfig({}, { DATABASE_URL: 'postgres://shop_user:s3cr3t-pw@db.example:6543/shop?sslmode=require&password=qz9', API_URL: 'https://apikey:t0k3n@store.example/v1?token=abc123' });
    const pub = publicConfig(config, 24);
    expect(pub['database']).toBe('postgres://db.example:6543/shop');
    expect(pub['api_url']).toBe('https://store.example/v1');
    const text = JSON.stringify(pub);
    for (const secret of ['s3cr3t-pw', 'shop_user', 'qz9', 'apikey', 't0k3n', 'abc123']) expect(text).not.toContain(secret);
  });
});

describe('redactUrl', () => {
  it('keeps protocol, host, port and path only', () => {
    expect(redactUrl('postgres://u:p@h:5432/db')).toBe('postgres://h:5432/db');
    expect(redactUrl('http://store.test/')).toBe('http://store.test');
    expect(redactUrl('https://x:y@store.test/api/v1?key=1#frag')).toBe('https://store.test/api/v1');
  });

  it('says so for a URL it cannot parse, without echoing it', () => {
    expect(redactUrl('not a url with p4ssword')).toBe('(unparseable URL)');
  });
});

describe('loadConfigFile', () => {
  it('parses a YAML mapping; an empty file is an empty mapping', () => {
    expect(loadConfigFile(yamlFile('simulation:\n  time_scale: 48\n'))).toEqual({ simulation: { time_scale: 48 } });
    expect(loadConfigFile(yamlFile(''))).toEqual({});
  });

  it('a missing file, bad YAML or a top-level list: one line naming the file', () => {
    const missing = join(dir, 'missing.yaml');
    const noFile = inputErrorOf(() => loadConfigFile(missing));
    expect(noFile.message).toBe(`--config ${missing}: cannot read the file (ENOENT)`);
    expect(noFile.cause).toBeDefined();
    const bad = yamlFile('simulation:\n  time_scale: [1, 2\n');
    expect(inputErrorOf(() => loadConfigFile(bad)).message).toMatch(new RegExp(`^--config ${bad.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: not valid YAML: \\S`));
    const list = yamlFile('- a\n- b\n');
    expect(inputErrorOf(() => loadConfigFile(list)).message).toBe(`--config ${list}: expected a YAML mapping at the top level`);
  });

  it('resolveConfig reports a bad file the same way', () => {
    const missing = join(dir, 'missing-too.yaml');
    expect(inputErrorOf(() => resolveConfig({}, {}, missing)).message).toBe(`--config ${missing}: cannot read the file (ENOENT)`);
  });
});

describe('the option table', () => {
  it('every run option has a default, and the public config is derived from the table (no secrets)', async () => {
    const { DEFAULTS, OPTION_SPECS, publicConfig } = await import('../src/config.ts');
    expect(Object.keys(DEFAULTS).sort()).toEqual(OPTION_SPECS.map((s) => s.key).sort());
    const pub = publicConfig({ ...DEFAULTS, apiUrl: 'https://user:pw@store.example:8443/api?token=t', databaseUrl: 'postgres://u:Secret1@db:5432/x' }, 24);
    expect(pub).toMatchObject({ cycles: 24, seed: 42, time_scale: 24, breaker_percent: 5, api_url: 'https://store.example:8443/api', database: 'postgres://db:5432/x' });
    expect(JSON.stringify(pub)).not.toMatch(/pw|Secret1|token/);
    expect(Object.keys(pub)).toEqual(OPTION_SPECS.filter((s) => s.public).map((s) => s.public));
  });

  it("a checkpoint's recorded options are validated like any input, naming the field", async () => {
    const { fromPublicConfig } = await import('../src/config.ts');
    expect(fromPublicConfig({ seed: 7, breaker_percent: 2.5, agents: null, api_url: 'http://x' }, 'checkpoint f.json')).toEqual({ seed: 7, breakerPercent: 2.5, agents: null });
    expect(() => fromPublicConfig({ seed: 'seven' }, 'checkpoint f.json')).toThrow('checkpoint f.json: simulation_config.seed: expected an integer >= 0 and <= 281474976710656, got "seven"');
    expect(() => fromPublicConfig({ breaker_percent: 500 }, 'checkpoint f.json')).toThrow(/simulation_config.breaker_percent: expected a number >= 0 and <= 100/);
  });

  it('each command takes its own options from the one table; resume rules come with the specs', async () => {
    const { specsFor, resumeRules } = await import('../src/config.ts');
    const flags = (c: Parameters<typeof specsFor>[0]) => specsFor(c).map((s) => s.flag);
    expect(flags('db')).toEqual(['--database-url', '--data-dir', '--db-pool-size']);
    expect(flags('serve')).toEqual(expect.arrayContaining(['--host', '--port', '--fail-rate', '--max-rps', '--mock-db', '--database-url']));
    expect(flags('serve')).not.toContain('--rate-limit');
    expect(flags('replay')).toEqual(expect.arrayContaining(['--until-cycle', '--verify', '--inspect']));
    const rules = Object.fromEntries(resumeRules().map((r) => [r.key, r.rule]));
    expect(rules).toMatchObject({ seed: 'must-match', start: 'must-match', cohortSize: 'must-match', breakerPercent: 'carry', maxConcurrentAgents: 'carry', fast: 'carry', timeScale: 'carry', mockApi: 'must-match', mockDb: 'must-match' });
    expect(rules).not.toHaveProperty('rateLimit');
  });
});
