/** Runs the real CLI in a scratch directory (its data/logs and data/checkpoints land there). */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

export const ROOT = resolve(import.meta.dirname, '../..');
export const BIN = join(ROOT, 'bin/shopsim.js');
export const DATA = ['--personas', join(ROOT, 'data/personas.json'), '--products', join(ROOT, 'data/products.json')];

export function scratchDir(prefix = 'shopsim-monitor-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

export interface RunningCli {
  child: ChildProcess;
  cwd: string;
  stdout(): string;
  stderr(): string;
  /** Resolves with the first match of `re` in stderr (searching from `from`), or rejects after `ms`. */
  waitForStderr(re: RegExp, ms?: number, from?: number): Promise<RegExpMatchArray>;
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

export function startCli(args: string[], options: { cwd?: string; env?: Record<string, string> } = {}): RunningCli {
  const cwd = options.cwd ?? scratchDir();
  const env: Record<string, string | undefined> = { ...process.env, ...options.env };
  delete env['NO_COLOR'];
  const child = spawn(process.execPath, [BIN, ...args], { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  const waiters = new Set<() => void>();
  child.stdout?.on('data', (d) => (out += d));
  child.stderr?.on('data', (d) => {
    err += d;
    for (const w of waiters) w();
  });
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((res) => child.on('close', (code, signal) => res({ code, signal })));
  return {
    child,
    cwd,
    stdout: () => out,
    stderr: () => err,
    exit,
    waitForStderr(re, ms = 20_000, from = 0) {
      return new Promise((res, rej) => {
        const check = () => {
          const m = err.slice(from).match(re);
          if (m) {
            waiters.delete(check);
            clearTimeout(timer);
            res(m);
          }
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          rej(new Error(`timed out waiting for ${re} in stderr:\n${err}`));
        }, ms);
        waiters.add(check);
        check();
        void exit.then(() => setTimeout(() => {
          if (waiters.has(check)) {
            waiters.delete(check);
            clearTimeout(timer);
            rej(new Error(`process exited before ${re} appeared in stderr:\n${err}`));
          }
        }, 50));
      });
    },
  };
}

export const CYCLE_LINE = /^cycle=(\d+)\/(\d+) sim=\S+Z active=\d+\/\d+ sessions=\d+ checkouts=\d+ abandoned=\d+ failures=\d+\/\d+ events=\d+ p95_ms=\S+ req_s=\S+ rss_mb=\d+ duration_s=[\d.]+ lag_s=[\d.]+( breaker=open)?$/;

export function cycleLines(stderr: string): string[] {
  return stderr.split('\n').filter((l) => l.startsWith('cycle='));
}
