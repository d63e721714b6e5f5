/**
 * The shopsim command line. Each command lives in its own file; this one only wires them.
 * Usage errors (unknown flag, missing value) are one line and exit 2.
 *
 * Start-up time: a command's module (and what it pulls in: XState, PGlite, fastify, slonik…)
 * is imported only when that command runs; `shopsim --help` loads them all to list them.
 */
import { Command, CommanderError } from 'commander';
import { packageVersion } from '../version.ts';

type Io = { env: NodeJS.ProcessEnv; stdout: NodeJS.WriteStream; stderr: NodeJS.WriteStream };

/** Command name → how to register it. Several names may share one module. */
const COMMANDS: Record<string, (program: Command, io: Io) => Promise<void>> = {
  run: async (p, io) => (await import('./run.ts')).registerRunCommand(p, io),
  personas: async (p) => (await import('./generate.ts')).registerGenerateCommands(p, ['personas']),
  products: async (p) => (await import('./generate.ts')).registerGenerateCommands(p, ['products']),
  serve: async (p) => (await import('./serve.ts')).registerServeCommand(p),
  report: async (p, io) => (await import('./report.ts')).registerReportCommand(p, io),
  db: async (p, io) => (await import('./db.ts')).registerDbCommand(p, io),
  runs: async (p, io) => (await import('./runs.ts')).registerRunsCommand(p, io),
  clean: async (p, io) => (await import('./runs.ts')).registerCleanCommand(p, io),
  checkpoints: async (p) => (await import('./checkpoints.ts')).registerCheckpointsCommand(p),
  replay: async (p) => (await import('./replay.ts')).registerReplayCommand(p),
  calibrate: async (p, io) => (await import('./calibrate.ts')).registerCalibrateCommand(p, io),
  ctl: async (p, io) => (await import('./ctl.ts')).registerCtlCommand(p, io),
  worker: async (p, io) => (await import('./worker.ts')).registerWorkerCommand(p, io),
};

export { packageVersion } from '../version.ts';

const TOP_HELP = `
Examples:
  shopsim run --mock-api --mock-db --fast -c 24     one simulated day, nothing outside the process
  shopsim run -a 50 --duration 10m                  50 agents for ten real minutes, bundled store
  shopsim serve --port 8787                         the reference store alone (another terminal)
  shopsim run --api-url http://127.0.0.1:8787 --fast -c 24
  shopsim run --resume                              continue the newest checkpoint
  shopsim personas generate --count 1000 --out data/personas.json
  shopsim products generate --count 500 --out data/products.json
  shopsim report                                    funnel and revenue of the newest run
  shopsim runs list                                 runs in the database, with their checkpoints
  shopsim checkpoints list                          checkpoint files on disk

Every command has --help. Options and environment variables: docs/cli.md.
`;

/**
 * The program with the commands `argv` needs: the one it names, or all of them (help, an
 * unknown command, no command).
 */
export async function buildProgram(argv: string[] = []): Promise<Command> {
  const program = new Command();
  program
    .name('shopsim')
    .description('Persona-driven shoppers (XState actors) shopping against a store API on a time-scaled calendar.')
    .version(packageVersion(), '-V, --version')
    .exitOverride()
    .showHelpAfterError(false)
    .addHelpText('after', TOP_HELP)
    .configureOutput({
      // Usage errors are one line: "shopsim: error: unknown option '--agnets' (Did you mean --agents?)".
      writeErr: (s) => process.stderr.write(s.startsWith('error:') ? `shopsim: ${s.trim().replace(/\s*\n\s*/g, ' ')}\n` : s),
    });
  const io: Io = { env: process.env, stdout: process.stdout, stderr: process.stderr };
  const named = argv.slice(2).find((a) => !a.startsWith('-'));
  const wanted = named !== undefined && argv[2] === named && named in COMMANDS ? [named] : Object.keys(COMMANDS);
  for (const name of wanted) await COMMANDS[name]!(program, io);
  for (const c of program.commands) c.exitOverride();
  return program;
}

export async function main(argv: string[]): Promise<void> {
  try {
    const program = await buildProgram(argv);
    await program.parseAsync(argv);
  } catch (err) {
    if (err instanceof CommanderError) {
      if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.code === 'commander.help') {
        process.exitCode = 0;
        return;
      }
      process.exitCode = 2;
      return;
    }
    const msg = err instanceof Error ? err.message : String(err);
    process.stderr.write(`shopsim: ${msg.split('\n')[0]}\n`);
    process.exitCode = (err as { exitCode?: number }).exitCode ?? 1;
  }
}

await main(process.argv);
// Large actor trees are not stopped one by one (XState's stop() is quadratic in children):
// once the command is done, the process ends.
if (!process.env['SHOPSIM_NO_EXIT']) {
  const code = typeof process.exitCode === 'number' ? process.exitCode : 0;
  process.stdout.write('', () => process.exit(code));
}
