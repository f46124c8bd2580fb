// The public declarations of a streamfill config (`import { defineConfig, … } from 'streamfill'`).
// Each helper returns its argument with a `kind` brand: nothing registers at import time, so the
// CLI, the local runner and a Lambda bundle read the same default export and nothing else.
// Validation happens once, engine side (`resolveConfig`), never here.

/** A key attribute list: the partition key, then the sort key if the table has one. */
export type TableKey = readonly [string] | readonly [string, string];

/** A DynamoDB table the config reads or writes, by its declared (logical) name. */
export interface TableDef<N extends string = string, K extends TableKey = TableKey> {
  readonly kind: 'streamfill.table';
  /** The declared name: what `--table-name name=physical` maps, and the local default. */
  readonly name: N;
  /** Key attribute names, partition key first. Keys may be strings, numbers or binary. */
  readonly key: K;
  /** The table's TTL attribute (epoch seconds): expired items are left to TTL, never written. */
  readonly ttl?: string;
  /**
   * The physical name used when nothing maps the declared name (no `--table-name`, no
   * `STREAMFILL_TABLES`, no stack output). @default name
   */
  readonly localName?: string;
}

/** The item a derivation sees: its declared inputs and the table's key, each possibly absent. */
export type DeriveItem<A extends string> = { readonly [P in A]: unknown };

/** The attributes a lookup returns (null: nothing to look up, or no such item). */
export type LookupResult<A extends string> = { readonly [P in A]?: unknown };

/** A read of one item of another table, batched and strongly consistent, done by the engine. */
export interface LookupDef<
  N extends string = string,
  A extends readonly string[] = readonly string[],
  T extends TableDef = TableDef,
> {
  readonly kind: 'streamfill.lookup';
  readonly name: N;
  /** The table read. */
  readonly table: T;
  /**
   * The key to read, from the item being derived (every attribute of `table.key`); null when
   * there is nothing to look up (ctx.lookup then returns null).
   */
  readonly key: (item: Readonly<Record<string, unknown>>) => Record<string, unknown> | null;
  /** The attributes the derivation may read from the looked-up item. */
  readonly attributes: A;
  /**
   * Read through a global secondary index of `table` instead of its key: `key` then returns the
   * index's key attributes, and the index holds at most one item per key (two are a malformed
   * item). An index is eventually consistent; the engine checks the item it found by its own
   * key in the same transaction as the write. @default - `table`'s key, strongly consistent
   */
  readonly index?: LookupIndex;
}

/** A global secondary index a lookup reads: its name and key attributes (partition key first). */
export interface LookupIndex {
  readonly name: string;
  readonly key: TableKey;
}

/** What a derivation may ask of the engine. */
export interface DeriveContext<L extends readonly LookupDef[] = readonly LookupDef[]> {
  /**
   * The looked-up item's declared attributes, or null when the lookup's key is null or the item
   * does not exist. Asking for a lookup the migration did not declare is an error.
   */
  lookup<X extends L[number]>(
    lookup: X,
  ): X extends LookupDef<string, infer A> ? LookupResult<A[number]> | null : never;
}

/** Makes a returned key outside `W` a type error (the engine checks it at runtime too). */
export type Exact<R, W extends PropertyKey> = R & Record<Exclude<keyof R, W>, never>;

/**
 * The wanted values of the declared writes. A write left out of the object stays as it is; a
 * write present with `undefined` is removed. Null: nothing to change.
 */
export type Derived<W extends string> = { [P in W]?: unknown };

/** A migration of items of one table: derived attributes written back to the same item. */
export interface MigrationDef<
  N extends string = string,
  T extends TableDef = TableDef,
  I extends readonly string[] = readonly string[],
  W extends readonly string[] = readonly string[],
  L extends readonly LookupDef[] = readonly LookupDef[],
> {
  readonly kind: 'streamfill.migration';
  readonly name: N;
  /** The table whose items are derived and written. */
  readonly table: T;
  /**
   * Every attribute `derive` reads (the key is always readable). Each becomes a condition of
   * the write: equal to the value read, or still absent.
   */
  readonly inputs: I;
  /** Every attribute `derive` may set or remove. */
  readonly writes: W;
  /** Lookups `derive` may read through `ctx.lookup`. */
  readonly lookups?: L;
  /**
   * Pure and deterministic: the same item and lookups give the same result, and deriving its
   * own result again changes nothing. Throw `malformed(reason)` for an item it cannot derive.
   */
  readonly derive: (
    item: DeriveItem<I[number] | T['key'][number]>,
    ctx: DeriveContext<L>,
  ) => Derived<W[number]> | null;
  /** Off unless named explicitly (a contract step removes what an older app reads). @default false */
  readonly optIn?: boolean;
  /** One line for `--help`, `status` and the docs. */
  readonly description?: string;
}

/** Keyword copies of item attributes in the item's search document, version-guarded. */
export interface SearchDef<
  N extends string = string,
  T extends TableDef = TableDef,
  F extends Readonly<Record<string, string>> = Readonly<Record<string, string>>,
> {
  readonly kind: 'streamfill.search';
  readonly name: N;
  /** The table whose items the documents mirror. */
  readonly table: T;
  /** The index holding one document per item. */
  readonly index: string;
  /** The document id of an item (from its key attributes). */
  readonly id: (item: DeriveItem<T['key'][number]>) => string;
  /**
   * The attribute that orders updates of a document (ISO-8601, or epoch seconds or
   * milliseconds). The app indexes it under the same name; a stale update never wins.
   */
  readonly version: string;
  /** Index field (keyword) ← item attribute. A field whose attribute is absent is removed. */
  readonly fields: F;
  readonly optIn?: boolean;
  readonly description?: string;
}

/** One item a copy derives: an item of one of the copy's target tables, with its whole key. */
export interface CopyTarget<T extends TableDef = TableDef> {
  /** The target table (one of the copy's `to`). */
  readonly table: T;
  /**
   * The whole target item, key included. Attributes named `streamfill_…` are the engine's
   * bookkeeping (`streamfill_source`, …) and may not be returned.
   */
  readonly item: Readonly<Record<string, unknown>>;
}

/**
 * A copy of items of one table into items of other tables: each source item derives 0..n target
 * items (any table of `to`, any key), kept equal to the source's derivation from its stream until
 * cut-over. Every target write is one transaction with a check that the source still holds the
 * inputs it was derived from, so a stale derivation never lands; targets no longer derived (the
 * source deleted, or derived differently) are deleted.
 */
export interface CopyDef<
  N extends string = string,
  F extends TableDef = TableDef,
  T extends readonly TableDef[] = readonly TableDef[],
  I extends readonly string[] = readonly string[],
  L extends readonly LookupDef[] = readonly LookupDef[],
> {
  readonly kind: 'streamfill.copy';
  readonly name: N;
  /** The source table (never written). */
  readonly from: F;
  /** The tables the targets are written to (the application's own tables). */
  readonly to: T;
  /**
   * Every attribute `derive` reads (the key is always readable). Each conditions every target
   * write: equal to the value read, or still absent.
   */
  readonly inputs: I;
  /** Lookups `derive` may read through `ctx.lookup`. */
  readonly lookups?: L;
  /**
   * Pure and deterministic. Returns the item's targets (an empty list: none). Throw
   * `malformed(reason)` for an item it cannot derive.
   */
  readonly derive: (
    item: DeriveItem<I[number] | F['key'][number]>,
    ctx: DeriveContext<L>,
  ) => readonly CopyTarget<T[number]>[];
  readonly optIn?: boolean;
  readonly description?: string;
}

export type AnyMigrationDef =
  | MigrationDef<string, TableDef, readonly string[], readonly string[], readonly LookupDef[]>
  | SearchDef
  | CopyDef;

/** A whole config: the default export of `streamfill.config.ts`. */
export interface StreamfillConfig {
  readonly tables: readonly TableDef[];
  /** In planning order: the changes of one item's migrations are merged into one write. */
  readonly migrations: readonly AnyMigrationDef[];
}

export function defineTable<const N extends string, const K extends TableKey>(table: {
  name: N;
  key: K;
  ttl?: string;
  localName?: string;
}): TableDef<N, K> {
  return { kind: 'streamfill.table', ...table };
}

export function defineLookup<
  const N extends string,
  const A extends readonly string[],
  T extends TableDef,
>(lookup: {
  name: N;
  table: T;
  key: (item: Readonly<Record<string, unknown>>) => Record<string, unknown> | null;
  attributes: A;
  index?: LookupIndex;
}): LookupDef<N, A, T> {
  return { kind: 'streamfill.lookup', ...lookup };
}

export function defineMigration<
  const N extends string,
  T extends TableDef,
  const I extends readonly string[],
  const W extends readonly string[],
  const L extends readonly LookupDef[] = [],
  R = Derived<W[number]>,
>(migration: {
  name: N;
  table: T;
  inputs: I;
  writes: W;
  lookups?: L;
  derive: (
    item: NoInfer<DeriveItem<I[number] | T['key'][number]>>,
    ctx: NoInfer<DeriveContext<L>>,
  ) => Exact<R, NoInfer<W[number]>> | null;
  optIn?: boolean;
  description?: string;
}): MigrationDef<N, T, I, W, L> {
  return { kind: 'streamfill.migration', ...migration } as MigrationDef<N, T, I, W, L>;
}

export function defineSearch<
  const N extends string,
  T extends TableDef,
  const F extends Readonly<Record<string, string>>,
>(search: {
  name: N;
  table: T;
  index: string;
  id: (item: NoInfer<DeriveItem<T['key'][number]>>) => string;
  version: string;
  fields: F;
  optIn?: boolean;
  description?: string;
}): SearchDef<N, T, F> {
  return { kind: 'streamfill.search', ...search } as SearchDef<N, T, F>;
}

export function defineCopy<
  const N extends string,
  F extends TableDef,
  const T extends readonly TableDef[],
  const I extends readonly string[],
  const L extends readonly LookupDef[] = [],
>(copy: {
  name: N;
  from: F;
  to: T;
  inputs: I;
  lookups?: L;
  derive: (
    item: NoInfer<DeriveItem<I[number] | F['key'][number]>>,
    ctx: NoInfer<DeriveContext<L>>,
  ) => readonly CopyTarget<NoInfer<T[number]>>[];
  optIn?: boolean;
  description?: string;
}): CopyDef<N, F, T, I, L> {
  return { kind: 'streamfill.copy', ...copy } as CopyDef<N, F, T, I, L>;
}

export function defineConfig<const C extends StreamfillConfig>(config: C): C {
  return config;
}

/** Thrown by a derivation for an item it cannot derive: the item is parked with the reason. */
export class MalformedDerivation extends Error {
  override readonly name = 'MalformedDerivation';
  readonly kind = 'streamfill.malformed';
  readonly reason: string;
  constructor(reason: string) {
    super(reason);
    this.reason = reason;
  }
}

/** `throw malformed('created_at is missing')`: park the item with this reason. */
export function malformed(reason: string): MalformedDerivation {
  return new MalformedDerivation(reason);
}

/** Recognises a thrown `malformed(…)`, also from a second loaded copy of the package. */
export function isMalformedDerivation(e: unknown): e is MalformedDerivation {
  return (
    e instanceof MalformedDerivation ||
    (e instanceof Error && (e as { kind?: unknown }).kind === 'streamfill.malformed')
  );
}
