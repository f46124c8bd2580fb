// Shared CLI options (DESIGN.md's contract): every one has an environment variable and a
// local default, so the same command works against the local stack and a real account.
import { Option, type Command } from 'commander';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { TableNames } from '../lib/adapters/dynamo-writer.ts';
import { tableExists } from '../lib/adapters/tables.ts';

export interface Config {
  tables: TableNames;
  queueName: string;
  dlqName: string;
  searchEndpoint: string | undefined;
  searchIndex: string;
}

const SHARED = [
  [
    '--session-table <name>',
    'chat-session table',
    'STREAMFILL_SESSION_TABLE',
    'chat-session-local',
  ],
  ['--user-table <name>', 'chat-user table', 'STREAMFILL_USER_TABLE', 'chat-user-local'],
  ['--tag-table <name>', 'tag definitions table', 'STREAMFILL_TAG_TABLE', 'pika-tag-def-local'],
  ['--queue-name <name>', 'backfill work queue', 'STREAMFILL_QUEUE', 'streamfill-work'],
  ['--dlq-name <name>', 'dead-letter queue', 'STREAMFILL_DLQ', 'streamfill-dlq'],
  [
    '--search-endpoint <url>',
    'OpenSearch endpoint (search migration off when unset)',
    'SEARCH_ENDPOINT',
    undefined,
  ],
  ['--search-index <name>', 'OpenSearch session index', 'STREAMFILL_SEARCH_INDEX', 'session'],
] as const;

/** Adds the shared options to a command. */
export function withSharedOptions(cmd: Command): Command {
  for (const [flags, description, env, def] of SHARED) {
    const opt = new Option(flags, description).env(env);
    cmd.addOption(def === undefined ? opt : opt.default(def));
  }
  return cmd;
}

/** Reads the shared options; SEARCH_ENDPOINT is re-read at call time (services may set it). */
export function configFrom(opts: Record<string, unknown>): Config {
  const s = (k: string): string => String(opts[k]);
  return {
    tables: { session: s('sessionTable'), user: s('userTable'), tag: s('tagTable') },
    queueName: s('queueName'),
    dlqName: s('dlqName'),
    searchEndpoint: (opts.searchEndpoint as string | undefined) ?? process.env.SEARCH_ENDPOINT,
    searchIndex: s('searchIndex'),
  };
}

/** Parses an integer option value of at least `min`, with a specific error. */
function intAtLeast(name: string, min: number) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < min) {
      const what = min === 0 ? 'a non-negative integer' : `an integer >= ${min}`;
      throw new Error(`${name} must be ${what}, got "${value}"`);
    }
    return n;
  };
}

export const positiveInt = (name: string) => intAtLeast(name, 1);
export const nonNegativeInt = (name: string) => intAtLeast(name, 0);

/** Fails with the flag and variable to fix when a table the command needs does not exist. */
export async function requireTable(
  dynamodb: DynamoDBClient,
  tableName: string,
  option: string,
): Promise<void> {
  if (!(await tableExists(dynamodb, tableName))) {
    throw new Error(`table "${tableName}" does not exist (set ${option})`);
  }
}
