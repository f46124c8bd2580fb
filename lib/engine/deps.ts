// Builds the pipeline's adapters, the same way for the CLI, the local harness and the Lambda
// handlers (which read their settings from the environment once per container).
import { makeClients, type Clients } from '../adapters/clients.ts';
import { DeadLetters } from '../adapters/dead-letters.ts';
import { DependencyStore } from '../adapters/dependency-store.ts';
import { CopyWriter } from '../adapters/copy-writer.ts';
import { DynamoWriter } from '../adapters/dynamo-writer.ts';
import { LookupReader } from '../adapters/lookup-reader.ts';
import { SearchIndex } from '../adapters/search-index.ts';
import { lambdaConfig, type LambdaConfig } from '../config/lambda-env.ts';
import type { Planner } from '../core/config/planner.ts';
import type { DeclaredSearchSpec } from '../core/config/plan-search.ts';
import type { TableNames } from '../core/types.ts';
import { bundledPlanner } from './bundled-config.ts';
import type { EngineDeps } from './migrate-items.ts';

export interface EngineDepsOptions {
  /** Declared table name → physical name. */
  tables: TableNames;
  /** The physical name of the config's search index. @default its declared name */
  searchIndex?: string | undefined;
  /** Conditional writes in flight. @default 16 (WRITE_CONCURRENCY) */
  writeConcurrency?: number;
  /** The migrations to apply. @default the config's default ones */
  migrations?: readonly string[] | undefined;
  /** The compiled config the engine plans with. @default the bundled config (bundled-config.ts) */
  planner?: Planner | undefined;
  /** The state table (physical name): the copies' ledger. @default no copy writer */
  stateTable?: string | undefined;
}

/**
 * The one search index a config writes, merged over its migrated tables; undefined without
 * searches. One deployment serves one index: a second one is refused here, by name.
 */
export function configSearchSpec(planner: Planner): DeclaredSearchSpec | undefined {
  const specs = planner.migratedTables.flatMap((t) =>
    planner.searchSpecsFor(t, planner.allMigrations),
  );
  const indices = [...new Set(specs.map((s) => s.index))];
  if (indices.length > 1) {
    throw new Error(
      `the config declares searches on ${indices.length} indices (${indices.join(', ')}): one deployment serves one search index`,
    );
  }
  return specs[0];
}

/**
 * The planner, the writer, the lookup reader and (when the clients have a search endpoint)
 * the search index of the config's searches.
 *
 * @example
 * const deps = engineDeps(makeClients(), { tables: { orders: 'orders-prod' }, planner });
 */
export function engineDeps(clients: Clients, opts: EngineDepsOptions): EngineDeps {
  const planner = opts.planner ?? bundledPlanner();
  const spec = configSearchSpec(planner);
  const dependencies = opts.stateTable
    ? new DependencyStore(clients.doc, opts.stateTable)
    : undefined;
  return {
    writer: new DynamoWriter(clients.doc, opts.tables, { concurrency: opts.writeConcurrency }),
    lookups: new LookupReader(clients.doc, opts.tables, dependencies && { dependencies }),
    search:
      clients.search &&
      spec &&
      new SearchIndex(clients.search, opts.searchIndex ?? spec.index, spec),
    planner,
    ...(opts.stateTable && {
      copies: new CopyWriter(
        clients.doc,
        opts.tables,
        opts.stateTable,
        (t) => planner.table(t).key,
        { concurrency: opts.writeConcurrency },
      ),
    }),
    ...(dependencies && { dependencies }),
    ...(opts.migrations && { migrations: opts.migrations }),
  };
}

/** What a Lambda entry point needs, built once per container. */
export interface LambdaEngine {
  /** The config the function runs. */
  planner: Planner;
  config: LambdaConfig;
  clients: Clients;
  deps: EngineDeps;
  /** Present when STREAMFILL_DLQ_URL is set. */
  deadLetters?: DeadLetters;
}

/**
 * Reads the function's environment for the bundled config (throws a ConfigError naming each bad
 * variable) and builds the clients and the pipeline's adapters from it.
 *
 * @param env @default process.env
 * @param planner the config the function runs. @default bundledPlanner()
 */
export function engineFromEnv(
  env: NodeJS.ProcessEnv = process.env,
  planner: Planner = bundledPlanner(),
): LambdaEngine {
  const config = lambdaConfig(env, planner);
  const clients = makeClients({ searchEndpoint: config.searchEndpoint });
  const deps = engineDeps(clients, { ...config, planner });
  return {
    planner,
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
