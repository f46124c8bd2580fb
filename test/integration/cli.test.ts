// The operator CLI as an operator runs it: a child process, exit codes and messages.
import { describe, expect, it } from 'vitest';
import { runCli } from '../support/cli.ts';
import { uniqueName, useLocalServices } from '../support/env.ts';

useLocalServices('cli');

const streamfill = (...args: string[]) => runCli(args);

describe('streamfill CLI', () => {
  it('has --help on every command of the contract', async () => {
    const commands = [
      ...['services', 'seed', 'run', 'verify', 'bench', 'demo', 'backfill', 'status', 'redrive'],
      ...['index status', 'preflight'],
    ];
    for (const cmd of commands) {
      const r = await streamfill(...cmd.split(' '), '--help');
      expect(r.code, cmd).toBe(0);
      expect(r.stdout).toContain(`Usage: streamfill ${cmd}`);
    }
  });

  it('rejects bad input with a specific message and a non-zero exit', async () => {
    const bad = await streamfill('seed', '--sessions', 'abc', '--users', '3');
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('--sessions must be a non-negative integer, got "abc"');
    const missing = await streamfill('verify', '--session-table', 'no-such-table');
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('table "no-such-table" does not exist');
  });

  it('seeds, then verify exits 1 with pending items and prints the JSON contract', async () => {
    const p = uniqueName('cli');
    const tables = ['--session-table', `${p}-s`, '--user-table', `${p}-u`, '--tag-table', `${p}-t`];
    const index = ['--search-index', `${p}-idx`];
    const seeded = await streamfill(
      'seed',
      '--sessions',
      '40',
      '--users',
      '5',
      ...tables,
      ...index,
    );
    expect(seeded.code).toBe(0);
    expect(seeded.stdout).toContain('seeded 40 sessions, 5 users');
    const v = await streamfill('verify', '--json', ...tables, ...index);
    expect(v.code).toBe(1);
    const report = JSON.parse(v.stdout);
    expect(report).toMatchObject({ checked: 40, pending: 32 });
  });
});
