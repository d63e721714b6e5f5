import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createRunLogger, redactSecrets, rotatingFileDestination } from '../../src/monitor/logger.ts';

const made: string[] = [];
const tempDir = () => {
  const d = mkdtempSync(join(tmpdir(), 'shopsim-logs-'));
  made.push(d);
  return d;
};
afterEach(() => {
  for (const d of made.splice(0)) rmSync(d, { recursive: true, force: true });
});

describe('run logs', () => {
  it('creates the directory, writes JSON lines, errors also to simulation_errors.log, never secrets', async () => {
    const dir = join(tempDir(), 'nested', 'logs');
    const { logger, files, close } = createRunLogger({ dir });
    logger.info({ event: 'start', databaseUrl: 'postgres://app:hunter2@db:5432/shop', api: 'https://user:s3cret@store.example/api' }, 'connecting to postgres://app:hunter2@db:5432/shop');
    logger.debug('not at info level');
    logger.error({ err: new Error('refused: postgres://app:hunter2@db/shop?password=hunter2') }, 'run failed');
    await close();
    expect(files.log).toBe(join(dir, 'simulation.log'));
    const all = readFileSync(files.log, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    const errors = readFileSync(files.errors, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(all.map((l) => l.msg)).toEqual(['connecting to postgres://***@db:5432/shop', 'run failed']);
    expect(errors.map((l) => l.msg)).toEqual(['run failed']);
    expect(all[0].databaseUrl).toBe('[redacted]');
    expect(all[0].api).toBe('https://***@store.example/api');
    const raw = readFileSync(files.log, 'utf8') + readFileSync(files.errors, 'utf8');
    expect(raw).not.toContain('hunter2');
    expect(raw).not.toContain('s3cret');
  });

  it('logs debug lines with --debug', async () => {
    const dir = tempDir();
    const { logger, files, close } = createRunLogger({ dir, debug: true });
    logger.debug('detail');
    await close();
    expect(readFileSync(files.log, 'utf8')).toContain('"msg":"detail"');
    expect(existsSync(files.errors)).toBe(true);
  });

  it('rotates a file that grows past --log-max-size: NAME.1 is the newest, at most --log-keep are kept', async () => {
    const dir = tempDir();
    const { logger, files, close } = createRunLogger({ dir, maxSize: '1K', keep: 2 });
    for (let i = 0; i < 100; i++) logger.info({ event: 'cycle', i }, `line ${i}`);
    await close();
    const names = readdirSync(dir).sort();
    expect(names).toEqual(['simulation.log', 'simulation.log.1', 'simulation.log.2', 'simulation_errors.log']);
    // Each rotated file reached the size (a line is never split), the live one is below it.
    for (const n of ['simulation.log.1', 'simulation.log.2']) expect(statSync(join(dir, n)).size).toBeGreaterThanOrEqual(1024);
    expect(statSync(files.log).size).toBeLessThan(1024);
    // Nothing lost or reordered across the live file and the newest rotated one: the last line is 99.
    const last = readFileSync(files.log, 'utf8').trim().split('\n').map((l) => JSON.parse(l).i);
    const before = readFileSync(join(dir, 'simulation.log.1'), 'utf8').trim().split('\n').map((l) => JSON.parse(l).i);
    expect([...before, ...last]).toEqual(Array.from({ length: before.length + last.length }, (_, k) => 100 - before.length - last.length + k));
  });

  it('a log file that cannot be written is said once and never ends the run', async () => {
    const errors: unknown[] = [];
    // Not a regular file: the rotating stream refuses it after opening (as a vanished disk would fail a write).
    const dest = rotatingFileDestination('/dev/null', { size: '1K', keep: 2 }, (err) => errors.push(err));
    for (let i = 0; i < 50; i++) expect(dest.write(`{"i":${i}}\n`)).toBe(true);
    // The refusal comes asynchronously (after the open): wait for it, not for a fixed time (a loaded machine is slow).
    for (const until = Date.now() + 10_000; errors.length === 0 && Date.now() < until; ) await new Promise((r) => setTimeout(r, 10));
    for (let i = 0; i < 5; i++) dest.write('{"late":true}\n');
    await dest.end();
    expect(errors).toHaveLength(1);
    expect(String(errors[0])).toMatch(/not a file/);
    expect(dest.dropped()).toBeGreaterThan(0);
  });

  it('masks URL credentials and key=value secrets in any string', () => {
    expect(redactSecrets('x postgresql://u:p@h/db y redis://:pw@r:6379 z')).toBe('x postgresql://***@h/db y redis://***@r:6379 z');
    expect(redactSecrets('https://h/a?token=abc&x=1')).toBe('https://h/a?token=***&x=1');
    expect(redactSecrets('https://host/path')).toBe('https://host/path');
  });
});
