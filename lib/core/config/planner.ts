// The engine's one entry to a resolved config: the same questions it asks the registry today
// (lib/core/migrations/index.ts, lib/core/plan.ts), keyed by declared table name.
import { keyId } from '../keys.ts';
import { applyChange, mergeChanges, type PlanResult } from '../plan.ts';
import type { Item, ItemChange, Key, SearchChange } from '../types.ts';
import type {
  AnyMigrationDef,
  CopyDef,
  LookupDef,
  MigrationDef,
  SearchDef,
  TableDef,
} from './define.ts';
import { planCopy, planCopyOfGone, type CopyPlan } from './plan-copy.ts';
import { isExpiredItem, keyOfItem, partialKeyOf } from './item-key.ts';
import {
  collectLookupReads,
  lookupResults,
  type LookupReads,
  type LookupResults,
} from './lookups.ts';
import { planDerived, type DeclaredPlanContext } from './plan-derived.ts';
import {
  KEYWORDS_VERSION_FIELD,
  planSearchDoc,
  searchSpecs,
  type DeclaredSearchSpec,
} from './plan-search.ts';
import {
  isCopy,
  isItemMigration,
  isSearchMigration,
  sourceTableOf,
  type ResolvedConfig,
} from './resolve.ts';

/** A migration as the scanner, the worker and `status` see it (the registry's MigrationInfo). */
export interface MigrationSummary {
  readonly name: string;
  readonly table: string;
  /** `copy`: items of other tables (`copiesTo`), not attributes of the item. */
  readonly target: 'dynamodb' | 'search' | 'copy';
  /** Every attribute its planning reads besides the key: what a scan must project. */
  readonly inputs: readonly string[];
  /** Item attributes it writes, or the search fields (and version field) it updates. */
  readonly writes: readonly string[];
  /** Lookups it reads (names). */
  readonly lookups: readonly string[];
  readonly optIn: boolean;
  readonly description: string;
  /** A copy's target tables (declared names); empty for the others. */
  readonly copiesTo: readonly string[];
}

/** The summary of one declared migration. */
export function summarize(m: AnyMigrationDef): MigrationSummary {
  const common = {
    name: m.name,
    table: sourceTableOf(m).name,
    optIn: m.optIn === true,
    copiesTo: isCopy(m) ? m.to.map((t) => t.name) : [],
  };
  if (isCopy(m)) {
    return {
      ...common,
      target: 'copy',
      inputs: m.inputs,
      writes: [],
      lookups: (m.lookups ?? []).map((l) => l.name),
      description:
        m.description ?? `copies into ${m.to.map((t) => t.name).join(', ')} from ${m.from.name}`,
    };
  }
  if (isItemMigration(m)) {
    return {
      ...common,
      target: 'dynamodb',
      inputs: m.inputs,
      writes: m.writes,
      lookups: (m.lookups ?? []).map((l) => l.name),
      description:
        m.description ?? `${m.writes.join(', ')} from ${m.inputs.join(', ') || 'the key'}`,
    };
  }
  const s = m as SearchDef;
  return {
    ...common,
    target: 'search',
    inputs: [...new Set([s.version, ...Object.values(s.fields)])],
    writes: [...Object.keys(s.fields), KEYWORDS_VERSION_FIELD],
    lookups: [],
    description: s.description ?? `keyword copies in the ${s.index} index`,
  };
}

export interface Planner {
  readonly resolved: ResolvedConfig;
  /** Declared names of the tables some migration drives, in config order. */
  readonly migratedTables: readonly string[];
  readonly defaultMigrations: readonly string[];
  readonly allMigrations: readonly string[];
  /** The declared table, or an Error naming the unknown name. */
  table(name: string): TableDef;
  /** Every migration's summary, by name, in planning order. */
  readonly summaries: ReadonlyMap<string, MigrationSummary>;
  /** Enabled migrations of `table`, in planning order. @default enabled: the default ones */
  migrationsFor(table: string, enabled?: readonly string[]): AnyMigrationDef[];
  /**
   * What a read of `table` must carry for planning and for seeing that nothing is needed: the
   * key, every enabled migration's inputs, the attributes the item migrations write, the TTL.
   */
  projection(table: string, enabled?: readonly string[]): string[];
  /** Lookups the enabled migrations of `table` declare. */
  lookupsFor(table: string, enabled?: readonly string[]): LookupDef[];
  /** The validated key (schema order); throws MalformedItemError naming the attribute. */
  keyOf(table: string, item: Item): Key;
  /** The valid key attributes an item has (to name broken items); never throws. */
  partialKey(table: string, item: Item): Key;
  keyId(table: string, key: Key): string;
  isExpired(table: string, item: Item, nowSeconds: number | undefined): boolean;
  /**
   * The merged DynamoDB change and the search update of an item (see lib/core/plan.ts
   * planItem). Throws MalformedItemError, LookupMissingError, ConfigError.
   */
  planItem(
    table: string,
    item: Item,
    ctx: DeclaredPlanContext,
    enabled?: readonly string[],
  ): PlanResult;
  /** One spec per index of the table's enabled searches. */
  searchSpecsFor(table: string, enabled?: readonly string[]): DeclaredSearchSpec[];
  /** The one search spec of the table, undefined without searches; throws for two indices. */
  searchSpecFor(table: string, enabled?: readonly string[]): DeclaredSearchSpec | undefined;
  /** The search update of the (migrated) item for the table's one index. */
  planSearchFor(table: string, item: Item, enabled?: readonly string[]): SearchChange | null;
  /** Per page of items: the distinct keys to read, per looked-up table. */
  collectLookups(table: string, items: readonly Item[], enabled?: readonly string[]): LookupReads;
  /**
   * Whether every enabled derivation of `table` is a copy: a NEW_IMAGE stream is then enough
   * (the ledger, not old images, says what to delete). False for a table with none.
   */
  copiesOnly(table: string, enabled?: readonly string[]): boolean;
  /** Enabled copies whose source is `table`, in planning order. */
  copiesFor(table: string, enabled?: readonly string[]): CopyDef[];
  /**
   * The plan of each enabled copy of `table` for one source item; `item` undefined: the source
   * is gone (its targets are deleted). Throws MalformedItemError, LookupMissingError, ConfigError.
   */
  planCopies(
    table: string,
    key: Key,
    item: Item | undefined,
    ctx: DeclaredPlanContext,
    enabled?: readonly string[],
  ): CopyPlan[];
  /** Files what was read (declared table → items) as the plan context's `lookups`. */
  lookupResults(
    reads: LookupReads,
    read: ReadonlyMap<string, readonly Item[]>,
    indexed?: ReadonlyMap<string, readonly Item[]>,
  ): LookupResults;
}

/** Compiles a resolved config into the planner the engine calls. Pure. */
export function compilePlanner(resolved: ResolvedConfig): Planner {
  const table = (name: string): TableDef => {
    const t = resolved.tables.get(name);
    if (!t) throw new Error(`table "${name}" is not declared in the config`);
    return t;
  };
  const migrationsFor = (name: string, enabled = resolved.defaultMigrations) =>
    resolved.migrations.filter((m) => sourceTableOf(m).name === name && enabled.includes(m.name));
  const itemMigrations = (name: string, enabled?: readonly string[]): MigrationDef[] =>
    migrationsFor(name, enabled).filter(isItemMigration);
  const copiesFor = (name: string, enabled?: readonly string[]): CopyDef[] =>
    migrationsFor(name, enabled).filter(isCopy);
  // Item migrations and copies both derive with lookups.
  const deriving = (name: string, enabled?: readonly string[]) => [
    ...itemMigrations(name, enabled),
    ...copiesFor(name, enabled),
  ];
  const searchSpecsFor = (name: string, enabled?: readonly string[]) =>
    searchSpecs(migrationsFor(name, enabled).filter(isSearchMigration) as SearchDef[]);
  const searchSpecFor = (name: string, enabled?: readonly string[]) => {
    const specs = searchSpecsFor(name, enabled);
    if (specs.length > 1) {
      throw new Error(
        `table "${name}" has searches on ${specs.length} indices (${specs.map((s) => s.index).join(', ')}): use searchSpecsFor`,
      );
    }
    return specs[0];
  };
  const planSearchFor = (name: string, item: Item, enabled?: readonly string[]) => {
    const spec = searchSpecFor(name, enabled);
    const t = table(name);
    return spec ? planSearchDoc(t, spec, item, keyOfItem(t, item)) : null;
  };

  return {
    resolved,
    migratedTables: resolved.migratedTables,
    defaultMigrations: resolved.defaultMigrations,
    allMigrations: resolved.allMigrations,
    summaries: new Map(resolved.migrations.map((m) => [m.name, summarize(m)])),
    table,
    migrationsFor,
    projection(name, enabled) {
      const t = table(name);
      const ms = migrationsFor(name, enabled);
      return [
        ...new Set([
          ...t.key,
          ...ms.flatMap((m) => summarize(m).inputs),
          ...ms.filter(isItemMigration).flatMap((m) => m.writes),
          ...(t.ttl ? [t.ttl] : []),
        ]),
      ];
    },
    lookupsFor: (name, enabled) => [
      ...new Set(deriving(name, enabled).flatMap((m) => m.lookups ?? [])),
    ],
    keyOf: (name, item) => keyOfItem(table(name), item),
    partialKey: (name, item) => partialKeyOf(table(name), item),
    keyId: (name, key) => keyId(name, key),
    isExpired: (name, item, nowSeconds) => isExpiredItem(table(name), item, nowSeconds),
    planItem(name, item, ctx, enabled) {
      const t = table(name);
      if (isExpiredItem(t, item, ctx.nowSeconds))
        return { change: null, search: null, expired: true };
      const key = keyOfItem(t, item);
      const changes: ItemChange[] = [];
      for (const m of itemMigrations(name, enabled)) {
        const change = planDerived(m, t, item, key, ctx);
        if (change) changes.push(change);
      }
      const change = mergeChanges(changes);
      return {
        change,
        search: planSearchFor(name, change ? applyChange(item, change) : item, enabled),
      };
    },
    searchSpecsFor,
    searchSpecFor,
    planSearchFor,
    collectLookups: (name, items, enabled) =>
      collectLookupReads(table(name), deriving(name, enabled), items),
    copiesFor,
    copiesOnly: (name, enabled) => {
      const ms = migrationsFor(name, enabled);
      return ms.length > 0 && ms.every(isCopy);
    },
    planCopies(name, key, item, ctx, enabled) {
      const t = table(name);
      return copiesFor(name, enabled).map((c) =>
        item === undefined ? planCopyOfGone(c, t, key) : planCopy(c, t, item, key, ctx),
      );
    },
    lookupResults: (reads, read, indexed) => lookupResults(reads, resolved.lookups, read, indexed),
  };
}
