// The Pika preset as the tests use it: its planner, its migration sets and a plan made with
// real lookups (what migrateItems does before it writes, for tests that write in between).
import { bundledPlanner } from '../../lib/engine/bundled-config.ts';
import type { PlanResult } from '../../lib/core/plan.ts';
import type { Item } from '../../lib/core/types.ts';
import type { EngineDeps } from '../../lib/engine/migrate-items.ts';

export const PIKA = bundledPlanner();

/** The default migrations of a Pika table (`session`, `tag`). */
export const pikaMigrations = (table: string): string[] =>
  PIKA.migrationsFor(table).map((m) => m.name);

/** The default migrations, plus the opt-in contract steps with `contract`. */
export const withContract = (contract: boolean): readonly string[] =>
  contract ? PIKA.allMigrations : PIKA.defaultMigrations;

/** The one search spec of the preset (the session index's). */
export const PIKA_SEARCH_SPEC = PIKA.searchSpecFor('session', PIKA.allMigrations)!;

/** Plans one item as migrateItems would: its declared lookups read first, then planned. */
export async function planWithLookups(
  deps: Pick<EngineDeps, 'planner' | 'lookups'>,
  table: string,
  item: Item,
  enabled: readonly string[],
  nowSeconds?: number,
): Promise<PlanResult> {
  const reads = deps.planner.collectLookups(table, [item], enabled);
  const { read } = await deps.lookups.read(reads.byTable);
  return deps.planner.planItem(
    table,
    item,
    { lookups: deps.planner.lookupResults(reads, read), ...(nowSeconds && { nowSeconds }) },
    enabled,
  );
}
