// What copies (and index lookups) need beyond migrations, as statements on table ARNs only:
// a copy writes one TransactWriteItems per source item (ConditionCheck on the source, Put or
// Delete of its targets, its ledger entry in the state table after a consistent GetItem).
import type { ITable } from 'aws-cdk-lib/aws-dynamodb';
import { PolicyStatement, type IGrantable } from 'aws-cdk-lib/aws-iam';
import { grantTableKey } from './table-key.ts';

/** On the `to` tables of the enabled copies (the application's own tables). */
export const COPY_TARGET_ACTIONS = [
  'dynamodb:PutItem',
  'dynamodb:DeleteItem',
  'dynamodb:GetItem',
  'dynamodb:BatchGetItem',
  'dynamodb:ConditionCheckItem',
] as const;

/**
 * On the `from` tables and the tables their lookups read: the transaction's checks (the source,
 * each looked-up item), and the consistent reads of sources derived again for a dependency.
 */
export const COPY_SOURCE_ACTIONS = [
  'dynamodb:BatchGetItem',
  'dynamodb:ConditionCheckItem',
] as const;

/**
 * On the state table when the config has copies: run state, the copies' ledger (consistent
 * GetItem, Put/Delete in the transaction) and the copy dependencies (stamps and edges: Query,
 * UpdateItem, ConditionCheck on the stamp).
 */
export const STATE_ACTIONS_WITH_COPIES = [
  'dynamodb:GetItem',
  'dynamodb:PutItem',
  'dynamodb:UpdateItem',
  'dynamodb:DeleteItem',
  'dynamodb:Query',
  'dynamodb:ConditionCheckItem',
] as const;

/** A global secondary index a lookup queries. */
export interface IndexLookupGrant {
  readonly table: ITable;
  readonly index: string;
}

/** What a function does for copies and index lookups, by table. */
export interface CopyGrants {
  /** Tables an enabled copy's transaction checks: its `from` and the tables its lookups read. */
  readonly sources: readonly ITable[];
  /** Tables an enabled copy writes (its `to`). */
  readonly targets: readonly ITable[];
  /** The indices the enabled lookups query, each on its own index ARN. */
  readonly indexLookups: readonly IndexLookupGrant[];
}

/** Adds the copy and index lookup statements (none when there is nothing to grant). */
export function grantCopies(fn: IGrantable, g: CopyGrants): void {
  const add = (sid: string, actions: readonly string[], resources: string[]) => {
    if (resources.length)
      fn.grantPrincipal.addToPrincipalPolicy(
        new PolicyStatement({ sid, actions: [...actions], resources }),
      );
  };
  add(
    'CopyTargets',
    COPY_TARGET_ACTIONS,
    g.targets.map((t) => t.tableArn),
  );
  add(
    'CopySources',
    COPY_SOURCE_ACTIONS,
    g.sources.map((t) => t.tableArn),
  );
  // Only the named index: `<table>/index/*` would let it read every index of the table.
  add(
    'QueryLookupIndexes',
    ['dynamodb:Query'],
    [...new Set(g.indexLookups.map((l) => `${l.table.tableArn}/index/${l.index}`))],
  );
  // Sources and looked-up tables already have their key for reading (migrated, looked up).
  for (const t of g.targets) grantTableKey(t, fn, 'readWrite');
}
