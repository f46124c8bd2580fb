// Pika's table and index shapes for local stacks and tests: create them, fill them.
import {
  UpdateTimeToLiveCommand,
  type CreateTableCommandInput,
  type DynamoDBClient,
} from '@aws-sdk/client-dynamodb';
import { BatchWriteCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { Client } from '@opensearch-project/opensearch';
import { backoffMs } from '../lib/core/concurrency.ts';
import { physicalTable } from '../lib/core/config/table-names.ts';
import type { Item, TableNames } from '../lib/core/types.ts';
import { session } from '../lib/presets/pika.ts';
import { ensureTables } from './ensure-tables.ts';

/** The physical names of the Pika preset's three tables. */
export type PikaTableNames = {
  session: string;
  user: string;
  tag: string;
};

/** The Pika tables of a declared-name map; throws naming a table the map lacks. */
export function pikaTableNames(tables: TableNames): PikaTableNames {
  return {
    session: physicalTable(tables, 'session'),
    user: physicalTable(tables, 'user'),
    tag: physicalTable(tables, 'tag'),
  };
}

/** Pika's table shapes (the migrations' schema facts), for local stacks and tests. */
function tableDefinitions(names: PikaTableNames): CreateTableCommandInput[] {
  const S = 'S' as const;
  return [
    {
      TableName: names.session,
      BillingMode: 'PAY_PER_REQUEST',
      AttributeDefinitions: [
        { AttributeName: 'user_id', AttributeType: S },
        { AttributeName: 'session_id', AttributeType: S },
      ],
      KeySchema: [
        { AttributeName: 'user_id', KeyType: 'HASH' },
        { AttributeName: 'session_id', KeyType: 'RANGE' },
      ],
      StreamSpecification: { StreamEnabled: true, StreamViewType: 'NEW_AND_OLD_IMAGES' },
    },
    {
      TableName: names.user,
      BillingMode: 'PAY_PER_REQUEST',
      AttributeDefinitions: [{ AttributeName: 'user_id', AttributeType: S }],
      KeySchema: [{ AttributeName: 'user_id', KeyType: 'HASH' }],
    },
    {
      TableName: names.tag,
      BillingMode: 'PAY_PER_REQUEST',
      AttributeDefinitions: [
        { AttributeName: 'scope', AttributeType: S },
        { AttributeName: 'tag', AttributeType: S },
      ],
      KeySchema: [
        { AttributeName: 'scope', KeyType: 'HASH' },
        { AttributeName: 'tag', KeyType: 'RANGE' },
      ],
      // A migrated table: its stream is its live path (the consumer migrates later app writes).
      StreamSpecification: { StreamEnabled: true, StreamViewType: 'NEW_AND_OLD_IMAGES' },
    },
  ];
}

/** Creates the three Pika tables if missing; returns the names it created. */
export async function ensurePikaTables(
  dynamodb: DynamoDBClient,
  names: PikaTableNames,
): Promise<string[]> {
  const created = await ensureTables(dynamodb, tableDefinitions(names));
  // The session table's TTL, when this created it.
  if (session.ttl && created.includes(names.session))
    await dynamodb.send(
      new UpdateTimeToLiveCommand({
        TableName: names.session,
        TimeToLiveSpecification: { Enabled: true, AttributeName: session.ttl },
      }),
    );
  return created;
}

/** Writes items in BatchWriteItem chunks of 25, retrying UnprocessedItems with backoff. */
export async function putItems(
  doc: DynamoDBDocumentClient,
  TableName: string,
  items: readonly Item[],
): Promise<void> {
  for (let i = 0; i < items.length; i += 25) {
    let requests = items.slice(i, i + 25).map((Item) => ({ PutRequest: { Item } }));
    for (let attempt = 0; requests.length; attempt++) {
      if (attempt > 10) throw new Error(`${TableName}: seeding kept returning unprocessed items`);
      if (attempt) await new Promise((r) => setTimeout(r, backoffMs(attempt)));
      const res = await doc.send(
        new BatchWriteCommand({ RequestItems: { [TableName]: requests } }),
      );
      requests = (res.UnprocessedItems?.[TableName] ?? []) as typeof requests;
    }
  }
}

/**
 * Pika's legacy `session` index: the analytics fields were dynamically mapped as text,
 * which is why 0.11 adds keyword twins instead of retyping them.
 */
export async function ensureSessionIndex(search: Client, index: string): Promise<boolean> {
  const exists = await search.indices.exists({ index });
  if (exists.body) return false;
  const text = {
    type: 'text',
    fields: { keyword: { type: 'keyword', ignore_above: 256 } },
  } as const;
  await search.indices.create({
    index,
    body: {
      settings: { number_of_shards: 1, number_of_replicas: 0, refresh_interval: '1s' },
      mappings: {
        properties: {
          session_id: { type: 'keyword' },
          user_id: { type: 'keyword' },
          chat_app_id: { type: 'keyword' },
          title: { type: 'text' },
          last_update: { type: 'date' },
          invocation_mode: text,
          user_type: text,
          source: text,
        },
      },
    },
  });
  return true;
}

/**
 * Stands in for Pika's own session indexer: full documents as the app writes them
 * (without the keyword twins the migration adds).
 */
export async function indexSessionDocs(
  search: Client,
  index: string,
  items: readonly Item[],
): Promise<void> {
  for (let i = 0; i < items.length; i += 500) {
    const body = items.slice(i, i + 500).flatMap((item) => {
      const {
        session_id,
        user_id,
        chat_app_id,
        title,
        last_update,
        invocation_mode,
        user_type,
        source,
      } = item;
      const doc = {
        session_id,
        user_id,
        chat_app_id,
        title,
        last_update,
        invocation_mode,
        user_type,
        source,
      };
      return [{ index: { _index: index, _id: String(session_id) } }, doc];
    });
    const res = await search.bulk({ body, refresh: 'wait_for' });
    if ((res.body as { errors: boolean }).errors)
      throw new Error(`indexing session docs into ${index} failed`);
  }
}

/**
 * A local table created before its migrations had a live path gets the stream its definition
 * asks for (seeding an older local stack must not leave a migrated table one-shot).
 */
