// Declared lookups: the keys a page of items needs (one BatchGetItem per looked-up table) and
// the results handed back to planning. The engine reads; a derivation only sees the results.
import { MalformedItemError } from '../errors.ts';
import { keyId } from '../keys.ts';
import type { Item, Key } from '../types.ts';
import type { LookupDef, MigrationDef, TableDef } from './define.ts';
import { keyOfItem } from './item-key.ts';
import { ConfigError, show } from './resolve.ts';

/** lookup name → looked-up key id (`lookupKeyId`) → the item read, or null when there is none. */
export type LookupResults = ReadonlyMap<string, ReadonlyMap<string, Item | null | Ambiguous>>;

/** Filed for an index key that more than one item answers: the item deriving from it is malformed. */
export const AMBIGUOUS = Object.freeze({ kind: 'streamfill.ambiguous-lookup' as const });
export type Ambiguous = typeof AMBIGUOUS;

/** The attributes a lookup's `key` returns: its index's key, else its table's. */
export function lookupKeyNames(lookup: LookupDef): readonly string[] {
  return (lookup.index?.key ?? lookup.table.key) as readonly string[];
}

/** A deep copy of an unmarshalled value (ExactNumbers are immutable and kept). */
function copyValue(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(copyValue);
  if (value instanceof Set) return new Set([...value].map(copyValue));
  if (value instanceof Uint8Array) return value.slice();
  if (
    typeof value === 'object' &&
    value !== null &&
    Object.getPrototypeOf(value) === Object.prototype
  )
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, copyValue(v)]));
  return value;
}

/**
 * The item a derivation (and its lookups' `key`) sees: declared inputs and the key only, as a
 * copy, so a derive that mutates what it reads cannot change the item the engine diffs.
 */
export function restrictItem(item: Item, attributes: readonly string[]): Item {
  const seen: Item = {};
  for (const a of attributes) if (item[a] !== undefined) seen[a] = copyValue(item[a]);
  return Object.freeze(seen);
}

/** The attributes a migration's derive and lookups may read. */
export function readableAttributes(
  table: TableDef,
  m: Pick<MigrationDef, 'inputs'>,
): readonly string[] {
  return [...new Set([...table.key, ...m.inputs])];
}

/**
 * The key `lookup` reads for an item (as restricted for `migration`), or null: nothing to
 * read. A key attribute the item cannot supply makes the item malformed; a key of the wrong
 * shape is a config error.
 */
export function lookupKeyOf(
  lookup: LookupDef,
  migration: string,
  seen: Item,
  item: { table: string; key: Key },
): Key | null {
  const raw = lookup.key(seen);
  if (raw === null) return null;
  const names = lookupKeyNames(lookup);
  if (
    typeof raw !== 'object' ||
    Array.isArray(raw) ||
    Object.keys(raw).length !== names.length ||
    !names.every((n) => n in raw)
  ) {
    throw new ConfigError([
      `lookup "${lookup.name}" (migration "${migration}"): key must return null or exactly ${show(names)}, got ${show(raw)}`,
    ]);
  }
  try {
    return keyOfItem(lookupShape(lookup), raw);
  } catch (e) {
    throw new MalformedItemError(item.table, item.key, '', 'reason', {
      reason: `lookup "${lookup.name}" (migration "${migration}") has no usable key: ${(e as Error).message}`,
    });
  }
}

/** The key shape a lookup reads by, as a table: its index's (named table@index) or its table's. */
function lookupShape(lookup: LookupDef): TableDef {
  return lookup.index
    ? { ...lookup.table, name: `${lookup.table.name}@${lookup.index.name}`, key: lookup.index.key }
    : lookup.table;
}

/** The id a lookup result is filed under in LookupResults. */
export function lookupKeyId(lookup: LookupDef, key: Key): string {
  return keyId(lookupShape(lookup).name, key);
}

/** `lookupKeyId` of an index key: what an index lookup's results and dependencies are filed by. */
export function indexKeyId(table: string, index: string, key: Key): string {
  return keyId(`${table}@${index}`, key);
}

/** What one page of items needs read: per looked-up table, its distinct keys. */
export interface LookupReads {
  /** Declared table name → distinct keys to read (one BatchGetItem per table). */
  readonly byTable: ReadonlyMap<string, readonly Key[]>;
  /** Index lookups: lookup name → the index and its distinct keys (one Query per key). */
  readonly byIndex: ReadonlyMap<string, IndexReads>;
  /** Lookup name → key ids it needs (to file the results, see `lookupResults`). */
  readonly byLookup: ReadonlyMap<string, ReadonlyMap<string, Key>>;
}

/** What one index lookup reads: the declared table (and its key), the index and the index keys. */
export interface IndexReads {
  readonly table: string;
  readonly tableKey: readonly string[];
  readonly index: string;
  readonly keys: readonly Key[];
}

/**
 * The distinct keys the items' migrations look up. An item whose key or lookup key is
 * malformed is skipped here (planning parks it with the reason).
 */
export function collectLookupReads(
  table: TableDef,
  migrations: readonly Pick<MigrationDef, 'name' | 'inputs' | 'lookups'>[],
  items: readonly Item[],
): LookupReads {
  const byLookup = new Map<string, Map<string, Key>>();
  const byTable = new Map<string, Map<string, Key>>();
  const byIndexKeys = new Map<string, Map<string, Key>>();
  const declared = new Map(migrations.flatMap((m) => m.lookups ?? []).map((l) => [l.name, l]));
  for (const item of items) {
    let key: Key;
    try {
      key = keyOfItem(table, item);
    } catch {
      continue;
    }
    for (const m of migrations) {
      if (!m.lookups?.length) continue;
      const seen = restrictItem(item, readableAttributes(table, m));
      for (const l of m.lookups) {
        let lk: Key | null;
        try {
          lk = lookupKeyOf(l, m.name, seen, { table: table.name, key });
        } catch (e) {
          if (e instanceof ConfigError) throw e;
          continue;
        }
        if (lk === null) continue;
        const id = lookupKeyId(l, lk);
        if (!byLookup.has(l.name)) byLookup.set(l.name, new Map());
        byLookup.get(l.name)!.set(id, lk);
        const at = l.index ? `${l.name}` : l.table.name;
        const group = l.index ? byIndexKeys : byTable;
        if (!group.has(at)) group.set(at, new Map());
        group.get(at)!.set(id, lk);
      }
    }
  }
  return {
    byTable: new Map([...byTable].map(([t, keys]) => [t, [...keys.values()]])),
    byIndex: new Map(
      [...byIndexKeys].map(([name, keys]) => {
        const l = declared.get(name) as LookupDef;
        return [
          name,
          {
            table: l.table.name,
            tableKey: l.table.key,
            index: l.index!.name,
            keys: [...keys.values()],
          },
        ];
      }),
    ),
    byLookup,
  };
}

/**
 * Files the items read (per declared table; per lookup for index lookups) as LookupResults:
 * every key the page needed gets its item, or null when there is none (AMBIGUOUS when an index
 * key has several). A table or index missing from the reads (its read failed) leaves its keys
 * out, so planning the items that need them throws LookupMissingError.
 */
export function lookupResults(
  reads: LookupReads,
  lookups: ReadonlyMap<string, LookupDef>,
  read: ReadonlyMap<string, readonly Item[]>,
  indexed: ReadonlyMap<string, readonly Item[]> = new Map(),
): LookupResults {
  const results = new Map<string, Map<string, Item | null | Ambiguous>>();
  for (const [name, ids] of reads.byLookup) {
    const lookup = lookups.get(name);
    const items = lookup && (lookup.index ? indexed.get(name) : read.get(lookup.table.name));
    if (!lookup || !items) continue;
    const shape = lookupShape(lookup);
    const found = new Map<string, Item | Ambiguous>();
    for (const item of items) {
      try {
        const id = lookupKeyId(lookup, keyOfItem(shape, item));
        found.set(id, found.has(id) ? AMBIGUOUS : item);
      } catch {
        // An item without a usable key cannot be the one asked for.
      }
    }
    results.set(name, new Map([...ids.keys()].map((id) => [id, found.get(id) ?? null])));
  }
  return results;
}
