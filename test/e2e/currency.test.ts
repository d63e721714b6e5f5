/**
 * --currency: one code for every money figure — the summary, --json (a currency field) and
 * `shopsim report`, which reads it from the run's stored summary; a bad code is one line, exit 2.
 */
import { describe, expect, it } from 'vitest';
import { DATA, scratchDir, startCli, summaryOf } from './helpers.ts';

describe('--currency', () => {
  const cwd = scratchDir('shopsim-currency-');
  const cli = (args: string[]) => startCli(args, { cwd }).exit;

  it('a code that is not ISO 4217 is one line, exit 2, nothing written', async () => {
    const r = await cli(['run', '--mock-api', '--mock-db', '--fast', '-c', '2', '--currency', 'EURO', ...DATA]);
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split('\n')).toEqual(['shopsim: --currency: expected an ISO 4217 currency code such as USD, EUR or JPY, got "EURO"']);
    expect(r.stdout).toBe('');
  });

  it('the summary, --json and report use the run currency', async () => {
    const json = await cli(['run', '--mock-api', '--fast', '-a', '30', '-c', '24', '--currency', 'eur', '--json', ...DATA]);
    expect(json.code, json.stderr).toBe(0);
    const s = summaryOf(json);
    expect(s['currency']).toBe('EUR');
    const cents = s['revenue_cents'] as number;
    expect(cents).toBeGreaterThan(0);
    const euros = `€${(cents / 100).toLocaleString('en-US', { minimumFractionDigits: 2, maximumFractionDigits: 2 })}`;

    const report = await cli(['report', '--run', s['run_id'] as string]);
    expect(report.code, report.stderr).toBe(0);
    expect(report.stdout).toContain(euros);
    expect(report.stdout).not.toContain('$');
    const list = await cli(['report', '--list']);
    expect(list.stdout).toContain(euros);
    const reportJson = await cli(['report', '--run', s['run_id'] as string, '--json']);
    expect(JSON.parse(reportJson.stdout).currency).toBe('EUR');

    const text = await cli(['run', '--mock-api', '--mock-db', '--fast', '-a', '30', '-c', '24', '--currency', 'GBP', ...DATA]);
    expect(text.code, text.stderr).toBe(0);
    expect(text.stdout).toMatch(/^Revenue {5}£[\d,]+\.\d\d GBP/m);
    expect(text.stdout).not.toContain('$');
  }, 120_000);
});
