/**
 * `shopsim replay CHECKPOINT [--until-cycle N] [--verify] [--agent ID] [--mock-api] [--json]`:
 * restores a checkpoint and runs it forward with the mock recorder (nothing is written to a
 * database, no checkpoint is written): a real-store run is served its recorded store answers
 * (src/store/replay-store.ts), a mock run (or any with --mock-api) the deterministic mock store.
 * It prints a cycle line per cycle (stderr) and the run's summary (stdout). With --verify, the
 * digest after every cycle is compared with each later checkpoint of the same run found next to
 * CHECKPOINT, and every store call with the recorded one; the first divergence is named.
 * --agent ID prints that shopper's timeline. With --inspect [port], the replayed machines stream
 * to the Stately inspector (docs/inspector.md); on a terminal the inspector stays up after the
 * replay until Ctrl-C, so it can be explored.
 */
import { dirname } from 'node:path';
import type { Command } from 'commander';
import { listCheckpointFiles, readCheckpointHeader } from '../checkpoint/load.ts';
import { resolveOptions, specsFor } from '../config.ts';
import { inputError, isShopsimError, oneLine } from '../errors.ts';
import type { CycleReport } from '../model/run.ts';
import { startInspector, type InspectorHandle } from '../inspect/inspector.ts';
import { formatCycleLine } from '../monitor/cycle-line.ts';
import { renderSummary } from '../monitor/summary.ts';
import type { RunSummary } from '../model/run.ts';
import { createAgentTimeline, formatTimeline, type AgentTimeline, type TimelineCycle } from '../run/agent-timeline.ts';
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
  /** Print this shopper's timeline (and add it to the JSON result). */
  agent?: string;
  /** Replay a real-store run against the mock store instead of its recorded answers. */
  mockApi?: boolean;
  /** Print a cycle line per cycle on stderr (the CLI: yes). */
  cycleLines?: boolean;
  personas?: string;
  products?: string;
}

export interface ReplayIo {
  stdout: { write(s: string): boolean; isTTY?: boolean };
  stderr: { write(s: string): boolean };
}

export interface ReplayResult {
  checkpoint: string;
  run_id: string;
  from_cycle: number;
  to_cycle: number;
  digest: string;
  /** 'recorded answers' (a real-store run) or 'mock'. */
  answers_from: 'recorded answers' | 'mock';
  /** The last cycle the recorded answers cover (null with the mock store). */
  recorded_through: number | null;
  verify: null | {
    compared: number;
    identical_through: number | null;
    diverged_at: number | null;
    expected: string | null;
    got: string | null;
    against: string | null;
    /** The first store call that differs from the recording (a real-store run). */
    divergence: null | { cycle: number; agent_id: string; agent_index: number; call: number; reason: string };
  };
  /** The first store call that differs from the recording, with or without --verify. */
  divergence: null | { cycle: number; agent_id: string; agent_index: number; call: number; reason: string };
  agent: null | { id: string; timeline: TimelineCycle[] };
  summary: Record<string, unknown>;
}

/** Runs the replay; returns the exit code (0 ok, 1 divergence, 2 bad input). */
export async function replayCommand(file: string, options: ReplayOptions, io: ReplayIo): Promise<number> {
  try {
    const result = await replay(file, options, io);
    if (options.json) io.stdout.write(`${JSON.stringify(result)}\n`);
    else {
      io.stdout.write(`${renderSummary(result.summary as RunSummary, { color: io.stdout.isTTY === true })}\n`);
      if (result.agent) io.stdout.write(`${formatTimeline(result.agent.id, result.agent.timeline)}\n`);
    }
    if (result.divergence) {
      const d = result.divergence;
      const where = d.agent_index < 0 ? `the offer-cycle start ${d.call}` : `agent ${d.agent_id}, call ${d.call}`;
      io.stderr.write(`shopsim: replay diverged at cycle ${d.cycle}, ${where}: ${d.reason}\n`);
      if (!options.json) io.stdout.write(`diverged at cycle ${d.cycle}, ${where}: ${d.reason}\n`);
      return 1;
    }
    const v = result.verify;
    if (v) {
      if (v.diverged_at !== null) {
        io.stderr.write(`shopsim: replay diverged at cycle ${v.diverged_at}: expected ${v.expected} (${v.against}), got ${v.got}\n`);
        if (!options.json) io.stdout.write(`diverged at cycle ${v.diverged_at}\n`);
        return 1;
      }
      const calls = result.answers_from === 'recorded answers' ? `every store call matched the recorded answers through cycle ${result.to_cycle}` : null;
      const line =
        v.compared === 0
          ? `nothing to verify${calls ? ' by digest' : ''}: no later checkpoint of run ${result.run_id} next to ${file}${calls ? `; ${calls}` : ''}`
          : `identical through cycle ${v.identical_through} (${v.compared} checkpoint${v.compared === 1 && calls ? '' : 's'} compared${calls ? `; ${calls}` : ''})`;
      if (options.json) io.stderr.write(`shopsim: ${line}\n`);
      else io.stdout.write(`${line}\n`);
    } else if (!options.json) {
      io.stdout.write(`replayed ${result.run_id} from cycle ${result.from_cycle} to ${result.to_cycle} on ${result.answers_from === 'mock' ? 'the mock store' : 'the recorded store answers'}: digest ${result.digest}\n`);
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
    ...(options.mockApi ? { mockApi: true } : {}),
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
  let timeline: AgentTimeline | null = null;
  if (options.agent !== undefined) {
    const index = agentIds.indexOf(options.agent);
    if (index < 0) throw inputError(`--agent ${options.agent}: no such agent in this run (${agentIds.length} agents, ${agentIds[0]} … ${agentIds[agentIds.length - 1]})`);
    timeline = createAgentTimeline(options.agent, index, Date.parse(plan.config.start));
  }
  const tl = timeline;
  const opened = await openRun(plan, tl ? { wrapStore: (s) => tl.wrapStore(s), wrapRecorder: (r) => tl.wrapRecorder(r) } : {});
  const inspect = inspector || tl ? (e: Parameters<AgentTimeline['inspect']>[0]) => {
    inspector?.inspect(e);
    tl?.inspect(e);
  } : undefined;
  const { sim, execute } = opened.simulate({ breakerAction: 'wait', ...(inspect ? { inspect } : {}) });
  const replayStore = opened.replayStore;
  let divergence: NonNullable<ReplayResult['verify']>['divergence'] = null;
  sim.events.on('cycle', (r: CycleReport) => {
    tl?.endCycle(r);
    if (options.cycleLines) io.stderr.write(`${formatCycleLine(r, sim.stats())}\n`);
    const d = replayStore?.endCycle(r.cycle);
    if (d && !divergence) {
      divergence = { cycle: d.cycle, agent_id: d.agentId, agent_index: d.agentIndex, call: d.call, reason: d.reason };
      sim.stop();
    }
  });
  let compared = 0;
  let identicalThrough: number | null = null;
  let diverged: { cycle: number; expected: string; got: string; path: string } | null = null;
  sim.events.on('cycle', (r: CycleReport) => {
    const want = expected.get(r.cycle);
    if (!want || diverged || divergence) return;
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
    answers_from: plan.answers ? 'recorded answers' : 'mock',
    recorded_through: plan.answers ? plan.answers.throughCycle : null,
    verify: options.verify
      ? { compared, identical_through: identicalThrough, diverged_at: d?.cycle ?? null, expected: d?.expected ?? null, got: d?.got ?? null, against: d?.path ?? null, divergence }
      : null,
    divergence,
    agent: tl ? { id: tl.agentId, timeline: tl.timeline() } : null,
    summary: summary as unknown as Record<string, unknown>,
  };
}

export function registerReplayCommand(program: Command): void {
  program
    .command('replay')
    .description('restore a checkpoint and run it forward on the recorded store answers (a mock run: the mock store), writing nothing; --verify compares digests with later checkpoints and every call with the recording')
    .argument('<checkpoint>', 'checkpoint file (.json or .json.gz)')
    .option('--until-cycle <n>', 'stop after this cycle (default: the run\'s last cycle)')
    .option('--verify', 'compare the digest with every later checkpoint of the same run on disk; exit 1 on divergence')
    .option('--json', 'print one JSON result on stdout')
    .option('--agent <id>', "print this shopper's timeline: cycle, simulated time, states, store calls with their answers, outcome")
    .option('--mock-api', 'the deterministic mock store instead of the recorded answers of a real-store run')
    .option('--personas <file>', 'persona file (default: the one the checkpoint names)')
    .option('--products <file>', 'product file (default: the one the checkpoint names)')
    .option('--inspect [port]', 'stream the replay to the Stately inspector on 127.0.0.1 (default port 8080)')
    .option('--inspect-agents <ids>', 'shoppers to stream: ID,ID…, or all (default: the first 3)')
    .action(async (checkpoint: string, opts: Record<string, unknown>) => {
      // The same validation as `run` (src/config.ts); `--inspect` alone means the default port.
      let untilCycle: number | undefined;
      let inspect: number | undefined;
      let agent: string | null = null;
      let mockApi = false;
      try {
        const flags = { ...opts, ...(opts['inspect'] === true ? { inspect: 8080 } : {}) };
        const { config } = resolveOptions<{ untilCycle: number | null; inspect: number | null; agent: string | null; mockApi: boolean }>(specsFor('replay'), flags, {});
        untilCycle = config.untilCycle ?? undefined;
        inspect = config.inspect ?? undefined;
        agent = config.agent;
        mockApi = config.mockApi;
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
          cycleLines: true,
          ...(mockApi ? { mockApi: true } : {}),
          ...(agent !== null ? { agent } : {}),
          ...(typeof opts['personas'] === 'string' ? { personas: opts['personas'] } : {}),
          ...(typeof opts['products'] === 'string' ? { products: opts['products'] } : {}),
        },
        { stdout: process.stdout, stderr: process.stderr },
      );
    });
}
