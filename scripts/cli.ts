// The one operator CLI. Each subcommand lives in scripts/commands/ and only wires
// options to library functions.
import { Command, CommanderError } from 'commander';
import { ENV } from '../lib/config/defaults.ts';
import { registerBackfillCommand } from './commands/backfill.ts';
import { registerBenchCommand } from './commands/bench.ts';
import { registerDemoCommand } from './commands/demo.ts';
import { registerIndexCommand } from './commands/index.ts';
import { registerPreflightCommand } from './commands/preflight.ts';
import { registerRedriveCommand } from './commands/redrive.ts';
import { registerRunCommand } from './commands/run.ts';
import { registerSeedCommand } from './commands/seed.ts';
import { registerServicesCommand } from './commands/services.ts';
import { registerStatusCommand } from './commands/status.ts';
import { registerVerifyCommand } from './commands/verify.ts';
import { stackHook } from './stack-options.ts';

export function buildProgram(): Command {
  const program = new Command('streamfill')
    .description(
      'Online DynamoDB data migrations: live changes via the stream, history via a backfill, no write freeze.',
    )
    .showHelpAfterError()
    .exitOverride()
    // `--stack NAME`: fill the settings the operator did not give from the stack's outputs.
    .hook('preAction', (root, action) => stackHook(root, action));
  registerServicesCommand(program);
  registerSeedCommand(program);
  registerRunCommand(program);
  registerVerifyCommand(program);
  registerBackfillCommand(program);
  registerBenchCommand(program);
  registerDemoCommand(program);
  registerIndexCommand(program);
  registerPreflightCommand(program);
  registerStatusCommand(program);
  registerRedriveCommand(program);
  return program;
}

export async function main(argv: string[]): Promise<number> {
  try {
    await buildProgram().parseAsync(argv);
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (e) {
    if (e instanceof CommanderError) return e.exitCode;
    console.error(`streamfill: ${(e as Error).message}`);
    if (process.env[ENV.debug]) console.error(e);
    return 1;
  }
}

process.exitCode = await main(process.argv);
