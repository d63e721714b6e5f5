import { mkdtempSync, readFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createRunLogger, redactSecrets } from '../../src/monitor/logger.ts';

describe('run logs', () => {
  it('creates the directory, writes JSON lines, errors also to simulation_errors.log, never secrets', () => {
    const dir = join(mkdtempSync(join(tmpdir(), 'shopsim-logs-')), 'nested', 'logs');
    const { logger, files, close } = createRunLogger({ dir });
    logger.info({ event: 'start', databaseUrl: 'postgres://app:hunter2@db:5432/shop', api: 'https://user:s3cret@store.example/api' }, 'connecting to postgres://app:hunter2@db:5432/shop');
    logger.debug('not at info level');
    logger.error({ err: new Error('refused: postgres://app:hunter2@db/shop?password=hunter2') }, 'run failed');
    close();
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

  it('logs debug lines with --debug', () => {
    const dir = mkdtempSync(join(tmpdir(), 'shopsim-logs-'));
    const { logger, files, close } = createRunLogger({ dir, debug: true });
    logger.debug('detail');
    close();
    expect(readFileSync(files.log, 'utf8')).toContain('"msg":"detail"');
    expect(existsSync(files.errors)).toBe(true);
  });

  it('masks URL credentials and key=value secrets in any string', () => {
    expect(redactSecrets('x postgresql://u:p@h/db y redis://:pw@r:6379 z')).toBe('x postgresql://***@h/db y redis://***@r:6379 z');
    expect(redactSecrets('https://h/a?token=abc&x=1')).toBe('https://h/a?token=***&x=1');
    expect(redactSecrets('https://host/path')).toBe('https://host/path');
  });
});
