// `seed --preset bedrock-chat-v3`: the V2 table and the two V3 tables with their real keys,
// indexes and streams, and V2-shaped data in the V2 table (the V3 tables start empty: filling
// them is the copy's job).
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { bedrockV2Data, type BedrockData, type BedrockDataOptions } from './bedrock-data.ts';
import { ensureBedrockTables, type BedrockTableNames } from './bedrock-tables.ts';
import { putItems } from './pika-tables.ts';

export interface BedrockSeedTargets {
  dynamodb: DynamoDBClient;
  doc: DynamoDBDocumentClient;
  tables: BedrockTableNames;
}

export interface BedrockSeedResult extends BedrockData {
  createdTables: string[];
}

/**
 * Creates what is missing, then writes the V2 data set.
 *
 * @example
 * await seedBedrock({ dynamodb, doc, tables }, { users: 50, seed: 1 });
 */
export async function seedBedrock(
  targets: BedrockSeedTargets,
  opts: BedrockDataOptions,
): Promise<BedrockSeedResult> {
  const createdTables = await ensureBedrockTables(targets.dynamodb, targets.tables);
  const data = bedrockV2Data(opts);
  await putItems(targets.doc, targets.tables.v2Conversation, [
    ...data.bots,
    ...data.aliases,
    ...data.conversations,
    ...data.relatedDocuments,
  ]);
  return { ...data, createdTables };
}
