// A deployed stack says which migrations it runs (output `Migrations`), and `verify --stack`
// checks that set by default; a flag still wins, and unknown names are refused.
import { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { stackOutputsFrom } from '../../../lib/adapters/stack-outputs.ts';
import { PIKA } from '../../support/pika.ts';
import { migrationsOption, migrationsToCheck, parseMigrations } from '../../../scripts/config.ts';
import { applyStackOutputs } from '../../../scripts/stack-options.ts';

const REQUIRED = [
  ['WorkQueueUrl', 'q'],
  ['DeadLetterQueueUrl', 'd'],
  ['StateTableName', 's'],
  ['SessionTableName', 'chat-session-prod'],
  ['UserTableName', 'chat-user-prod'],
  ['DashboardName', 'dash'],
  ['ConsumerFunctionName', 'fn'],
].map(([OutputKey, OutputValue]) => ({ OutputKey, OutputValue }));

const verifyLike = (args: string[]) => {
  const cmd = migrationsOption(new Command('verify'))
    .exitOverride()
    .action(() => {});
  cmd.parse(args, { from: 'user' });
  return cmd;
};

describe('the deployed migration set', () => {
  it('is read from the stack output Migrations', () => {
    const out = stackOutputsFrom('sf', [
      ...REQUIRED,
      { OutputKey: 'Migrations', OutputValue: 'session-sort-key' },
    ]);
    expect(out.migrations).toBe('session-sort-key');
  });

  it('fills --migrations unless the flag was given', () => {
    const fromStack = verifyLike([]);
    applyStackOutputs(fromStack, { migrations: 'session-sort-key' });
    expect(migrationsToCheck(PIKA, fromStack.opts().migrations, false)).toEqual([
      'session-sort-key',
    ]);
    const flag = verifyLike(['--migrations', 'session-user-type']);
    applyStackOutputs(flag, { migrations: 'session-sort-key' });
    expect(migrationsToCheck(PIKA, flag.opts().migrations, false)).toEqual(['session-user-type']);
  });

  it('defaults to the default migrations; --contract adds the opt-in steps', () => {
    expect(migrationsToCheck(PIKA, undefined, false)).toEqual(PIKA.defaultMigrations);
    expect(migrationsToCheck(PIKA, ['tag-usage-mode'], true)).toEqual([
      'tag-usage-mode',
      'tag-usage-mode-contract',
    ]);
  });

  it('refuses unknown names, naming the known ones', () => {
    expect(() => parseMigrations('session-sort-key,nope', PIKA)).toThrow(
      /names unknown migrations nope \(known: session-sort-key,/,
    );
    expect(() => parseMigrations(' , ', PIKA)).toThrow(/is empty/);
  });
});
