/**
 * `shopsim db migrate` and `shopsim db url`, and the database flags shared with `shopsim report`.
 */
import type { Command } from 'commander';
import { openDatabase, type DatabaseOptions } from '../db/connection.ts';
import { DEFAULT_DATA_DIR, embeddedUrl, findRunningEmbedded } from '../db/embedded.ts';
import { describeDatabaseUrl } from '../db/url.ts';
import { resolveOptions, specsFor, type RunConfig } from '../config.ts';
import { ShopsimError } from '../errors.ts';

export interface DbIo {
  env: Record<string, string | undefined>;
  stdout: { write(s: string): boolean };
  stderr: { write(s: string): boolean };
}

const defaultIo = (): DbIo => ({ env: process.env, stdout: process.stdout, stderr: process.stderr });

export interface DbFlags {
  databaseUrl?: string;
  dataDir?: string;
}

/** Adds --database-url and --data-dir to a command. */
export function addDatabaseOptions(cmd: Command): Command {
  return cmd
    .option('--database-url <url>', 'PostgreSQL URL (default: the embedded database) [env: DATABASE_URL]')
    .option('--data-dir <dir>', `embedded database directory (default: ${DEFAULT_DATA_DIR}) [env: SHOPSIM_DATA_DIR]`);
}

/** Flags > env > defaults, as openDatabase options, validated by the option table (src/config.ts). */
export function databaseOptionsFrom(flags: DbFlags, env: Record<string, string | undefined>): DatabaseOptions {
  const { config, sources } = resolveOptions<Pick<RunConfig, 'databaseUrl' | 'dataDir' | 'dbPoolSize'>>(specsFor('db'), { ...flags }, env);
  return {
    ...(config.databaseUrl ? { databaseUrl: config.databaseUrl } : {}),
    dataDir: config.dataDir,
    ...(sources.dbPoolSize ? { poolSize: config.dbPoolSize } : {}),
  };
}

export function registerDbCommand(program: Command, io: DbIo = defaultIo()): void {
  const db = program.command('db').description('database maintenance: migrate, connection info (see docs/database.md)');

  addDatabaseOptions(db.command('migrate').description('apply pending schema migrations and exit')).action(async (flags: DbFlags) => {
    const database = await openDatabase({ ...databaseOptionsFrom(flags, io.env), migrate: true, attachToRunning: true });
    try {
      const applied = database.migrations?.applied ?? [];
      io.stdout.write(
        applied.length > 0
          ? `Applied ${applied.length} migration(s) to ${database.describe()}: ${applied.join(', ')}\n`
          : `${database.describe()} is up to date (${database.migrations?.total ?? 0} migrations)\n`,
      );
    } finally {
      await database.close();
    }
  });

  addDatabaseOptions(db.command('url').description('print how to connect with psql to the database a run uses')).action(async (flags: DbFlags) => {
    const opts = databaseOptionsFrom(flags, io.env);
    if (opts.databaseUrl) {
      io.stdout.write(`External database ${describeDatabaseUrl(opts.databaseUrl)}: psql "$DATABASE_URL" (the URL is not printed, it may hold a password)\n`);
      return;
    }
    const dataDir = opts.dataDir ?? DEFAULT_DATA_DIR;
    const running = await findRunningEmbedded(dataDir);
    if (!running) {
      throw new ShopsimError(
        'E_DATABASE',
        `The embedded database in ${dataDir} is not running: it is served only while a shopsim process holds it (start \`shopsim run\`, then run this again; \`shopsim report\` reads it directly)`,
        { exitCode: 1 },
      );
    }
    io.stdout.write(`psql "${embeddedUrl(running.port)}"\n`);
    io.stderr.write(`shopsim: served by process ${running.pid} since ${running.startedAt}; a transaction left open in psql blocks the run's writes (the embedded database runs one transaction at a time)\n`);
  });
}
