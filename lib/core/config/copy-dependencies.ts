// What a copy's derivation depends on besides its source: the items its lookups read. Each read
// becomes (1) an edge, so a change of the looked-up item re-derives the source (its dependent),
// and (2) a check in the copy's transaction, so a derivation from a looked-up item that changed
// before the write never lands. Pure: the copy writer and the dependents' re-derivation
// (lib/engine/copy-dependents.ts) turn these into state-table items.
//
// Why this converges: a looked-up item's stream record first bumps the stamp of each index key it
// now answers, then reads the edges. A dependent that commits before the bump has its edge read
// and is re-derived; one that commits after it read the stamp before the bump and its check fails.
import { keyId } from '../keys.ts';
import type { Condition, Item, Key } from '../types.ts';
import type { LookupDef } from './define.ts';
import { keyOfItem } from './item-key.ts';
import { lookupKeyNames } from './lookups.ts';
import { readConditions } from './plan-derived.ts';

/** The state-table partition of what depends on one looked-up key of one lookup. */
export function dependencyKey(lookup: string, id: string): string {
  return `dep#${lookup}#${id}`;
}

/** The sort key of a dependency's stamp (index lookups): bumped by each record answering it. */
export const STAMP_SK = 'stamp';

/** The sort key of one dependent's edge in a dependency's partition. */
export function edgeSk(copy: string, sourceId: string): string {
  return `edge#${copy}#${sourceId}`;
}

/** One lookup a derivation made: the key it asked for (its id) and the item found. */
export interface LookupRead {
  readonly lookup: LookupDef;
  /** The key asked for (the index's key for an index lookup) and its `lookupKeyId`. */
  readonly key: Key;
  readonly id: string;
  /** The whole item read (consistently), or null: none. */
  readonly found: Item | null;
}

/** A check the copy's transaction makes besides the source's. */
export type DependencyCheck =
  /** A looked-up item still holds what was read (or is still absent). */
  | {
      readonly kind: 'item';
      readonly table: string;
      readonly key: Key;
      readonly conditions: readonly Condition[];
    }
  /** An index key's stamp is still the revision read (null: it had none). */
  | { readonly kind: 'stamp'; readonly dependency: string; readonly rev: number | null };

export interface Dependencies {
  /** Dependency keys (`dependencyKey`) the source has an edge in, sorted. */
  readonly on: readonly string[];
  readonly checks: readonly DependencyCheck[];
}

/**
 * The dependencies of a derivation that made `reads`. `stamps`: dependency key → revision read
 * (absent: the stamp did not exist). A looked-up item is depended on by its own key; an index
 * key by its index key too (a new item may come to answer it).
 */
export function dependenciesOf(
  reads: readonly LookupRead[],
  stamps: ReadonlyMap<string, number> = new Map(),
): Dependencies {
  const on = new Set<string>();
  const items = new Map<string, { table: string; key: Key; conditions: Condition[] }>();
  const checks: DependencyCheck[] = [];
  const checkItem = (table: string, key: Key, conditions: Condition[]) => {
    const id = keyId(table, key);
    const known = items.get(id);
    if (known) known.conditions.push(...conditions.slice(1));
    else items.set(id, { table, key, conditions: [...conditions] });
  };
  for (const { lookup, key: asked, id, found } of reads) {
    const table = lookup.table;
    if (!lookup.index) {
      on.add(dependencyKey(lookup.name, id));
      checkItem(
        table.name,
        asked,
        found
          ? readConditions(table, lookup.attributes, found)
          : [{ op: 'notExists', attribute: table.key[0] }],
      );
      continue;
    }
    const dependency = dependencyKey(lookup.name, id);
    on.add(dependency);
    if (!checks.some((c) => c.kind === 'stamp' && c.dependency === dependency))
      checks.push({ kind: 'stamp', dependency, rev: stamps.get(dependency) ?? null });
    if (!found) continue;
    const key = keyOfItem(table, found);
    on.add(dependencyKey(lookup.name, keyId(table.name, key)));
    checkItem(table.name, key, [
      ...readConditions(table, lookup.attributes, found),
      // Still answering the index key it was found by.
      ...lookupKeyNames(lookup)
        .filter((n) => !(table.key as readonly string[]).includes(n))
        .map((n): Condition => ({ op: 'equals', attribute: n, value: found[n] })),
    ]);
  }
  for (const c of items.values()) checks.push({ kind: 'item', ...c });
  return { on: [...on].sort(), checks };
}
