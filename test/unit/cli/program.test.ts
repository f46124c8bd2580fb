// The command tree loads only the command that runs; help and typos still see every command.
import { describe, expect, it } from 'vitest';
import { buildProgram } from '../../../scripts/program.ts';

const ALL = [
  'services',
  'seed',
  'run',
  'verify',
  'backfill',
  'bench',
  'demo',
  'index',
  'preflight',
  'status',
  'redrive',
  'config',
  'cutover',
];
const names = async (...args: string[]) =>
  (await buildProgram(['node', 'streamfill', ...args])).commands.map((c) => c.name());

describe('the CLI program', () => {
  it('registers only the command named on the command line', async () => {
    expect(await names('status', '--json')).toEqual(['status']);
    expect(await names('backfill', 'pause', '--table', 'session')).toEqual(['backfill']);
    expect(await names('config', 'check', '--json')).toEqual(['config']);
  });

  it('registers every command for help, no command or an unknown one (so the error lists them)', async () => {
    expect(await names()).toEqual(ALL);
    expect(await names('--help')).toEqual(ALL);
    expect(await names('help', 'backfill')).toEqual(ALL);
    expect(await names('bakfill')).toEqual(ALL);
  });
});
