// A V2-like copy used by the copy tests: one single table (PK = user, SK = "<user>#BOT#<id>" /
// "<user>#CONV#<id>") into a bot table and a conversation table keyed without the user prefix.
import { CreateTableCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { ensureStateTable } from '../../lib/adapters/backfill-state.ts';
import { defineConfig, defineCopy, defineTable, malformed } from '../../lib/core/config/define.ts';
import { compilePlanner } from '../../lib/core/config/planner.ts';
import { resolveConfig } from '../../lib/core/config/resolve.ts';

export const v2 = defineTable({ name: 'v2', key: ['PK', 'SK'] });
export const bots = defineTable({ name: 'bots', key: ['PK', 'SK'] });
export const convs = defineTable({ name: 'convs', key: ['PK', 'SK'] });
export const copy = defineCopy({
  name: 'v2-to-v3',
  from: v2,
  to: [bots, convs],
  inputs: ['Title', 'IsPinned', 'Shared'],
  derive: (item) => {
    const [, kind, id] = String(item.SK).split('#');
    if (kind === 'BOT') {
      if (typeof item.Title !== 'string') throw malformed('Title is missing');
      const targets = [
        {
          table: bots,
          item: {
            PK: item.PK,
            SK: `BOT#${id}`,
            Title: item.Title,
            ...(item.IsPinned === true && { IsStarred: 'TRUE' }),
          },
        },
      ];
      // A shared bot fans out into a second item of the same table, under a new key.
      if (typeof item.Shared === 'string')
        targets.push({
          table: bots,
          item: { PK: item.Shared, SK: `ALIAS#${id}`, Title: item.Title },
        });
      return targets;
    }
    if (kind === 'CONV')
      return [{ table: convs, item: { PK: item.PK, SK: `CONV#${id}`, Title: item.Title } }];
    return [];
  },
});
export const planner = compilePlanner(
  resolveConfig(defineConfig({ tables: [v2, bots, convs], migrations: [copy] })),
);

/**
 * Creates the copy tests' tables (each `PK`/`SK` strings, on demand) and the state table;
 * `streamed` gets a NEW_IMAGE stream, as Bedrock Chat V2's table has.
 */
export async function createCopyTables(
  dynamodb: DynamoDBClient,
  tables: Readonly<Record<string, string>>,
  stateTable: string,
  streamed?: string,
): Promise<void> {
  for (const [name, TableName] of Object.entries(tables))
    await dynamodb.send(
      new CreateTableCommand({
        TableName,
        BillingMode: 'PAY_PER_REQUEST',
        KeySchema: [
          { AttributeName: 'PK', KeyType: 'HASH' },
          { AttributeName: 'SK', KeyType: 'RANGE' },
        ],
        AttributeDefinitions: [
          { AttributeName: 'PK', AttributeType: 'S' },
          { AttributeName: 'SK', AttributeType: 'S' },
        ],
        ...(name === streamed && {
          StreamSpecification: { StreamEnabled: true, StreamViewType: 'NEW_IMAGE' },
        }),
      }),
    );
  await ensureStateTable(dynamodb, stateTable);
}
