// Typed errors of the pure core. Callers route on the type: a malformed item is permanent
// (park it with its reason), a missing lookup is a bug in the caller (fail loudly).
import { isExactNumber } from './exact-number.ts';
import { formatKey } from './key-format.ts';
import type { Item, Key } from './types.ts';

/** `reason`: a free reason (a declared derivation's `malformed(…)`, a key rule), in `detail.reason`. */
export type MalformedProblem = 'missing' | 'wrong-type' | 'empty' | 'not-a-version' | 'reason';

/** A readable type name for error messages (`null`, `list`, `map`, ... rather than `object`). */
export function describeType(value: unknown): string {
  if (value === null) return 'null';
  if (isExactNumber(value)) return 'number';
  if (Array.isArray(value)) return 'list';
  if (value instanceof Set) return 'set';
  if (value instanceof Uint8Array) return 'binary';
  return typeof value === 'object' ? 'map' : typeof value;
}

/**
 * An item that cannot be migrated as it stands (missing or mistyped input). Retrying will
 * not help; the message names the item and the field so an operator can fix it.
 */
export class MalformedItemError extends Error {
  override readonly name = 'MalformedItemError';
  /** The declared table's name. */
  readonly table: string;
  /** The key attributes the item has (possibly incomplete when a key attribute is broken). */
  readonly key: Key;
  /** The attribute at fault ('' when the reason names no single attribute). */
  readonly field: string;
  readonly problem: MalformedProblem;
  /** For `reason`: the reason as given. */
  readonly reason: string | undefined;
  /** For `wrong-type`: the type found and the type required. */
  readonly actualType: string | undefined;
  readonly expectedType: string | undefined;

  constructor(
    table: string,
    key: Key,
    field: string,
    problem: MalformedProblem,
    detail: { actualType?: string; expectedType?: string; value?: unknown; reason?: string } = {},
  ) {
    const expectedType = problem === 'wrong-type' ? (detail.expectedType ?? 'string') : undefined;
    const what =
      problem === 'missing'
        ? 'is missing'
        : problem === 'empty'
          ? 'is empty'
          : problem === 'not-a-version'
            ? `is ${JSON.stringify(detail.value)}, not a version the search guard can order (ISO-8601, or whole epoch seconds or milliseconds as a number or digit string)`
            : `has type ${detail.actualType ?? 'unknown'}, expected ${expectedType}`;
    super(
      problem === 'reason'
        ? `${table} item ${formatKey(key)}: ${field ? `field "${field}" ` : ''}${detail.reason ?? 'is malformed'}`
        : `${table} item ${formatKey(key)}: field "${field}" ${what}`,
    );
    this.table = table;
    this.key = key;
    this.field = field;
    this.problem = problem;
    this.actualType = problem === 'wrong-type' ? (detail.actualType ?? 'unknown') : undefined;
    this.expectedType = expectedType;
    this.reason = problem === 'reason' ? (detail.reason ?? 'is malformed') : undefined;
  }
}

// `name` checks keep working when two copies of the module meet (bundles, test workers).
export function isMalformedItemError(e: unknown): e is MalformedItemError {
  return e instanceof MalformedItemError || (e instanceof Error && e.name === 'MalformedItemError');
}

/**
 * Planning needed a lookup result that the caller did not look up. Adapters must look up
 * before planning: a failed lookup is retried, never silently turned into a default.
 */
export class LookupMissingError extends Error {
  override readonly name = 'LookupMissingError';
  readonly table: string;
  readonly key: Key;
  /** The looked-up key (for the registry's user-type lookup: the user id). */
  readonly userId: string;
  /** The declared lookup's name ('user-type' for the registry's). */
  readonly lookup: string;

  /**
   * @param lookup a declared lookup's name and what it describes, e.g. the lookup key's id;
   * @default the registry's user-type lookup (`userId` is the user id)
   */
  constructor(table: string, key: Key, userId: string, lookup?: { name: string; what: string }) {
    super(
      lookup
        ? `${table} item ${formatKey(key)}: lookup "${lookup.name}" of ${lookup.what} was not looked up before planning`
        : `${table} item ${formatKey(key)}: user_type of user ${JSON.stringify(userId)} was not looked up before planning`,
    );
    this.table = table;
    this.key = key;
    this.userId = userId;
    this.lookup = lookup?.name ?? 'user-type';
  }
}

export function isLookupMissingError(e: unknown): e is LookupMissingError {
  return e instanceof LookupMissingError || (e instanceof Error && e.name === 'LookupMissingError');
}

// Field accessors shared by the migrations: each either returns a usable value or throws a
// MalformedItemError naming the field, so no rule ever interpolates `undefined` or `null`.

/** A required, non-empty string attribute. */
export function requireString(table: string, key: Key, item: Item, field: string): string {
  const value = item[field];
  if (value === undefined) throw new MalformedItemError(table, key, field, 'missing');
  if (typeof value !== 'string') {
    throw new MalformedItemError(table, key, field, 'wrong-type', {
      actualType: describeType(value),
    });
  }
  if (value === '') throw new MalformedItemError(table, key, field, 'empty');
  return value;
}

/** An optional string attribute: absent → undefined; present but not a string → error. */
export function optionalString(
  table: string,
  key: Key,
  item: Item,
  field: string,
): string | undefined {
  const value = item[field];
  if (value === undefined) return undefined;
  if (typeof value !== 'string') {
    throw new MalformedItemError(table, key, field, 'wrong-type', {
      actualType: describeType(value),
    });
  }
  return value;
}
