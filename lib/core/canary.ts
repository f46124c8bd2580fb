// The canary of the "consumer first" gate: a reserved-key item that `backfill` writes to the
// migrated table and waits to see recorded by the stream consumer, proving the consumer reads
// the stream now (an Enabled mapping does not: AWS positions LATEST some time after it is
// created). Canaries are never migrated, verified, scanned or counted as application items.
import type { Item, Key, KeyValue } from './types.ts';

/** The key attribute names of a table, partition key first (a declared table has them). */
export interface KeyShape {
  readonly key: readonly string[];
}

/**
 * The partition key value of every canary. It names the tool and a version so it cannot be an
 * application id by accident (Pika ids are UUIDs or Cognito subs); the sort key is a fresh
 * nonce, and the canary is written only where no item exists.
 */
export const CANARY_PARTITION = 'streamfill:canary:v1';

/**
 * A canary not read after this long is followed by a fresh one: one written before the
 * consumer's position was fixed is never delivered (that is the point), so waiting on it alone
 * would wait forever. Any canary read proves every write after it is read.
 */
export const CANARY_REWRITE_MS = 2_000;

/** How long a canary lives if nothing deletes it (the table's TTL removes it after). */
export const CANARY_TTL_SECONDS = 3_600;

/** The key of the canary `nonce` in a table of `table`'s shape (partition + sort key). */
export function canaryKey(table: KeyShape, nonce: KeyValue): Key {
  const [pk, sk] = table.key;
  return { [pk as string]: CANARY_PARTITION, ...(sk && { [sk]: nonce }) };
}

/** Whether an item (or key) is a canary, not an application item. */
export function isCanary(table: KeyShape, item: Item | Key): boolean {
  const pk = table.key[0] as string;
  return item[pk] === CANARY_PARTITION;
}

/** The nonce of a canary key (its sort key), or the partition value for a table without one. */
export function canaryNonce(table: KeyShape, key: Item | Key): string {
  const [pk, sk] = table.key;
  return String(key[(sk ?? pk) as string]);
}
