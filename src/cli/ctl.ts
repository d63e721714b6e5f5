/**
 * `shopsim ctl pause|resume|checkpoint|stop|status [--run ID]`: talks to a run started with
 * --web through its control API, found through the run file it wrote beside its data
 * (data/runs/<run>.json, mode 0600; see src/web/run-file.ts). It works however the run was
 * launched (npx, nohup, tmux, a CI job): no pid, no signal. Exit 0 on success, 2 on bad input or
 * no such run, 1 when the run answers with an error.
 */
import type { Command } from 'commander';
import { request } from 'undici';
import { defaultCheckpointDir, resolveOptions, specsFor, type CtlOnlyConfig, type RunConfig } from '../config.ts';
import { isShopsimError, oneLine } from '../errors.ts';
import { findRunFile, runsDirOf } from '../web/run-file.ts';

export interface CtlIo {
  env: Record<string, string | undefined>;
  stdout: { write(s: string): boolean };
  stderr: { write(s: string): boolean };
}

const ACTIONS = ['pause', 'resume', 'checkpoint', 'stop', 'status'] as const;
type Action = (typeof ACTIONS)[number];

export async function ctlCommand(action: string, flags: { run?: string; checkpointDir?: string; dataDir?: string }, io: CtlIo): Promise<number> {
  if (!(ACTIONS as readonly string[]).includes(action)) {
    io.stderr.write(`shopsim: ctl: expected one of ${ACTIONS.join(', ')}, got ${JSON.stringify(action)}\n`);
    return 2;
  }
  let target;
  try {
    const { config, sources } = resolveOptions<Pick<RunConfig, 'checkpointDir' | 'dataDir'> & CtlOnlyConfig>(
      specsFor('ctl'),
      {
        ...(flags.run !== undefined ? { ctlRun: flags.run } : {}),
        ...(flags.checkpointDir !== undefined ? { checkpointDir: flags.checkpointDir } : {}),
        ...(flags.dataDir !== undefined ? { dataDir: flags.dataDir } : {}),
      },
      io.env,
    );
    // As `run` does: the run files are beside the checkpoints, which follow --data-dir unless given.
    const checkpointDir = sources.checkpointDir === undefined ? defaultCheckpointDir(config.dataDir) : config.checkpointDir;
    target = findRunFile(runsDirOf(checkpointDir), config.ctlRun);
  } catch (err) {
    io.stderr.write(`shopsim: ${oneLine(err)}\n`);
    return isShopsimError(err) ? err.exitCode : 2;
  }
  const a = action as Action;
  const path = a === 'status' ? '/api/state' : `/api/${a}`;
  try {
    const res = await request(`${target.url}${path}`, {
      method: a === 'status' ? 'GET' : 'POST',
      headers: { authorization: `Bearer ${target.token}` },
      headersTimeout: a === 'checkpoint' ? 600_000 : 10_000,
      bodyTimeout: a === 'checkpoint' ? 600_000 : 10_000,
    });
    const text = await res.body.text();
    let body: Record<string, unknown> = {};
    try {
      body = JSON.parse(text) as Record<string, unknown>;
    } catch {
      // not JSON: reported below
    }
    if (res.statusCode !== 200) {
      io.stderr.write(`shopsim: ctl ${a}: run ${target.runId} answered ${res.statusCode}${typeof body['error'] === 'string' ? `: ${body['error']}` : ''}\n`);
      return 1;
    }
    if (a === 'status') {
      const occ = body['occupancy'] as { counts?: Record<string, number> } | null;
      io.stdout.write(
        `run ${String(body['runId'])}: ${String(body['status'])}, cycle ${String(body['cycle'])}/${String(body['totalCycles'])}, simulated ${String(body['simulatedTime'] ?? '')}` +
          (occ?.counts ? `; shoppers ${Object.entries(occ.counts).map(([k, v]) => `${k}=${v}`).join(' ')}` : '') +
          '\n',
      );
    } else if (a === 'checkpoint') {
      io.stdout.write(`run ${target.runId}: checkpoint written: ${String(body['checkpoint'] ?? 'none (no checkpointer)')}\n`);
    } else {
      io.stdout.write(`run ${target.runId}: ${a} sent; status ${String(body['status'])}\n`);
    }
    return 0;
  } catch (err) {
    io.stderr.write(`shopsim: ctl ${a}: cannot reach run ${target.runId} at ${target.url} (${oneLine(err)})\n`);
    return 1;
  }
}

export function registerCtlCommand(program: Command, io: CtlIo): void {
  const cmd = program
    .command('ctl')
    .description('pause, resume, checkpoint, stop or show a run started with --web (see docs/web.md)')
    .argument('<action>', ACTIONS.join('|'));
  for (const spec of specsFor('ctl')) cmd.option(`${spec.flag} <value>`, spec.description);
  cmd.action(async (action: string, opts: { run?: string; checkpointDir?: string; dataDir?: string }) => {
    process.exitCode = await ctlCommand(action, opts, io);
  });
}
