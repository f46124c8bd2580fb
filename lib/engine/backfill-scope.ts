// What a pass scans for: the enabled migrations of the declared table, the attributes projected
// for them, and the scan filter (or, said in words, why there is none). Pure: no I/O.
import type { ScanFilter } from '../adapters/segment-scanner.ts';
import { scanFilterOf } from '../core/backfill-filter.ts';
import type { Planner } from '../core/config/planner.ts';
import { isSearchMigration } from '../core/config/resolve.ts';
import {
  BackfillOptionError,
  type BackfillMode,
  type BackfillOptions,
} from './backfill-options.ts';

export interface BackfillScope {
  migrations: string[];
  projection: string[];
  filter: ScanFilter | undefined;
  /** The scan filter, or why there is none (the summary's `filter`). */
  filterText: string;
}

/**
 * The pass's scope. BackfillOptionError when the table is not a migrated table of the config
 * (naming the migrated ones) or no migration is enabled for it.
 */
export function scopeOf(
  options: BackfillOptions,
  mode: BackfillMode,
  planner: Planner,
): BackfillScope {
  const { table } = options;
  if (!planner.migratedTables.includes(table)) {
    throw new BackfillOptionError(
      `--table ${table}: not a migrated table of the config (migrated tables: ${planner.migratedTables.join(', ') || 'none'})`,
    );
  }
  const migrations = planner
    .migrationsFor(table, options.migrations ?? planner.defaultMigrations)
    .filter((m) => !isSearchMigration(m) || options.searchEnabled)
    .map((m) => m.name);
  if (!migrations.length)
    throw new BackfillOptionError(`no migration is enabled for table ${table}`);
  const shape = scanFilterOf(planner, table, migrations);
  const filterText =
    options.filter === false
      ? 'none (--no-filter: every item is enqueued; the worker skips what needs nothing)'
      : mode === 'keys'
        ? 'none (--keys: exactly the given items)'
        : shape.filterText;
  const filter = options.filter === false || mode === 'keys' ? undefined : shape.filter;
  return { migrations, projection: shape.projection, filter, filterText };
}

/** The scope without its filter, because the consumer's continuity is broken (`broken` says how). */
export const unfilteredScope = (scope: BackfillScope, broken: string): BackfillScope => ({
  ...scope,
  filter: undefined,
  filterText: `none: ${broken}; a derived value can be present but stale, which the filter cannot tell, so every item is enqueued (the worker skips what needs nothing)`,
});
