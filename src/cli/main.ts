/**
 * The shopsim command line. Each command lives in its own file; this one only wires them.
 * Usage errors (unknown flag, missing value) are one line and exit 2.
 */
import { Command, CommanderError } from 'commander';
import { registerGenerateCommands } from './generate.ts';
import { registerRunCommand } from './run.ts';
import { registerCheckpointsCommand } from './checkpoints.ts';
import { registerReplayCommand } from './replay.ts';
import { registerServeCommand } from './serve.ts';
import { registerDbCommand } from './db.ts';
import { registerReportCommand } from './report.ts';
import { registerCtlCommand } from './ctl.ts';

export function buildProgram(): Command {
  const program = new Command();
  program
    .name('shopsim')
    .description('Persona-driven shoppers (XState actors) shopping against a store API on a time-scaled calendar.')
    .version('0.1.0')
    .exitOverride()
    .showHelpAfterError(false)
    .configureOutput({
      // Usage errors are one line: "shopsim: error: unknown option '--agnets' (Did you mean --agents?)".
      writeErr: (s) => process.stderr.write(s.startsWith('error:') ? `shopsim: ${s.trim().replace(/\s*\n\s*/g, ' ')}\n` : s),
    });
  const io = { env: process.env, stdout: process.stdout, stderr: process.stderr };
  registerRunCommand(program, io);
  registerGenerateCommands(program);
  registerServeCommand(program);
  registerReportCommand(program, io);
  registerDbCommand(program, io);
  registerCheckpointsCommand(program);
  registerReplayCommand(program);
  registerCtlCommand(program, io);
  for (const c of program.commands) c.exitOverride();
  return program;
}

export async function main(argv: string[]): Promise<void> {
  const program = buildProgram();
  try {
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
