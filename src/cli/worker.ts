/**
 * `shopsim worker --redis URL [--concurrency C]`: runs cohort cycles for the runs a coordinator
 * (`shopsim run --redis URL`) publishes on that Redis, on this machine (docs/scaling.md). It joins
 * the current run — or waits for one — after the handshake (same shopsim version, same persona
 * and product data: else one line, exit 2), beats a heartbeat, runs cohort jobs in C worker
 * threads, and when the run ends waits for the next one. SIGINT/SIGTERM: finishes nothing half
 * way (a job it held is taken over by another worker when its lock expires), exits 0.
 */
import type { Command } from 'commander';
import { resolveOptions, specsFor, type RunConfig, type WorkerOnlyConfig } from '../config.ts';
import { isShopsimError, oneLine } from '../errors.ts';
import { redactUrl } from '../url.ts';
import { packageVersion } from '../version.ts';
import { addSpecOptions } from './help-options.ts';

export interface WorkerIo {
  env: Record<string, string | undefined>;
  stdout: { write(s: string): boolean };
  stderr: { write(s: string): boolean };
}

type WorkerConfig = Pick<RunConfig, 'redis' | 'redisPrefix' | 'personas' | 'products' | 'databaseUrl'> & WorkerOnlyConfig;

/** Returns the exit code: 0 stopped by a signal or done, 2 bad input / refused at join / Redis unreachable. */
export async function workerCommand(flags: Record<string, unknown>, io: WorkerIo, signal?: AbortSignal): Promise<number> {
  const say = (s: string) => io.stderr.write(`shopsim worker: ${s}\n`);
  const fail = (err: unknown) => {
    io.stderr.write(`shopsim: ${oneLine(err)}\n`);
    return isShopsimError(err) ? err.exitCode : 1;
  };
  let config: WorkerConfig;
  let url: string;
  try {
    config = resolveOptions<WorkerConfig>(specsFor('worker'), flags, io.env).config;
    if (!config.redis) {
      io.stderr.write('shopsim: worker: --redis: expected the Redis URL the coordinator uses, such as redis://127.0.0.1:6379 (or SHOPSIM_REDIS_URL)\n');
      return 2;
    }
    url = config.redis;
  } catch (err) {
    return fail(err);
  }
  const { parseRedisUrl, startCohortWorker } = await import('../scale/bullmq-transport.ts');
  const { loadPersonas, loadProducts, dataFilePath } = await import('../run/load-data.ts');
  const { dataFingerprint } = await import('../scale/fingerprint.ts');
  let fingerprint: string;
  try {
    parseRedisUrl(url);
    fingerprint = dataFingerprint(loadPersonas(config.personas), loadProducts(config.products));
  } catch (err) {
    return fail(err);
  }
  const here = import.meta.url.endsWith('.ts') ? '../scale/cohort-processor.ts' : '../scale/cohort-processor.js';
  let worker;
  try {
    worker = await startCohortWorker({
      url,
      prefix: config.redisPrefix,
      identity: { version: packageVersion(), fingerprint },
      concurrency: config.concurrency,
      processorUrl: new URL(here, import.meta.url).href,
      // The database URL stays on this machine: a run on that database has its sessions written here (docs/scaling.md).
      local: { personas: dataFilePath(config.personas), products: dataFilePath(config.products), databaseUrl: config.databaseUrl },
      onEvent: (e) => {
        switch (e.type) {
          case 'waiting-for-run':
            return say(`waiting for a run on ${redactUrl(url)}${config.redisPrefix !== 'shopsim' ? ` (prefix ${config.redisPrefix})` : ''} (start one with: shopsim run --redis ${redactUrl(url)})`);
          case 'joined':
            return say(`joined run ${e.runId} as ${e.workerId} (concurrency ${config.concurrency})`);
          case 'run-ended':
            return say(`run ${e.runId} ended; ${e.done} cohort cycle${e.done === 1 ? '' : 's'} run here`);
          case 'redis-down':
            return say(`Redis at ${redactUrl(url)} does not answer (${e.message}); waiting for it`);
          case 'redis-back':
            return say(`Redis at ${redactUrl(url)} is back`);
          case 'cohort-started':
            // A job started again was a lost worker's (stalled, taken over) or a failed attempt's: always said.
            if (e.attempt > 1) return say(`running cohort ${e.cohort} of cycle ${e.cycle} again (attempt ${e.attempt}: its worker was lost or the attempt failed)`);
            return config.verbose ? say(`started cohort ${e.cohort} of cycle ${e.cycle}`) : undefined;
          case 'cohort-done':
            return config.verbose ? say(`done cohort ${e.cohort} of cycle ${e.cycle} in ${e.ms} ms`) : undefined;
          default:
            return;
        }
      },
    });
  } catch (err) {
    return fail(err);
  }
  const w = worker;
  const stop = () => void w.close();
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  signal?.addEventListener('abort', stop);
  try {
    await w.finished;
    return 0;
  } catch (err) {
    return fail(err);
  } finally {
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
  }
}

export function registerWorkerCommand(program: Command, io: WorkerIo): void {
  const cmd = program
    .command('worker')
    .description('run cohort cycles for `shopsim run --redis URL` on this machine, through BullMQ on Redis (see docs/scaling.md)');
  addSpecOptions(cmd, specsFor('worker'), { first: ['scale'] });
  cmd.addHelpText('after', `
Examples:
  shopsim worker --redis redis://10.0.0.5:6379                  one cohort job at a time
  shopsim worker --redis redis://10.0.0.5:6379 --concurrency 4  four (one worker thread each)

Every machine needs the same shopsim version and the same --personas and --products data as the
coordinator (checked at join). Exit codes: 0 stopped by SIGINT/SIGTERM, 2 bad input, refused at
join or Redis unreachable.
`);
  cmd.action(async (_opts: Record<string, unknown>, command: Command) => {
    const opts = command.opts<Record<string, unknown>>();
    const flags: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(opts)) if (command.getOptionValueSource(k) === 'cli') flags[k] = v;
    process.exitCode = await workerCommand(flags, io);
  });
}
