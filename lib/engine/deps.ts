// Builds the pipeline's adapters, the same way for the CLI, the local harness and the Lambda
// handlers (which read their settings from the environment once per container).
import { makeClients, type Clients } from '../adapters/clients.ts';
import { DeadLetters } from '../adapters/dead-letters.ts';
import { DynamoWriter } from '../adapters/dynamo-writer.ts';
import { SearchIndex } from '../adapters/search-index.ts';
import { UserTypeLookup } from '../adapters/user-type-lookup.ts';
import { lambdaConfig, type LambdaConfig } from '../config/lambda-env.ts';
import type { Planner } from '../core/config/planner.ts';
import { searchSpecFor, type MigrationName } from '../core/migrations/index.ts';
import type { TableNames } from '../core/types.ts';
import { bundledPlanner } from './bundled-config.ts';
import type { EngineDeps } from './migrate-items.ts';

export interface EngineDepsOptions {
  tables: TableNames;
  /** The OpenSearch index of session documents. */
  searchIndex: string;
  /** Conditional writes in flight. @default 16 (WRITE_CONCURRENCY) */
  writeConcurrency?: number;
  /** The migrations to apply. @default every registered one */
  migrations?: readonly MigrationName[] | undefined;
  /** The compiled config the engine plans with. @default the bundled config (bundled-config.ts) */
  planner?: Planner | undefined;
}

/**
 * The planner, the writer, the user lookup and (when the clients have a search endpoint) the search index,
 * handed the session migrations' search spec from the registry.
 *
 * @example
 * const deps = engineDeps(makeClients(), { tables, searchIndex: 'session' });
 */
export function engineDeps(clients: Clients, opts: EngineDepsOptions): EngineDeps {
  const spec = searchSpecFor('session');
  return {
    writer: new DynamoWriter(clients.doc, opts.tables, { concurrency: opts.writeConcurrency }),
    lookup: new UserTypeLookup(clients.doc, opts.tables.user),
    search: clients.search && spec && new SearchIndex(clients.search, opts.searchIndex, spec),
    planner: opts.planner ?? bundledPlanner(),
    ...(opts.migrations && { migrations: opts.migrations }),
  };
}

/** What a Lambda entry point needs, built once per container. */
export interface LambdaEngine {
  config: LambdaConfig;
  clients: Clients;
  deps: EngineDeps;
  /** Present when STREAMFILL_DLQ_URL is set. */
  deadLetters?: DeadLetters;
}

/**
 * Reads the function's environment (throws a ConfigError naming each bad variable) and builds
 * the clients and the pipeline's adapters from it.
 *
 * @param env @default process.env
 */
export function engineFromEnv(env: NodeJS.ProcessEnv = process.env): LambdaEngine {
  const config = lambdaConfig(env);
  const clients = makeClients({ searchEndpoint: config.searchEndpoint });
  const deps = engineDeps(clients, config);
  return {
    config,
    clients,
    deps,
    ...(config.dlqUrl && {
      deadLetters: new DeadLetters(clients.sqs, config.dlqUrl, {
        keepImages: config.dlqKeepImages,
      }),
    }),
  };
}
