// Composition: the planned changes of an item become at most ONE conditional UpdateItem; and
// the pure checks of a change against an item (conditions, already applied).
import { sameValue } from './item-equality.ts';
import { keyId } from './keys.ts';
import type { Condition, Item, ItemChange, SearchChange } from './types.ts';

export interface PlanResult {
  change: ItemChange | null;
  search: SearchChange | null;
  /** The item's TTL has passed: TTL deletes it, we never write to it. */
  expired?: boolean;
}

/** The item as it will be once `change` is applied (pure: a new object). */
export function applyChange(item: Item, change: ItemChange): Item {
  const next: Item = { ...item, ...change.set };
  for (const attribute of change.remove) delete next[attribute];
  return next;
}

function sameCondition(a: Condition, b: Condition): boolean {
  return (
    a.op === b.op &&
    a.attribute === b.attribute &&
    (a.op !== 'equals' || (b.op === 'equals' && sameValue(a.value, b.value)))
  );
}

/**
 * Merges changes to the same item: union of set/remove, conditions de-duplicated, all
 * contributors listed. Contradictory changes are a programming error and throw.
 */
export function mergeChanges(changes: readonly ItemChange[]): ItemChange | null {
  const [first, ...rest] = changes;
  if (first === undefined) return null;
  const merged: ItemChange = {
    table: first.table,
    key: { ...first.key },
    set: { ...first.set },
    remove: [...first.remove],
    conditions: [...first.conditions],
    migrations: [...first.migrations],
  };
  const id = keyId(first.table, first.key);
  for (const change of rest) {
    if (keyId(change.table, change.key) !== id) {
      throw new Error(
        `cannot merge changes of different items: ${id} and ${keyId(change.table, change.key)}`,
      );
    }
    for (const [attribute, value] of Object.entries(change.set)) {
      if (attribute in merged.set && !sameValue(merged.set[attribute], value)) {
        throw new Error(`conflicting values for ${attribute} in ${id}`);
      }
      merged.set[attribute] = value;
    }
    for (const attribute of change.remove) {
      if (!merged.remove.includes(attribute)) merged.remove.push(attribute);
    }
    for (const condition of change.conditions) {
      if (!merged.conditions.some((c) => sameCondition(c, condition)))
        merged.conditions.push(condition);
    }
    for (const name of change.migrations) {
      if (!merged.migrations.includes(name)) merged.migrations.push(name);
    }
  }
  const both = merged.remove.filter((attribute) => attribute in merged.set);
  if (both.length > 0) throw new Error(`${id}: ${both.join(', ')} both set and removed`);
  return merged;
}

/** Whether `conditions` hold on `item` (absent = undefined), as DynamoDB would evaluate them. */
export function conditionsHold(item: Item | undefined, conditions: readonly Condition[]): boolean {
  return conditions.every((c) => {
    const value = item?.[c.attribute];
    if (c.op === 'exists') return value !== undefined;
    if (c.op === 'notExists') return value === undefined;
    return sameValue(value, c.value);
  });
}

/**
 * Whether `current` already is what `change` would make of the planned item: an earlier
 * attempt of the same write succeeded (a retried record, a replayed batch). Conditions on
 * attributes the change itself writes are moot; every other one must still hold.
 */
export function changeAlreadyApplied(current: Item, change: ItemChange): boolean {
  const written = new Set([...Object.keys(change.set), ...change.remove]);
  return (
    Object.entries(change.set).every(([attribute, value]) =>
      sameValue(current[attribute], value),
    ) &&
    change.remove.every((attribute) => current[attribute] === undefined) &&
    conditionsHold(
      current,
      change.conditions.filter((c) => c.op === 'exists' || !written.has(c.attribute)),
    )
  );
}
