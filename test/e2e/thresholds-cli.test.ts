import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { scratchDir, shopsim } from './helpers.ts';

const tmp = scratchDir('shopsim-thresholds-');
const MOCK = ['run', '--mock-api', '--mock-db', '--fast', '-a', '50', '-c', '6', '--checkpoint-dir', join(tmp, 'cp')];

describe('shopsim run --threshold', () => {
  it('an impossible threshold exits 99 and names it; the met one is ok in the summary', async () => {
    const r = await shopsim([...MOCK, '--checkpoint-interval', '0', '--threshold', 'checkout_rate>1', '--threshold', 'checkout_failed_rate<=1']);
    expect(r.code).toBe(99);
    expect(r.stderr).toMatch(/^shopsim: 1 threshold failed: checkout_rate>1 \(checkout_rate [\d.]+\)$/m);
    expect(r.stdout).toMatch(/^Thresholds {2}FAILED checkout_rate>1 \([\d.]+\)$/m);
    expect(r.stdout).toMatch(/^ {12}ok checkout_failed_rate<=1 \([\d.]+\)$/m);
  });
  it('met thresholds exit 0, also from the YAML config (in --json too)', async () => {
    const cfg = join(tmp, 'ok.yaml');
    writeFileSync(cfg, "thresholds:\n  checks: ['checkout_failed_rate<=1', 'abandon_rate<=1']\n");
    const r = await shopsim([...MOCK, '--checkpoint-interval', '0', '-j', '--config', cfg]);
    expect(r.code).toBe(0);
    const summary = JSON.parse(r.stdout) as { thresholds: { threshold: string; ok: boolean }[] };
    expect(summary.thresholds.map((t) => [t.threshold, t.ok])).toEqual([
      ['checkout_failed_rate<=1', true],
      ['abandon_rate<=1', true],
    ]);
  });
  it('a bad expression is one line, exit 2, naming it', async () => {
    const r = await shopsim([...MOCK, '--threshold', 'http_p95_ms~500']);
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split('\n')).toEqual(['shopsim: --threshold "http_p95_ms~500": expected METRIC OP NUMBER such as http_p95_ms<500 (OP one of < <= > >=)']);
  });
  it('--threshold-abort stops at the first failing cycle with a checkpoint, exit 99', async () => {
    const r = await shopsim([...MOCK, '-c', '50', '--threshold', 'checkout_rate>1', '--threshold-abort']);
    expect(r.code).toBe(99);
    expect(r.stderr).toMatch(/^shopsim: threshold checkout_rate>1 failing at cycle \d+ .*; stopping \(--threshold-abort\)$/m);
    const m = /stopped by --threshold-abort \(checkout_rate>1 failed\) at cycle (\d+) of 50; continue with: shopsim run --resume-from (\S+)(?: --data-dir \S+)?$/m.exec(r.stderr);
    expect(m).not.toBeNull();
    expect(Number(m![1])).toBeLessThan(50);
  });
});
