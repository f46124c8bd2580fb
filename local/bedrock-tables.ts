// Bedrock Chat's table shapes for local stacks and tests: the V2 ConversationTable (tag v2.10.0,
// cdk/lib/constructs/database.ts) and the V3 ConversationTable and BotTable (a739a6c, same
// file), with their real keys, indexes and NEW_IMAGE streams. Production tables are the
// application's: streamfill only creates these on the local services.
import type { CreateTableCommandInput, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { physicalTable } from '../lib/core/config/table-names.ts';
import type { TableNames } from '../lib/core/types.ts';
import { v2Conversation, v3Bot, v3Conversation } from '../lib/presets/bedrock-chat-v3.ts';
import { ensureTables } from './ensure-tables.ts';

/** The physical names of the Bedrock preset's three tables. */
export interface BedrockTableNames {
  v2Conversation: string;
  v3Conversation: string;
  v3Bot: string;
}

/** The Bedrock tables of a declared-name map; throws naming a table the map lacks. */
export function bedrockTableNames(tables: TableNames): BedrockTableNames {
  return {
    v2Conversation: physicalTable(tables, v2Conversation.name),
    v3Conversation: physicalTable(tables, v3Conversation.name),
    v3Bot: physicalTable(tables, v3Bot.name),
  };
}

const S = 'S' as const;
const N = 'N' as const;
const PK_SK = [
  { AttributeName: 'PK', KeyType: 'HASH' as const },
  { AttributeName: 'SK', KeyType: 'RANGE' as const },
];
const ALL = { ProjectionType: 'ALL' as const };
const hashOnly = (IndexName: string, AttributeName: string) => ({
  IndexName,
  KeySchema: [{ AttributeName, KeyType: 'HASH' as const }],
  Projection: ALL,
});
const lsi = (IndexName: string, AttributeName: string) => ({
  IndexName,
  KeySchema: [
    { AttributeName: 'PK', KeyType: 'HASH' as const },
    { AttributeName, KeyType: 'RANGE' as const },
  ],
  Projection: ALL,
});
const NEW_IMAGE = { StreamEnabled: true, StreamViewType: 'NEW_IMAGE' as const };

/** The three tables as Bedrock Chat's CDK defines them (CDK projects every attribute). */
export function bedrockTableDefinitions(names: BedrockTableNames): CreateTableCommandInput[] {
  return [
    {
      TableName: names.v2Conversation,
      BillingMode: 'PAY_PER_REQUEST',
      AttributeDefinitions: [
        { AttributeName: 'PK', AttributeType: S },
        { AttributeName: 'SK', AttributeType: S },
        { AttributeName: 'PublicBotId', AttributeType: S },
        { AttributeName: 'LastBotUsed', AttributeType: N },
      ],
      KeySchema: PK_SK,
      GlobalSecondaryIndexes: [
        hashOnly('SKIndex', 'SK'),
        hashOnly('PublicBotIdIndex', 'PublicBotId'),
      ],
      LocalSecondaryIndexes: [lsi('LastBotUsedIndex', 'LastBotUsed')],
      StreamSpecification: NEW_IMAGE,
    },
    {
      TableName: names.v3Conversation,
      BillingMode: 'PAY_PER_REQUEST',
      AttributeDefinitions: [
        { AttributeName: 'PK', AttributeType: S },
        { AttributeName: 'SK', AttributeType: S },
      ],
      KeySchema: PK_SK,
      GlobalSecondaryIndexes: [hashOnly('SKIndex', 'SK')],
      StreamSpecification: NEW_IMAGE,
    },
    {
      TableName: names.v3Bot,
      BillingMode: 'PAY_PER_REQUEST',
      AttributeDefinitions: [
        { AttributeName: 'PK', AttributeType: S },
        { AttributeName: 'SK', AttributeType: S },
        { AttributeName: 'IsStarred', AttributeType: S },
        { AttributeName: 'LastUsedTime', AttributeType: N },
        { AttributeName: 'BotId', AttributeType: S },
        { AttributeName: 'SharedScope', AttributeType: S },
        { AttributeName: 'SharedStatus', AttributeType: S },
        { AttributeName: 'ItemType', AttributeType: S },
        { AttributeName: 'SyncStatus', AttributeType: S },
      ],
      KeySchema: PK_SK,
      LocalSecondaryIndexes: [
        lsi('StarredIndex', 'IsStarred'),
        lsi('LastUsedTimeIndex', 'LastUsedTime'),
      ],
      GlobalSecondaryIndexes: [
        hashOnly('BotIdIndex', 'BotId'),
        {
          IndexName: 'SharedScopeIndex',
          KeySchema: [
            { AttributeName: 'SharedScope', KeyType: 'HASH' },
            { AttributeName: 'SharedStatus', KeyType: 'RANGE' },
          ],
          Projection: ALL,
        },
        hashOnly('ItemTypeIndex', 'ItemType'),
        hashOnly('SyncStatusIndex', 'SyncStatus'),
      ],
      StreamSpecification: NEW_IMAGE,
    },
  ];
}

/**
 * Creates the three tables if missing (an existing one only gets its stream if it has none);
 * returns the names it created.
 */
export function ensureBedrockTables(
  dynamodb: DynamoDBClient,
  names: BedrockTableNames,
): Promise<string[]> {
  return ensureTables(dynamodb, bedrockTableDefinitions(names));
}
