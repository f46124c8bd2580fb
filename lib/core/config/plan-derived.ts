// A declared migration's change to one item. The user's derive only says what it wants; the
// engine computes the rest: the diff with the item, the conditions, the malformed verdict.
import {
  isMalformedDerivation,
  type CopyDef,
  type LookupDef,
  type MigrationDef,
  type TableDef,
} from './define.ts';
import { LookupMissingError, MalformedItemError } from '../errors.ts';
import { isExactNumber } from '../exact-number.ts';
import { sameValue } from '../item-equality.ts';
import type { Condition, Item, ItemChange, Key } from '../types.ts';
import {
  AMBIGUOUS,
  lookupKeyId,
  lookupKeyOf,
  readableAttributes,
  restrictItem,
  type LookupResults,
} from './lookups.ts';
import { ConfigError, show } from './resolve.ts';

/** What planning a declared migration needs; everything in it was read by adapters before. */
export interface DeclaredPlanContext {
  /** Epoch seconds; items whose TTL has passed are left alone (TTL will delete them). */
  nowSeconds?: number;
  /** The page's lookup results (see collectLookupReads / lookupResults). */
  lookups?: LookupResults;
  /** Copies: the revision of each index-key stamp read with the lookups (copy-dependencies.ts). */
  stamps?: ReadonlyMap<string, number>;
}

/** Whether DynamoDB can store `value` (as the DocumentClient marshals it). */
export function storable(value: unknown): boolean {
  if (value === null || typeof value === 'string' || typeof value === 'boolean') return true;
  if (typeof value === 'number') return Number.isFinite(value);
  if (isExactNumber(value) || value instanceof Uint8Array) return true;
  if (Array.isArray(value)) return value.every(storable);
  if (value instanceof Set) {
    const all = [...value];
    return (
      all.length > 0 &&
      (all.every((v) => typeof v === 'string') ||
        all.every((v) => (typeof v === 'number' && Number.isFinite(v)) || isExactNumber(v)) ||
        all.every((v) => v instanceof Uint8Array))
    );
  }
  if (typeof value === 'object' && Object.getPrototypeOf(value) === Object.prototype)
    return Object.values(value as object).every((v) => v === undefined || storable(v));
  return false;
}

/**
 * What must still hold for a derivation from `item` to be written: its partition key exists,
 * and every declared input that is not a key attribute equals the value read, or is still absent.
 */
export function readConditions(
  table: TableDef,
  inputs: readonly string[],
  item: Item,
): Condition[] {
  const [partitionKey] = table.key;
  const conditions: Condition[] = [{ op: 'exists', attribute: partitionKey }];
  for (const input of inputs) {
    if ((table.key as readonly string[]).includes(input)) continue;
    const value = item[input];
    conditions.push(
      value === undefined
        ? { op: 'notExists', attribute: input }
        : { op: 'equals', attribute: input, value },
    );
  }
  return conditions;
}

/**
 * `ctx.lookup` of a derive: only declared lookups, read beforehand (LookupMissing otherwise).
 * `onRead` hears of each lookup that had a key to read, with the whole item found (or null).
 */
export function lookupFor(
  m: Pick<MigrationDef | CopyDef, 'name' | 'lookups' | 'kind'>,
  table: TableDef,
  seen: Item,
  key: Key,
  ctx: DeclaredPlanContext,
  onRead?: (read: { lookup: LookupDef; key: Key; id: string; found: Item | null }) => void,
): (lookup: LookupDef) => Item | null {
  return (lookup) => {
    if (!m.lookups?.includes(lookup)) {
      throw new ConfigError([
        `${m.kind === 'streamfill.copy' ? 'copy' : 'migration'} "${m.name}": derive asked for lookup ${show(lookup?.name)}, which it does not declare in lookups`,
      ]);
    }
    const lk = lookupKeyOf(lookup, m.name, seen, { table: table.name, key });
    if (lk === null) return null;
    const id = lookupKeyId(lookup, lk);
    const results = ctx.lookups?.get(lookup.name);
    if (!results?.has(id)) {
      throw new LookupMissingError(table.name, key, id, { name: lookup.name, what: id });
    }
    const found = results.get(id);
    if (found === AMBIGUOUS)
      throw new MalformedItemError(table.name, key, '', 'reason', {
        reason: `lookup "${lookup.name}": index ${lookup.index?.name} holds more than one item for ${id}`,
      });
    onRead?.({ lookup, key: lk, id, found: found ?? null });
    return found ? restrictItem(found as Item, lookup.attributes) : null;
  };
}

/**
 * The change `m` wants for an item of `table` (key already validated), or null when the item
 * already holds every wanted value. Conditions: the partition key exists, and every declared
 * input that is not a key attribute equals the value read, or is still absent.
 * Throws MalformedItemError (the derive's `malformed(…)`), LookupMissingError, ConfigError.
 */
export function planDerived(
  m: MigrationDef,
  table: TableDef,
  item: Item,
  key: Key,
  ctx: DeclaredPlanContext,
): ItemChange | null {
  const seen = restrictItem(item, readableAttributes(table, m));
  let wanted: Record<string, unknown> | null;
  try {
    wanted = m.derive(seen as never, { lookup: lookupFor(m, table, seen, key, ctx) as never });
  } catch (e) {
    if (isMalformedDerivation(e)) {
      throw new MalformedItemError(table.name, key, '', 'reason', {
        reason: `migration "${m.name}": ${e.reason}`,
      });
    }
    throw e;
  }
  if (wanted === null) return null;
  if (typeof wanted !== 'object' || Array.isArray(wanted)) {
    throw new ConfigError([
      `migration "${m.name}": derive must return an object of writes or null, got ${show(wanted)}`,
    ]);
  }
  const set: Record<string, unknown> = {};
  const remove: string[] = [];
  for (const [attribute, value] of Object.entries(wanted)) {
    if (!m.writes.includes(attribute)) {
      throw new ConfigError([
        `migration "${m.name}": derive returned ${show(attribute)}, which is not in writes ${show(m.writes)}`,
      ]);
    }
    if (value === undefined) {
      if (item[attribute] !== undefined) remove.push(attribute);
    } else if (!storable(value)) {
      throw new ConfigError([
        `migration "${m.name}": derive returned ${show(value)} for "${attribute}", which DynamoDB cannot store`,
      ]);
    } else if (!sameValue(item[attribute], value)) {
      set[attribute] = value;
    }
  }
  if (Object.keys(set).length === 0 && remove.length === 0) return null;
  const conditions = readConditions(table, m.inputs, item);
  return { table: table.name, key, set, remove, conditions, migrations: [m.name] };
}
