// The CLI side's configuration reader: shared options (docs/DESIGN.md, "The CLI contract"), each with an
// environment variable and a local default from lib/config/defaults.ts, validated with zod.
import { Option, type Command } from 'commander';
import { z } from 'zod';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { tableExists } from '../lib/adapters/tables.ts';
import { ENV, LOCAL_QUEUE_NAMES, TABLE_ENV } from '../lib/config/defaults.ts';
import type { Planner } from '../lib/core/config/planner.ts';
import {
  resolveTableNames,
  TABLE_NAME_ENV,
  TABLE_NAME_FLAG,
  TableNameError,
  type PhysicalTableName,
} from '../lib/core/config/table-names.ts';
import { plainHttpSearchProblem } from '../lib/core/endpoints.ts';
import type { TableNames } from '../lib/core/types.ts';
import { loadPlanner, withConfigOptions, type PresetName } from './config-loader.ts';

export interface Config {
  /** Declared table name → physical name, for every table of the config. */
  tables: TableNames;
  queueName: string;
  dlqName: string;
  searchEndpoint: string | undefined;
  /** The physical name of the config's search index; undefined: its declared name. */
  searchIndex: string | undefined;
}

/**
 * The Pika preset's table flags (`--session-table` …), kept as aliases of `--table-name
 * session=…`: the declared name each one maps, and what it is.
 */
const TABLE_ALIASES = [
  { table: 'session', attr: 'sessionTable', description: "the Pika preset's chat-session table" },
  { table: 'user', attr: 'userTable', description: "the Pika preset's chat-user table" },
  { table: 'tag', attr: 'tagTable', description: "the Pika preset's tag definitions table" },
] as const;

/** One shared option: its flag, the Commander attribute it lands in, its variable and default. */
interface Shared {
  flags: string;
  attr: string;
  description: string;
  env: string;
  default?: string;
}

const SHARED: readonly Shared[] = [
  ...TABLE_ALIASES.map(({ table, attr, description }) => ({
    flags: `--${table}-table <name>`,
    attr,
    description: `${description} (an alias of --table-name ${table}=<name>)`,
    env: TABLE_ENV[table] as string,
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
    description: "the physical name of the config's search index (default: its declared name)",
    env: ENV.searchIndex,
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

/** Adds the shared options to a command: the config, the physical tables, queues, search. */
export function withSharedOptions(cmd: Command): Command {
  withConfigOptions(cmd);
  for (const s of SHARED) {
    const opt = new Option(s.flags, s.description).env(s.env);
    cmd.addOption(s.default === undefined ? opt : opt.default(s.default));
  }
  return cmd;
}

/** The option attribute `--stack` fills with the stack's declared → physical table names. */
export const STACK_TABLES = 'stackTables';

/**
 * The physical name of every declared table: `--table-name`, then the Pika aliases
 * (`--session-table` …, their variables and a stack's Pika outputs), then STREAMFILL_TABLES, then
 * the stack's `Tables` output, then the table's localName, then its declared name. An alias of a table the config does not
 * declare is refused, naming the config's tables.
 */
export function tableNameSources(
  opts: Record<string, unknown>,
  planner: Planner,
  env: NodeJS.ProcessEnv = process.env,
): ReadonlyMap<string, PhysicalTableName> {
  const declared = [...planner.resolved.tables.keys()];
  const problems: string[] = [];
  const flags = [...((opts.tableName as string[] | undefined) ?? [])];
  const named = new Set(flags.map((f) => f.slice(0, f.indexOf('=')).trim()));
  for (const { table, attr } of TABLE_ALIASES) {
    const value = opts[attr] as string | undefined;
    // `--table-name` wins over an alias (which a stack's Pika outputs may have filled).
    if (value === undefined || named.has(table)) continue;
    if (!declared.includes(table)) {
      problems.push(
        `${settingName(attr)} names the Pika preset's "${table}" table, which this config does not declare (declared: ${declared.join(', ')}): use --table-name <name>=<physical>`,
      );
    } else flags.push(`${table}=${value}`);
  }
  if (problems.length) throw new TableNameError(problems);
  const stack = opts[STACK_TABLES] as Readonly<Record<string, string>> | undefined;
  const names = resolveTableNames(planner.resolved.tables.values(), {
    flags,
    env: env[TABLE_NAME_ENV],
    ...(stack && { stack }),
  });
  return names;
}

/** The physical name of every declared table (see tableNameSources for the order). */
export function tableNamesOf(
  opts: Record<string, unknown>,
  planner: Planner,
  env: NodeJS.ProcessEnv = process.env,
): TableNames {
  const names = tableNameSources(opts, planner, env);
  return Object.fromEntries([...names].map(([table, p]) => [table, p.name]));
}

/**
 * The flag that names a declared table's physical table: its Pika alias (`--session-table`)
 * when it has one, else `--table-name <table>=NAME`, each with its variable.
 */
export function tableNameSetting(table: string): string {
  const alias = TABLE_ALIASES.find((a) => a.table === table);
  return alias
    ? `${settingName(alias.attr).split(' / ')[0]} NAME (or ${TABLE_ENV[alias.table]})`
    : `${TABLE_NAME_FLAG} ${table}=NAME (or ${TABLE_NAME_ENV})`;
}

/**
 * A command's loaded config and its settings: the planner (`--config`) and the validated shared
 * options. Nothing is touched before both are read.
 */
export async function commandConfig(
  opts: Record<string, unknown>,
): Promise<{ planner: Planner; config: Config }> {
  const planner = await loadPlanner({
    config: opts.config as string | undefined,
    preset: opts.preset as PresetName | undefined,
  });
  return { planner, config: configFrom(opts, planner) };
}

const name = z.string().trim().min(1, { error: 'must not be empty' });
const url = z.url({ error: 'must be a URL' });

/**
 * Reads and validates the shared options; SEARCH_ENDPOINT is re-read at call time (services
 * may set it). Every error names the flag, the variable and the value.
 */
export function configFrom(opts: Record<string, unknown>, planner: Planner): Config {
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
  let tables: TableNames = {};
  try {
    tables = tableNamesOf(opts, planner);
  } catch (e) {
    if (!(e instanceof TableNameError)) throw e;
    problems.push(...e.issues);
  }
  const config: Config = {
    tables,
    queueName: read('queueName', name),
    dlqName: read('dlqName', name),
    searchEndpoint: endpoint ? read('searchEndpoint', url, endpoint) : undefined,
    searchIndex:
      opts.searchIndex === undefined ? undefined : read('searchIndex', name, opts.searchIndex),
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
  table: string,
): Promise<void> {
  const alias = TABLE_ALIASES.find((a) => a.table === table);
  await requireNamedTable(
    dynamodb,
    tables[table] ?? table,
    `--table-name ${table}=<name>${alias ? ` or ${settingName(alias.attr)}` : ''}`,
  );
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
 * the migrations a command checks, by name; checked against the config by `migrationsToCheck`.
 */
export function migrationsOption(cmd: Command, purpose = 'to check'): Command {
  return cmd.addOption(
    new Option(
      '--migrations <names>',
      `comma-separated migrations ${purpose} (default: every default migration; with --stack, the deployed set)`,
    ).env(ENV.migrations),
  );
}

/** `a,b` → the config's migration names, or an error naming the unknown ones and the known. */
export function parseMigrations(value: string, planner: Planner): string[] {
  const names = value
    .split(',')
    .map((n) => n.trim())
    .filter(Boolean);
  const known = planner.allMigrations;
  const unknown = names.filter((n) => !known.includes(n));
  if (unknown.length || !names.length) {
    throw new Error(
      `--migrations / ${ENV.migrations} ${unknown.length ? `names unknown migrations ${unknown.join(', ')}` : 'is empty'}` +
        ` (known: ${known.join(', ')})`,
    );
  }
  return names;
}

/** The set to check: the given one (plus the opt-in steps with `contract`), else the defaults. */
export function migrationsToCheck(
  planner: Planner,
  given: readonly string[] | string | undefined,
  contract: boolean,
): readonly string[] {
  const base =
    typeof given === 'string'
      ? parseMigrations(given, planner)
      : (given ?? planner.defaultMigrations);
  if (!contract) return base;
  const optIn = planner.allMigrations.filter((m) => !planner.defaultMigrations.includes(m));
  return [...new Set([...base, ...optIn])];
}
