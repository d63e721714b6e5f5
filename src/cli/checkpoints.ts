/**
 * `shopsim checkpoints list [--dir DIR] [--json]`: the checkpoints in a directory, newest first:
 * file, run, its status (the run's status file beside the checkpoints: running, completed,
 * stopped, breaker, error, or unknown), cycle, trigger, mode (store and database), simulated
 * time, agents, created, size. Only each file's header is read.
 */
import Table from 'cli-table3';
import type { Command } from 'commander';
import { listCheckpointFiles, readCheckpointHeader } from '../checkpoint/load.ts';
import { DEFAULTS } from '../config.ts';
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

export function renderCheckpointTable(rows: CheckpointRow[], dir: string): string {
  if (rows.length === 0) return `no checkpoints in ${dir}`;
  const t = new Table({ head: ['file', 'run', 'status', 'cycle', 'trigger', 'mode', 'simulated time', 'agents', 'created', 'size'], style: { head: [], border: [] } });
  for (const r of rows) {
    const name = r.file.split(/[\\/]/).pop() as string;
    if (r.error) t.push([name, r.run_id, r.run_status, String(r.cycle), { colSpan: 6, content: `UNUSABLE: ${r.error.replace(/^checkpoint \S+: /, '')}` }]);
    else
      t.push([
        name,
        r.run_id,
        r.run_status,
        r.total_cycles ? `${r.cycle}/${r.total_cycles}` : String(r.cycle),
        r.trigger ?? '',
        r.mode ?? '',
        (r.simulated_time ?? '').replace('.000Z', 'Z'),
        String(r.agents),
        (r.created_at ?? '').replace(/\.\d+Z$/, 'Z'),
        humanSize(r.size_bytes),
      ]);
  }
  return t.toString();
}

export function registerCheckpointsCommand(program: Command): void {
  const group = program.command('checkpoints').description('inspect checkpoint files');
  group
    .command('list')
    .description('list the checkpoints in a directory, newest first')
    .option('--dir <dir>', 'checkpoint directory', process.env['CHECKPOINT_DIR'] || DEFAULTS.checkpointDir)
    .option('--json', 'print JSON (one array) instead of a table')
    .action(async (opts: { dir: string; json?: boolean }) => {
      try {
        const rows = await listCheckpoints(opts.dir);
        process.stdout.write(opts.json ? `${JSON.stringify(rows)}\n` : `${renderCheckpointTable(rows, opts.dir)}\n`);
        process.exitCode = 0;
      } catch (err) {
        process.stderr.write(`shopsim: ${oneLine(err)}\n`);
        process.exitCode = 2;
      }
    });
}
