// Creates Pika-shaped tables and the session index, and writes a legacy data set: the
// starting point of the demo, the benchmarks and the integration tests.
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { Client } from '@opensearch-project/opensearch';
import {
  ensurePikaTables,
  ensureSessionIndex,
  indexSessionDocs,
  putItems,
  type PikaTableNames,
} from './pika-tables.ts';
import { legacySessions, legacyTags, legacyUsers, type LegacyDataOptions } from './legacy-data.ts';
import type { Item } from '../lib/core/types.ts';

export interface SeedTargets {
  dynamodb: DynamoDBClient;
  doc: DynamoDBDocumentClient;
  tables: PikaTableNames;
  search?: { client: Client; index: string };
}

export interface SeedOptions extends LegacyDataOptions {
  tags?: boolean;
  /** Sessions whose search document is left out, as if Pika's indexer had not run yet. */
  unindexed?: number;
}

export interface SeedResult {
  sessions: Item[];
  users: Item[];
  tags: Item[];
  createdTables: string[];
}

/**
 * Creates what is missing, then writes the data set.
 *
 * @example
 * await seed({ dynamodb, doc, tables, search: { client, index: 'session' } }, { sessions: 1000, users: 80, tags: true });
 */
export async function seed(targets: SeedTargets, opts: SeedOptions): Promise<SeedResult> {
  const createdTables = await ensurePikaTables(targets.dynamodb, targets.tables);
  const users = legacyUsers(opts);
  const sessions = legacySessions(opts);
  const tags = opts.tags ? legacyTags() : [];
  await putItems(targets.doc, targets.tables.user, users);
  await putItems(targets.doc, targets.tables.session, sessions);
  if (tags.length) await putItems(targets.doc, targets.tables.tag, tags);
  if (targets.search) {
    await ensureSessionIndex(targets.search.client, targets.search.index);
    const indexed = sessions.slice(opts.unindexed ?? 0);
    await indexSessionDocs(targets.search.client, targets.search.index, indexed);
  }
  return { sessions, users, tags, createdTables };
}
