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

/** An undici Agent (50 connections) that pushes the time of each dispatch into `times`. */
export function recordingDispatcher(times: number[]): Dispatcher & { close(): Promise<void> } {
  const agent = new Agent({ connections: 50, pipelining: 1 });
  const d = {
    dispatch(opts: Dispatcher.DispatchOptions, handler: Dispatcher.DispatchHandler) {
      times.push(performance.now());
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
