import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { findRunFile, parseRunFile, runsDirOf, writeRunFile } from '../../src/web/run-file.ts';

const root = mkdtempSync(join(tmpdir(), 'shopsim-runfile-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
const good = { runId: 'run-1', pid: process.pid, url: 'http://127.0.0.1:5555', token: 'a'.repeat(43), startedAt: '2026-01-01T00:00:00.000Z' };

describe('the --web run file', () => {
  it('lives beside the checkpoint directory, readable by its owner only (0600, in a 0700 directory)', () => {
    const dir = runsDirOf(join(root, 'data/checkpoints'));
    expect(dir).toBe(join(root, 'data/runs'));
    const path = writeRunFile(dir, good);
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(statSync(dir).mode & 0o777).toBe(0o700);
    expect(JSON.parse(readFileSync(path, 'utf8'))).toEqual(good);
    expect(findRunFile(dir, 'run-1')).toEqual(good);
    expect(findRunFile(dir, null)).toEqual(good);
  });

  it('is checked like outside input: a non-loopback URL, a short token or a path in the run id is refused', () => {
    expect(parseRunFile(JSON.stringify(good))).toEqual(good);
    expect(parseRunFile(JSON.stringify({ ...good, url: 'http://10.0.0.1:5555' }))).toBeNull();
    expect(parseRunFile(JSON.stringify({ ...good, token: 'short' }))).toBeNull();
    expect(parseRunFile(JSON.stringify({ ...good, runId: '../x' }))).toBeNull();
    expect(parseRunFile('{not json')).toBeNull();
    expect(() => findRunFile(join(root, 'data/runs'), '../etc/passwd')).toThrow(/--run: expected a run id/);
  });

  it('ignores the file of a process that is gone, and says so in one line when nothing is left', () => {
    const dir = join(root, 'stale/runs');
    // pid 2^22+ is above Linux's pid_max default: no such process.
    writeRunFile(dir, { ...good, runId: 'run-dead', pid: 4_194_999 });
    expect(() => findRunFile(dir, null)).toThrow(/no running run with --web found in/);
    expect(() => findRunFile(dir, 'run-dead')).toThrow(/pid 4194999\) is not running/);
    writeFileSync(join(dir, 'junk.json'), 'garbage');
    expect(() => findRunFile(dir, null)).toThrow(/no running run/);
  });
});
