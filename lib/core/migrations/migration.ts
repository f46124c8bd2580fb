// The shape every migration declares: its table, its inputs, what it writes and how it plans.
import type { Item, ItemChange, PlanContext, SearchChange, TableRole } from '../types.ts';

/** Plans one item's DynamoDB change (null: nothing to do). Throws MalformedItemError. */
export type ItemPlanner = (item: Item, ctx: PlanContext) => ItemChange | null;

/** Lookups the engine must make before planning (it batches them per page of items). */
export type Lookup = 'user-type';

/**
 * A migration whose result lives in a search index. The search adapter knows no migration
 * rule: it is handed `mapping` (additive fields) and `guard` (the update script) from here.
 */
export interface SearchDefinition {
  /** Field in the index → item attribute it is derived from. */
  fields: Readonly<Record<string, string>>;
  /** The additive mapping update (`PUT <index>/_mapping` body). */
  mapping: { properties: Readonly<Record<string, { type: string }>> };
  /**
   * Painless script of one guarded partial update, given `params.doc` (the fields) and
   * `params.version` (the inputs' version, or null); it sets `ctx.op = 'noop'` to skip.
   */
  guard: string;
  /** The partial update for the item as it will be after the DynamoDB migrations. */
  plan: (item: Item) => SearchChange | null;
}

interface Common<N extends string> {
  name: N;
  /** The DynamoDB table whose items drive the migration. */
  table: TableRole;
  pikaVersion: string;
  /** Attributes of the item the rule reads; each one becomes a condition of the write. */
  inputs: readonly string[];
  /** What it writes: attributes of the item, or fields of its search document. */
  writes: readonly string[];
  /** Lookups in other tables the rule needs (done by the engine, never by the rule). */
  lookups?: readonly Lookup[];
  description: string;
  /**
   * Off unless named explicitly (a contract step: it removes what an older app still reads).
   * @default false
   */
  optIn?: boolean;
}

/**
 * One migration of the registry (`./index.ts`). Written to the same DynamoDB item through the
 * one writer, or to the item's search document.
 *
 * @example
 * export const sessionFoo = {
 *   name: 'session-foo',
 *   table: 'session',
 *   target: 'dynamodb',
 *   pikaVersion: '0.12',
 *   inputs: ['bar'],
 *   writes: ['foo'],
 *   description: 'foo derived from bar',
 *   plan: planFoo,
 * } as const satisfies MigrationInfo;
 */
export type MigrationInfo<N extends string = string> = Common<N> &
  (
    | { target: 'dynamodb'; plan: ItemPlanner; search?: never }
    | { target: 'search'; search: SearchDefinition; plan?: never }
  );
