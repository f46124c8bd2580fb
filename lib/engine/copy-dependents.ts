// Dependencies, followed: when an item that copies look up changes (a V2 bot is published,
// unpublished or deleted), every source that read it — or read an index key it now answers — is
// derived again from its current item (its aliases appear, change or go). Runs on the looked-up
// item's stream records; the edges were written by each dependent's own copy transaction.
import { WRITE_CONCURRENCY } from '../config/defaults.ts';
import { mapLimit } from '../core/concurrency.ts';
import { dependencyKey } from '../core/config/copy-dependencies.ts';
import type { LookupDef, TableDef } from '../core/config/define.ts';
import { keyOfItem } from '../core/config/item-key.ts';
import { indexKeyId } from '../core/config/lookups.ts';
import { keyId } from '../core/keys.ts';
import type { Item, Key } from '../core/types.ts';
import type { DependentEdge } from '../adapters/dependency-store.ts';
import { copyItems, type SourceChange } from './copy-items.ts';
import type { EngineDeps, ItemResult } from './migrate-items.ts';

/** The lookups of enabled copies (of any source table) that read `table`. */
export function lookupsReading(
  table: string,
  deps: Pick<EngineDeps, 'planner' | 'migrations'>,
): LookupDef[] {
  const { planner } = deps;
  const lookups = planner.migratedTables.flatMap((source) =>
    planner.copiesFor(source, deps.migrations).flatMap((c) => c.lookups ?? []),
  );
  return [...new Set(lookups)].filter((l) => l.table.name === table);
}

/** The index key an item answers in `lookup`'s index, or null (it lacks a usable one). */
function indexKeyOf(lookup: LookupDef, item: Item): Key | null {
  const index = lookup.index;
  if (!index) return null;
  try {
    return keyOfItem({ ...lookup.table, key: index.key } as TableDef, item);
  } catch {
    return null;
  }
}

/**
 * Re-derives the dependents of changed items of `table` (as they are now: `image` undefined,
 * gone). Per change: first the stamps of the index keys its item answers now are bumped, then
 * the edges are read, then each dependent source is read consistently and copied again. A
 * change whose dependents could not all be derived is `failed` (its record is retried); a
 * dependent's own problem (malformed, conflict) stays with that source, where verify shows it.
 */
export async function rederiveDependents(
  table: string,
  changes: readonly SourceChange[],
  deps: EngineDeps,
): Promise<ItemResult[]> {
  const lookups = lookupsReading(table, deps);
  const results: ItemResult[] = changes.map((c) => ({ key: c.key, outcome: 'unchanged' }));
  if (lookups.length === 0 || changes.length === 0) return results;
  const store = deps.dependencies;
  if (!store) {
    for (const r of results)
      Object.assign(r, {
        outcome: 'failed',
        reason: `lookups ${lookups.map((l) => l.name).join(', ')} of copies need the state table (their dependencies): none is configured`,
      });
    return results;
  }
  // Changes of one batch are of distinct items: their dependents are followed side by side.
  await mapLimit(changes, WRITE_CONCURRENCY, async (change, i) => {
    try {
      const edges: DependentEdge[] = [];
      for (const lookup of lookups) {
        const on = [dependencyKey(lookup.name, keyId(table, change.key))];
        const answers = change.image && indexKeyOf(lookup, change.image);
        if (answers) {
          const stamp = dependencyKey(lookup.name, indexKeyId(table, lookup.index!.name, answers));
          await store.bumpStamp(stamp, change.key);
          on.push(stamp);
        }
        for (const dependency of on) edges.push(...(await store.dependents(dependency)));
      }
      const failures = await deriveAgain(edges, deps);
      if (failures.length)
        Object.assign(results[i] as ItemResult, {
          outcome: 'failed',
          reason: `${failures.length} dependent(s) not derived again: ${failures.slice(0, 3).join('; ')}`,
        });
    } catch (e) {
      Object.assign(results[i] as ItemResult, {
        outcome: 'failed',
        reason: `dependents not derived again: ${(e as Error).message}`,
      });
    }
  });
  return results;
}

/** Copies each edge's source again from its current item; returns what failed, with why. */
async function deriveAgain(edges: readonly DependentEdge[], deps: EngineDeps): Promise<string[]> {
  const bySource = new Map<string, Map<string, Key>>();
  for (const e of edges) {
    if (!bySource.has(e.table)) bySource.set(e.table, new Map());
    bySource.get(e.table)!.set(keyId(e.table, e.key), e.key);
  }
  const failures: string[] = [];
  for (const [source, keys] of bySource) {
    const found = await deps.lookups.readByKeys(source, [...keys.values()]);
    const current = new Map(
      found.map((item) => [keyId(source, deps.planner.keyOf(source, item)), item]),
    );
    const changes = [...keys].map(([id, key]) => ({ key, image: current.get(id) }));
    const copied = await copyItems(source, changes, deps);
    copied.forEach((r, j) => {
      if (r.outcome === 'failed')
        failures.push(`${keyId(source, (changes[j] as SourceChange).key)}: ${r.reason ?? ''}`);
    });
  }
  return failures;
}
