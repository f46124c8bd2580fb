// The CLI's output conventions, on the real binary against the local services: `--version`,
// no ANSI codes on a piped stdout or with NO_COLOR, colour on a terminal that wants it.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { destroyClients, makeClients, type Clients } from '../../lib/adapters/clients.ts';
import { ensureQueues } from '../../lib/adapters/queues.ts';
import pkg from '../../package.json' with { type: 'json' };
import { runCli } from '../support/cli.ts';
import { uniqueName, useLocalServices } from '../support/env.ts';

useLocalServices('cli-output');

const ANSI = /\x1b\[/; // eslint-disable-line no-control-regex
let clients: Clients;
const p = uniqueName('out');
const statusArgs = ['status', '--queue-name', `${p}-work`, '--dlq-name', `${p}-dlq`];
statusArgs.push('--state-table', `${p}-state`, '--session-table', `${p}-s`);

/** The CLI on a pseudo-terminal (util-linux `script`), as an operator's shell runs it. */
async function onTerminal(args: string[], env: NodeJS.ProcessEnv): Promise<string> {
  const cmd = ['node', 'bin/streamfill.js', ...args].join(' ');
  const r = await promisify(execFile)('script', ['-qec', cmd, '/dev/null'], { env });
  return r.stdout;
}

beforeAll(async () => {
  clients = makeClients();
  await ensureQueues(clients.sqs, { queueName: `${p}-work`, dlqName: `${p}-dlq` });
});
afterAll(() => destroyClients(clients));

describe('CLI output', () => {
  it('--version prints the package version', async () => {
    const r = await runCli(['--version']);
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toBe(pkg.version);
  });

  it('a piped stdout gets no ANSI codes', async () => {
    const r = await runCli(statusArgs);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('DLQ: empty');
    expect(r.stdout).not.toMatch(ANSI);
  });

  it('a terminal gets colour, unless NO_COLOR is set', async () => {
    const env: NodeJS.ProcessEnv = { ...process.env, TERM: 'xterm' };
    delete env.NO_COLOR;
    delete env.CI; // an operator's shell, not a CI log
    expect(await onTerminal(statusArgs, env)).toMatch(ANSI);
    expect(await onTerminal(statusArgs, { ...env, CI: 'true' })).not.toMatch(ANSI);
    const plain = await onTerminal(statusArgs, { ...env, NO_COLOR: '1' });
    expect(plain).toContain('DLQ: empty');
    expect(plain).not.toMatch(ANSI);
  });
});
