// Shared vocabulary of the pure core. Items are plain JS values as produced by
// @aws-sdk/lib-dynamodb's unmarshalling; the core never sees AttributeValue wire shapes.
import type { ExactNumber } from './exact-number.ts';

export type Item = Record<string, unknown>;
/** A key attribute's value: DynamoDB keys are strings, numbers or binary. */
export type KeyValue = string | number | ExactNumber | Uint8Array;
export type Key = Record<string, KeyValue>;

/** Declared table name → physical DynamoDB table name (a deployment's or a test's). */
export type TableNames = Readonly<Record<string, string>>;

/** A migration's name, as its config declares it. */
export type MigrationId = string;

/**
 * A precondition the writer turns into a ConditionExpression. Every change carries
 * `exists` on its partition key (no resurrection) and one condition per input it read
 * (no lost update): if any fails, a newer version exists and wins.
 */
export type Condition =
  | { op: 'exists'; attribute: string }
  | { op: 'notExists'; attribute: string }
  /** `value`: any DynamoDB value as unmarshalled (scalars, ExactNumber, maps, lists, sets, binary). */
  | { op: 'equals'; attribute: string; value: unknown };

/** What one item needs: attributes to SET and REMOVE, valid only under `conditions`. */
export interface ItemChange {
  /** The declared table's name. */
  table: string;
  key: Key;
  /** Any DynamoDB value as unmarshalled (the writer marshals ExactNumbers, maps, sets, …). */
  set: Record<string, unknown>;
  remove: string[];
  conditions: Condition[];
  /** The migrations that contributed to this change, for counting and logs. */
  migrations: MigrationId[];
}

/** A partial update of an OpenSearch document (never a full document). */
export interface SearchChange {
  id: string;
  doc: Record<string, string>;
  /** Fields to remove: their source attribute is gone from the item (no stale keyword stays). */
  remove?: string[];
  /**
   * The item's `last_update` the keywords were derived from. The update applies only when it
   * is newer than the version the document's keywords came from and not older than the
   * document's own `last_update`: a slow writer never regresses newer keywords.
   */
  version?: string;
  /**
   * A repair derived from the item as it is now (`verify --repair`): it also applies at an
   * EQUAL version, when the document's keywords differ — never at an older one.
   */
  repair?: true;
}

/** Outcome of applying one change; the writer counts these. */
export type WriteOutcome = 'migrated' | 'unchanged' | 'conflict' | 'missing' | 'failed';
/** Outcome of a search keyword update. */
export type SearchOutcome =
  | 'migrated'
  | 'unchanged'
  | 'search-missing'
  | 'failed'
  /** The index or its keyword mapping is not ready: nothing was sent, the record is retried. */
  | 'not-ready'
  /** Failed or missing, and handed to a delayed search-only repair task (settled). */
  | 'repair-queued';
