// Wires adapters for a CLI command from its Config. Handlers build the same objects from
// their Lambda environment; nothing here holds migration rules.
import {
  DynamoStateStore,
  FileStateStore,
  ensureStateTable,
  type BackfillStateStore,
} from '../lib/adapters/backfill-state.ts';
import { makeClients, destroyClients, type Clients } from '../lib/adapters/clients.ts';
import type { DynamoWriter } from '../lib/adapters/dynamo-writer.ts';
import type { SearchIndex } from '../lib/adapters/search-index.ts';
import type { LookupReader } from '../lib/adapters/lookup-reader.ts';
import type { Planner } from '../lib/core/config/planner.ts';
import { engineDeps } from '../lib/engine/deps.ts';
import type { EngineDeps } from '../lib/engine/migrate-items.ts';
import type { LocalRunnerOptions } from '../local/runner.ts';
import type { Config } from './config.ts';

export interface Runtime extends EngineDeps {
  writer: DynamoWriter;
  lookups: LookupReader;
  search: SearchIndex | undefined;
  clients: Clients;
  config: Config;
  close(): void;
}

/** `planner`: the loaded config's (loadPlanner), default the bundled one (the Pika preset). */
export function makeRuntime(
  config: Config,
  options: {
    writeConcurrency?: number;
    planner?: Planner;
    migrations?: readonly string[];
    /** The state table: the copies' ledger (without it a config's copies fail, saying so). */
    stateTable?: string;
  } = {},
): Runtime {
  const clients = makeClients({ searchEndpoint: config.searchEndpoint });
  const deps = engineDeps(clients, {
    tables: config.tables,
    searchIndex: config.searchIndex,
    ...options,
  });
  return { ...deps, search: deps.search, clients, config, close: () => destroyClients(clients) };
}

/** What the local runner consumes and where it parks failures, from a command's runtime. */
export function runnerTargets(
  rt: Runtime,
): Pick<LocalRunnerOptions, 'clients' | 'deps' | 'tables' | 'queueName' | 'dlqName'> {
  const { tables, queueName, dlqName } = rt.config;
  return { clients: rt.clients, deps: rt, tables, queueName, dlqName };
}

/** Where the backfill state lives: a local JSON file when given, else the DynamoDB state table. */
export interface StateStoreOptions {
  /** `--state-table` / STREAMFILL_STATE_TABLE (created when missing). */
  stateTable: string;
  /** `--checkpoint-file`: a local JSON file instead of the table. */
  checkpointFile?: string;
}

/**
 * The backfill state store of a command (run record, checkpoints, consumer heartbeat); the
 * DynamoDB table is created (on demand) when missing.
 */
export async function makeStateStore(
  clients: Clients,
  opts: StateStoreOptions,
): Promise<BackfillStateStore> {
  if (opts.checkpointFile) return new FileStateStore(opts.checkpointFile);
  await ensureStateTable(clients.dynamodb, opts.stateTable);
  return new DynamoStateStore(clients.doc, opts.stateTable);
}
