// The one migration pipeline shared by every entry point (the stream consumer, the SQS backfill
// worker): read the page's declared lookups once, plan purely with the config's planner, write
// through the one writer, then send one bulk request to OpenSearch. Entry points differ only in
// which items they feed in. Every item whose DynamoDB state is settled gets its guarded search
// update, our own write's record included: the guard makes a repeat a cheap no-op, and an
// update that never landed (outage, a pass without search) is sent again.
import { isLookupMissingError, isMalformedItemError } from '../core/errors.ts';
import type { Item, ItemChange, Key, SearchChange, SearchOutcome } from '../core/types.ts';
import type { DependencyStore } from '../adapters/dependency-store.ts';
import type { CopyWriter } from '../adapters/copy-writer.ts';
import type { DynamoWriter } from '../adapters/dynamo-writer.ts';
import type { LookupReader, LookupReadResult } from '../adapters/lookup-reader.ts';
import type { Planner } from '../core/config/planner.ts';
import { isSearchNotReadyError, type SearchIndex } from '../adapters/search-index.ts';

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
  /** The keyword update that was sent (a repair task re-sends it). */
  searchChange?: SearchChange;
}

export interface EngineDeps {
  /** The loaded config, compiled: what every item is planned by. */
  planner: Planner;
  writer: DynamoWriter;
  /** Reads the declared lookups (strongly consistent BatchGetItem). */
  lookups: LookupReader;
  /** Writes the config's copies (their ledger is the state table). Absent: copies fail. */
  copies?: CopyWriter;
  /** The copies' dependency stamps and edges (the state table), with `copies`. */
  dependencies?: DependencyStore;
  /** Absent: the search migrations are skipped. */
  search?: SearchIndex;
  /** The migrations to apply. @default the config's default migrations of the items' table */
  migrations?: readonly string[];
  nowSeconds?: () => number;
}

export interface MigrateOptions {
  /** Wait for OpenSearch to make the updates visible (tests, demo). */
  refresh?: boolean;
}

/**
 * The migrations that apply to `table`'s items: `deps.migrations` (default: the config's
 * default ones), less the search ones when there is no search index.
 */
export function enabledMigrations(
  table: string,
  deps: Pick<EngineDeps, 'planner' | 'migrations' | 'search'>,
): string[] {
  return deps.planner
    .migrationsFor(table, deps.migrations)
    .filter((m) => deps.search || deps.planner.summaries.get(m.name)?.target !== 'search')
    .map((m) => m.name);
}

/**
 * Migrates items of `table`. Per-item problems come back as results, index-aligned with
 * `items`, so callers can fail just those items: a lookup that could not be read fails only
 * the items that needed it.
 *
 * @example
 * const results = await migrateItems('orders', newImages, deps);
 * const retry = results.filter((r) => !isSettled(r));
 */
export async function migrateItems(
  table: string,
  items: readonly Item[],
  deps: EngineDeps,
  options: MigrateOptions = {},
): Promise<ItemResult[]> {
  const { planner } = deps;
  const enabled = enabledMigrations(table, deps);
  const reads = planner.collectLookups(table, items, enabled);
  const read: LookupReadResult =
    reads.byTable.size || reads.byIndex.size
      ? await deps.lookups.read(reads.byTable, reads.byIndex)
      : { read: new Map(), failed: new Map(), indexed: new Map() };
  const ctx = {
    lookups: planner.lookupResults(reads, read.read, read.indexed),
    nowSeconds: (deps.nowSeconds ?? (() => Math.floor(Date.now() / 1000)))(),
  };

  const results: ItemResult[] = [];
  const changes: { index: number; change: ItemChange }[] = [];
  const searches: (SearchChange | null)[] = [];
  items.forEach((item, index) => {
    try {
      const plan = planner.planItem(table, item, ctx, enabled);
      results.push({
        key: planner.keyOf(table, item),
        outcome: plan.expired ? 'expired' : 'unchanged',
      });
      searches.push(plan.search);
      if (plan.change) changes.push({ index, change: plan.change });
    } catch (e) {
      results.push(failure(planner, table, item, e, read.failed));
      searches.push(null);
    }
  });

  await applyChanges(deps.writer, changes, results);

  if (deps.search && searches.some((s) => s !== null)) {
    // Only items whose DynamoDB state we know: a conflict or delete means a newer version
    // exists, and its own stream record carries the right values. Our own write's record is
    // sent too (same version: the guard makes it a no-op unless the first update never landed).
    const wanted = searches.flatMap((s, i) => {
      const r = results[i] as ItemResult;
      const send = s !== null && (r.outcome === 'migrated' || r.outcome === 'unchanged');
      if (send) r.searchChange = s;
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
      // Not ready (no index, wrong mapping): nothing was sent, the records are retried.
      // Unreachable: the DynamoDB writes stand; the caller may defer the updates to repairs.
      const outcome = isSearchNotReadyError(e) ? 'not-ready' : 'failed';
      for (const w of wanted) {
        const r = results[w.i] as ItemResult;
        r.search = outcome;
        r.reason = `search: ${(e as Error).message}`;
      }
    }
  }
  return results;
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

/**
 * A planning failure as a result: malformed items are parked; an item whose lookup table could
 * not be read fails with that read's error (it is retried, never planned with a default).
 */
function failure(
  planner: Planner,
  table: string,
  item: Item,
  e: unknown,
  lookupFailures: ReadonlyMap<string, string>,
): ItemResult {
  if (isMalformedItemError(e)) return { key: e.key, outcome: 'malformed', reason: e.message };
  const key = planner.partialKey(table, item);
  if (isLookupMissingError(e)) {
    const lookedUp = planner.resolved.lookups.get(e.lookup)?.table.name;
    const why = lookedUp === undefined ? undefined : lookupFailures.get(lookedUp);
    if (why !== undefined) return { key, outcome: 'failed', reason: why };
  }
  return { key, outcome: 'failed', reason: (e as Error).message };
}

/** True when the item needs nothing more from the pipeline (success or a final skip). */
export function isSettled(r: ItemResult): boolean {
  const dynamoOk = r.outcome !== 'failed' && r.outcome !== 'malformed';
  return dynamoOk && r.search !== 'failed' && r.search !== 'not-ready';
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
