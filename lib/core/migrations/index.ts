// The migration registry: the one list of shipped migrations. Names, per-table lists and the
// search spec all derive from it; adding a migration is its own file plus one line here.
import type { Item, SearchChange, TableRole } from '../types.ts';
import type { MigrationInfo } from './migration.ts';
import { sessionSearchKeywords } from './session-search-keywords.ts';
import { sessionSortKey } from './session-sort-key.ts';
import { sessionUserType } from './session-user-type.ts';
import { tagUsageMode, tagUsageModeContract } from './tag-usage-mode.ts';

export type { ItemPlanner, Lookup, MigrationInfo, SearchDefinition } from './migration.ts';

/** Every shipped migration, in planning order (the order their changes are merged in). */
export const REGISTRY = [
  sessionSortKey,
  sessionUserType,
  sessionSearchKeywords,
  tagUsageMode,
  tagUsageModeContract,
] as const satisfies readonly MigrationInfo[];

type Registered = (typeof REGISTRY)[number];
export type MigrationName = Registered['name'];
/** A table that some migration drives (its items are scanned, streamed and verified). */
export type MigratedTable = Registered['table'];

/** All migration names in planning order. */
export const ALL_MIGRATIONS: readonly MigrationName[] = REGISTRY.map((m) => m.name);

/** The migrations on by default: all but the opt-in contract steps (name them to enable). */
export const DEFAULT_MIGRATIONS: readonly MigrationName[] = REGISTRY.filter(
  (m) => !('optIn' in m && m.optIn),
).map((m) => m.name);

/** The default migrations plus the contract steps, for `--contract`. */
export function withContract(contract: boolean): readonly MigrationName[] {
  return contract ? ALL_MIGRATIONS : DEFAULT_MIGRATIONS;
}

/** Each migration by name. */
export const MIGRATIONS = Object.fromEntries(
  REGISTRY.map((m) => [m.name, m]),
) as unknown as Readonly<Record<MigrationName, MigrationInfo<MigrationName>>>;

/** The tables some migration drives, in registry order. */
export const MIGRATED_TABLES: readonly MigratedTable[] = [...new Set(REGISTRY.map((m) => m.table))];

/** Enabled migrations driven by `table`, in planning order. */
export function migrationsFor(
  table: TableRole,
  enabled: readonly string[] = DEFAULT_MIGRATIONS,
): MigrationInfo<MigrationName>[] {
  return REGISTRY.filter((m) => m.table === table && enabled.includes(m.name));
}

/** Names of the migrations driven by `table`. */
export function migrationNamesFor(table: TableRole): MigrationName[] {
  return migrationsFor(table).map((m) => m.name);
}

/** The search side of `table`'s migrations, merged: what the search adapter is handed. */
export interface SearchSpec {
  fields: readonly string[];
  mapping: { properties: Record<string, { type: string }> };
  guard: string;
}

/**
 * The merged mapping and fields of `table`'s search migrations, or undefined when it has
 * none. They share one guard (the version guard of docs/DESIGN.md, "Why it converges", point 5): a second guard would
 * need a second bulk request, so it is refused here rather than silently dropped.
 */
export function searchSpecFor(table: TableRole): SearchSpec | undefined {
  const defs = migrationsFor(table).flatMap((m) => (m.search ? [m.search] : []));
  const [first] = defs;
  if (!first) return undefined;
  if (defs.some((d) => d.guard !== first.guard)) {
    throw new Error(`search migrations of table ${table} must share one guard script`);
  }
  const properties = Object.assign({}, ...defs.map((d) => d.mapping.properties));
  return { fields: Object.keys(properties), mapping: { properties }, guard: first.guard };
}

/** The merged search update of `table`'s enabled search migrations for the (migrated) item. */
export function planSearchFor(
  table: TableRole,
  item: Item,
  enabled: readonly string[],
): SearchChange | null {
  const changes = migrationsFor(table, enabled).flatMap((m) => {
    const c = m.search?.plan(item);
    return c ? [c] : [];
  });
  const [first, ...rest] = changes;
  if (!first) return null;
  return rest.length
    ? { ...first, doc: Object.assign({}, first.doc, ...rest.map((c) => c.doc)) }
    : first;
}
