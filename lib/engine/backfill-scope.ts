// What a pass scans for: the enabled migrations, the attributes projected for them, and the
// scan filter that leaves out items already migrated (or, said in words, why there is none).
// Pure: no I/O.
import type { ScanFilter } from '../adapters/segment-scanner.ts';
import { pendingFilter, scanProjection } from '../core/backfill-filter.ts';
import { migrationsFor, type MigrationName } from '../core/migrations/index.ts';
import {
  BackfillOptionError,
  type BackfillMode,
  type BackfillOptions,
} from './backfill-options.ts';

export interface BackfillScope {
  migrations: MigrationName[];
  projection: string[];
  filter: ScanFilter | undefined;
  /** The scan filter, or why there is none (the summary's `filter`). */
  filterText: string;
}

/** The pass's scope; BackfillOptionError when no migration is enabled for the table. */
export function scopeOf(options: BackfillOptions, mode: BackfillMode): BackfillScope {
  const { table } = options;
  const migrations = migrationsFor(table, options.migrations)
    .filter((m) => m.target !== 'search' || options.searchEnabled)
    .map((m) => m.name);
  if (!migrations.length)
    throw new BackfillOptionError(`no migration is enabled for table ${table}`);
  const filter =
    options.filter === false || mode === 'keys' ? undefined : pendingFilter(table, migrations);
  const filterText = filter
    ? `${filter.expression} (${Object.entries(filter.names ?? {})
        .map(([k, v]) => `${k}=${v}`)
        .join(', ')})`
    : options.filter === false
      ? 'none (--no-filter: every item is enqueued; the worker skips what needs nothing)'
      : mode === 'keys'
        ? 'none (--keys: exactly the given items)'
        : 'none: the search-keyword migration is on, and an item migrated in DynamoDB may still lack its keywords in OpenSearch';
  return { migrations, projection: scanProjection(table, migrations), filter, filterText };
}

/** The scope without its filter, because the consumer's continuity is broken (`broken` says how). */
export const unfilteredScope = (scope: BackfillScope, broken: string): BackfillScope => ({
  ...scope,
  filter: undefined,
  filterText: `none: ${broken}; a derived value can be present but stale, which the filter cannot tell, so every item is enqueued (the worker skips what needs nothing)`,
});
