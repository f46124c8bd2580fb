// `--stack`: a deployed stack's outputs fill what the operator did not give; a flag always wins.
import { Command, Option } from 'commander';
import { describe, expect, it } from 'vitest';
import { applyStackOutputs, stackHook } from '../../../scripts/stack-options.ts';
import { tableNamesOf, withSharedOptions } from '../../../scripts/config.ts';
import { bundledPlanner } from '../../../lib/engine/bundled-config.ts';

function parse(args: string[], env: Record<string, string> = {}): Command {
  const saved = { ...process.env };
  // Only `env` sets the settings: an operator's exported STREAMFILL_* or SEARCH_ENDPOINT must not.
  for (const k of Object.keys(process.env))
    if (k.startsWith('STREAMFILL_') || k === 'SEARCH_ENDPOINT') delete process.env[k];
  Object.assign(process.env, env);
  try {
    const cmd = withSharedOptions(new Command('x'))
      .addOption(new Option('--state-table <name>').default('streamfill-state-local'))
      .exitOverride()
      .action(() => {});
    cmd.parse(args, { from: 'user' });
    return cmd;
  } finally {
    process.env = saved;
  }
}

const OUTPUTS = {
  sessionTable: 'chat-session-prod',
  userTable: 'chat-user-prod',
  workQueueName: 'sf-WorkQueue-abc',
  dlqName: 'sf-Dlq-abc',
  stateTable: 'sf-StateTable-abc',
  searchIndex: 'session',
};

describe('--stack', () => {
  it('fills defaults and environment values from the outputs, keeps flags', () => {
    const cmd = parse(['--user-table', 'my-users'], { STREAMFILL_QUEUE: 'from-env' });
    const set = applyStackOutputs(cmd, OUTPUTS);
    const o = cmd.opts();
    expect(o.sessionTable).toBe('chat-session-prod');
    expect(o.userTable).toBe('my-users');
    expect(o.queueName).toBe('sf-WorkQueue-abc');
    expect(o.dlqName).toBe('sf-Dlq-abc');
    expect(o.stateTable).toBe('sf-StateTable-abc');
    expect(set).not.toContain('userTable');
    // No output for the tag table or search endpoint: they keep what they had (the tag
    // table's physical name then comes from the config's localName).
    expect(o.tagTable).toBeUndefined();
    expect(o.searchEndpoint).toBeUndefined();
  });

  it('reads the stack only when --stack is given', async () => {
    const reads: string[] = [];
    const read = async (s: string) => {
      reads.push(s);
      return OUTPUTS;
    };
    const without = parse([]);
    await stackHook(without, without, read);
    expect(reads).toEqual([]);
    expect(without.opts().sessionTable).toBeUndefined();

    const withStack = parse(['--stack', 'streamfill-prod']);
    await stackHook(withStack, withStack, read);
    expect(reads).toEqual(['streamfill-prod']);
    expect(withStack.opts().sessionTable).toBe('chat-session-prod');
  });

  it("gives the stack's Tables output to the table names, below --table-name", async () => {
    const cmd = parse(['--stack', 'orders-prod', '--table-name', 'session=flagged']);
    await stackHook(cmd, cmd, async () => ({
      ...OUTPUTS,
      tables: JSON.stringify({ session: 'from-stack', tag: 'tags-from-stack' }),
    }));
    const names = tableNamesOf(cmd.opts(), bundledPlanner(), {});
    expect(names.session).toBe('flagged');
    expect(names.tag).toBe('tags-from-stack');
  });
});
