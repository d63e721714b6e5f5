/** The embedded directory's lock (`.shopsim-port`): taken before PGlite opens, taken over from a dead holder, refused to a second opener. */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { PORT_FILE, findRunningEmbedded, startEmbedded } from '../../src/db/embedded.ts';

const root = mkdtempSync(join(tmpdir(), 'shopsim-lock-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** The pid of a process that has ended. */
function deadPid(): number {
  return Number(spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' }).stdout);
}

describe('embedded lock', () => {
  it('takes over the lock of a holder that is gone, and gives it back on stop', async () => {
    const dir = join(root, 'stale');
    mkdirSync(dir);
    writeFileSync(join(dir, PORT_FILE), JSON.stringify({ pid: deadPid(), port: 5, host: '127.0.0.1', startedAt: '2026-01-01T00:00:00Z' }));
    expect(await findRunningEmbedded(dir, 0)).toBeNull();
    const e = await startEmbedded(dir);
    try {
      expect(JSON.parse(readFileSync(join(dir, PORT_FILE), 'utf8'))).toMatchObject({ pid: process.pid, port: e.port });
      expect(e.sharedWith).toBeNull();
    } finally {
      await e.stop();
    }
    expect(await findRunningEmbedded(dir, 0)).toBeNull();
  });

  it('a live holder that is still starting: refused without attach (one line naming it), nothing opened', async () => {
    const dir = join(root, 'held');
    mkdirSync(dir);
    // The test runner's parent process is alive and is not this one.
    writeFileSync(join(dir, PORT_FILE), JSON.stringify({ pid: process.ppid, port: 0, host: '127.0.0.1', startedAt: '2026-01-01T00:00:00Z' }));
    await expect(startEmbedded(dir)).rejects.toThrow(new RegExp(`is in use by process ${process.ppid}; wait for it to end`));
    expect(await findRunningEmbedded(dir, 200)).toBeNull();
  });

  it('a garbled lock file is not trusted', async () => {
    const dir = join(root, 'garbled');
    mkdirSync(dir);
    writeFileSync(join(dir, PORT_FILE), JSON.stringify({ pid: -1, port: 99999 }));
    expect(await findRunningEmbedded(dir, 0)).toBeNull();
  });
});
