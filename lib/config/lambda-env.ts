// The Lambda side's configuration reader: the function's environment (set by the CDK
// construct), validated once per container; every error names the variable and its value.
import { z } from 'zod';
import type { Planner } from '../core/config/planner.ts';
import { resolveTableNames, TABLE_NAME_ENV, TableNameError } from '../core/config/table-names.ts';
import type { TableNames } from '../core/types.ts';
import { CONFIG_FINGERPRINT_ENV, configFingerprint } from './config-fingerprint.ts';
import { ENV, WRITE_CONCURRENCY } from './defaults.ts';

export interface LambdaConfig {
  tables: TableNames;
  /** Unset: the search migrations are off. */
  searchEndpoint: string | undefined;
  /** The search index's physical name; undefined: the one the config declares. */
  searchIndex: string | undefined;
  writeConcurrency: number;
  /** Where malformed items are parked; unset: they are retried like any failure. */
  dlqUrl: string | undefined;
  /** Backfill worker: the work queue (scan continuations, rescheduled search repairs). */
  workQueueUrl: string | undefined;
  /** Backfill worker: the state table where scan-segment tasks save their checkpoint. */
  stateTable: string | undefined;
  /** The migrations to apply (STREAMFILL_MIGRATIONS, set by ContinuousBackfill); unset: the defaults. */
  migrations: readonly string[] | undefined;
  /** Parked DLQ messages keep item images (STREAMFILL_DLQ_KEEP_IMAGES); default false. */
  dlqKeepImages: boolean;
}

/** A configuration problem: the message names the setting and the bad value. */
export class ConfigError extends Error {
  override name = 'ConfigError';
}

const optional = z
  .string()
  .trim()
  .optional()
  .transform((v) => v || undefined);
const positiveInt = z
  .string()
  .trim()
  .optional()
  .transform((v, ctx) => {
    if (v === undefined || v === '') return undefined;
    const n = Number(v);
    if (!Number.isInteger(n) || n < 1) {
      ctx.addIssue({ code: 'custom', message: 'must be a positive integer' });
      return z.NEVER;
    }
    return n;
  });

// Names from the config: a typo must stop the function, never silently skip a migration.
const migrationList = (known: readonly string[]) =>
  z
    .string()
    .trim()
    .optional()
    .transform((v, ctx) => {
      if (v === undefined || v === '') return undefined;
      const names = v.split(',').map((n) => n.trim());
      const unknown = names.filter((n) => !known.includes(n));
      if (unknown.length) {
        ctx.addIssue({
          code: 'custom',
          message: `names unknown migrations ${unknown.join(', ')} (known: ${known.join(', ')})`,
        });
        return z.NEVER;
      }
      return names;
    });

const schema = (known: readonly string[]) =>
  z.object({
    [ENV.searchEndpoint]: optional,
    [ENV.searchIndex]: optional,
    [ENV.writeConcurrency]: positiveInt,
    [ENV.dlqUrl]: optional,
    [ENV.workQueueUrl]: optional,
    [ENV.stateTable]: optional,
    [ENV.migrations]: migrationList(known),
    [ENV.dlqKeepImages]: z
      .string()
      .trim()
      .toLowerCase()
      .optional()
      .refine((v) => v === undefined || ['', 'true', 'false', '1', '0'].includes(v), {
        message: 'must be true or false',
      }),
  });

// The Pika variables predate STREAMFILL_TABLES; they name the preset's tables and nothing else.
const LEGACY_PIKA = { session: ENV.sessionTable, user: ENV.userTable, tag: ENV.tagTable } as const;
const isPikaConfig = (planner: Planner): boolean => {
  const declared = [...planner.resolved.tables.keys()].sort();
  return declared.join(',') === 'session,tag,user';
};

/**
 * Declared table name → physical name from STREAMFILL_TABLES, every table the enabled migrations
 * migrate or look up named (a deployment may leave the others out); for the Pika preset without
 * it, from the legacy STREAMFILL_SESSION/USER/TAG_TABLE. Returns the problems instead of
 * throwing so they join the other variables' ones.
 */
function tablesFromEnv(
  env: NodeJS.ProcessEnv,
  planner: Planner,
  migrations: readonly string[],
): { tables: TableNames; problems: string[] } {
  const raw = env[TABLE_NAME_ENV];
  const declared = [...planner.resolved.tables.keys()];
  if ((raw === undefined || raw.trim() === '') && isPikaConfig(planner)) {
    const problems: string[] = [];
    const name = (v: string | undefined) => v?.trim() || undefined;
    for (const table of ['session', 'user'] as const) {
      if (!name(env[LEGACY_PIKA[table]]))
        problems.push(
          `environment variable ${TABLE_NAME_ENV} is required (or, for the Pika preset, ${LEGACY_PIKA.session} and ${LEGACY_PIKA.user}): ${LEGACY_PIKA[table]} is missing`,
        );
    }
    return {
      tables: {
        session: name(env[LEGACY_PIKA.session]) ?? '',
        user: name(env[LEGACY_PIKA.user]) ?? '',
        // The stream consumer never touches tags; the name only matters to the backfill worker.
        tag: name(env[LEGACY_PIKA.tag]) ?? '',
      },
      problems,
    };
  }
  if (raw === undefined || raw.trim() === '')
    return {
      tables: {},
      problems: [
        `environment variable ${TABLE_NAME_ENV} is required: a JSON object naming the physical table of ${declared.join(', ')}`,
      ],
    };
  try {
    const names = resolveTableNames(planner.resolved.tables.values(), { env: raw });
    // In Lambda a table falls back to nothing: its localName or declared name is a guess.
    const needed = new Set(
      migrations.flatMap((m) => {
        const table = planner.summaries.get(m)?.table;
        return table === undefined
          ? []
          : [table, ...planner.lookupsFor(table, [m]).map((l) => l.table.name)];
      }),
    );
    const missing = [...names]
      .filter(([t, n]) => n.from !== 'env' && needed.has(t))
      .map(([t]) => t);
    if (missing.length)
      return {
        tables: {},
        problems: [
          `environment variable ${TABLE_NAME_ENV} names no physical table for ${missing.join(', ')}, got ${JSON.stringify(raw)}`,
        ],
      };
    const named = [...names].filter(([, n]) => n.from === 'env');
    return { tables: Object.fromEntries(named.map(([t, n]) => [t, n.name])), problems: [] };
  } catch (e) {
    if (!(e instanceof TableNameError)) throw e;
    return { tables: {}, problems: e.issues.map((i) => `environment variable ${i}`) };
  }
}

/**
 * Reads the Lambda function's configuration from its environment, for the config it runs.
 *
 * @param env the variables to read
 * @param planner the bundled config: its tables must all be named, its migrations are the known ones
 * @throws ConfigError listing every bad variable with its value, or naming a bundle whose config
 *   is not the one the environment was made for (STREAMFILL_CONFIG_FINGERPRINT)
 * @example
 * const config = lambdaConfig(process.env, bundledPlanner()); // { tables: { orders: 'orders-prod' }, … }
 */
export function lambdaConfig(env: NodeJS.ProcessEnv, planner: Planner): LambdaConfig {
  // Checked first: with the wrong config in the bundle every other message would mislead.
  const expected = env[CONFIG_FINGERPRINT_ENV]?.trim();
  const actual = configFingerprint(planner);
  if (expected && expected !== actual) {
    throw new ConfigError(
      `environment variable ${CONFIG_FINGERPRINT_ENV} is ${JSON.stringify(expected)} but the bundled config's fingerprint is ${JSON.stringify(actual)}: the function's code and environment come from different configs; deploy them together`,
    );
  }
  const parsed = schema(planner.allMigrations).safeParse(env);
  const enabled = (parsed.success && parsed.data[ENV.migrations]) || planner.defaultMigrations;
  const tables = tablesFromEnv(env, planner, enabled);
  if (!parsed.success || tables.problems.length) {
    const problems = (parsed.error?.issues ?? []).map((issue) => {
      const name = String(issue.path[0]);
      const value = env[name];
      return value === undefined
        ? `environment variable ${name} ${issue.message}`
        : `environment variable ${name} ${issue.message}, got ${JSON.stringify(value)}`;
    });
    throw new ConfigError([...tables.problems, ...problems].join('; '));
  }
  const v = parsed.data;
  return {
    tables: tables.tables,
    searchEndpoint: v[ENV.searchEndpoint],
    searchIndex: v[ENV.searchIndex],
    writeConcurrency: v[ENV.writeConcurrency] ?? WRITE_CONCURRENCY,
    dlqUrl: v[ENV.dlqUrl],
    workQueueUrl: v[ENV.workQueueUrl],
    stateTable: v[ENV.stateTable],
    migrations: v[ENV.migrations],
    dlqKeepImages: v[ENV.dlqKeepImages] === 'true' || v[ENV.dlqKeepImages] === '1',
  };
}
