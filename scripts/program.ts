// The CLI's command tree: each subcommand lives in scripts/commands/ and is loaded only when it
// runs (or for the full help).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Command } from 'commander';
import { PACKAGE_ROOT } from '../local/cache-dir.ts';
import { stackHook } from './stack-options.ts';
import { guardTarget } from './target.ts';

type Register = (program: Command) => void;

// Read, not imported: an import of '../package.json' would resolve to dist/package.json once built.
const pkg = JSON.parse(readFileSync(join(PACKAGE_ROOT, 'package.json'), 'utf8')) as {
  version: string;
};

/**
 * Each subcommand's module, loaded only when that command runs (or for the full help): a
 * command pulls in its own SDK clients and engine, so `backfill` does not carry the benchmark's,
 * the demo's or the services' code (about 30 MB of RSS and a second of start-up).
 */
const COMMANDS: Record<string, () => Promise<Register>> = {
  services: async () => (await import('./commands/services.ts')).registerServicesCommand,
  seed: async () => (await import('./commands/seed.ts')).registerSeedCommand,
  run: async () => (await import('./commands/run.ts')).registerRunCommand,
  verify: async () => (await import('./commands/verify.ts')).registerVerifyCommand,
  backfill: async () => (await import('./commands/backfill.ts')).registerBackfillCommand,
  bench: async () => (await import('./commands/bench.ts')).registerBenchCommand,
  demo: async () => (await import('./commands/demo.ts')).registerDemoCommand,
  index: async () => (await import('./commands/index.ts')).registerIndexCommand,
  preflight: async () => (await import('./commands/preflight.ts')).registerPreflightCommand,
  status: async () => (await import('./commands/status.ts')).registerStatusCommand,
  redrive: async () => (await import('./commands/redrive.ts')).registerRedriveCommand,
  config: async () => (await import('./commands/config.ts')).registerConfigCommand,
  cutover: async () => (await import('./commands/cutover.ts')).registerCutoverCommand,
};

/**
 * The command `argv` names (its first non-option word), or every command when none is known.
 * `checks: false` leaves out the target checks and the stack lookup (to parse without acting).
 */
export async function buildProgram(
  argv: readonly string[] = [],
  options: { checks?: boolean } = {},
): Promise<Command> {
  const program = new Command('streamfill')
    .description(
      'Online DynamoDB data migrations: live changes via the stream, history via a backfill, no write freeze.',
    )
    .version(pkg.version, '-V, --version', 'print the streamfill version')
    .showHelpAfterError()
    .exitOverride()
    // Test data stays local; `--stack NAME` fills the settings the operator did not give from
    // the stack's outputs; a local default name never reaches AWS; the target is said first.
    .hook('preAction', (root, action) =>
      options.checks === false ? undefined : guardTarget(action, stackHook, root),
    );
  const named = argv.slice(2).find((a) => !a.startsWith('-'));
  const wanted = named !== undefined && named in COMMANDS ? [named] : Object.keys(COMMANDS);
  for (const register of await Promise.all(wanted.map((name) => COMMANDS[name]!())))
    register(program);
  return program;
}
