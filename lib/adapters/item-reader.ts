// Reads current items by key with BatchGetItem, projecting only the attributes asked for;
// unprocessed keys are retried with back-off, and keys with no item are returned as missing.
import { BatchGetCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { backoffMs } from '../core/concurrency.ts';
import type { Item, Key } from '../core/types.ts';

const BATCH_GET_MAX_KEYS = 100;

export interface ReadByKeys {
  /** Items found, in no particular order. */
  found: Item[];
  /** Keys with no item (deleted or expired since). */
  missing: Key[];
}

/**
 * The current items of `keys` (strongly consistent), with `projection` attributes only.
 * `keyAttributes` tells how to match a returned item back to its key.
 */
export async function readItemsByKey(
  doc: DynamoDBDocumentClient,
  tableName: string,
  keys: readonly Key[],
  projection: readonly string[],
  keyAttributes: readonly string[],
  options: { maxAttempts?: number; sleep?: (ms: number) => Promise<void> } = {},
): Promise<ReadByKeys> {
  const sleep = options.sleep ?? ((ms) => new Promise<void>((r) => setTimeout(r, ms)));
  const names = Object.fromEntries(projection.map((a, i) => [`#p${i}`, a]));
  const idOf = (k: Record<string, unknown>): string =>
    JSON.stringify(keyAttributes.map((a) => k[a]));
  const found: Item[] = [];
  const foundIds = new Set<string>();
  for (let i = 0; i < keys.length; i += BATCH_GET_MAX_KEYS) {
    let pending: Record<string, unknown>[] = keys.slice(i, i + BATCH_GET_MAX_KEYS);
    for (let attempt = 0; pending.length; attempt++) {
      if (attempt >= (options.maxAttempts ?? 8)) {
        throw new Error(
          `BatchGetItem on ${tableName}: ${pending.length} key(s) still unprocessed after ${attempt} attempts`,
        );
      }
      if (attempt > 0) await sleep(backoffMs(attempt, 50, 2_000));
      const res = await doc.send(
        new BatchGetCommand({
          RequestItems: {
            [tableName]: {
              Keys: pending,
              ConsistentRead: true,
              ProjectionExpression: Object.keys(names).join(', '),
              ExpressionAttributeNames: names,
            },
          },
        }),
      );
      for (const item of res.Responses?.[tableName] ?? []) {
        found.push(item);
        foundIds.add(idOf(item));
      }
      pending = (res.UnprocessedKeys?.[tableName]?.Keys as Record<string, unknown>[]) ?? [];
    }
  }
  return { found, missing: keys.filter((k) => !foundIds.has(idOf(k))) };
}
