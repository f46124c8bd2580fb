// Declared lookups, read: per looked-up table, the distinct keys a page of items needs, with
// strongly consistent BatchGetItem requests (an item written just before the one that needs it
// is seen). Nothing is cached: a cached value would outlive what a consistent read promises,
// and the config says nothing about which attributes never change.
// An index is eventually consistent, so an index lookup only finds candidates — the items the
// index returns plus the one that last claimed the key in the stream (its stamp) — and reads
// them again by their own key, consistently; lookupResults keeps those still answering it.
import { BatchGetCommand, QueryCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { dependencyKey } from '../core/config/copy-dependencies.ts';
import { indexKeyId, type IndexReads } from '../core/config/lookups.ts';
import { keyId } from '../core/keys.ts';
import type { DependencyStore } from './dependency-store.ts';
import { backoffMs } from '../core/concurrency.ts';
import type { Item, Key } from '../core/types.ts';
import { sdkValue } from './exact-numbers.ts';

/** BatchGetItem's limit on keys per request. */
const BATCH_GET_MAX_KEYS = 100;

/** What a page's lookups read. */
export interface LookupReadResult {
  /** Declared table → the items found for its keys (a key with no item has none here). */
  read: Map<string, Item[]>;
  /**
   * Declared table → why it could not be read. Such a table is absent from `read`, so the
   * items that need it fail (LookupMissingError) and the others proceed; never a default.
   */
  failed: Map<string, string>;
  /** Index lookups: lookup name → the items its index keys answer (its failure is in `failed`). */
  indexed: Map<string, Item[]>;
  /** Index lookups: dependency key → its stamp's revision, for the stamps that exist. */
  stamps?: Map<string, number>;
}

export interface LookupReaderOptions {
  /** Rounds of UnprocessedKeys retries before a table's read fails. @default 8 */
  maxAttempts?: number;
  sleep?: (ms: number) => Promise<void>;
  /** The copies' stamps (index lookups). @default none: the index's answer alone */
  dependencies?: DependencyStore;
}

/**
 * Reads the keys of `planner.collectLookups(…).byTable`; hand `read` to
 * `planner.lookupResults`.
 *
 * @example
 * const reads = planner.collectLookups('orders', items);
 * const { read } = await reader.read(reads.byTable);
 * const lookups = planner.lookupResults(reads, read);
 */
export class LookupReader {
  private readonly maxAttempts: number;
  private readonly sleep: (ms: number) => Promise<void>;
  private readonly dependencies: DependencyStore | undefined;
  /** Requests sent, for metrics and tests. */
  requests = 0;

  constructor(
    private readonly doc: DynamoDBDocumentClient,
    /** Declared table → physical name. */
    private readonly tables: Readonly<Record<string, string>>,
    options: LookupReaderOptions = {},
  ) {
    this.maxAttempts = options.maxAttempts ?? 8;
    this.sleep = options.sleep ?? ((ms) => new Promise((r) => setTimeout(r, ms)));
    this.dependencies = options.dependencies;
  }

  /** One table's failure leaves the other tables' reads standing. */
  async read(
    byTable: ReadonlyMap<string, readonly Key[]>,
    byIndex: ReadonlyMap<string, IndexReads> = new Map(),
  ): Promise<LookupReadResult> {
    const read = new Map<string, Item[]>();
    const failed = new Map<string, string>();
    const indexed = new Map<string, Item[]>();
    const stamps = new Map<string, number>();
    for (const [lookup, q] of byIndex) {
      try {
        indexed.set(lookup, await this.readIndexed(lookup, q, stamps));
      } catch (e) {
        failed.set(q.table, (e as Error).message);
      }
    }
    for (const [declared, keys] of byTable) {
      try {
        const items: Item[] = [];
        for (let i = 0; i < keys.length; i += BATCH_GET_MAX_KEYS)
          items.push(...(await this.readChunk(declared, keys.slice(i, i + BATCH_GET_MAX_KEYS))));
        read.set(declared, items);
      } catch (e) {
        failed.set(declared, (e as Error).message);
      }
    }
    return { read, failed, indexed, stamps };
  }

  /**
   * The items that may answer each index key, read by their own key: per key, its stamp first
   * (before anything it guards), then the index.
   */
  private async readIndexed(
    lookup: string,
    q: IndexReads,
    stamps: Map<string, number>,
  ): Promise<Item[]> {
    const candidates = new Map<string, Key>();
    const add = (key: Key) => candidates.set(keyId(q.table, key), key);
    for (const key of q.keys) {
      const stamp = await this.dependencies?.readStamp(
        dependencyKey(lookup, indexKeyId(q.table, q.index, key)),
      );
      if (stamp) {
        stamps.set(dependencyKey(lookup, indexKeyId(q.table, q.index, key)), stamp.rev);
        if (stamp.by) add(stamp.by);
      }
      for (const item of await this.queryIndex(q, key))
        add(Object.fromEntries(q.tableKey.map((n) => [n, item[n]])) as Key);
    }
    return this.readByKeys(q.table, [...candidates.values()]);
  }

  /** The items an index key answers (two are enough to know it is ambiguous). */
  private async queryIndex(q: IndexReads, key: Key): Promise<Item[]> {
    const name = this.tables[q.table];
    if (name === undefined) throw new Error(`lookup table "${q.table}" has no physical name`);
    const names = Object.keys(key);
    this.requests++;
    try {
      const res = await this.doc.send(
        new QueryCommand({
          TableName: name,
          IndexName: q.index,
          KeyConditionExpression: names.map((_, i) => `#k${i} = :k${i}`).join(' AND '),
          ExpressionAttributeNames: Object.fromEntries(names.map((n, i) => [`#k${i}`, n])),
          ExpressionAttributeValues: Object.fromEntries(
            names.map((n, i) => [`:k${i}`, sdkValue(key[n])]),
          ),
          Limit: 2,
        }),
      );
      return (res.Items ?? []) as Item[];
    } catch (cause) {
      throw new Error(`lookup in ${name} index ${q.index} failed: ${(cause as Error).message}`, {
        cause,
      });
    }
  }

  /** The items of `keys` in a declared table (strongly consistent); absent ones are left out. */
  async readByKeys(declared: string, keys: readonly Key[]): Promise<Item[]> {
    const items: Item[] = [];
    for (let i = 0; i < keys.length; i += BATCH_GET_MAX_KEYS)
      items.push(...(await this.readChunk(declared, keys.slice(i, i + BATCH_GET_MAX_KEYS))));
    return items;
  }

  private async readChunk(declared: string, chunk: readonly Key[]): Promise<Item[]> {
    const name = this.tables[declared];
    if (name === undefined) throw new Error(`lookup table "${declared}" has no physical name`);
    const found: Item[] = [];
    let keys = chunk.map((k) => sdkValue(k) as Record<string, unknown>);
    for (let attempt = 0; keys.length > 0; attempt++) {
      if (attempt >= this.maxAttempts) {
        throw new Error(
          `lookup in ${name}: ${keys.length} keys still unprocessed after ${attempt} attempts`,
        );
      }
      if (attempt > 0) await this.sleep(backoffMs(attempt, 50, 2_000));
      this.requests++;
      let res;
      try {
        res = await this.doc.send(
          new BatchGetCommand({ RequestItems: { [name]: { Keys: keys, ConsistentRead: true } } }),
        );
      } catch (cause) {
        throw new Error(`lookup in ${name} failed: ${(cause as Error).message}`, { cause });
      }
      found.push(...((res.Responses?.[name] ?? []) as Item[]));
      keys = (res.UnprocessedKeys?.[name]?.Keys as Record<string, unknown>[] | undefined) ?? [];
    }
    return found;
  }
}
