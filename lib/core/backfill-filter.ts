// What the backfill scanner reads of a table and which items it may leave out, from the
// config's declarations: the projection is the planner's (keys, inputs, current values of
// written attributes, TTL), and the filter is the planner itself, run on each scanned item
// without lookups: an item it finds certainly settled is not enqueued. No filter on attributes
// can do this (a derive may leave a write absent or remove it, so presence proves nothing).
import { isCopy, isSearchMigration } from './config/resolve.ts';
import type { LookupResults } from './config/lookups.ts';
import type { Planner } from './config/planner.ts';
import type { Item } from './types.ts';

/** The scan's projection and whether it leaves out settled items, with that said in words. */
export interface ScanShape {
  projection: string[];
  /** Leave out of the queue an item the planner finds settled (see scanVerdictOf). */
  skipSettled: boolean;
  filterText: string;
}

/** The planner filter, in words (the summary's `filter`). */
export const PLANNER_FILTER =
  'planner: each scanned item is planned without lookups; one that needs no DynamoDB change ' +
  '(or is expired) is left out, one that needs a change, a lookup, or is malformed is ' +
  'enqueued (an app write the scan did not see reaches the stream consumer)';

/** Why a scan with a search migration enqueues every item. */
export const SEARCH_NO_FILTER =
  'none: a search migration is in the scan and its index documents are not read by the ' +
  'scanner, so every item is enqueued and the worker plans it (it skips what needs nothing)';

/** Why a scan with a copy enqueues every item. */
export const COPY_NO_FILTER =
  'none: a copy is in the scan and its target items are not read by the scanner, so every ' +
  'item is enqueued and the worker checks it against its ledger (it skips what needs nothing)';

/**
 * What a scan of `table` for the `enabled` migrations reads, and whether it may leave out
 * settled items. Only the DynamoDB side can be settled from the scanned item alone: with a
 * search migration in the scan, every item is enqueued (its document may lack the keywords).
 * Whether the filter is safe to use (the consumer's continuity) is the caller's decision.
 */
export function scanFilterOf(
  planner: Pick<Planner, 'projection' | 'migrationsFor'>,
  table: string,
  enabled: readonly string[],
): ScanShape {
  const ms = planner.migrationsFor(table, enabled);
  const search = ms.some(isSearchMigration);
  const copy = ms.some(isCopy);
  return {
    projection: planner.projection(table, enabled),
    skipSettled: !search && !copy,
    filterText: copy ? COPY_NO_FILTER : search ? SEARCH_NO_FILTER : PLANNER_FILTER,
  };
}

/**
 * What the scanner does with an item: `settled` (no change, no search update: left out),
 * `expired` (TTL deletes it: left out), or `enqueue`.
 */
export type ScanVerdict = 'settled' | 'expired' | 'enqueue';

/** Lookup results that hold nothing and remember being asked (any derive reading one). */
class NoLookups extends Map<string, ReadonlyMap<string, Item | null>> {
  asked = false;
  override get(): undefined {
    this.asked = true;
    return undefined;
  }
  override has(): boolean {
    this.asked = true;
    return false;
  }
}

/**
 * The scan filter's verdict on one scanned item, planned as the worker would but without
 * lookups. Only a certain "nothing to do" leaves it out: an item whose derive asked for a
 * lookup is enqueued even when the derive went on without it (a derive catching the
 * LookupMissingError must not pass for settled), and so is one whose planning throws
 * (malformed: the worker parks it with its reason; anything else: the worker says what).
 */
export function scanVerdictOf(
  planner: Pick<Planner, 'planItem'>,
  table: string,
  item: Item,
  nowSeconds: number,
  enabled: readonly string[],
): ScanVerdict {
  const lookups = new NoLookups();
  let plan;
  try {
    plan = planner.planItem(
      table,
      item,
      { lookups: lookups as LookupResults, nowSeconds },
      enabled,
    );
  } catch {
    return 'enqueue';
  }
  if (plan.expired) return 'expired';
  if (lookups.asked) return 'enqueue';
  return plan.change === null && plan.search === null ? 'settled' : 'enqueue';
}
