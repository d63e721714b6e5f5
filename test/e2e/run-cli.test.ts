import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { scratchDir, shopsim } from './helpers.ts';


// Removed after the file (the helpers' afterAll), failed or not.
const tmp = scratchDir('shopsim-cli-');
const badYaml = join(tmp, 'bad.yaml');
writeFileSync(badYaml, 'simulation:\n  time_scale: [1, 2\n');
const wrongType = join(tmp, 'wrong.yaml');
writeFileSync(wrongType, 'simulation:\n  time_scale: fast\n');
const goodYaml = join(tmp, 'good.yaml');
writeFileSync(goodYaml, 'simulation:\n  time_scale: 48\n  warmup_cycles: 2\ncircuit_breaker:\n  failure_threshold_percent: 10\n');
const badPersonas = join(tmp, 'personas.json');
writeFileSync(badPersonas, JSON.stringify([{ id: 'a' }]));

const MOCK = ['--mock-api', '--mock-db', '--fast', '--checkpoint-interval', '0', '--checkpoint-dir', join(tmp, 'cp')];

describe('shopsim run: bad input is one line and exit 2', () => {
  const cases: [string, string[], RegExp, Record<string, string>?][] = [
    ['agents <= 0', ['run', ...MOCK, '--agents', '0'], /^shopsim: --agents: expected an integer >= 1, got "0"$/],
    ['more agents than personas', ['run', ...MOCK, '--agents', '373'], /^shopsim: --agents 373: expected at most 372 \(the number of personas in data\/personas.json\)/],
    ['time-scale <= 0', ['run', ...MOCK, '--time-scale', '0'], /^shopsim: --time-scale: expected a number > 0, got "0"$/],
    ['wrong type', ['run', ...MOCK, '--cycles', 'abc'], /^shopsim: --cycles: expected an integer >= 1 and <= 10000000, got "abc"$/],
    ['unknown flag', ['run', ...MOCK, '--agnets', '5'], /^shopsim: error: unknown option '--agnets'/],
    ['unreadable config', ['run', ...MOCK, '--config', join(tmp, 'missing.yaml')], /^shopsim: --config .*missing.yaml: cannot read the file \(ENOENT\)$/],
    ['bad YAML', ['run', ...MOCK, '--config', badYaml], /^shopsim: --config .*bad.yaml: not valid YAML: /],
    ['wrong type in config', ['run', ...MOCK, '--config', wrongType], /^shopsim: .*wrong.yaml: simulation.time_scale: expected a number > 0, got "fast"$/],
    ['wrong env', ['run', ...MOCK], /^shopsim: TIME_SCALE \(environment\): expected a number > 0, got "-1"$/, { TIME_SCALE: '-1' }],
    ['bad persona file', ['run', ...MOCK, '--personas', badPersonas], /^shopsim: .*personas.json: record 0 \(a\): field "name" must be a non-empty string, got nothing$/],
    ['bad start', ['run', ...MOCK, '--start', 'yesterday'], /^shopsim: --start: expected an ISO-8601 date/],
    ['negative statement timeout', ['run', ...MOCK, '--db-statement-timeout', '-1'], /^shopsim: --db-statement-timeout: expected a number >= 0, got "-1"$/],
    ['zero connect timeout (seed key)', ['run', ...MOCK], /^shopsim: DB_POOL_TIMEOUT \(environment\): expected a number > 0, got "0"$/, { DB_POOL_TIMEOUT: '0' }],
  ];
  it.each(cases)('%s', async (_name, args, pattern, env) => {
    const r = await shopsim(args, env ?? {});
    expect(r.code).toBe(2);
    const lines = r.stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(pattern);
    expect(r.stdout).toBe('');
  });
});

describe('shopsim run: output', () => {
  it('prints exactly one JSON object on stdout with --json, and the same digest twice', async () => {
    const args = ['run', '--agents', '100', '--cycles', '6', ...MOCK, '--seed', '7', '--json'];
    const [a, b] = await Promise.all([shopsim(args), shopsim(args)]);
    expect(a.code).toBe(0);
    const sa = JSON.parse(a.stdout);
    const sb = JSON.parse(b.stdout);
    for (const key of ['run_id', 'agents', 'cycles_completed', 'simulated_start', 'simulated_end', 'sessions_created', 'checkouts_completed', 'sessions_abandoned', 'sessions_failed', 'idle_browses', 'events_created', 'offers_assigned', 'agent_failures', 'requests', 'breaker', 'digest']) {
      expect(sa).toHaveProperty(key);
    }
    expect(sa.agents).toBe(100);
    expect(sa.simulated_end).toBe('2024-01-01T06:00:00.000Z');
    expect(sb.digest).toBe(sa.digest);
    expect(sb.run_id).not.toBe(sa.run_id);
    // One structured line per cycle on stderr.
    expect(a.stderr.split('\n').filter((l) => /cycle=\d+/.test(l))).toHaveLength(6);
  });

  it('applies precedence flag > env > config file > default', async () => {
    const r = await shopsim(['run', '--agents', '20', ...MOCK, '--json', '--config', goodYaml, '--cycles', '3'], { TIME_SCALE: '96' });
    expect(r.code).toBe(0);
    const s = JSON.parse(r.stdout);
    expect(s.time_scale).toBe(96); // env beats config
    expect(s.breaker.percent).toBe(10); // config beats default
    expect(s.cycles_completed).toBe(3); // flag
  });

  it('stops with exit 3 and a message naming --resume when the breaker opens without a terminal', async () => {
    const r = await shopsim(['run', '--agents', '100', '--cycles', '12', ...MOCK, '--mock-fail-rate', '0.3', '--json']);
    expect(r.code).toBe(3);
    expect(JSON.parse(r.stdout).exit_reason).toBe('breaker');
    expect(r.stderr).toMatch(/circuit breaker opened.*--resume/);
  });

  it('--help works', async () => {
    const r = await shopsim(['run', '--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('--mock-fail-rate');
  });
});
