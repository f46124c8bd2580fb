// The backfill's reads besides the scan: the table facts it estimates cost and finds its stream
// from (DescribeTable), and BatchGet of given keys projected to the inputs (`--keys FILE`).
import { DescribeTableCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { BatchGetCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { backoffMs } from '../core/concurrency.ts';
import type { IndexShape } from '../core/cost-estimate.ts';
import type { Item, Key } from '../core/types.ts';

export interface TableFacts {
  tableName: string;
  streamArn?: string;
  /** DescribeTable's ItemCount (refreshed about every 6 h: an estimate, shown as such). */
  itemCount: number;
  /** TableSizeBytes / ItemCount, when both are known. */
  averageItemBytes?: number;
  indexes: IndexShape[];
}

export async function describeTableFacts(
  dynamodb: DynamoDBClient,
  tableName: string,
): Promise<TableFacts> {
  const { Table: t = {} } = await dynamodb.send(new DescribeTableCommand({ TableName: tableName }));
  const itemCount = t.ItemCount ?? 0;
  const bytes = t.TableSizeBytes ?? 0;
  return {
    tableName,
    ...(t.StreamSpecification?.StreamEnabled &&
      t.LatestStreamArn && { streamArn: t.LatestStreamArn }),
    itemCount,
    ...(itemCount > 0 && bytes > 0 && { averageItemBytes: bytes / itemCount }),
    indexes: (t.GlobalSecondaryIndexes ?? []).map((g) => ({
      name: g.IndexName ?? '?',
      keys: (g.KeySchema ?? []).flatMap((k) => (k.AttributeName ? [k.AttributeName] : [])),
      projection: (g.Projection?.ProjectionType ?? 'ALL') as IndexShape['projection'],
      ...(g.Projection?.NonKeyAttributes && { include: g.Projection.NonKeyAttributes }),
    })),
  };
}

/** BatchGetItem's limit on keys per request. */
const BATCH_GET_MAX_KEYS = 100;

export interface KeyReadResult {
  items: Item[];
  /** Keys with no item (deleted, or never there). */
  missing: Key[];
  consumedCapacity: number;
}

/**
 * Reads exactly these keys, projected to `projection`, 100 per BatchGetItem; unprocessed keys
 * are retried with back-off and, after `maxAttempts` rounds, an error naming how many are left.
 */
export async function getItemsByKey(
  doc: DynamoDBDocumentClient,
  tableName: string,
  keys: readonly Key[],
  projection: readonly string[],
  options: { maxAttempts?: number; sleep?: (ms: number) => Promise<void> } = {},
): Promise<KeyReadResult> {
  const sleep = options.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  const names = Object.fromEntries(projection.map((n, i) => [`#p${i}`, n]));
  const ProjectionExpression = Object.keys(names).join(', ');
  const found: Item[] = [];
  let consumedCapacity = 0;
  for (let i = 0; i < keys.length; i += BATCH_GET_MAX_KEYS) {
    let pending: Record<string, unknown>[] = keys.slice(i, i + BATCH_GET_MAX_KEYS);
    for (let attempt = 1; pending.length; attempt++) {
      if (attempt > (options.maxAttempts ?? 8)) {
        throw new Error(
          `BatchGetItem on ${tableName}: ${pending.length} key(s) still unprocessed after ${attempt - 1} attempts`,
        );
      }
      const r = await doc.send(
        new BatchGetCommand({
          RequestItems: {
            [tableName]: { Keys: pending, ProjectionExpression, ExpressionAttributeNames: names },
          },
          ReturnConsumedCapacity: 'TOTAL',
        }),
      );
      found.push(...((r.Responses?.[tableName] ?? []) as Item[]));
      consumedCapacity += (r.ConsumedCapacity ?? []).reduce(
        (n, c) => n + (c.CapacityUnits ?? 0),
        0,
      );
      pending = (r.UnprocessedKeys?.[tableName]?.Keys ?? []) as Record<string, unknown>[];
      if (pending.length) await sleep(backoffMs(attempt, 50, 2_000));
    }
  }
  const keyText = (k: Record<string, unknown>, names: readonly string[]): string =>
    JSON.stringify(names.map((n) => k[n]));
  const keyNames = keys[0] ? Object.keys(keys[0]) : [];
  const have = new Set(found.map((it) => keyText(it, keyNames)));
  return {
    items: found,
    missing: keys.filter((k) => !have.has(keyText(k, keyNames))),
    consumedCapacity,
  };
}
