/**
 * The README's two-terminal example on one machine: `shopsim serve --port P` and
 * `shopsim run --api-url http://127.0.0.1:P --fast --cycles N`, started together in one working
 * directory with the default embedded database. The store's process holds the database; the
 * run shares it through that process, and `shopsim report` finds the run there.
 */
import { createServer } from 'node:net';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DATA, scratchDir, startCli } from './helpers.ts';

/** A free loopback port (the README says 8787; tests run side by side). */
function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => res(port));
    });
    s.on('error', rej);
  });
}

describe('serve and run on one machine', () => {
  it('both start at once on the default embedded database; the run completes into the database serve holds', async () => {
    const cwd = scratchDir('shopsim-two-terminals-');
    const port = await freePort();
    // As in the README: `npx shopsim serve --port P &  npx shopsim run --api-url http://127.0.0.1:P --fast --cycles N`
    const serve = startCli(['serve', '--port', String(port)], { cwd });
    const run = startCli(['run', '--api-url', `http://127.0.0.1:${port}`, '--fast', '--cycles', '3', '--agents', '15', '--json', ...DATA], { cwd });
    try {
      const r = await run.exit;
      expect(r.code, r.stderr).toBe(0);
      const summary = JSON.parse(r.stdout.trim().split('\n').pop() as string) as Record<string, unknown>;
      expect(summary).toMatchObject({ exit_reason: 'completed', cycles_completed: 3, agent_failures: 0 });
      expect(summary['database']).toMatch(new RegExp(`shared with process ${serve.child.pid}`));
      expect(serve.child.exitCode).toBeNull();
      // The run's rows are in the database the store's process holds.
      const report = await startCli(['report', '--run', summary['run_id'] as string, '--json'], { cwd }).exit;
      expect(report.code, report.stderr).toBe(0);
      expect(JSON.parse(report.stdout)).toMatchObject({ run: { id: summary['run_id'] } });
    } finally {
      serve.child.kill('SIGTERM');
      await serve.exit;
    }
    // Stopped, the store gives the directory back.
    expect(existsSync(join(cwd, 'data/pglite/.shopsim-port'))).toBe(false);
  }, 180_000);
});
