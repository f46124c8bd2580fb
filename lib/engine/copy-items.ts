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
  const enabled = enabledCopies(table, deps);
  if (enabled.length === 0) return changes.map((c) => ({ key: c.key, outcome: 'unchanged' }));
  if (!deps.copies)
    return changes.map((c) => ({
      key: c.key,
      outcome: 'failed',
      reason: `copies ${enabled.join(', ')} need the state table (their ledger): none is configured`,
    }));

  const results: ItemResult[] = changes.map((c) => ({ key: c.key, outcome: 'unchanged' }));
  let pending = changes.map((_, index) => index);
  for (let round = 0; pending.length > 0; round++) {
    if (round === REPLAN_ROUNDS) {
      for (const i of pending)
        Object.assign(results[i] as ItemResult, {
          outcome: 'failed',
          reason: `what its lookups read changed under each of ${REPLAN_ROUNDS} derivations`,
        });
      break;
    }
    pending = await copyRound(table, changes, pending, enabled, deps, results);
  }
  return results;
}

/** Derivations of one source before giving up on looked-up items that keep changing. */
const REPLAN_ROUNDS = 5;

/**
 * Plans and writes the copies of `changes[i]` for each i of `which`, merging outcomes into
 * `results`; returns the indices whose plan went stale (a looked-up item changed), to derive again.
 */
async function copyRound(
  table: string,
  changes: readonly SourceChange[],
  which: readonly number[],
  enabled: readonly string[],
  deps: EngineDeps,
  results: ItemResult[],
): Promise<number[]> {
  const { planner } = deps;
  const present = which.flatMap((i): Item[] => {
    const image = changes[i]?.image;
    return image ? [image] : [];
  });
  const reads = planner.collectLookups(table, present, enabled);
  const read: LookupReadResult =
    reads.byTable.size || reads.byIndex.size
      ? await deps.lookups.read(reads.byTable, reads.byIndex)
      : { read: new Map(), failed: new Map(), indexed: new Map() };
  const nowSeconds = (deps.nowSeconds ?? (() => Math.floor(Date.now() / 1000)))();
  const ctx = {
    lookups: planner.lookupResults(reads, read.read, read.indexed),
    ...(read.stamps && { stamps: read.stamps }),
    nowSeconds,
  };

  const plans: { index: number; plan: CopyPlan }[] = [];
  for (const index of which) {
    const c = changes[index] as SourceChange;
    const result = results[index] as ItemResult;
    if (c.image && planner.isExpired(table, c.image, nowSeconds)) {
      // TTL deletes it; its REMOVE record deletes the targets.
      result.outcome = 'expired';
      continue;
    }
    try {
      for (const plan of planner.planCopies(table, c.key, c.image, ctx, enabled))
        plans.push({ index, plan });
    } catch (e) {
      Object.assign(
        result,
        worse(result, planFailure(c.key, e, planner.resolved.lookups, read.failed)),
      );
    }
  }

  const applied = await (deps.copies as NonNullable<EngineDeps['copies']>).applyAll(
    plans.map((p) => p.plan),
  );
  const again = new Set<number>();
  applied.forEach((r, i) => {
    const { index } = plans[i] as { index: number };
    if (r.outcome === 'replan') again.add(index);
    else
      Object.assign(results[index] as ItemResult, worse(results[index] as ItemResult, fromCopy(r)));
  });
  return [...again];
}

function fromCopy(r: CopyApplyResult): Pick<ItemResult, 'outcome' | 'reason'> {
  const outcome = r.outcome === 'replan' ? 'failed' : r.outcome;
  return { outcome, ...(r.reason !== undefined && { reason: r.reason }) };
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
