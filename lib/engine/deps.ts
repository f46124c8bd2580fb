// The adapters the pipeline needs, built the same way by the CLI and the Lambda handlers.
import type { Clients } from '../adapters/clients.ts';
import { DynamoWriter, type TableNames } from '../adapters/dynamo-writer.ts';
import { SearchIndex } from '../adapters/search-index.ts';
import { UserTypeLookup } from '../adapters/user-type-lookup.ts';
import type { EngineDeps } from './migrate-items.ts';

export function engineDeps(
  clients: Clients,
  opts: { tables: TableNames; searchIndex: string; writeConcurrency?: number },
): EngineDeps {
  return {
    writer: new DynamoWriter(clients.doc, opts.tables, { concurrency: opts.writeConcurrency }),
    lookup: new UserTypeLookup(clients.doc, opts.tables.user),
    search: clients.search && new SearchIndex(clients.search, opts.searchIndex),
  };
}
