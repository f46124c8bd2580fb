// Local tables from their CreateTable definitions: the missing ones created (and waited for),
// an existing one only given its stream when it has none. Never on a production table: the
// commands that call this refuse anything but local services.
import {
  CreateTableCommand,
  ResourceInUseException,
  UpdateTableCommand,
  waitUntilTableExists,
  type CreateTableCommandInput,
  type DynamoDBClient,
} from '@aws-sdk/client-dynamodb';
import { describeTableStream, tableExists } from '../lib/adapters/tables.ts';

/** Creates each table of `defs` if missing; returns the names it created. */
export async function ensureTables(
  dynamodb: DynamoDBClient,
  defs: readonly CreateTableCommandInput[],
): Promise<string[]> {
  const created: string[] = [];
  for (const def of defs) {
    const TableName = def.TableName as string;
    if (await tableExists(dynamodb, TableName)) {
      await enableStream(dynamodb, def);
      continue;
    }
    try {
      await dynamodb.send(new CreateTableCommand(def));
      created.push(TableName);
    } catch (e) {
      if (!(e instanceof ResourceInUseException)) throw e;
    }
    await waitUntilTableExists({ client: dynamodb, maxWaitTime: 60, minDelay: 1 }, { TableName });
  }
  return created;
}

async function enableStream(dynamodb: DynamoDBClient, def: CreateTableCommandInput): Promise<void> {
  const TableName = def.TableName as string;
  if (!def.StreamSpecification) return;
  if ((await describeTableStream(dynamodb, TableName))?.enabled) return;
  await dynamodb.send(
    new UpdateTableCommand({ TableName, StreamSpecification: def.StreamSpecification }),
  );
}
