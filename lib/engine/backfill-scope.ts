// What a pass scans for: the enabled migrations of the declared table, the attributes projected
// for them, and whether the planner filter leaves settled items out (or, said in words, why
// not). Pure: no I/O.
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
  /** Leave settled items out of the queue (the planner filter, backfill-filter.ts). */
  skipSettled: boolean;
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
  const off =
    options.filter === false
      ? 'none (--no-filter: every item is enqueued; the worker skips what needs nothing)'
      : mode === 'keys'
        ? 'none (--keys: exactly the given items)'
        : mode === 'distributed'
          ? "none (--distributed: the workers' segment tasks enqueue every item they scan)"
          : undefined;
  return {
    migrations,
    projection: shape.projection,
    skipSettled: off === undefined && shape.skipSettled,
    filterText: off ?? shape.filterText,
  };
}

/** The scope without its filter, because the consumer's continuity is broken (`broken` says how). */
export const unfilteredScope = (scope: BackfillScope, broken: string): BackfillScope => ({
  ...scope,
  skipSettled: false,
  filterText: `none: ${broken}; an item the scan reads as settled may have changed unseen by the consumer, so every item is enqueued (the worker skips what needs nothing)`,
});
