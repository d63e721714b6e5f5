/**
 * `shopsim replay CHECKPOINT [--until-cycle N] [--verify] [--json]`: restores a checkpoint and
 * runs it forward with the deterministic mock store and the mock recorder (nothing is written to
 * a database, no checkpoint is written). With --verify, the digest after every cycle is compared
 * with the digest of each later checkpoint of the same run found next to CHECKPOINT. With
 * --inspect [port], the replayed machines stream to the Stately inspector (docs/inspector.md);
 * on a terminal the inspector stays up after the replay until Ctrl-C, so it can be explored.
 */
import { dirname } from 'node:path';
import type { Command } from 'commander';
import { listCheckpointFiles, readCheckpointHeader } from '../checkpoint/load.ts';
import { resolveOptions, specsFor } from '../config.ts';
import { isShopsimError, oneLine } from '../errors.ts';
import type { CycleReport } from '../model/run.ts';
import { startInspector, type InspectorHandle } from '../inspect/inspector.ts';
import { openRun, prepareReplay } from '../run/start-run.ts';

export interface ReplayOptions {
  /** Stately inspector port (0 = any free port); undefined = no inspector. */
  inspect?: number;
  /** --inspect-agents: "ID,ID…", "all", or null for the default sample. */
  inspectAgents?: string | null;
  /** Keep the inspector up after the replay: until SIGINT (true; the CLI on a terminal) or until the promise settles. */
  holdInspector?: boolean | Promise<unknown>;
  untilCycle?: number;
  verify?: boolean;
  json?: boolean;
  personas?: string;
  products?: string;
}

export interface ReplayIo {
  stdout: { write(s: string): boolean };
  stderr: { write(s: string): boolean };
}

export interface ReplayResult {
  checkpoint: string;
  run_id: string;
  from_cycle: number;
  to_cycle: number;
  digest: string;
  verify: null | {
    compared: number;
    identical_through: number | null;
    diverged_at: number | null;
    expected: string | null;
    got: string | null;
    against: string | null;
  };
  summary: Record<string, unknown>;
}

/** Runs the replay; returns the exit code (0 ok, 1 divergence, 2 bad input). */
export async function replayCommand(file: string, options: ReplayOptions, io: ReplayIo): Promise<number> {
  try {
    const result = await replay(file, options, io);
    if (options.json) io.stdout.write(`${JSON.stringify(result)}\n`);
    const v = result.verify;
    if (v) {
      if (v.diverged_at !== null) {
        io.stderr.write(`shopsim: replay diverged at cycle ${v.diverged_at}: expected ${v.expected} (${v.against}), got ${v.got}\n`);
        if (!options.json) io.stdout.write(`diverged at cycle ${v.diverged_at}\n`);
        return 1;
      }
      const line = v.compared === 0 ? `nothing to verify: no later checkpoint of run ${result.run_id} next to ${file}` : `identical through cycle ${v.identical_through} (${v.compared} checkpoints compared)`;
      if (options.json) io.stderr.write(`shopsim: ${line}\n`);
      else io.stdout.write(`${line}\n`);
    } else if (!options.json) {
      io.stdout.write(`replayed ${result.run_id} from cycle ${result.from_cycle} to ${result.to_cycle}: digest ${result.digest}\n`);
    }
    return 0;
  } catch (err) {
    io.stderr.write(`shopsim: ${oneLine(err)}\n`);
    return isShopsimError(err) ? err.exitCode : 1;
  }
}

export async function replay(file: string, options: ReplayOptions, io: ReplayIo): Promise<ReplayResult> {
  const plan = prepareReplay(file, {
    ...(options.untilCycle !== undefined ? { untilCycle: options.untilCycle } : {}),
    ...(options.personas !== undefined ? { personas: options.personas } : {}),
    ...(options.products !== undefined ? { products: options.products } : {}),
  });
  for (const w of plan.warnings) io.stderr.write(`shopsim: ${w}\n`);
  const runId = plan.runId;
  const fromCycle = plan.resume?.checkpoint.simulation_state.current_cycle ?? 0;
  const until = plan.cycles;
  const agentIds = plan.personas.map((p) => p.id);

  // Later checkpoints of the same run next to this one: cycle → digest.
  const expected = new Map<number, { digest: string; path: string }>();
  if (options.verify) {
    for (const f of listCheckpointFiles(dirname(file))) {
      if (f.runId !== runId || f.cycle <= fromCycle || f.cycle > until) continue;
      try {
        const h = await readCheckpointHeader(f.path);
        const prev = expected.get(f.cycle);
        if (!prev) expected.set(f.cycle, { digest: h.digest, path: f.path });
      } catch (err) {
        io.stderr.write(`shopsim: warning: skipping unreadable checkpoint ${f.path}: ${oneLine(err)}\n`);
      }
    }
  }

  let inspector: InspectorHandle | null = null;
  if (options.inspect !== undefined) {
    inspector = await startInspector({ port: options.inspect, agents: options.inspectAgents ?? null, agentIds });
    io.stderr.write(`shopsim: Stately inspector: open ${inspector.url} (streaming the orchestrator, the cohorts and shoppers ${inspector.agents.join(', ')})\n`);
  }
  const opened = await openRun(plan);
  const { sim, execute } = opened.simulate({ breakerAction: 'wait', ...(inspector ? { inspect: inspector.inspect } : {}) });
  let compared = 0;
  let identicalThrough: number | null = null;
  let diverged: { cycle: number; expected: string; got: string; path: string } | null = null;
  sim.events.on('cycle', (r: CycleReport) => {
    const want = expected.get(r.cycle);
    if (!want || diverged) return;
    compared++;
    if (want.digest === r.digest) identicalThrough = r.cycle;
    else {
      diverged = { cycle: r.cycle, expected: want.digest, got: r.digest, path: want.path };
      sim.stop();
    }
  });
  // The original run went on after an open breaker (it was resumed), so the replay does too.
  sim.events.on('breaker-open', () => setImmediate(() => sim.resume()));
  let summary;
  try {
    summary = await execute();
  } finally {
    await opened.close();
  }
  if (inspector) {
    if (options.holdInspector === true) {
      io.stderr.write(`shopsim: replay done; the inspector stays at ${inspector.url} — press Ctrl-C to exit\n`);
      await new Promise<void>((resolve) => process.once('SIGINT', () => resolve()));
    } else if (options.holdInspector) {
      await options.holdInspector;
    }
    await inspector.close();
  }
  const d = diverged as { cycle: number; expected: string; got: string; path: string } | null;
  return {
    checkpoint: file,
    run_id: runId,
    from_cycle: fromCycle,
    to_cycle: summary.cycles_completed,
    digest: summary.digest,
    verify: options.verify
      ? { compared, identical_through: identicalThrough, diverged_at: d?.cycle ?? null, expected: d?.expected ?? null, got: d?.got ?? null, against: d?.path ?? null }
      : null,
    summary: summary as unknown as Record<string, unknown>,
  };
}

export function registerReplayCommand(program: Command): void {
  program
    .command('replay')
    .description('restore a checkpoint and run it forward with the mock store (nothing written to a database); --verify compares digests with later checkpoints')
    .argument('<checkpoint>', 'checkpoint file (.json or .json.gz)')
    .option('--until-cycle <n>', 'stop after this cycle (default: the run\'s last cycle)')
    .option('--verify', 'compare the digest with every later checkpoint of the same run on disk; exit 1 on divergence')
    .option('--json', 'print one JSON result on stdout')
    .option('--personas <file>', 'persona file (default: the one the checkpoint names)')
    .option('--products <file>', 'product file (default: the one the checkpoint names)')
    .option('--inspect [port]', 'stream the replay to the Stately inspector on 127.0.0.1 (default port 8080)')
    .option('--inspect-agents <ids>', 'shoppers to stream: ID,ID…, or all (default: the first 3)')
    .action(async (checkpoint: string, opts: Record<string, unknown>) => {
      // The same validation as `run` (src/config.ts); `--inspect` alone means the default port.
      let untilCycle: number | undefined;
      let inspect: number | undefined;
      try {
        const flags = { ...opts, ...(opts['inspect'] === true ? { inspect: 8080 } : {}) };
        const { config } = resolveOptions<{ untilCycle: number | null; inspect: number | null }>(specsFor('replay'), flags, {});
        untilCycle = config.untilCycle ?? undefined;
        inspect = config.inspect ?? undefined;
      } catch (err) {
        process.stderr.write(`shopsim: ${oneLine(err)}\n`);
        process.exitCode = 2;
        return;
      }
      process.exitCode = await replayCommand(
        checkpoint,
        {
          ...(inspect !== undefined ? { inspect, holdInspector: process.stdout.isTTY === true } : {}),
          ...(typeof opts['inspectAgents'] === 'string' ? { inspectAgents: opts['inspectAgents'] } : {}),
          ...(untilCycle !== undefined ? { untilCycle } : {}),
          verify: opts['verify'] === true,
          json: opts['json'] === true,
          ...(typeof opts['personas'] === 'string' ? { personas: opts['personas'] } : {}),
          ...(typeof opts['products'] === 'string' ? { products: opts['products'] } : {}),
        },
        { stdout: process.stdout, stderr: process.stderr },
      );
    });
}
