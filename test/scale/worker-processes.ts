/**
 * `shopsim worker` processes for a describe block on real Redis: registers the hooks that make
 * the run's Redis key space and remove it, kill what is still running and remove the temporary
 * directories. `worker()` starts one and collects its stderr lines.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { afterAll, beforeAll } from 'vitest';
import { BIN, DATA, tempDir } from '../e2e/helpers.ts';
import { redisTestSpace, type RedisTestSpace } from '../helpers.ts';

export const WORKER_ENV = { ...process.env, SHOPSIM_FROM_SOURCE: '1', NO_COLOR: '1' };

export function workerProcesses(dirPrefix: string, workerArgs: string[] = []) {
  let space: RedisTestSpace | null = null;
  const dirs: { cleanup(): void }[] = [];
  const procs: ChildProcess[] = [];
  beforeAll(async () => {
    space = await redisTestSpace();
  });
  afterAll(async () => {
    for (const p of procs) if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
    await space?.cleanup();
    dirs.forEach((d) => d.cleanup());
  });
  const spaceNow = (): RedisTestSpace => {
    if (!space) throw new Error('the Redis key space is made in beforeAll');
    return space;
  };
  return {
    get space(): RedisTestSpace {
      return spaceNow();
    },
    dir(): string {
      const t = tempDir(dirPrefix);
      dirs.push(t);
      return t.dir;
    },
    worker(): { proc: ChildProcess; lines: string[] } {
      const s = spaceNow();
      const proc = spawn(process.execPath, [BIN, 'worker', '--redis', s.url, '--redis-prefix', s.prefix, ...workerArgs, ...DATA], { env: WORKER_ENV, stdio: ['ignore', 'ignore', 'pipe'] });
      procs.push(proc);
      const lines: string[] = [];
      proc.stderr!.on('data', (d: Buffer) => lines.push(...d.toString().split('\n').filter(Boolean)));
      return { proc, lines };
    },
  };
}
