// Shared vocabulary of the pure core. Items are plain JS values as produced by
// @aws-sdk/lib-dynamodb's unmarshalling; the core never sees AttributeValue wire shapes.

export type Item = Record<string, unknown>;
export type Key = Record<string, string | number>;

/** Logical tables a migration may touch; adapters map them to real table names. */
export type TableRole = 'session' | 'user' | 'tag';

export type MigrationName =
  'session-sort-key' | 'session-user-type' | 'session-search-keywords' | 'tag-usage-mode';

/**
 * A precondition the writer turns into a ConditionExpression. Every change carries
 * `exists` on its partition key (no resurrection) and one condition per input it read
 * (no lost update): if any fails, a newer version exists and wins.
 */
export type Condition =
  | { op: 'exists'; attribute: string }
  | { op: 'notExists'; attribute: string }
  | { op: 'equals'; attribute: string; value: string | number | boolean };

/** What one item needs: attributes to SET and REMOVE, valid only under `conditions`. */
export interface ItemChange {
  table: TableRole;
  key: Key;
  set: Record<string, string | number | boolean>;
  remove: string[];
  conditions: Condition[];
  /** The migrations that contributed to this change, for counting and logs. */
  migrations: MigrationName[];
}

/** A partial update of an OpenSearch document (never a full document). */
export interface SearchChange {
  id: string;
  doc: Record<string, string>;
  /**
   * The item's `last_update` the keywords were derived from. A document already indexed from
   * a newer version is left alone: its own update carries the right keywords, and a slow
   * writer must never regress it to stale values.
   */
  version?: string;
}

/** Context the planners need; everything in it was fetched by adapters beforehand. */
export interface PlanContext {
  /**
   * user_id -> user_type from the chat-user table; `null` = user not found or has no
   * user_type. A user id absent from the map was not looked up: planning throws.
   */
  userTypes?: ReadonlyMap<string, string | null>;
  /** Epoch seconds; items whose TTL has passed are left alone (TTL will delete them). */
  nowSeconds?: number;
}

/** Outcome of applying one change; the writer counts these. */
export type WriteOutcome = 'migrated' | 'unchanged' | 'conflict' | 'missing' | 'failed';
/** Outcome of a search keyword update. */
export type SearchOutcome = 'migrated' | 'unchanged' | 'search-missing' | 'failed';
