/**
 * What the HTTP benchmarks share: the reference store in a child process
 * (`shopsim serve --mock-db --port 0 …`, so client and server each have a core), and an undici
 * Agent that notes when each request is dispatched.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { Agent, type Dispatcher } from 'undici';

export async function startStore(extra: string[] = []): Promise<{ url: string; child: ChildProcess; stop(): Promise<void> }> {
  const child = spawn(process.execPath, ['bin/shopsim.js', 'serve', '--mock-db', '--port', '0', ...extra], { stdio: ['ignore', 'pipe', 'inherit'] });
  const url = await new Promise<string>((resolve, reject) => {
    const rl = createInterface({ input: child.stdout! });
    rl.once('line', (l) => resolve(l.trim()));
    child.once('exit', (c) => reject(new Error(`store exited ${c}`)));
  });
  return {
    url,
    child,
    stop: () =>
      new Promise<void>((resolve) => {
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}

/**
 * The bench store (test/bench/store-server.ts) in a child process with IPC: arrival times at the
 * server (absolute ms), its CPU time, and a reset of its stock and carts between runs.
 */
export interface BenchStore {
  url: string;
  child: ChildProcess;
  arrivals(): Promise<{ arrivals: number[]; ids: string[]; rateLimited: number }>;
  cpu(): Promise<{ cpu: NodeJS.CpuUsage; rss: number }>;
  reset(): Promise<void>;
  stop(): Promise<void>;
}

export async function startBenchStore(maxRps = 0): Promise<BenchStore> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'test/bench/store-server.ts', String(maxRps)], { stdio: ['ignore', 'pipe', 'inherit', 'ipc'] });
  const url = await new Promise<string>((resolve, reject) => {
    const rl = createInterface({ input: child.stdout! });
    rl.once('line', (l) => resolve(l.trim()));
    child.once('exit', (c) => reject(new Error(`store exited ${c}`)));
  });
  const ask = <T>(cmd: string) =>
    new Promise<T>((resolve) => {
      child.once('message', (m) => resolve(m as T));
      child.send({ cmd });
    });
  return {
    url,
    child,
    arrivals: () => ask('arrivals'),
    cpu: () => ask('cpu'),
    reset: () => ask<unknown>('reset').then(() => undefined),
    stop: () =>
      new Promise<void>((resolve) => {
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}

/**
 * An undici Agent (50 connections) that pushes the time of each dispatch into `times`
 * (performance.now()), and its x-request-id into `ids` when given.
 */
export function recordingDispatcher(times: number[], ids?: string[]): Dispatcher & { close(): Promise<void> } {
  const agent = new Agent({ connections: 50, pipelining: 1 });
  const d = {
    dispatch(opts: Dispatcher.DispatchOptions, handler: Dispatcher.DispatchHandler) {
      times.push(performance.now());
      if (ids) ids.push(String((opts.headers as Record<string, string> | undefined)?.['x-request-id'] ?? ''));
      return agent.dispatch(opts, handler);
    },
    request(opts: Dispatcher.RequestOptions) {
      times.push(performance.now());
      return agent.request(opts);
    },
    close: () => agent.close(),
  };
  return d as unknown as Dispatcher & { close(): Promise<void> };
}
