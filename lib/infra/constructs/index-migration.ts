// Changes a GSI's keys or projection without an outage: expand → switch → contract, one GSI
// create or delete per deployment, checked at synth against the phase deployed before.
import { Annotations, aws_dynamodb as dynamodb } from 'aws-cdk-lib';
import { Construct } from 'constructs';

/**
 * Where a migration from one GSI to another stands. Each phase is one deployment:
 * - `before`: only the old index (the starting point, and where a rollback of `expand` lands);
 * - `expand`: the new index is created beside the old one; the app still reads the old one;
 * - `switch`: both exist; the app reads the new one (no table change: a marker for the app);
 * - `contract`: the old index is removed.
 */
export type IndexMigrationPhase = 'before' | 'expand' | 'switch' | 'contract';

export const INDEX_MIGRATION_PHASES: readonly IndexMigrationPhase[] = [
  'before',
  'expand',
  'switch',
  'contract',
];

/** One GSI as DynamoDB fixes it at creation: name, keys, projection. */
export interface IndexDefinition {
  readonly indexName: string;
  readonly partitionKey: dynamodb.Attribute;
  /** @default - no sort key */
  readonly sortKey?: dynamodb.Attribute;
  /** @default ProjectionType.ALL */
  readonly projectionType?: dynamodb.ProjectionType;
  /** Only with `ProjectionType.INCLUDE`. @default - none */
  readonly nonKeyAttributes?: string[];
  /**
   * Provisioned read/write capacity of the index, for a provisioned `Table` only (a `TableV2`
   * index inherits the table's capacity).
   * @default 5 each on a provisioned Table, as `Table.addGlobalSecondaryIndex`
   */
  readonly readCapacity?: number;
  /** @default 5 on a provisioned Table */
  readonly writeCapacity?: number;
}

export interface IndexMigrationProps {
  /** The table the app owns. Do not add either index to it yourself: this construct does. */
  readonly table: dynamodb.Table | dynamodb.TableV2;
  /** The index the app reads today. */
  readonly oldIndex: IndexDefinition;
  /** Its replacement, under a NEW name (DynamoDB never changes keys or projection in place). */
  readonly newIndex: IndexDefinition;
  /** The phase this deployment puts in place. */
  readonly phase: IndexMigrationPhase;
  /**
   * The phase currently deployed (what the last successful deployment used). Synthesis
   * refuses a phase more than one step away from it, with what to deploy next.
   */
  readonly previousPhase: IndexMigrationPhase;
}

/** The indexes present and read in each phase. */
const SHAPE: Record<IndexMigrationPhase, { present: ('old' | 'new')[]; reads: 'old' | 'new' }> = {
  before: { present: ['old'], reads: 'old' },
  expand: { present: ['old', 'new'], reads: 'old' },
  switch: { present: ['old', 'new'], reads: 'new' },
  contract: { present: ['new'], reads: 'new' },
};

/** GSI changes per table in this synthesis: DynamoDB takes one create or delete per update. */
const CHANGES_BY_TABLE = new WeakMap<object, { path: string; change: string }[]>();

export interface IndexChange {
  readonly action: 'create' | 'delete';
  readonly indexName: string;
}

/**
 * Replaces `oldIndex` by `newIndex` on a table in four single-change deployments, so that the
 * index the app reads exists and is complete at every moment.
 *
 * Between `expand` and `switch`, run `streamfill index status --index <new> --wait` (ACTIVE,
 * no longer backfilling, and every item that should carry the new key does). After `contract`
 * the construct can be replaced by a plain `addGlobalSecondaryIndex(newIndex)`: same
 * definition, no change. To adopt it, replace your own `addGlobalSecondaryIndex(old)` call by
 * this construct with `phase: 'before', previousPhase: 'before'` (no change), then step on:
 *
 * ```ts
 * const byStatus = new IndexMigration(this, 'OrdersByStatus', {
 *   table: ordersTable,
 *   oldIndex: { indexName: 'status-index', partitionKey: tenantId, sortKey: status },
 *   newIndex: { indexName: 'status-sk-index', partitionKey: tenantId, sortKey: statusSk },
 *   phase: 'expand',
 *   previousPhase: 'before',
 * });
 * appFunction.addEnvironment('ORDERS_STATUS_INDEX', byStatus.readIndexName);
 * ```
 */
export class IndexMigration extends Construct {
  /** The index the app should query in this phase (pass it to the app's configuration). */
  public readonly readIndexName: string;
  /** The indexes this phase deploys (of the two this construct manages). */
  public readonly indexNames: string[];
  /** What this deployment changes against `previousPhase` (at most one entry). */
  public readonly changes: IndexChange[];
  public readonly phase: IndexMigrationPhase;

  constructor(scope: Construct, id: string, props: IndexMigrationProps) {
    super(scope, id);
    const { table, oldIndex, newIndex, phase, previousPhase } = props;
    checkPhase('phase', phase);
    checkPhase('previousPhase', previousPhase);
    checkDefinitions(oldIndex, newIndex, table);

    const names = { old: oldIndex.indexName, new: newIndex.indexName };
    this.phase = phase;
    this.readIndexName = names[SHAPE[phase].reads];
    this.indexNames = SHAPE[phase].present.map((k) => names[k]);
    this.changes = planChanges(previousPhase, phase, names);
    const refusal = refuseTransition(previousPhase, phase, names, this.changes);
    if (refusal) throw new Error(`IndexMigration ${this.node.path}: ${refusal}`);

    const others = CHANGES_BY_TABLE.get(table) ?? [];
    for (const c of this.changes) {
      const other = others[0];
      if (other) {
        throw new Error(
          `IndexMigration ${this.node.path}: this deployment would ${c.action} ${c.indexName} while ` +
            `${other.path} already ${other.change} on the same table, but DynamoDB allows one GSI ` +
            'create or delete per table update: deploy one of them (keep the other at its previous phase) first',
        );
      }
      others.push({ path: this.node.path, change: `${c.action}s ${c.indexName}` });
    }
    CHANGES_BY_TABLE.set(table, others);

    for (const k of SHAPE[phase].present) addIndex(table, k === 'old' ? oldIndex : newIndex);
    Annotations.of(this).addInfo(nextStepNote(phase, names));
  }
}

function checkPhase(setting: string, value: unknown): void {
  if (!INDEX_MIGRATION_PHASES.includes(value as IndexMigrationPhase)) {
    throw new Error(
      `IndexMigration ${setting} must be one of ${INDEX_MIGRATION_PHASES.join(', ')}, got "${String(value)}"`,
    );
  }
}

function checkDefinitions(
  oldIndex: IndexDefinition,
  newIndex: IndexDefinition,
  table: dynamodb.Table | dynamodb.TableV2,
): void {
  if (oldIndex.indexName === newIndex.indexName) {
    if (sameShape(oldIndex, newIndex)) {
      throw new Error(
        `IndexMigration: oldIndex and newIndex are the same index "${newIndex.indexName}" with the same ` +
          'keys and projection: there is nothing to migrate',
      );
    }
    throw new Error(
      `IndexMigration: newIndex "${newIndex.indexName}" has the old index's name but ` +
        `${differences(oldIndex, newIndex).join(' and ')}: DynamoDB cannot change a GSI's keys or ` +
        `projection in place: give it a new name (e.g. "${suggestName(newIndex.indexName)}")`,
    );
  }
  if (table instanceof dynamodb.TableV2) {
    for (const def of [oldIndex, newIndex]) {
      if (def.readCapacity !== undefined || def.writeCapacity !== undefined) {
        throw new Error(
          `IndexMigration: index "${def.indexName}" sets readCapacity/writeCapacity, which apply to a ` +
            'provisioned Table only; a TableV2 index inherits the table capacity',
        );
      }
    }
  }
}

const projectionOf = (d: IndexDefinition): string => {
  const type = d.projectionType ?? dynamodb.ProjectionType.ALL;
  const attrs = [...(d.nonKeyAttributes ?? [])].sort();
  return attrs.length ? `${type} [${attrs.join(', ')}]` : type;
};
const keyOf = (a: dynamodb.Attribute | undefined): string => (a ? `${a.name} (${a.type})` : 'none');

function differences(a: IndexDefinition, b: IndexDefinition): string[] {
  const out: string[] = [];
  if (keyOf(a.partitionKey) !== keyOf(b.partitionKey))
    out.push(`its partition key changes ${keyOf(a.partitionKey)} → ${keyOf(b.partitionKey)}`);
  if (keyOf(a.sortKey) !== keyOf(b.sortKey))
    out.push(`its sort key changes ${keyOf(a.sortKey)} → ${keyOf(b.sortKey)}`);
  if (projectionOf(a) !== projectionOf(b))
    out.push(`its projection changes ${projectionOf(a)} → ${projectionOf(b)}`);
  return out;
}

const sameShape = (a: IndexDefinition, b: IndexDefinition): boolean =>
  differences(a, b).length === 0;

function suggestName(name: string): string {
  return name.endsWith('-index') ? `${name.slice(0, -'-index'.length)}-v2-index` : `${name}-v2`;
}

function planChanges(
  from: IndexMigrationPhase,
  to: IndexMigrationPhase,
  names: { old: string; new: string },
): IndexChange[] {
  const before = new Set(SHAPE[from].present);
  const after = new Set(SHAPE[to].present);
  const changes: IndexChange[] = [];
  for (const k of ['old', 'new'] as const) {
    if (after.has(k) && !before.has(k)) changes.push({ action: 'create', indexName: names[k] });
    if (before.has(k) && !after.has(k)) changes.push({ action: 'delete', indexName: names[k] });
  }
  return changes;
}

const WAIT = (index: string): string =>
  `wait for \`streamfill index status --index ${index}\` to show ACTIVE and backfilled`;

/** The deployments from `from` to `to`, one step at a time, in runbook words. */
function path(
  from: IndexMigrationPhase,
  to: IndexMigrationPhase,
  names: { old: string; new: string },
): string {
  const i = INDEX_MIGRATION_PHASES.indexOf(from);
  const j = INDEX_MIGRATION_PHASES.indexOf(to);
  const step = j > i ? 1 : -1;
  const parts: string[] = [];
  for (let k = i + step; step > 0 ? k <= j : k >= j; k += step) {
    const phase = INDEX_MIGRATION_PHASES[k] as IndexMigrationPhase;
    const first = parts.length === 0;
    parts.push(first ? `deploy '${phase}' first` : `then '${phase}'`);
    // The new index must be complete before anything reads it; on the way back, the old one.
    if (phase === 'expand' && step > 0 && k < j) parts.push(WAIT(names.new));
    if (phase === 'switch' && step < 0 && k > j) parts.push(WAIT(names.old));
  }
  return parts.join(', ');
}

/** Why the move from `from` to `to` is unsafe, or undefined when it is one safe step. */
function refuseTransition(
  from: IndexMigrationPhase,
  to: IndexMigrationPhase,
  names: { old: string; new: string },
  changes: IndexChange[],
): string | undefined {
  const deployed = `(previousPhase '${from}')`;
  if (changes.length > 1) {
    const of = (a: IndexChange['action']): string =>
      changes
        .filter((c) => c.action === a)
        .map((c) => c.indexName)
        .join(', ');
    return (
      `phase '${to}' removes ${of('delete')} while adding ${of('create')} against the deployed ` +
      `phase '${from}', but DynamoDB ` +
      `allows one GSI create or delete per table update: ${path(from, to, names)}`
    );
  }
  const reads = names[SHAPE[to].reads];
  if (!SHAPE[from].present.includes(SHAPE[to].reads)) {
    return (
      `phase '${to}' makes the app read ${reads}, which the deployed phase '${from}' ${deployed} ` +
      `does not have yet (it would be created in this deployment and is empty until backfilled): ` +
      path(from, to, names)
    );
  }
  const wasRead = names[SHAPE[from].reads];
  if (!SHAPE[to].present.includes(SHAPE[from].reads)) {
    return (
      `phase '${to}' removes ${wasRead}, which the app still reads in the deployed phase '${from}' ` +
      `${deployed}: ${path(from, to, names)}`
    );
  }
  return undefined;
}

function nextStepNote(phase: IndexMigrationPhase, names: { old: string; new: string }): string {
  switch (phase) {
    case 'before':
      return `index migration ${names.old} → ${names.new}: next deploy 'expand'`;
    case 'expand':
      return `index migration: ${WAIT(names.new)}, then deploy 'switch' (the app reads ${names.new})`;
    case 'switch':
      return `index migration: the app reads ${names.new}; once it runs well, deploy 'contract' (removes ${names.old})`;
    case 'contract':
      return `index migration done: ${names.old} removed; ${names.new} can now be declared directly`;
  }
}

function addIndex(table: dynamodb.Table | dynamodb.TableV2, def: IndexDefinition): void {
  const common = {
    indexName: def.indexName,
    partitionKey: def.partitionKey,
    ...(def.sortKey && { sortKey: def.sortKey }),
    projectionType: def.projectionType ?? dynamodb.ProjectionType.ALL,
    ...(def.nonKeyAttributes && { nonKeyAttributes: def.nonKeyAttributes }),
  };
  if (table instanceof dynamodb.TableV2) {
    table.addGlobalSecondaryIndex(common);
  } else {
    table.addGlobalSecondaryIndex({
      ...common,
      ...(def.readCapacity !== undefined && { readCapacity: def.readCapacity }),
      ...(def.writeCapacity !== undefined && { writeCapacity: def.writeCapacity }),
    });
  }
}
