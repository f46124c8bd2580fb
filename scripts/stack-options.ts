// `--stack NAME` (STREAMFILL_STACK): a deployed ContinuousBackfill stack's outputs fill every
// setting the operator did not give on the command line, so one name replaces queue names, the
// state table, the tables, the search settings and the consumer's function name.
import { CloudFormationClient } from '@aws-sdk/client-cloudformation';
import type { Command } from 'commander';
import {
  readStackOutputs,
  stackTableNames,
  type StackOutputs,
} from '../lib/adapters/stack-outputs.ts';
import type { StackOutputKey } from '../lib/config/defaults.ts';
import { STACK_TABLES } from './config.ts';

/** Commander option attribute → the stack output that fills it. */
export const STACK_FILLS: Readonly<Record<string, StackOutputKey>> = {
  sessionTable: 'sessionTable',
  userTable: 'userTable',
  tagTable: 'tagTable',
  queueName: 'workQueueName',
  dlqName: 'dlqName',
  stateTable: 'stateTable',
  searchEndpoint: 'searchEndpoint',
  searchIndex: 'searchIndex',
  consumerFunction: 'consumerFunction',
  migrations: 'migrations',
};

/**
 * Sets, on `cmd`, every option it has that the stack fills and that was not given on the
 * command line (a flag always wins; a stack output beats an environment variable or a default).
 * Returns the attributes it set.
 */
export function applyStackOutputs(cmd: Command, outputs: StackOutputs): string[] {
  const known = new Set(cmd.options.map((o) => o.attributeName()));
  const set: string[] = [];
  for (const [attr, key] of Object.entries(STACK_FILLS)) {
    const value = outputs[key];
    if (!known.has(attr) || value === undefined) continue;
    if (cmd.getOptionValueSource(attr) === 'cli') continue;
    cmd.setOptionValueWithSource(attr, value, 'config');
    set.push(attr);
  }
  return set;
}

/** The root program's preAction hook: reads the stack once and fills the action's options. */
export async function stackHook(
  _root: Command,
  action: Command,
  read: (stack: string) => Promise<StackOutputs> = (stack) =>
    readStackOutputs(new CloudFormationClient({}), stack),
): Promise<void> {
  const stack = action.opts().stack as string | undefined;
  if (!stack) return;
  const outputs = await read(stack);
  applyStackOutputs(action, outputs);
  // The declared tables' physical names (`Tables`): below --table-name and STREAMFILL_TABLES.
  if (outputs.tables !== undefined)
    action.setOptionValueWithSource(STACK_TABLES, stackTableNames(stack, outputs), 'config');
}
