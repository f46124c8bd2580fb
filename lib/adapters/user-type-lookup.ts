// The user-type lookup: user_id → user_type from the chat-user table, batched, strongly
// consistent, and cached only for users that have a type (absence is never cached).
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

/** What `resolveEach` found: the answers, and the ids that could not be looked up, with why. */
export interface UserTypeResolution {
  /** user_id → user_type, or null when the user does not exist or has no type. */
  types: Map<string, string | null>;
  /** user_id → reason, for ids whose lookup failed (their items fail; the others proceed). */
  failed: Map<string, string>;
}

export interface UserTypeLookupOptions {
  maxEntries?: number;
  /** How long a found user's type is reused. @default 60 s */
  ttlMs?: number;
  /** Rounds of UnprocessedKeys retries before the lookup fails. */
  maxAttempts?: number;
  sleep?: (ms: number) => Promise<void>;
}

/**
 * Resolves user_id -> user_type from the chat-user table with one BatchGetItem per 100
 * distinct ids, with strongly consistent reads: a user created just before their first
 * session is seen. Only found types are cached (a user's type is set once); "no such user"
 * or "no type" is never cached, since the user may be created a moment later and the
 * migration writes `user_type` only once. A failed lookup caches nothing and never turns
 * into 'external-user'.
 */
export class UserTypeLookup {
  private readonly cache: LRUCache<string, string>;
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

  /** Every id's type; throws UserLookupError when any lookup failed. */
  async resolve(userIds: Iterable<string>): Promise<Map<string, string | null>> {
    const { types, failed } = await this.resolveEach(userIds);
    if (failed.size) {
      const [first] = failed.values();
      throw new UserLookupError(first as string, [...failed.keys()]);
    }
    return types;
  }

  /**
   * Every id's type, or why it could not be looked up. A request rejected as invalid is
   * bisected down to the ids that cause it; a throttled or unreachable table fails its chunk.
   */
  async resolveEach(userIds: Iterable<string>): Promise<UserTypeResolution> {
    const types = new Map<string, string | null>();
    const failed = new Map<string, string>();
    const missing: string[] = [];
    for (const id of new Set(userIds)) {
      const hit = this.cache.get(id);
      if (hit === undefined) missing.push(id);
      else types.set(id, hit);
    }
    const lookUp = async (chunk: string[]): Promise<void> => {
      try {
        const found = await this.fetch(chunk);
        for (const id of chunk) {
          const type = found.get(id) ?? null;
          if (type !== null) this.cache.set(id, type);
          types.set(id, type);
        }
      } catch (e) {
        const err = e as UserLookupError;
        const invalid = (err.cause as Error | undefined)?.name === 'ValidationException';
        if (invalid && chunk.length > 1) {
          const half = Math.ceil(chunk.length / 2);
          await lookUp(chunk.slice(0, half));
          await lookUp(chunk.slice(half));
          return;
        }
        for (const id of chunk) failed.set(id, err.message);
      }
    };
    for (let i = 0; i < missing.length; i += BATCH_GET_MAX_KEYS)
      await lookUp(missing.slice(i, i + BATCH_GET_MAX_KEYS));
    return { types, failed };
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
                // A user created just before their first session must be seen.
                ConsistentRead: true,
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
