// The one migration pipeline shared by every entry point (stream consumer, in-process historic
// pass, demo; the SQS backfill worker, still to come, will call it too): look users up once per batch, plan purely, write through
// the one writer, then send one bulk request to OpenSearch. Entry points differ only in
// which items they feed in.
import { isMalformedItemError } from '../core/errors.ts';
import { keyOf, partialKey } from '../core/keys.ts';
import { sameValue } from '../core/item-equality.ts';
import { migrationsFor, type MigrationName } from '../core/migrations/index.ts';
import { applyChange, planItem } from '../core/plan.ts';
import type {
  Item,
  ItemChange,
  Key,
  PlanContext,
  SearchChange,
  SearchOutcome,
  TableRole,
} from '../core/types.ts';
import type { DynamoWriter } from '../adapters/dynamo-writer.ts';
import type { SearchIndex } from '../adapters/search-index.ts';
import type { UserTypeLookup } from '../adapters/user-type-lookup.ts';

export type ItemOutcome =
  'migrated' | 'unchanged' | 'conflict' | 'missing' | 'expired' | 'malformed' | 'failed';

export interface ItemResult {
  key: Key;
  outcome: ItemOutcome;
  /** Present when a search update was attempted for this item. */
  search?: SearchOutcome;
  /** Why: for `malformed`, `failed` and a failed search update. */
  reason?: string;
  /** The DynamoDB change that was applied or attempted. */
  change?: ItemChange;
}

export interface EngineDeps {
  writer: DynamoWriter;
  lookup: UserTypeLookup;
  /** Absent: the search migrations are skipped. */
  search?: SearchIndex;
  /** The migrations to apply. @default every registered migration of the items' table */
  migrations?: readonly MigrationName[];
  nowSeconds?: () => number;
}

export interface MigrateOptions {
  /**
   * The items' previous versions (a stream record's OldImage), index-aligned with `items`.
   * With them, a record that our own write produced sends nothing to OpenSearch: an
   * application change reaches it once (with the write it caused), never twice.
   */
  previous?: readonly (Item | undefined)[];
  /** Wait for OpenSearch to make the updates visible (tests, demo). */
  refresh?: boolean;
}

/**
 * The migrations that apply to `table`'s items: `deps.migrations` (default: all of the
 * table's), less the search ones when there is no search index.
 */
export function enabledMigrations(
  table: TableRole,
  deps: Pick<EngineDeps, 'migrations' | 'search'>,
): MigrationName[] {
  return migrationsFor(table, deps.migrations)
    .filter((m) => m.target !== 'search' || deps.search)
    .map((m) => m.name);
}

/**
 * Migrates items of `table`. Throws only when the whole batch cannot proceed (user lookup
 * failed); per-item problems come back as results, index-aligned with `items`, so callers can
 * fail just those items.
 *
 * @example
 * const results = await migrateItems('session', newImages, deps, { previous: oldImages });
 * const retry = results.filter((r) => !isSettled(r));
 */
export async function migrateItems(
  table: TableRole,
  items: readonly Item[],
  deps: EngineDeps,
  options: MigrateOptions = {},
): Promise<ItemResult[]> {
  const enabled = enabledMigrations(table, deps);
  const needsUsers = migrationsFor(table, enabled).some((m) => m.lookups?.includes('user-type'));
  const userIds = needsUsers
    ? [...items, ...(options.previous ?? [])].flatMap((i) =>
        i && typeof i.user_id === 'string' && i.user_type === undefined ? [i.user_id] : [],
      )
    : [];
  const ctx: PlanContext = {
    ...(needsUsers && { userTypes: await deps.lookup.resolve(userIds) }),
    nowSeconds: (deps.nowSeconds ?? (() => Math.floor(Date.now() / 1000)))(),
  };

  const results: ItemResult[] = [];
  const changes: { index: number; change: ItemChange }[] = [];
  const searches: (SearchChange | null)[] = [];
  items.forEach((item, index) => {
    try {
      const plan = planItem(table, item, ctx, enabled);
      results.push({ key: keyOf(table, item), outcome: plan.expired ? 'expired' : 'unchanged' });
      searches.push(plan.search);
      if (plan.change) changes.push({ index, change: plan.change });
    } catch (e) {
      results.push(failure(table, item, e));
      searches.push(null);
    }
  });

  await applyChanges(deps.writer, changes, results);

  if (deps.search && searches.some((s) => s !== null)) {
    // Only items whose DynamoDB state we know: a conflict or delete means a newer version
    // exists, and its own stream record carries the right keywords.
    const wanted = searches.flatMap((s, i) => {
      const r = results[i] as ItemResult;
      const send =
        s !== null &&
        (r.outcome === 'migrated' ||
          (r.outcome === 'unchanged' &&
            !isOwnWrite(table, items[i] as Item, options.previous?.[i], ctx, enabled)));
      return send ? [{ i, s }] : [];
    });
    try {
      const out = await deps.search.applyUpdates(
        wanted.map((w) => w.s),
        options.refresh,
      );
      out.forEach((o, j) => {
        const r = results[(wanted[j] as { i: number }).i] as ItemResult;
        r.search = o.outcome;
        if (o.error) r.reason = `search: ${o.error}`;
      });
    } catch (e) {
      // OpenSearch unreachable: the items' DynamoDB writes stand; mark them for a retry.
      for (const w of wanted) {
        const r = results[w.i] as ItemResult;
        r.search = 'failed';
        r.reason = `search: ${(e as Error).message}`;
      }
    }
  }
  return results;
}

/**
 * Whether `item` is exactly what our own write made of `previous`: its stream record then
 * carries nothing new for OpenSearch (we sent the keywords when we wrote).
 */
function isOwnWrite(
  table: TableRole,
  item: Item,
  prev: Item | undefined,
  ctx: PlanContext,
  enabled: readonly string[],
): boolean {
  if (!prev) return false;
  try {
    const change = planItem(table, prev, ctx, enabled).change;
    return change !== null && sameValue(applyChange(prev, change), item);
  } catch {
    return false; // the previous version was malformed: we never wrote it
  }
}

/** Writes the planned changes and records each write's outcome on its item's result. */
async function applyChanges(
  writer: DynamoWriter,
  changes: readonly { index: number; change: ItemChange }[],
  results: ItemResult[],
): Promise<void> {
  const applied = await writer.applyAll(changes.map((c) => c.change));
  applied.forEach((r, i) => {
    const result = results[(changes[i] as { index: number }).index] as ItemResult;
    result.outcome = r.outcome;
    result.change = r.change;
    if (r.error) result.reason = r.error.message;
  });
}

function failure(table: TableRole, item: Item, e: unknown): ItemResult {
  if (isMalformedItemError(e)) return { key: e.key, outcome: 'malformed', reason: e.message };
  return { key: partialKey(table, item), outcome: 'failed', reason: (e as Error).message };
}

/** True when the item needs nothing more from the pipeline (success or a final skip). */
export function isSettled(r: ItemResult): boolean {
  const dynamoOk = r.outcome !== 'failed' && r.outcome !== 'malformed';
  return dynamoOk && r.search !== 'failed';
}

/** Counts results by outcome, plus search outcomes under `search-<outcome>`. */
export function countOutcomes(results: readonly ItemResult[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const r of results) {
    counts[r.outcome] = (counts[r.outcome] ?? 0) + 1;
    if (r.search) {
      const k = r.search.startsWith('search-') ? r.search : `search-${r.search}`;
      counts[k] = (counts[k] ?? 0) + 1;
    }
  }
  return counts;
}
