// Registry of the shipped migrations: what each touches and, for DynamoDB ones, its planner.
import type { Item, ItemChange, MigrationName, PlanContext, TableRole } from '../types.ts';
import { planSortKey } from './session-sort-key.ts';
import { planUserType } from './session-user-type.ts';
import { planUsageMode } from './tag-usage-mode.ts';

export * from './session-sort-key.ts';
export * from './session-user-type.ts';
export * from './session-search-keywords.ts';
export * from './tag-usage-mode.ts';

export type ItemPlanner = (item: Item, ctx: PlanContext) => ItemChange | null;

export interface MigrationInfo {
  name: MigrationName;
  /** The DynamoDB table whose items drive the migration. */
  table: TableRole;
  /** Where the result is written: the same DynamoDB item, or its OpenSearch document. */
  target: 'dynamodb' | 'search';
  pikaVersion: string;
  writes: readonly string[];
  description: string;
  /** DynamoDB planner; search migrations are planned by `planSearch` on the migrated item. */
  plan?: ItemPlanner;
}

export const MIGRATIONS: Readonly<Record<MigrationName, MigrationInfo>> = {
  'session-sort-key': {
    name: 'session-sort-key',
    table: 'session',
    target: 'dynamodb',
    pikaVersion: '0.5',
    writes: ['source', 'chat_app_sk'],
    description: "source defaults to 'user'; chat_app_sk = chat_app_id#user|component#last_update",
    plan: planSortKey,
  },
  'session-user-type': {
    name: 'session-user-type',
    table: 'session',
    target: 'dynamodb',
    pikaVersion: '0.11',
    writes: ['user_type'],
    description: "user_type from the chat-user table when missing, else 'external-user'",
    plan: planUserType,
  },
  'session-search-keywords': {
    name: 'session-search-keywords',
    table: 'session',
    target: 'search',
    pikaVersion: '0.11',
    writes: ['invocation_mode_keyword', 'user_type_keyword', 'source_keyword'],
    description: 'keyword copies of invocation_mode, user_type and source in the session index',
  },
  'tag-usage-mode': {
    name: 'tag-usage-mode',
    table: 'tag',
    target: 'dynamodb',
    pikaVersion: '0.5',
    writes: ['usage_mode', 'chat_app_id'],
    description:
      "usage_mode 'global' for pika chart/image/prompt, else 'chat-app'; chat_app_id removed",
    plan: planUsageMode,
  },
};

/** All migrations in planning order (the order their changes are merged in). */
export const ALL_MIGRATIONS: readonly MigrationName[] = [
  'session-sort-key',
  'session-user-type',
  'session-search-keywords',
  'tag-usage-mode',
];

/** Enabled migrations driven by `table`, in planning order. */
export function migrationsFor(
  table: TableRole,
  enabled: readonly MigrationName[],
): MigrationInfo[] {
  return ALL_MIGRATIONS.filter((n) => enabled.includes(n) && MIGRATIONS[n].table === table).map(
    (n) => MIGRATIONS[n],
  );
}
