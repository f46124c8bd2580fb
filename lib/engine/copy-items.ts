// The copy pipeline, beside the migration one (migrate-items.ts) and fed by the same entry points:
// for each changed source item (a stream record, a scanned item) — or a source that is gone —
// read the page's lookups once, plan every enabled copy of its table, and write each plan as one
// transaction (lib/adapters/copy-writer.ts). Results come back index-aligned, like migrateItems.
import { isLookupMissingError, isMalformedItemError } from '../core/errors.ts';
import type { Item, Key } from '../core/types.ts';
import type { CopyApplyResult } from '../adapters/copy-writer.ts';
import type { LookupReadResult } from '../adapters/lookup-reader.ts';
import type { CopyPlan } from '../core/config/plan-copy.ts';
import type { EngineDeps, ItemOutcome, ItemResult } from './migrate-items.ts';

/** A source item as it is now; `image` undefined: it is gone (deleted, expired). */
export interface SourceChange {
  key: Key;
  image: Item | undefined;
}

/** The enabled copies of `table`'s items (`deps.migrations`, default: the config's). */
export function enabledCopies(table: string, deps: Pick<EngineDeps, 'planner' | 'migrations'>) {
  return deps.planner.copiesFor(table, deps.migrations).map((c) => c.name);
}

/**
 * Copies changed source items of `table` into their targets. An item whose copies need nothing
 * is `unchanged`; one no copy of the config reads is `unchanged` too.
 *
 * @example
 * const results = await copyItems('v2', [{ key, image: newImage }], deps);
 */
export async function copyItems(
  table: string,
  changes: readonly SourceChange[],
  deps: EngineDeps,
): Promise<ItemResult[]> {
  const { planner } = deps;
  const enabled = enabledCopies(table, deps);
  if (enabled.length === 0) return changes.map((c) => ({ key: c.key, outcome: 'unchanged' }));
  const writer = deps.copies;
  if (!writer)
    return changes.map((c) => ({
      key: c.key,
      outcome: 'failed',
      reason: `copies ${enabled.join(', ')} need the state table (their ledger): none is configured`,
    }));

  const present = changes.flatMap((c) => (c.image ? [c.image] : []));
  const reads = planner.collectLookups(table, present, enabled);
  const read: LookupReadResult =
    reads.byTable.size || reads.byIndex.size
      ? await deps.lookups.read(reads.byTable, reads.byIndex)
      : { read: new Map(), failed: new Map(), indexed: new Map() };
  const nowSeconds = (deps.nowSeconds ?? (() => Math.floor(Date.now() / 1000)))();
  const ctx = { lookups: planner.lookupResults(reads, read.read, read.indexed), nowSeconds };

  const results: ItemResult[] = [];
  const plans: { index: number; plan: CopyPlan }[] = [];
  changes.forEach((c, index) => {
    if (c.image && planner.isExpired(table, c.image, nowSeconds)) {
      // TTL deletes it; its REMOVE record deletes the targets.
      results.push({ key: c.key, outcome: 'expired' });
      return;
    }
    try {
      for (const plan of planner.planCopies(table, c.key, c.image, ctx, enabled))
        plans.push({ index, plan });
      results.push({ key: c.key, outcome: 'unchanged' });
    } catch (e) {
      results.push(planFailure(c.key, e, planner.resolved.lookups, read.failed));
    }
  });

  const applied = await writer.applyAll(plans.map((p) => p.plan));
  applied.forEach((r, i) => {
    const result = results[(plans[i] as { index: number }).index] as ItemResult;
    Object.assign(result, worse(result, fromCopy(r)));
  });
  return results;
}

function fromCopy(r: CopyApplyResult): Pick<ItemResult, 'outcome' | 'reason'> {
  return { outcome: r.outcome, ...(r.reason !== undefined && { reason: r.reason }) };
}

function planFailure(
  key: Key,
  e: unknown,
  lookups: EngineDeps['planner']['resolved']['lookups'],
  lookupFailures: ReadonlyMap<string, string>,
): ItemResult {
  if (isMalformedItemError(e)) return { key, outcome: 'malformed', reason: e.message };
  if (isLookupMissingError(e)) {
    const lookedUp = lookups.get(e.lookup)?.table.name;
    const why = lookedUp === undefined ? undefined : lookupFailures.get(lookedUp);
    if (why !== undefined) return { key, outcome: 'failed', reason: why };
  }
  return { key, outcome: 'failed', reason: (e as Error).message };
}

// What a record's result is when several derivations (migrations, copies) ran on it: the one
// that needs the most attention.
const RANK: Record<ItemOutcome, number> = {
  failed: 6,
  malformed: 5,
  conflict: 4,
  missing: 3,
  migrated: 2,
  unchanged: 1,
  expired: 0,
};

/** The outcome (and reason) that needs the most attention of two results for one item. */
export function worse<T extends Pick<ItemResult, 'outcome' | 'reason'>>(
  a: T,
  b: Pick<ItemResult, 'outcome' | 'reason'>,
): Pick<ItemResult, 'outcome' | 'reason'> {
  return RANK[b.outcome] > RANK[a.outcome]
    ? b
    : { outcome: a.outcome, ...(a.reason !== undefined && { reason: a.reason }) };
}
