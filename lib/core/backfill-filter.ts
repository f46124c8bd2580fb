// What the backfill scanner reads of a table and which items it may leave out, from the
// config's declarations: the projection is the planner's (keys, inputs, current values of
// written attributes, TTL). The "already migrated" filter is given up: see scanFilterOf.
import type { Planner } from './config/planner.ts';

/** A FilterExpression with its placeholders, as the segment scanner takes it. */
export interface PendingFilter {
  expression: string;
  names: Record<string, string>;
}

/** The scan's projection and filter, with the filter (or why there is none) in words. */
export interface ScanShape {
  projection: string[];
  filter: PendingFilter | undefined;
  filterText: string;
}

/** Why a full scan of a declared config has no "already migrated" filter. */
export const NO_DECLARED_FILTER =
  "none: a declared migration's derive may leave a written attribute absent or remove it, so " +
  'no filter on attributes can tell a migrated item from a pending one; every item is enqueued ' +
  'and the worker plans it (an item that needs nothing is skipped; conditional writes keep live ' +
  'application writes)';

/**
 * What a scan of `table` for the `enabled` migrations reads, and leaves out. A filter could
 * only look at which attributes are present, and `derive` is arbitrary code: a write it leaves
 * undefined (an absent input, a contract step removing an attribute) is absent once migrated,
 * so "attribute_not_exists(write)" would either enqueue those items forever or (for removals)
 * never. Enqueuing every item is the sound choice: over-enqueueing costs worker reads, never a
 * wrong write. `filter` stays in the shape for the run record's continuity machinery.
 */
export function scanFilterOf(
  planner: Pick<Planner, 'projection'>,
  table: string,
  enabled: readonly string[],
): ScanShape {
  return {
    projection: planner.projection(table, enabled),
    filter: undefined,
    filterText: NO_DECLARED_FILTER,
  };
}
