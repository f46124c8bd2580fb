// The Lambda side's configuration reader: the function's environment (set by the CDK
// construct), validated once per container; every error names the variable and its value.
import { z } from 'zod';
import { ALL_MIGRATIONS, type MigrationName } from '../core/migrations/index.ts';
import type { TableNames } from '../core/types.ts';
import { ENV, SEARCH_INDEX, WRITE_CONCURRENCY } from './defaults.ts';

export interface LambdaConfig {
  tables: TableNames;
  /** Unset: the search migrations are off. */
  searchEndpoint: string | undefined;
  searchIndex: string;
  writeConcurrency: number;
  /** Where malformed items are parked; unset: they are retried like any failure. */
  dlqUrl: string | undefined;
  /** Backfill worker: the work queue (scan continuations, rescheduled search repairs). */
  workQueueUrl: string | undefined;
  /** Backfill worker: the state table where scan-segment tasks save their checkpoint. */
  stateTable: string | undefined;
  /** The migrations to apply (STREAMFILL_MIGRATIONS, set by ContinuousBackfill); unset: all. */
  migrations: readonly MigrationName[] | undefined;
  /** Parked DLQ messages keep item images (STREAMFILL_DLQ_KEEP_IMAGES); default false. */
  dlqKeepImages: boolean;
}

/** A configuration problem: the message names the setting and the bad value. */
export class ConfigError extends Error {
  override name = 'ConfigError';
}

const required = z.string({ error: 'is required' }).trim().min(1, { error: 'is required' });
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

// Names from the registry: a typo must stop the function, never silently skip a migration.
const migrationList = z
  .string()
  .trim()
  .optional()
  .transform((v, ctx) => {
    if (v === undefined || v === '') return undefined;
    const names = v.split(',').map((n) => n.trim());
    const unknown = names.filter((n) => !(ALL_MIGRATIONS as readonly string[]).includes(n));
    if (unknown.length) {
      ctx.addIssue({
        code: 'custom',
        message: `names unknown migrations ${unknown.join(', ')} (known: ${ALL_MIGRATIONS.join(', ')})`,
      });
      return z.NEVER;
    }
    return names as MigrationName[];
  });

const schema = z.object({
  [ENV.sessionTable]: required,
  [ENV.userTable]: required,
  [ENV.tagTable]: optional,
  [ENV.searchEndpoint]: optional,
  [ENV.searchIndex]: optional,
  [ENV.writeConcurrency]: positiveInt,
  [ENV.dlqUrl]: optional,
  [ENV.workQueueUrl]: optional,
  [ENV.stateTable]: optional,
  [ENV.migrations]: migrationList,
  [ENV.dlqKeepImages]: z
    .string()
    .trim()
    .toLowerCase()
    .optional()
    .refine((v) => v === undefined || ['', 'true', 'false', '1', '0'].includes(v), {
      message: 'must be true or false',
    }),
});

/**
 * Reads the Lambda function's configuration from its environment.
 *
 * @param env the variables to read. @default process.env
 * @throws ConfigError listing every bad variable with its value
 * @example
 * const config = lambdaConfig(); // { tables: { session, user, tag }, searchIndex: 'session', … }
 */
export function lambdaConfig(env: NodeJS.ProcessEnv = process.env): LambdaConfig {
  const parsed = schema.safeParse(env);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => {
      const name = String(issue.path[0]);
      const value = env[name];
      return value === undefined
        ? `environment variable ${name} ${issue.message}`
        : `environment variable ${name} ${issue.message}, got ${JSON.stringify(value)}`;
    });
    throw new ConfigError(problems.join('; '));
  }
  const v = parsed.data;
  return {
    tables: {
      session: v[ENV.sessionTable],
      user: v[ENV.userTable],
      // The stream consumer never touches tags; the name only matters to the backfill worker.
      tag: v[ENV.tagTable] ?? '',
    },
    searchEndpoint: v[ENV.searchEndpoint],
    searchIndex: v[ENV.searchIndex] ?? SEARCH_INDEX,
    writeConcurrency: v[ENV.writeConcurrency] ?? WRITE_CONCURRENCY,
    dlqUrl: v[ENV.dlqUrl],
    workQueueUrl: v[ENV.workQueueUrl],
    stateTable: v[ENV.stateTable],
    migrations: v[ENV.migrations],
    dlqKeepImages: v[ENV.dlqKeepImages] === 'true' || v[ENV.dlqKeepImages] === '1',
  };
}
