// The CLI side's configuration reader: shared options (docs/DESIGN.md, "The CLI contract"), each with an
// environment variable and a local default from lib/config/defaults.ts, validated with zod.
import { Option, type Command } from 'commander';
import { z } from 'zod';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { tableExists } from '../lib/adapters/tables.ts';
import {
  ENV,
  LOCAL_QUEUE_NAMES,
  LOCAL_TABLE_NAMES,
  SEARCH_INDEX,
  TABLE_ENV,
} from '../lib/config/defaults.ts';
import { plainHttpSearchProblem } from '../lib/core/endpoints.ts';
import {
  ALL_MIGRATIONS,
  DEFAULT_MIGRATIONS,
  type MigrationName,
} from '../lib/core/migrations/index.ts';
import { KEY_ATTRIBUTES, type TableNames, type TableRole } from '../lib/core/types.ts';

export interface Config {
  tables: TableNames;
  queueName: string;
  dlqName: string;
  searchEndpoint: string | undefined;
  searchIndex: string;
}

const TABLE_DESCRIPTIONS: Record<TableRole, string> = {
  session: 'chat-session table',
  user: 'chat-user table',
  tag: 'tag definitions table',
};

const ROLES = Object.keys(KEY_ATTRIBUTES) as TableRole[];

/** One shared option: its flag, the Commander attribute it lands in, its variable and default. */
interface Shared {
  flags: string;
  attr: string;
  description: string;
  env: string;
  default?: string;
}

const SHARED: readonly Shared[] = [
  ...ROLES.map((role) => ({
    flags: `--${role}-table <name>`,
    attr: `${role}Table`,
    description: TABLE_DESCRIPTIONS[role],
    env: TABLE_ENV[role],
    default: LOCAL_TABLE_NAMES[role],
  })),
  {
    flags: '--queue-name <name>',
    attr: 'queueName',
    description: 'backfill work queue',
    env: ENV.queueName,
    default: LOCAL_QUEUE_NAMES.work,
  },
  {
    flags: '--dlq-name <name>',
    attr: 'dlqName',
    description: 'dead-letter queue',
    env: ENV.dlqName,
    default: LOCAL_QUEUE_NAMES.dlq,
  },
  {
    flags: '--search-endpoint <url>',
    attr: 'searchEndpoint',
    description: 'OpenSearch endpoint (search migration off when unset)',
    env: ENV.searchEndpoint,
  },
  {
    flags: '--search-index <name>',
    attr: 'searchIndex',
    description: 'OpenSearch session index',
    env: ENV.searchIndex,
    default: SEARCH_INDEX,
  },
  {
    flags: '--stack <name>',
    attr: 'stack',
    description:
      'a deployed streamfill stack: its outputs fill the tables, queues, state table and search settings not given as flags',
    env: ENV.stack,
  },
];

/** `--session-table / STREAMFILL_SESSION_TABLE`: how an error names a shared setting. */
export function settingName(attr: string): string {
  const s = SHARED.find((o) => o.attr === attr);
  return s ? `${s.flags.split(' ')[0]} / ${s.env}` : attr;
}

/** Adds the shared options to a command. */
export function withSharedOptions(cmd: Command): Command {
  for (const s of SHARED) {
    const opt = new Option(s.flags, s.description).env(s.env);
    cmd.addOption(s.default === undefined ? opt : opt.default(s.default));
  }
  return cmd;
}

const name = z.string().trim().min(1, { error: 'must not be empty' });
const url = z.url({ error: 'must be a URL' });

/**
 * Reads and validates the shared options; SEARCH_ENDPOINT is re-read at call time (services
 * may set it). Every error names the flag, the variable and the value.
 */
export function configFrom(opts: Record<string, unknown>): Config {
  const problems: string[] = [];
  const read = <T>(attr: string, schema: z.ZodType<T>, value: unknown = opts[attr]): T => {
    const r = schema.safeParse(value);
    if (r.success) return r.data;
    problems.push(
      `${settingName(attr)} ${r.error.issues[0]?.message ?? 'is invalid'}, got ${JSON.stringify(value)}`,
    );
    return undefined as T;
  };
  const endpoint = (opts.searchEndpoint as string | undefined) ?? process.env[ENV.searchEndpoint];
  const config: Config = {
    tables: Object.fromEntries(
      ROLES.map((role) => [role, read(`${role}Table`, name)]),
    ) as TableNames,
    queueName: read('queueName', name),
    dlqName: read('dlqName', name),
    searchEndpoint: endpoint ? read('searchEndpoint', url, endpoint) : undefined,
    searchIndex: read('searchIndex', name),
  };
  const insecure = config.searchEndpoint && plainHttpSearchProblem(config.searchEndpoint);
  if (insecure) problems.push(`${settingName('searchEndpoint')} ${insecure}`);
  if (problems.length) throw new Error(problems.join('; '));
  return config;
}

/** Parses an integer option value of at least `min`, with a specific error. */
function intAtLeast(option: string, min: number) {
  const schema = z.number().int().min(min);
  return (value: string): number => {
    const r = schema.safeParse(Number(value));
    if (!r.success) {
      const what = min === 0 ? 'a non-negative integer' : `an integer >= ${min}`;
      throw new Error(`${option} must be ${what}, got "${value}"`);
    }
    return r.data;
  };
}

export const positiveInt = (option: string) => intAtLeast(option, 1);
export const nonNegativeInt = (option: string) => intAtLeast(option, 0);

/** Fails with the flag and variable to fix when a table the command needs does not exist. */
export async function requireTable(
  dynamodb: DynamoDBClient,
  tables: TableNames,
  role: TableRole,
): Promise<void> {
  await requireNamedTable(dynamodb, tables[role], settingName(`${role}Table`));
}

/** The same for a table named by a command's own option (`setting` says which flag to fix). */
export async function requireNamedTable(
  dynamodb: DynamoDBClient,
  tableName: string,
  setting: string,
): Promise<void> {
  if (!(await tableExists(dynamodb, tableName))) {
    throw new Error(`table "${tableName}" does not exist (set ${setting})`);
  }
}

/**
 * `--migrations` (STREAMFILL_MIGRATIONS; a deployed stack's `Migrations` output with `--stack`):
 * the migrations a command checks, by registry name. Unknown names are refused, naming the known.
 */
export function migrationsOption(cmd: Command, purpose = 'to check'): Command {
  return cmd.addOption(
    new Option(
      '--migrations <names>',
      `comma-separated migrations ${purpose} (default: every default migration; with --stack, the deployed set)`,
    )
      .env(ENV.migrations)
      .argParser(parseMigrations),
  );
}

/** `a,b` → the registry names, or an error naming the unknown ones and the known. */
export function parseMigrations(value: string): MigrationName[] {
  const names = value
    .split(',')
    .map((n) => n.trim())
    .filter(Boolean);
  const unknown = names.filter((n) => !(ALL_MIGRATIONS as readonly string[]).includes(n));
  if (unknown.length || !names.length) {
    throw new Error(
      `--migrations / ${ENV.migrations} ${unknown.length ? `names unknown migrations ${unknown.join(', ')}` : 'is empty'}` +
        ` (known: ${ALL_MIGRATIONS.join(', ')})`,
    );
  }
  return names as MigrationName[];
}

/** The set to check: the given one (plus the opt-in contract steps with `contract`), else the defaults. */
export function migrationsToCheck(
  given: readonly MigrationName[] | string | undefined,
  contract: boolean,
): readonly MigrationName[] {
  const base = typeof given === 'string' ? parseMigrations(given) : (given ?? DEFAULT_MIGRATIONS);
  if (!contract) return base;
  const optIn = ALL_MIGRATIONS.filter((m) => !DEFAULT_MIGRATIONS.includes(m));
  return [...new Set([...base, ...optIn])];
}
