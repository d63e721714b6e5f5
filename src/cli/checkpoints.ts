/**
 * `shopsim checkpoints list [--dir DIR] [--json]`: the checkpoints in a directory, newest first:
 * run, its status (the run's status file beside the checkpoints: running, completed, stopped,
 * breaker, error, or unknown), cycle, trigger, agents and size on one line; the file's absolute
 * path alone on the next (pasteable); its mode (store and database), simulated time and creation
 * on a third. Only each file's header is read.
 */
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { listCheckpointFiles, readCheckpointHeader } from '../checkpoint/load.ts';
import { checkpointDirFrom, DEFAULTS } from '../config.ts';
import { oneLine } from '../errors.ts';
import { readRunStatus } from '../run/run-status.ts';

export interface CheckpointRow {
  file: string;
  run_id: string;
  cycle: number;
  total_cycles: number | null;
  simulated_time: string | null;
  agents: number | null;
  created_at: string | null;
  size_bytes: number;
  is_replay: boolean | null;
  digest: string | null;
  /** The run's status (src/run/run-status.ts); 'unknown' when it has no status file. */
  run_status: string;
  /** interval, manual, stop or breaker. */
  trigger: string | null;
  /** Which store and database the run used: "mock store, no database", "reference store, embedded"… */
  mode: string | null;
  error: string | null;
}

/** The store and database a checkpoint's run used, from its recorded (redacted) options. */
export function modeOf(config: Record<string, unknown>): string {
  const store = config['mock_api'] === true ? 'mock store' : typeof config['api_url'] === 'string' ? `store ${config['api_url']}` : 'reference store';
  const db = config['mock_db'] === true ? 'no database' : typeof config['database'] === 'string' && config['database'] !== 'embedded' ? `PostgreSQL ${config['database']}` : 'embedded database';
  return `${store}, ${db}`;
}

export async function listCheckpoints(dir: string): Promise<CheckpointRow[]> {
  const rows: CheckpointRow[] = [];
  const statuses = new Map<string, string>();
  const statusOf = (runId: string) => {
    let st = statuses.get(runId);
    if (st === undefined) {
      st = readRunStatus(dir, runId)?.status ?? 'unknown';
      statuses.set(runId, st);
    }
    return st;
  };
  for (const f of listCheckpointFiles(dir)) {
    try {
      const h = await readCheckpointHeader(f.path);
      rows.push({
        file: f.path,
        run_id: h.simulation_state.run_id,
        cycle: h.simulation_state.current_cycle,
        total_cycles: h.simulation_state.total_cycles ?? null,
        simulated_time: h.simulation_state.simulated_datetime,
        agents: h.agent_count,
        created_at: h.created_at,
        size_bytes: f.size,
        is_replay: h.simulation_state.is_replay,
        digest: h.digest,
        run_status: statusOf(h.simulation_state.run_id),
        trigger: typeof h.simulation_state.trigger === 'string' ? h.simulation_state.trigger : null,
        mode: h.simulation_config && typeof h.simulation_config === 'object' ? modeOf(h.simulation_config) : null,
        error: null,
      });
    } catch (err) {
      rows.push({ file: f.path, run_id: f.runId, cycle: f.cycle, total_cycles: null, simulated_time: null, agents: null, created_at: null, size_bytes: f.size, is_replay: null, digest: null, run_status: statusOf(f.runId), trigger: null, mode: null, error: oneLine(err) });
    }
  }
  return rows;
}

function humanSize(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KB`;
  return `${(n / 1024 / 1024).toFixed(1)} MB`;
}

/**
 * Two lines per checkpoint, no borders, within 100 columns: the facts, then the file's absolute
 * path alone on its line so it can be pasted (`shopsim run --resume-from PATH`, `shopsim replay PATH`).
 */
export function renderCheckpointTable(rows: CheckpointRow[], dir: string): string {
  if (rows.length === 0) return `no checkpoints in ${dir}`;
  const cells = rows.map((r) =>
    r.error
      ? [r.run_id, String(r.cycle), r.run_status, '', '', '', `UNUSABLE: ${r.error.replace(/^checkpoint \S+: /, '')}`]
      : [r.run_id, r.total_cycles ? `${r.cycle}/${r.total_cycles}` : String(r.cycle), r.run_status, r.trigger ?? '', String(r.agents), humanSize(r.size_bytes), ''],
  );
  const head = ['run', 'cycle', 'status', 'trigger', 'agents', 'size', ''];
  const widths = head.map((h, i) => Math.max(h.length, ...cells.map((c) => (c[i] as string).length)));
  const right = [false, true, false, false, true, true, false];
  const line = (c: string[]) =>
    c
      .map((x, i) => (right[i] ? x.padStart(widths[i] as number) : i === c.length - 1 ? x : x.padEnd(widths[i] as number)))
      .join('  ')
      .trimEnd();
  const out = [line(head)];
  rows.forEach((r, i) => {
    out.push(line(cells[i] as string[]));
    out.push(`  ${resolve(r.file)}`);
    if (!r.error) {
      const when = [r.mode ?? '', r.simulated_time ? `simulated ${(r.simulated_time ?? '').replace(/:00(\.000)?Z$/, 'Z').replace('T', ' ')}` : '', r.created_at ? `written ${(r.created_at ?? '').replace(/:\d\d(\.\d+)?Z$/, 'Z').replace('T', ' ')}` : ''];
      out.push(`  ${when.filter(Boolean).join(' · ')}`);
    }
  });
  return out.join('\n');
}

export function registerCheckpointsCommand(program: Command): void {
  const group = program.command('checkpoints').description('inspect checkpoint files');
  group
    .command('list')
    .description('list the checkpoints in a directory, newest first')
    .option('--dir <dir>', `checkpoint directory (default: checkpoints beside --data-dir, i.e. ${DEFAULTS.checkpointDir}) [env: CHECKPOINT_DIR]`)
    .option('--data-dir <dir>', `embedded database directory the checkpoints are beside (default: ${DEFAULTS.dataDir}) [env: SHOPSIM_DATA_DIR]`)
    .option('--json', 'print JSON (one array) instead of a table')
    .action(async (opts: { dir?: string; dataDir?: string; json?: boolean }) => {
      try {
        const dir = checkpointDirFrom({ checkpointDir: opts.dir, dataDir: opts.dataDir }, process.env);
        const rows = await listCheckpoints(dir);
        process.stdout.write(opts.json ? `${JSON.stringify(rows)}\n` : `${renderCheckpointTable(rows, dir)}\n`);
        process.exitCode = 0;
      } catch (err) {
        process.stderr.write(`shopsim: ${oneLine(err)}\n`);
        process.exitCode = 2;
      }
    });
}
