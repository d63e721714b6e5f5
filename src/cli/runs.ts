/**
 * Housekeeping: `shopsim runs list|rm RUN…|prune --keep N` (a run's database rows and its
 * checkpoint files) and `shopsim clean` (the embedded database, the checkpoints and the logs under
 * data/). What would be removed is listed first; removal needs `--yes`, or a `y` on a terminal.
 */
import { existsSync, readdirSync, rmSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { createInterface } from 'node:readline/promises';
import type { Command } from 'commander';
import { listCheckpointFiles, type CheckpointFile } from '../checkpoint/load.ts';
import { checkpointDirFrom, DEFAULTS } from '../config.ts';
import { ShopsimError } from '../errors.ts';
import { addDatabaseOptions, databaseOptionsFrom, type DbFlags, type DbIo } from './db.ts';

type Io = DbIo & { stdin?: NodeJS.ReadStream };

interface RunsFlags extends DbFlags {
  checkpointDir?: string;
  json?: boolean;
  yes?: boolean;
  keep?: string;
}

const usage = (msg: string) => new ShopsimError('E_INPUT', msg, { exitCode: 2 });

function checkpointDirOf(flags: RunsFlags, env: Record<string, string | undefined>): string {
  return checkpointDirFrom(flags, env);
}

function humanSize(n: number): string {
  return n < 1024 ? `${n} B` : n < 1024 ** 2 ? `${(n / 1024).toFixed(1)} KB` : n < 1024 ** 3 ? `${(n / 1024 ** 2).toFixed(1)} MB` : `${(n / 1024 ** 3).toFixed(2)} GB`;
}

/** Asks on a terminal; without one, `--yes` is required. */
async function confirmed(io: Io, yes: boolean | undefined, question: string): Promise<boolean> {
  if (yes) return true;
  const stdin = io.stdin ?? process.stdin;
  if (!stdin.isTTY) throw usage('expected --yes to remove without a terminal to confirm on; nothing was removed');
  const rl = createInterface({ input: stdin, output: io.stderr as NodeJS.WriteStream });
  try {
    return /^y(es)?$/i.test((await rl.question(`${question} [y/N] `)).trim());
  } finally {
    rl.close();
  }
}

/** The database, opened read-write without creating an embedded one that is not there. */
async function openExisting(flags: RunsFlags, io: Io) {
  const options = databaseOptionsFrom(flags, io.env);
  if (!options.databaseUrl && !existsSync(options.dataDir ?? 'data/pglite')) return null;
  const { openDatabase } = await import('../db/connection.ts');
  return openDatabase({ ...options, poolSize: 2, attachToRunning: true });
}

interface RunEntry {
  id: string;
  started_at: string | null;
  ended_at: string | null;
  exit_reason: string | null;
  sessions: number | null;
  in_database: boolean;
  checkpoints: CheckpointFile[];
}

async function gather(flags: RunsFlags, io: Io): Promise<{ runs: RunEntry[]; dir: string; db: Awaited<ReturnType<typeof openExisting>> }> {
  const dir = checkpointDirOf(flags, io.env);
  const files = listCheckpointFiles(dir);
  const db = await openExisting(flags, io);
  const byId = new Map<string, RunEntry>();
  if (db) {
    const { listRuns } = await import('../db/report.ts');
    for (const r of await listRuns(db.pool, 1_000_000)) {
      byId.set(r.id, { id: r.id, started_at: r.started_at, ended_at: r.ended_at, exit_reason: r.exit_reason, sessions: r.sessions, in_database: true, checkpoints: [] });
    }
  }
  for (const f of files) {
    const e = byId.get(f.runId) ?? { id: f.runId, started_at: null, ended_at: null, exit_reason: null, sessions: null, in_database: false, checkpoints: [] };
    e.checkpoints.push(f);
    byId.set(f.runId, e);
  }
  // Newest first: by start in the database, else by the newest checkpoint file.
  const when = (e: RunEntry) => (e.started_at ? Date.parse(e.started_at) : Math.max(0, ...e.checkpoints.map((c) => c.mtimeMs)));
  return { runs: [...byId.values()].sort((a, b) => when(b) - when(a)), dir, db };
}

function renderRuns(runs: RunEntry[]): string {
  if (runs.length === 0) return 'no runs in the database or the checkpoint directory';
  const rows = runs.map((r) => [
    r.id,
    r.started_at ? r.started_at.slice(0, 16).replace('T', ' ') : '–',
    r.in_database ? (r.exit_reason ?? (r.ended_at ? '?' : 'not ended')) : 'not in database',
    r.sessions === null ? '–' : r.sessions.toLocaleString('en-US'),
    `${r.checkpoints.length} (${humanSize(r.checkpoints.reduce((a, c) => a + c.size, 0))})`,
  ]);
  const head = ['run', 'started', 'exit', 'sessions', 'checkpoints'];
  const w = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] as string).length)));
  return [head, ...rows].map((r) => r.map((c, i) => (i === 3 ? c.padStart(w[i] as number) : c.padEnd(w[i] as number))).join('  ').trimEnd()).join('\n');
}

/** Lists what removing `ids` removes, asks, removes. Returns the exit code. */
async function removeRuns(ids: string[], all: RunEntry[], db: Awaited<ReturnType<typeof openExisting>>, flags: RunsFlags, io: Io): Promise<number> {
  const unknown = ids.filter((id) => !all.some((r) => r.id === id));
  if (unknown.length > 0) throw usage(`runs rm ${unknown.join(' ')}: expected run ids from \`shopsim runs list\`, got ${unknown.length === 1 ? 'one' : unknown.length} not in the database or the checkpoint directory`);
  const chosen = all.filter((r) => ids.includes(r.id));
  if (chosen.length === 0) {
    io.stdout.write('nothing to remove\n');
    return 0;
  }
  const { countRunRows, deleteRuns } = await import('../db/run-admin.ts');
  const counts = db ? await countRunRows(db.pool, chosen.map((r) => r.id)) : [];
  io.stdout.write(`To remove (${db ? db.describe() : 'no database'}; checkpoints in ${resolve(checkpointDirOf(flags, io.env))}):\n`);
  for (const r of chosen) {
    const c = counts.find((x) => x.run_id === r.id);
    const rows = c ? `${c.sessions.toLocaleString('en-US')} sessions, ${c.events.toLocaleString('en-US')} events` : 'no database rows';
    const running = r.in_database && !r.ended_at ? ' — NOT ENDED: running or crashed' : '';
    io.stdout.write(`  ${r.id}: ${rows}, ${r.checkpoints.length} checkpoint files${running}\n`);
  }
  if (!(await confirmed(io, flags.yes, `Remove ${chosen.length} run${chosen.length === 1 ? '' : 's'}?`))) {
    io.stdout.write('nothing removed\n');
    return 1;
  }
  const gone = db ? await deleteRuns(db.pool, chosen.filter((r) => r.in_database).map((r) => r.id)) : 0;
  let files = 0;
  for (const r of chosen) for (const f of r.checkpoints) {
    rmSync(f.path, { force: true });
    files++;
  }
  io.stdout.write(`removed ${gone} run${gone === 1 ? '' : 's'} from the database and ${files} checkpoint file${files === 1 ? '' : 's'}\n`);
  return 0;
}

function addRunsOptions(cmd: Command): Command {
  return addDatabaseOptions(cmd).option('--checkpoint-dir <dir>', `checkpoint directory (default: checkpoints beside --data-dir, i.e. ${DEFAULTS.checkpointDir}) [env: CHECKPOINT_DIR]`);
}

async function withRuns(flags: RunsFlags, io: Io, fn: (g: Awaited<ReturnType<typeof gather>>) => Promise<number>): Promise<void> {
  const g = await gather(flags, io);
  try {
    process.exitCode = await fn(g);
  } finally {
    await g.db?.close();
  }
}

export function registerRunsCommand(program: Command, ioIn?: Io): void {
  const io: Io = ioIn ?? { env: process.env, stdout: process.stdout, stderr: process.stderr };
  const runs = program.command('runs').description("runs in the database and the checkpoint directory: list them, remove a run's rows and checkpoints");
  addRunsOptions(runs.command('list').description('list the runs, newest first, with their checkpoints').option('--json', 'print one JSON array')).action((flags: RunsFlags) =>
    withRuns(flags, io, async ({ runs: all }) => {
      io.stdout.write(flags.json ? `${JSON.stringify(all.map((r) => ({ ...r, checkpoints: r.checkpoints.map((c) => resolve(c.path)) })))}\n` : `${renderRuns(all)}\n`);
      return 0;
    }),
  );
  addRunsOptions(runs.command('rm').description("remove runs: their database rows (run, sessions, events) and checkpoint files; lists them and asks first").argument('<run...>', 'run ids').option('-y, --yes', 'remove without asking')).action(
    (ids: string[], flags: RunsFlags) => withRuns(flags, io, ({ runs: all, db }) => removeRuns(ids, all, db, flags, io)),
  );
  addRunsOptions(runs.command('prune').description('remove all runs but the newest N (database rows and checkpoint files); lists them and asks first').requiredOption('--keep <n>', 'runs to keep').option('-y, --yes', 'remove without asking')).action(
    (flags: RunsFlags) =>
      withRuns(flags, io, ({ runs: all, db }) => {
        const keep = Number(flags.keep);
        if (!Number.isInteger(keep) || keep < 0) throw usage(`--keep: expected an integer >= 0, got ${JSON.stringify(flags.keep)}`);
        return removeRuns(all.slice(keep).map((r) => r.id), all, db, flags, io);
      }),
  );
}

function sizeOf(path: string): number {
  const st = statSync(path);
  if (!st.isDirectory()) return st.size;
  return readdirSync(path).reduce((a, n) => a + sizeOf(join(path, n)), 0);
}

export function registerCleanCommand(program: Command, ioIn?: Io): void {
  const io: Io = ioIn ?? { env: process.env, stdout: process.stdout, stderr: process.stderr };
  program
    .command('clean')
    .description("remove shopsim's output: the embedded database, the checkpoints and the logs (listed first; asks, or --yes)")
    .option('--data-dir <dir>', 'embedded database directory (default: data/pglite) [env: SHOPSIM_DATA_DIR]')
    .option('--checkpoint-dir <dir>', `checkpoint directory (default: checkpoints beside --data-dir, i.e. ${DEFAULTS.checkpointDir}) [env: CHECKPOINT_DIR]`)
    .option('--log-dir <dir>', 'log directory (default: logs beside --data-dir) [env: SHOPSIM_LOG_DIR]')
    .option('-y, --yes', 'remove without asking')
    .action(async (flags: { dataDir?: string; checkpointDir?: string; logDir?: string; yes?: boolean }) => {
      const dataDir = flags.dataDir ?? (io.env['SHOPSIM_DATA_DIR'] || DEFAULTS.dataDir);
      const checkpointDir = checkpointDirFrom({ checkpointDir: flags.checkpointDir, dataDir }, io.env);
      const logDir = flags.logDir ?? (io.env['SHOPSIM_LOG_DIR'] || join(dirname(dataDir), 'logs'));
      const { findRunningEmbedded } = await import('../db/embedded.ts');
      const holder = existsSync(dataDir) ? await findRunningEmbedded(dataDir, 0) : null;
      if (holder) throw new ShopsimError('E_INPUT', `The embedded database ${resolve(dataDir)} is in use by process ${holder.pid}: stop it first; nothing was removed`, { exitCode: 2 });
      const targets = [
        ['embedded database', dataDir],
        ['checkpoints', checkpointDir],
        ['logs', logDir],
      ].filter(([, p]) => existsSync(p as string)) as [string, string][];
      if (targets.length === 0) {
        io.stdout.write('nothing to remove\n');
        return;
      }
      io.stdout.write('To remove:\n');
      for (const [what, p] of targets) io.stdout.write(`  ${resolve(p)}  (${what}, ${humanSize(sizeOf(p))})\n`);
      if (!(await confirmed(io, flags.yes, `Remove ${targets.length === 1 ? 'it' : `these ${targets.length}`}?`))) {
        io.stdout.write('nothing removed\n');
        process.exitCode = 1;
        return;
      }
      for (const [, p] of targets) rmSync(p, { recursive: true, force: true });
      io.stdout.write(`removed ${targets.length} director${targets.length === 1 ? 'y' : 'ies'}\n`);
    });
}
