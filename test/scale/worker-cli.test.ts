/**
 * `shopsim run --redis URL --workers-expected K` with `shopsim worker --redis URL` processes
 * (mock mode, a small run), against the real Redis (TEST_REDIS_URL): the same digest and counts
 * as in-process with two workers; SIGKILL of one worker mid-cycle → its cohort job is re-run by
 * the other (stalled-job recovery, --worker-lock-timeout 1s) and the digest is the same; a worker
 * with other data is refused with one line at join. Redis unreachable at start needs no Redis.
 * (The real store and database on workers: ./worker-store.test.ts.)
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generatePersonas } from '../../src/model/personas.ts';
import { generateProducts } from '../../src/model/catalog.ts';
import { redisTestSpace, TEST_REDIS_URL, type RedisTestSpace } from '../helpers.ts';
import { freePort, HAS_REDIS_SERVER, privateRedis } from './fixtures/private-redis.ts';

const BIN = resolve(import.meta.dirname, '../../bin/shopsim.js');
const ENV = { ...process.env, SHOPSIM_FROM_SOURCE: '1', NO_COLOR: '1' };

describe('shopsim run --redis: Redis unreachable at start', () => {
  it('is one line, exit 2, nothing written', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'shopsim-redis-down-'));
    try {
      const port = await freePort();
      const r = spawnSync(process.execPath, [BIN, 'run', '--mock-api', '--mock-db', '--fast', '-c', '2', '--redis', `redis://127.0.0.1:${port}`, '--checkpoint-dir', join(dir, 'ck'), '--log-dir', join(dir, 'logs')], { env: ENV, encoding: 'utf8', cwd: dir });
      expect(r.status).toBe(2);
      const errors = r.stderr.split('\n').filter((l) => l.startsWith('shopsim: '));
      expect(errors).toEqual([`shopsim: --redis redis://127.0.0.1:${port}: Redis does not answer (ECONNREFUSED); nothing was written`]);
      // The same for a worker.
      const w = spawnSync(process.execPath, [BIN, 'worker', '--redis', `redis://127.0.0.1:${port}`], { env: ENV, encoding: 'utf8', cwd: dir });
      expect(w.status).toBe(2);
      expect(w.stderr.trim()).toBe(`shopsim: --redis redis://127.0.0.1:${port}: Redis does not answer (ECONNREFUSED); nothing was written`);
      const both = spawnSync(process.execPath, [BIN, 'run', '--mock-api', '--mock-db', '--fast', '-c', '2', '--redis', 'redis://127.0.0.1:1', '--workers', '2'], { env: ENV, encoding: 'utf8', cwd: dir });
      expect(both.status).toBe(2);
      expect(both.stderr.trim()).toMatch(/^shopsim: --redis and --workers 2: expected one of them/);
      expect(spawnSync('ls', ['-A', dir], { encoding: 'utf8' }).stdout.trim()).toBe('');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a --redis that is not a Redis URL: one line, exit 2, nothing written', () => {
    const dir = mkdtempSync(join(tmpdir(), 'shopsim-redis-opts-'));
    try {
      const bad = spawnSync(process.execPath, [BIN, 'run', '--mock-api', '--mock-db', '--fast', '-c', '2', '--redis', 'http://127.0.0.1:6379'], { env: ENV, encoding: 'utf8', cwd: dir });
      expect(bad.status).toBe(2);
      expect(bad.stderr.trim()).toBe('shopsim: --redis: expected a redis:// or rediss:// URL, got protocol http:');
      expect(spawnSync('ls', ['-A', dir], { encoding: 'utf8' }).stdout.trim()).toBe('');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe.skipIf(!TEST_REDIS_URL)('shopsim run --redis with shopsim worker processes (real Redis)', () => {
  let space: RedisTestSpace;
  let dir: string;
  const procs: ChildProcess[] = [];
  let url: string;

  beforeAll(async () => {
    space = await redisTestSpace();
    url = space.url;
    dir = mkdtempSync(join(tmpdir(), 'shopsim-worker-cli-'));
    writeFileSync(join(dir, 'personas.json'), JSON.stringify(generatePersonas(600, 21)));
    writeFileSync(join(dir, 'products.json'), JSON.stringify(generateProducts(240, 42)));
    writeFileSync(join(dir, 'other-products.json'), JSON.stringify(generateProducts(240, 43)));
  });
  afterAll(async () => {
    for (const p of procs) if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
    await space.cleanup();
    rmSync(dir, { recursive: true, force: true });
  });

  interface WorkerProc { proc: ChildProcess; lines: string[]; exited: Promise<number | null>; line(re: RegExp, from?: number): Promise<string> }

  function worker(extra: string[] = []): WorkerProc {
    const proc = spawn(process.execPath, [BIN, 'worker', '--redis', url, '--redis-prefix', space.prefix, '--verbose', '--personas', join(dir, 'personas.json'), '--products', join(dir, 'products.json'), ...extra], { env: ENV, cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
    procs.push(proc);
    const lines: string[] = [];
    const waiting = new Set<() => void>();
    let partial = '';
    proc.stderr!.on('data', (d: Buffer) => {
      const parts = (partial + d.toString()).split('\n');
      partial = parts.pop() as string;
      lines.push(...parts.filter(Boolean));
      for (const w of [...waiting]) w();
    });
    const exited = new Promise<number | null>((r) => proc.on('exit', (code) => r(code)));
    /** The first line from `from` on matching `re`, as soon as the worker writes it (rejects if it exits first). */
    const line = (re: RegExp, from = 0) =>
      new Promise<string>((resolve, reject) => {
        const check = () => {
          const hit = lines.slice(from).find((l) => re.test(l));
          if (hit === undefined) return;
          waiting.delete(check);
          resolve(hit);
        };
        waiting.add(check);
        check();
        void exited.then(() => {
          check();
          if (waiting.delete(check)) reject(new Error(`the worker exited without a line matching ${re}:\n${lines.join('\n')}`));
        });
      });
    return { proc, lines, exited, line };
  }

  function run(name: string, extra: string[]): Promise<{ code: number | null; stderr: string; summary: Record<string, unknown> }> {
    return new Promise((done) => {
      const args = [BIN, 'run', '--mock-api', '--mock-db', '--fast', '-c', '8', '--cohort-size', '100', '--mock-fail-rate', '0.02', '--personas', join(dir, 'personas.json'), '--products', join(dir, 'products.json'), '--checkpoint-dir', join(dir, name), '--log-dir', join(dir, `${name}-logs`), '--json', ...(extra.includes('--redis') ? ['--redis-prefix', space.prefix] : []), ...extra];
      const p = spawn(process.execPath, args, { env: ENV, cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
      procs.push(p);
      let out = '';
      let err = '';
      p.stdout!.on('data', (d: Buffer) => (out += d.toString()));
      p.stderr!.on('data', (d: Buffer) => (err += d.toString()));
      p.on('exit', (code) => done({ code, stderr: err, summary: out.trim() ? (JSON.parse(out) as Record<string, unknown>) : {} }));
    });
  }

  const figures = (s: Record<string, unknown>) => ({ digest: s['digest'], sessions: s['sessions_created'], checkouts: s['checkouts_completed'], requests: s['requests'], revenue: s['revenue_cents'], failed: s['sessions_failed'] });

  it('two workers give the in-process digest and counts; a SIGKILLed worker mid-cycle: the other re-runs its cohort, same digest; a worker with other data is refused', async () => {
    const inProcess = await run('in-process', []);
    expect(inProcess.code).toBe(0);
    expect(inProcess.summary['sessions_created']).toBeGreaterThan(0);

    const a = worker();
    const b = worker();
    const two = await run('two-workers', ['--redis', url, '--workers-expected', '2']);
    expect(two.code, two.stderr).toBe(0);
    expect(figures(two.summary)).toEqual(figures(inProcess.summary));
    // The web map's counts come from the workers' results: at the end every shopper idle, as in-process.
    expect(two.summary['final_occupancy']).toEqual(inProcess.summary['final_occupancy']);
    expect((two.summary['final_occupancy'] as { total: number }).total).toBeGreaterThan(0);
    // The summary has a row per worker; their cohort cycles add up to cohorts × cycles (6 × 8).
    const rows = two.summary['workers'] as { cohort_cycles: number; pid: number; lost: boolean }[];
    expect(rows.map((r) => r.pid).sort()).toEqual([a.proc.pid, b.proc.pid].sort());
    expect(rows.reduce((n, r) => n + r.cohort_cycles, 0), JSON.stringify(rows)).toBe(48);
    expect(rows.every((r) => !r.lost)).toBe(true);
    expect(two.stderr).toMatch(/shopsim: worker \S+ \(\S+, pid \d+\) joined \(concurrency 1\)/);
    // Both workers served the run (how the jobs split between them is BullMQ's: on a loaded machine one may take most):
    // each says so when it sees the run end.
    for (const w of [a, b]) expect(await w.line(/run \S+ ended; \d+ cohort cycles? run here/)).toBeTruthy();

    // A worker with other data is refused at join: one line, exit 2. (The two others wait for the next run.)
    const refusedRun = run('refused', ['--redis', url, '--workers-expected', '3', '--workers-timeout', '20s']);
    const other = spawn(process.execPath, [BIN, 'worker', '--redis', url, '--redis-prefix', space.prefix, '--personas', join(dir, 'personas.json'), '--products', join(dir, 'other-products.json')], { env: ENV, cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
    procs.push(other);
    let otherErr = '';
    other.stderr!.on('data', (d: Buffer) => (otherErr += d.toString()));
    const otherCode = await new Promise<number | null>((r) => other.on('exit', (code) => r(code)));
    expect(otherCode).toBe(2);
    const otherLines = otherErr.trim().split('\n').filter((l) => l.startsWith('shopsim: '));
    expect(otherLines).toEqual([expect.stringMatching(/^shopsim: worker refused by run \S+ on redis:\/\/127\.0\.0\.1:6379: its personas\/products data differ \(fingerprint sha256:\w+… here, sha256:\w+… in the run; give the same --personas and --products files\)$/)]);
    const refused = await refusedRun;
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/shopsim: --workers-expected 3: 2 workers joined within 20 s \(start them with: shopsim worker --redis redis:\/\/127\.0\.0\.1:6379\); nothing was written/);

    // SIGKILL of one worker while it holds a cohort job (cohorts of 300, the lock 1 s): the other
    // worker's stalled check takes the job over and runs it again from the same input. Killed at its
    // first job, of cycle 1: a thread builds the cohort from its spec then (≥ 100 ms), so the kill
    // lands inside the job.
    const started = a.lines.length;
    const killRun = run('kill', ['--redis', url, '--workers-expected', '2', '--worker-lock-timeout', '1s', '--cohort-size', '300']);
    await a.line(/started cohort \d+ of cycle 1$/, started);
    a.proc.kill('SIGKILL');
    const killedAt = Date.now();
    const killed = await killRun;
    const ranAfterKillMs = Date.now() - killedAt;
    expect(killed.code, killed.stderr).toBe(0);
    const inProcess300 = await run('in-process-300', ['--cohort-size', '300']);
    expect(figures(killed.summary)).toEqual(figures(inProcess300.summary));
    // The loss is said once the worker's record expires (2 heartbeats) and the coordinator looks
    // (every quarter heartbeat): a run that ends sooner after the kill (the takeover is quick at
    // a 1 s lock) can finish before it.
    if (ranAfterKillMs > 3000) expect(killed.stderr).toMatch(/shopsim: worker \S+ \(\S+, pid \d+\) lost: no heartbeat; its cohort jobs are taken over by the other workers when their locks expire/);
    expect(b.lines.some((l) => /running cohort \d+ of cycle \d+ again \(attempt 2: its worker was lost or the attempt failed\)/.test(l)), `worker b:\n${b.lines.join('\n')}\nworker a:\n${a.lines.slice(started).join('\n')}`).toBe(true);
  }, 240_000);
});

describe.skipIf(!TEST_REDIS_URL || !HAS_REDIS_SERVER)('shopsim run --redis: Redis restarted without its data mid-run (a private redis-server)', () => {
  it('the run stops with a line naming its last checkpoint, which resumes in-process with the uninterrupted digest', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'shopsim-redis-restart-'));
    const redis = await privateRedis({ persist: false });
    const procs: ChildProcess[] = [];
    try {
      writeFileSync(join(dir, 'personas.json'), JSON.stringify(generatePersonas(600, 21)));
      const common = ['--mock-api', '--mock-db', '--fast', '-c', '10', '--cohort-size', '100', '--checkpoint-interval', '2', '--personas', join(dir, 'personas.json')];
      const start = (name: string, extra: string[], onLine?: (line: string) => void) =>
        new Promise<{ code: number | null; stderr: string; summary: Record<string, unknown> }>((done) => {
          const p = spawn(process.execPath, [BIN, 'run', ...common, '--checkpoint-dir', join(dir, name), '--log-dir', join(dir, 'logs'), '--json', ...extra], { env: ENV, cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
          procs.push(p);
          let out = '';
          let err = '';
          p.stdout!.on('data', (d: Buffer) => (out += d.toString()));
          p.stderr!.on('data', (d: Buffer) => {
            err += d.toString();
            for (const l of d.toString().split('\n')) if (l) onLine?.(l);
          });
          p.on('exit', (code) => done({ code, stderr: err, summary: out.trim() ? (JSON.parse(out) as Record<string, unknown>) : {} }));
        });
      const base = await start('base', []);
      expect(base.code).toBe(0);

      await redis.start();
      const w = spawn(process.execPath, [BIN, 'worker', '--redis', redis.url, '--personas', join(dir, 'personas.json')], { env: ENV, cwd: dir, stdio: ['ignore', 'ignore', 'ignore'] });
      procs.push(w);
      let killed = false;
      const distributed = await start('distributed', ['--redis', redis.url], (line) => {
        if (!killed && line.startsWith('cycle=5/')) {
          killed = true;
          redis.kill();
          setTimeout(() => void redis.start(), 300);
        }
      });
      expect(killed).toBe(true);
      expect(distributed.code, distributed.stderr).toBe(1);
      expect(distributed.stderr).toMatch(/shopsim: Redis at redis:\/\/127\.0\.0\.1:\d+ does not answer \(.*\); the run is paused in cycle \d+ until it is back/);
      expect(distributed.stderr).toMatch(/shopsim: run failed: Redis at redis:\/\/127\.0\.0\.1:\d+ came back without this run's data \(restarted without persistence\?\); the run stops at the last checkpoint/);
      const m = /shopsim: the last checkpoint is (\S+); continue with: shopsim run --resume-from \S+ \(with --redis, or without it to run in-process\)/.exec(distributed.stderr);
      expect(m, distributed.stderr).not.toBeNull();
      const resumed = await start('distributed', ['--resume-from', (m as RegExpExecArray)[1] as string]);
      expect(resumed.code, resumed.stderr).toBe(0);
      expect(resumed.summary['digest']).toBe(base.summary['digest']);
      expect(resumed.summary['sessions_created']).toBe(base.summary['sessions_created']);
    } finally {
      for (const p of procs) if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
      redis.cleanup();
      rmSync(dir, { recursive: true, force: true });
    }
  }, 180_000);
});

describe.skipIf(!TEST_REDIS_URL)('shopsim run --redis: the coordinator killed (real Redis)', () => {
  it('--resume continues from its last checkpoint with the workers still attached, to the uninterrupted digest', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'shopsim-coord-kill-'));
    const space = await redisTestSpace();
    const procs: ChildProcess[] = [];
    try {
      writeFileSync(join(dir, 'personas.json'), JSON.stringify(generatePersonas(600, 21)));
      const common = ['--mock-api', '--mock-db', '--fast', '-c', '10', '--cohort-size', '100', '--checkpoint-interval', '2', '--personas', join(dir, 'personas.json')];
      const scale = ['--redis', space.url, '--redis-prefix', space.prefix];
      const start = (extra: string[], onLine?: (line: string, p: ChildProcess) => void) =>
        new Promise<{ code: number | null; signal: string | null; stderr: string; summary: Record<string, unknown> }>((done) => {
          const p = spawn(process.execPath, [BIN, 'run', ...common, '--checkpoint-dir', join(dir, 'ck'), '--log-dir', join(dir, 'logs'), '--json', ...extra], { env: ENV, cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
          procs.push(p);
          let out = '';
          let err = '';
          p.stdout!.on('data', (d: Buffer) => (out += d.toString()));
          p.stderr!.on('data', (d: Buffer) => {
            err += d.toString();
            for (const l of d.toString().split('\n')) if (l) onLine?.(l, p);
          });
          p.on('exit', (code, signal) => done({ code, signal, stderr: err, summary: out.trim() ? (JSON.parse(out) as Record<string, unknown>) : {} }));
        });
      const base = await start(['--checkpoint-dir', join(dir, 'base')]);
      expect(base.code).toBe(0);
      const w = spawn(process.execPath, [BIN, 'worker', ...scale, '--personas', join(dir, 'personas.json')], { env: ENV, cwd: dir, stdio: ['ignore', 'ignore', 'ignore'] });
      procs.push(w);
      // Killed just after cycle 5's line: the checkpoint of cycle 4 is the last one; cycle 6 may be in flight.
      const killed = await start(scale, (line, p) => {
        if (line.startsWith('cycle=5/')) p.kill('SIGKILL');
      });
      expect(killed.signal).toBe('SIGKILL');
      const resumed = await start(['--resume', ...scale]);
      expect(resumed.code, resumed.stderr).toBe(0);
      expect(resumed.stderr).toMatch(/shopsim: resuming run \S+ .* cycle 4 of 10/);
      expect(resumed.summary['digest']).toBe(base.summary['digest']);
      expect(resumed.summary['sessions_created']).toBe(base.summary['sessions_created']);
    } finally {
      for (const p of procs) if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
      await space.cleanup();
      rmSync(dir, { recursive: true, force: true });
    }
  }, 180_000);
});
