/**
 * The first minute of a new user: `run --help` shows every option of the table in its group with
 * its default, and a run prints its banner first, within a second, without a terminal.
 */
import { describe, expect, it } from 'vitest';
import { GROUPS, OPTION_SPECS, specsFor } from '../../src/config.ts';
import { defaultText, flagSyntax } from '../../src/cli/help-options.ts';
import { DATA, shopsim, startCli } from './helpers.ts';

/** Help split into one entry per option: flag syntax → its text, continuation lines joined. */
function entries(help: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of help.split('\n')) {
    const m = /^ {2}(\S.*?) {2,}(.*)$/.exec(line);
    if (m) out.set(m[1] as string, m[2] as string);
    else if (/^ {6,}\S/.test(line) && out.size > 0) {
      const last = [...out.keys()].pop() as string;
      out.set(last, `${out.get(last)} ${line.trim()}`);
    }
  }
  return out;
}

describe('help', () => {
  it('run --help lists every run option of the table, in its group, with the default from the table', async () => {
    const r = await shopsim(['run', '--help']);
    expect(r.code).toBe(0);
    const help = entries(r.stdout);
    for (const spec of OPTION_SPECS) {
      const text = help.get(flagSyntax(spec));
      expect(text, `${spec.flag} in run --help`).toBeDefined();
      if (spec.default !== null && spec.kind !== 'bool' && spec.kind !== 'bool-or-string') expect(text, spec.flag).toContain(`(default: ${Array.isArray(spec.default) && spec.default.length === 0 ? 'none' : String(spec.default)})`);
      expect(text?.replace(/\s+/g, ' ')).toContain(`${spec.description}${defaultText(spec)}`.replace(/\s+/g, ' '));
      // The option sits under its group's heading.
      const heading = r.stdout.lastIndexOf(`\n${GROUPS[spec.group]}:\n`, r.stdout.indexOf(`  ${flagSyntax(spec)} `));
      expect(heading, `${spec.flag} under "${GROUPS[spec.group]}"`).toBeGreaterThan(-1);
      const nextHeading = r.stdout.slice(heading + 1).search(/\n[A-Z][^\n]*:\n/);
      expect(r.stdout.indexOf(`  ${flagSyntax(spec)} `)).toBeLessThan(heading + 1 + (nextHeading === -1 ? Infinity : nextHeading));
    }
    expect(r.stdout).toMatch(/\nExamples:\n/);
    expect(r.stdout).not.toMatch(/the seed's/);
  });

  it('serve --help shows each default once, from the table', async () => {
    const r = await shopsim(['serve', '--help']);
    expect(r.code).toBe(0);
    for (const spec of specsFor('serve')) {
      if (spec.default === null || spec.kind === 'bool') continue;
      const text = entries(r.stdout).get(flagSyntax(spec)) ?? '';
      expect(text.split('(default:').length - 1, `${spec.flag}: ${text}`).toBe(1);
    }
  });

  it('the top-level help names every command, generate included', async () => {
    const r = await shopsim(['--help']);
    expect(r.code).toBe(0);
    for (const c of ['run', 'serve', 'report', 'db', 'checkpoints', 'replay', 'personas generate', 'products generate']) expect(r.stdout).toContain(c);
  });

  it('short flags and --sim-duration / --duration set the length', async () => {
    const a = await shopsim(['run', '-a', '5', '--sim-duration', '2d', '--fast', '--mock-api', '--mock-db', '-j', ...DATA]);
    expect(a.code, a.stderr).toBe(0);
    expect(JSON.parse(a.stdout.trim().split('\n').pop() as string)).toMatchObject({ cycles_completed: 48 });
    const b = await shopsim(['run', '-a', '5', '-d', '30m', '-t', '48', '--fast', '--mock-api', '--mock-db', '-j', ...DATA]);
    expect(b.code, b.stderr).toBe(0);
    expect(JSON.parse(b.stdout.trim().split('\n').pop() as string)).toMatchObject({ cycles_completed: 24 });
    const bad = await shopsim(['run', '-c', '3', '--sim-duration', '1d', '--mock-api', '--mock-db']);
    expect(bad.code).toBe(2);
    expect(bad.stderr.trim()).toBe('shopsim: --cycles and --sim-duration: expected one of them, got both');
    const half = await shopsim(['run', '--sim-duration', '90m', '--mock-api', '--mock-db']);
    expect(half.code).toBe(2);
    expect(half.stderr).toMatch(/--sim-duration: expected whole simulated hours/);
  });
});

describe('banner', () => {
  // How soon it comes is measured in test/bench/startup.bench.ts (a timed assertion would be flaky
  // on a loaded machine); here: that it comes first, before any cycle, without a terminal.
  it('is the first output, without a terminal, and names the run', async () => {
    const run = startCli(['run', '-a', '7', '-c', '48', '-t', '3600', '--mock-api', '--mock-db', '--checkpoint-interval', '0', ...DATA]);
    await run.waitForStderr(/control {6}pid \d+/, 30_000);
    expect(run.stdout()).toBe('');
    await run.waitForStderr(/^cycle=1\//m, 30_000);
    run.child.kill('SIGTERM');
    const f = await run.exit;
    const lines = f.stderr.split('\n');
    expect(lines[0]).toMatch(/^shopsim run run-\d{8}-\d{6}-[0-9a-f]{6}$/);
    expect(f.stdout).not.toMatch(/^shopsim run run-/m);
    expect(lines).toContain('  agents       7');
    expect(f.stderr).toMatch(/cycles {7}48 simulated hours \(2 d: 2024-01-01 00:00 → 2024-01-03 00:00 UTC\), about 48 s real time at --time-scale 3600/);
    expect(f.stderr).toMatch(/store {8}mock/);
    expect(f.stderr).toMatch(/database {5}none \(--mock-db\)/);
    expect(f.stderr).toContain(`pid ${run.child.pid}; kill -TERM ${run.child.pid}`);
    expect(lines.findIndex((l) => l.startsWith('cycle='))).toBeGreaterThan(lines.findIndex((l) => l.startsWith('  control ')));
  });

  it('never shows a database password', async () => {
    const f = await shopsim(['run', '-c', '1', '--mock-api', '--database-url', 'postgres://u:hunter2@127.0.0.1:1/db', '--db-connect-timeout', '1', ...DATA]);
    expect(f.code).toBe(2);
    expect(f.stderr).toMatch(/database {5}postgres:\/\/127\.0\.0\.1:1\/db\n/);
    expect(f.stderr + f.stdout).not.toContain('hunter2');
  });
});
