// A dry run's page: plans each item as the worker would (the declared lookups read for real,
// nothing enqueued, nothing written), counts what would happen and keeps a few samples.
import type { Planner } from '../core/config/planner.ts';
import type { Item } from '../core/types.ts';
import { problem, type Pass } from './backfill-pass.ts';
import type { DiffSample } from './backfill-types.ts';

type PlanResult = ReturnType<Planner['planItem']>;

/** Plans the page's items within --limit; returns how many were taken. */
export async function dryRunPage(pass: Pass, items: Item[]): Promise<number> {
  const { counts, dry } = pass;
  const taken = items.slice(0, Math.max(0, counts.limitLeft));
  if (taken.length < items.length) counts.limitHit = true;
  counts.limitLeft -= taken.length;
  const ctx = await planContextOf(pass, taken);
  const sampleLimit = pass.options.samples ?? 5;
  for (const item of taken) {
    try {
      const plan = pass.deps.planner.planItem(pass.table, item, ctx, pass.scope.migrations);
      if (plan.expired) dry.counts.expired++;
      else if (plan.change) dry.counts.wouldWrite++;
      else if (plan.search) dry.counts.searchOnly++;
      else dry.counts.unchanged++;
      if ((plan.change || plan.search) && dry.samples.length < sampleLimit) {
        dry.samples.push(sampleOf(pass, item, plan));
      }
    } catch (e) {
      dry.counts.malformed++;
      problem(pass, (e as Error).message);
    }
  }
  return taken.length;
}

/** The page's declared lookups, read once as the worker reads them; a failed table is a problem. */
async function planContextOf(pass: Pass, items: Item[]) {
  const { planner, lookups } = pass.deps;
  const reads = planner.collectLookups(pass.table, items, pass.scope.migrations);
  let read = new Map<string, Item[]>();
  let indexed = new Map<string, Item[]>();
  if (reads.byTable.size || reads.byIndex.size) {
    // Checked before the pass starts (backfill.ts): a dry run with lookups has a reader.
    const result = await lookups!.read(reads.byTable, reads.byIndex);
    read = result.read;
    indexed = result.indexed;
    for (const [table, why] of result.failed) problem(pass, `lookup table ${table}: ${why}`);
  }
  return {
    lookups: planner.lookupResults(reads, read, indexed),
    nowSeconds: Math.floor(pass.now() / 1000),
  };
}

function sampleOf(pass: Pass, item: Item, plan: PlanResult): DiffSample {
  const set = plan.change?.set ?? {};
  return {
    key: pass.deps.planner.partialKey(pass.table, item),
    changes: [
      ...Object.entries(set).map(([attribute, after]) => ({
        attribute,
        before: item[attribute],
        after,
      })),
      ...(plan.change?.remove ?? []).map((attribute) => ({
        attribute,
        before: item[attribute],
        after: undefined,
      })),
    ],
    ...(plan.search && { search: plan.search.doc }),
  };
}
