// A dry run's page: plans each item as the worker would (nothing enqueued, nothing written),
// counts what would happen and keeps a few before → after samples.
import type { Item } from '../core/types.ts';
import { KEY_ATTRIBUTES } from '../core/types.ts';
import { applyChange, planItem } from '../core/plan.ts';
import type { MigratedTable } from '../core/migrations/index.ts';
import { problem, type Pass } from './backfill-pass.ts';
import type { DiffSample } from './backfill-types.ts';

const WRITE_TIME = '(looked up at write time)';

/** Plans the page's items within --limit; returns how many were taken. */
export async function dryRunPage(pass: Pass, items: Item[]): Promise<number> {
  const { table, counts, dry } = pass;
  const { migrations } = pass.scope;
  const userTypes = await userTypesOf(pass, items);
  const sampleLimit = pass.options.samples ?? 5;
  let taken = 0;
  for (const item of items) {
    if (counts.limitLeft <= 0) {
      counts.limitHit = true;
      break;
    }
    counts.limitLeft--;
    taken++;
    try {
      const plan = planItem(
        table,
        item,
        { userTypes, nowSeconds: Math.floor(pass.now() / 1000) },
        migrations,
      );
      if (plan.expired) dry.counts.expired++;
      else if (plan.change) dry.counts.wouldWrite++;
      else if (plan.search) dry.counts.searchOnly++;
      else dry.counts.unchanged++;
      if ((plan.change || plan.search) && dry.samples.length < sampleLimit) {
        dry.samples.push(sampleOf(table, item, plan));
      }
    } catch (e) {
      dry.counts.malformed++;
      problem(pass, (e as Error).message);
    }
  }
  return taken;
}

/** The samples' user types: looked up for real when a lookup is given, else said in words. */
async function userTypesOf(
  pass: Pass,
  items: Item[],
): Promise<Map<string, string | null> | undefined> {
  if (!(pass.scope.migrations.includes('session-user-type') && pass.table === 'session'))
    return undefined;
  const ids = items.flatMap((i) => (typeof i.user_id === 'string' ? [i.user_id] : []));
  return pass.deps.lookup
    ? await pass.deps.lookup.resolve(ids)
    : new Map(ids.map((id) => [id, WRITE_TIME]));
}

function sampleOf(table: MigratedTable, item: Item, plan: ReturnType<typeof planItem>): DiffSample {
  const after = plan.change ? applyChange(item, plan.change) : item;
  const written = plan.change ? [...Object.keys(plan.change.set), ...plan.change.remove] : [];
  return {
    key: Object.fromEntries(KEY_ATTRIBUTES[table].map((k) => [k, item[k] as string])),
    changes: written.map((attribute) => ({
      attribute,
      before: item[attribute],
      after: after[attribute],
    })),
    ...(plan.search && { search: plan.search.doc }),
  };
}
