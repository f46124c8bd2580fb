// The one operator CLI. Each subcommand lives in scripts/commands/ and only wires
// options to library functions.
import { CommanderError } from 'commander';
import { ENV } from '../lib/config/defaults.ts';
import { describeConnectionError } from './connection-errors.ts';
import { nodeSupportNotice } from './node-support.ts';
import { buildProgram } from './program.ts';

export async function main(argv: string[]): Promise<number> {
  try {
    await (await buildProgram(argv)).parseAsync(argv);
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (e) {
    if (e instanceof CommanderError) return e.exitCode;
    console.error(`streamfill: ${describeConnectionError(e, process.env) ?? (e as Error).message}`);
    if (process.env[ENV.debug]) console.error(e);
    return 1;
  }
}

const notice = nodeSupportNotice(process.version, process.env);
if (notice) console.error(notice);
process.exitCode = await main(process.argv);
