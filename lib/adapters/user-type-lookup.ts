// The user-type lookup: user_id → user_type from the chat-user table, batched and cached.
import { BatchGetCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { LRUCache } from 'lru-cache';
import { backoffMs } from '../core/concurrency.ts';

/** BatchGetItem's limit on keys per request. */
const BATCH_GET_MAX_KEYS = 100;

export class UserLookupError extends Error {
  constructor(
    message: string,
    readonly userIds: string[],
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'UserLookupError';
  }
}

export interface UserTypeLookupOptions {
  maxEntries?: number;
  ttlMs?: number;
  /** Rounds of UnprocessedKeys retries before the lookup fails. */
  maxAttempts?: number;
  sleep?: (ms: number) => Promise<void>;
}

// LRUCache cannot hold null, so "user has no type / does not exist" is stored as a marker.
const NO_TYPE = Symbol('no-user-type');
type Cached = string | typeof NO_TYPE;

/**
 * Resolves user_id -> user_type from the chat-user table with one BatchGetItem per 100
 * distinct ids. Only real answers are cached (a type, or "no such user"): a failed lookup
 * throws and caches nothing, so a throttled table never turns into 'external-user'.
 */
export class UserTypeLookup {
  private readonly cache: LRUCache<string, Cached>;
  private readonly maxAttempts: number;
  private readonly sleep: (ms: number) => Promise<void>;
  /** Requests sent, for metrics and tests. */
  requests = 0;

  constructor(
    private readonly doc: DynamoDBDocumentClient,
    private readonly tableName: string,
    options: UserTypeLookupOptions = {},
  ) {
    this.cache = new LRUCache({ max: options.maxEntries ?? 10_000, ttl: options.ttlMs ?? 60_000 });
    this.maxAttempts = options.maxAttempts ?? 8;
    this.sleep = options.sleep ?? ((ms) => new Promise((r) => setTimeout(r, ms)));
  }

  async resolve(userIds: Iterable<string>): Promise<Map<string, string | null>> {
    const result = new Map<string, string | null>();
    const missing: string[] = [];
    for (const id of new Set(userIds)) {
      const hit = this.cache.get(id);
      if (hit === undefined) missing.push(id);
      else result.set(id, hit === NO_TYPE ? null : hit);
    }
    for (let i = 0; i < missing.length; i += BATCH_GET_MAX_KEYS) {
      const chunk = missing.slice(i, i + BATCH_GET_MAX_KEYS);
      const found = await this.fetch(chunk);
      for (const id of chunk) {
        const type = found.get(id) ?? null;
        this.cache.set(id, type ?? NO_TYPE);
        result.set(id, type);
      }
    }
    return result;
  }

  private async fetch(ids: string[]): Promise<Map<string, string | null>> {
    const found = new Map<string, string | null>();
    let keys: Record<string, unknown>[] = ids.map((user_id) => ({ user_id }));
    for (let attempt = 0; keys.length > 0; attempt++) {
      if (attempt >= this.maxAttempts) {
        throw new UserLookupError(
          `user-type lookup in ${this.tableName}: ${keys.length} keys still unprocessed after ${attempt} attempts`,
          keys.map((k) => String(k.user_id)),
        );
      }
      if (attempt > 0) await this.sleep(backoffMs(attempt, 50, 2_000));
      let res;
      try {
        this.requests++;
        res = await this.doc.send(
          new BatchGetCommand({
            RequestItems: {
              [this.tableName]: {
                Keys: keys,
                ProjectionExpression: '#u, #t',
                ExpressionAttributeNames: { '#u': 'user_id', '#t': 'user_type' },
              },
            },
          }),
        );
      } catch (cause) {
        throw new UserLookupError(
          `user-type lookup in ${this.tableName} failed: ${(cause as Error).message}`,
          ids,
          { cause },
        );
      }
      for (const item of res.Responses?.[this.tableName] ?? []) {
        const type = item.user_type;
        found.set(String(item.user_id), typeof type === 'string' && type !== '' ? type : null);
      }
      keys = (res.UnprocessedKeys?.[this.tableName]?.Keys as Record<string, unknown>[]) ?? [];
    }
    return found;
  }
}
