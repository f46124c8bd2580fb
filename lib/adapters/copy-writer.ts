// The copy writer: a copy plan becomes ONE TransactWriteItems — a check that the source still
// holds what the targets were derived from, the target puts, deletes of targets no longer
// derived, checks that what its lookups read still holds, its dependency edges, and the source's
// ledger entry (which targets and edges it has) — so a stale derivation never lands and no target
// is left behind. Order comes from the source item, never from timestamps.
import { setTimeout as sleep } from 'node:timers/promises';
import { TransactionCanceledException } from '@aws-sdk/client-dynamodb';
import {
  BatchGetCommand,
  GetCommand,
  TransactWriteCommand,
  type DynamoDBDocumentClient,
} from '@aws-sdk/lib-dynamodb';
import { WRITE_CONCURRENCY } from '../config/defaults.ts';
import { backoffMs, mapLimit } from '../core/concurrency.ts';
import { COPY_ATTRIBUTES, NO_TARGETS_DIGEST, type CopyPlan } from '../core/config/plan-copy.ts';
import { edgeSk, STAMP_SK, type DependencyCheck } from '../core/config/copy-dependencies.ts';
import { physicalTable } from '../core/config/table-names.ts';
import { keyId } from '../core/keys.ts';
import type { Key, TableNames } from '../core/types.ts';
import { asError, expressionBuilder } from './dynamo-writer.ts';
import { sdkValue } from './exact-numbers.ts';

/** DynamoDB's limit of actions in one transaction. */
export const TRANSACTION_LIMIT = 100;
/** Attempts when the ledger moved under us or a transaction collided with another. */
const ATTEMPTS = 6;

/**
 * `replan`: something a lookup read changed before the write; the plan is stale and must be
 * derived again from fresh reads (copyItems does).
 */
export type CopyOutcome = 'migrated' | 'unchanged' | 'conflict' | 'malformed' | 'failed' | 'replan';

export interface CopyApplyResult {
  plan: CopyPlan;
  outcome: CopyOutcome;
  /** Why (malformed, failed). */
  reason?: string;
  /** Targets written and deleted (migrated only). */
  written?: number;
  deleted?: number;
}

/** One copy transaction's actions, and where its parts start (see CopyWriter.transactionOf). */
export interface CopyTransaction {
  items: Record<string, unknown>[];
  /** The ledger's targets the plan no longer derives (deleted by it). */
  stale: { table: string; key: Key }[];
  /** Index of the first dependency check in `items`. */
  firstCheck: number;
  /** How many dependency checks follow it. */
  checks: number;
}

/** A source's entry in the ledger: which targets it has, from which derivation. */
export interface LedgerEntry {
  copy: string;
  source: string;
  /** Digest of the target set last written (CopyPlan.digest). */
  digest: string;
  version: string | null;
  /** Bumped by every write: the condition that keeps two writers of one source apart. */
  rev: number;
  targets: { table: string; key: Key }[];
  /** Dependency keys the source has an edge in (CopyPlan.dependencies.on). */
  dependsOn?: string[];
  /** Why the source derives nothing (CopyPlan.skipped). */
  skipped?: string;
}

/** A ledger entry's identity (its copy and source). */
const ledgerId = (copy: string, sourceId: string): string => `${copy}\n${sourceId}`;

/** BatchGetItem's limit on keys per request. */
const BATCH_GET_MAX_KEYS = 100;

/** The ledger item's key in the state table. */
export function ledgerKey(copy: string, sourceId: string): { pk: string; sk: string } {
  return { pk: `copy#${copy}#${sourceId}`, sk: 'ledger' };
}

export interface CopyWriterOptions {
  /** Transactions in flight for applyAll. @default 16 (WRITE_CONCURRENCY) */
  concurrency?: number;
  /** Runs between the ledger read and the transaction: tests interleave other writers there. */
  afterLedgerRead?: (plan: CopyPlan) => Promise<void>;
}

/**
 * Writes copy plans. `ledgerTable` is the state table (physical name): one entry per source.
 *
 * @example
 * const writer = new CopyWriter(doc, tables, 'streamfill-state-local', (t) => planner.table(t).key);
 * const [r] = await writer.applyAll([planCopy(copy, from, item, key, ctx)]);
 */
export class CopyWriter {
  private readonly concurrency: number;
  private readonly afterLedgerRead: CopyWriterOptions['afterLedgerRead'];

  constructor(
    private readonly doc: DynamoDBDocumentClient,
    private readonly tables: TableNames,
    private readonly ledgerTable: string,
    /** A declared table's key attribute names, partition key first. */
    private readonly keyNames: (table: string) => readonly string[],
    options: CopyWriterOptions = {},
  ) {
    this.concurrency = options.concurrency ?? WRITE_CONCURRENCY;
    this.afterLedgerRead = options.afterLedgerRead;
  }

  /**
   * Writes each plan; their ledger entries are read first in batches (a page's sources mostly
   * need nothing: their copies derive nothing, or what is written already).
   */
  async applyAll(plans: readonly CopyPlan[]): Promise<CopyApplyResult[]> {
    const ledgers = await this.readLedgers(plans);
    return mapLimit(plans, this.concurrency, (p) =>
      this.apply(p, { ledger: ledgers.get(ledgerId(p.copy, p.sourceId)) ?? null }),
    );
  }

  /** The ledger entries of `plans` (strongly consistent BatchGetItem), by `ledgerId`. */
  private async readLedgers(plans: readonly CopyPlan[]): Promise<Map<string, LedgerEntry>> {
    const found = new Map<string, LedgerEntry>();
    const keys = [
      ...new Map(
        plans.map((p) => [ledgerId(p.copy, p.sourceId), ledgerKey(p.copy, p.sourceId)]),
      ).values(),
    ];
    for (let i = 0; i < keys.length; i += BATCH_GET_MAX_KEYS) {
      let pending: Record<string, unknown>[] = keys.slice(i, i + BATCH_GET_MAX_KEYS);
      for (let attempt = 0; pending.length; attempt++) {
        if (attempt >= ATTEMPTS)
          throw new Error(
            `ledger read: ${pending.length} key(s) still unprocessed after ${attempt} attempts`,
          );
        if (attempt > 0) await sleep(backoffMs(attempt, 50, 2_000));
        const res = await this.doc.send(
          new BatchGetCommand({
            RequestItems: { [this.ledgerTable]: { Keys: pending, ConsistentRead: true } },
          }),
        );
        for (const item of res.Responses?.[this.ledgerTable] ?? []) {
          const { pk: _pk, sk: _sk, ...entry } = item;
          const e = entry as LedgerEntry;
          found.set(ledgerId(e.copy, e.source), e);
        }
        pending =
          (res.UnprocessedKeys?.[this.ledgerTable]?.Keys as Record<string, unknown>[]) ?? [];
      }
    }
    return found;
  }

  async readLedger(copy: string, sourceId: string): Promise<LedgerEntry | undefined> {
    const res = await this.doc.send(
      new GetCommand({
        TableName: this.ledgerTable,
        Key: ledgerKey(copy, sourceId),
        ConsistentRead: true,
      }),
    );
    if (!res.Item) return undefined;
    const { pk: _pk, sk: _sk, ...entry } = res.Item;
    return entry as LedgerEntry;
  }

  /**
   * `force`: write even when the ledger says these targets were written (a repair of targets
   * changed or deleted behind the copy's back; the same checks and conditions hold).
   */
  async apply(
    plan: CopyPlan,
    options: {
      force?: boolean;
      /** The ledger entry as just read (null: none), for the first attempt. */
      ledger?: LedgerEntry | null;
    } = {},
  ): Promise<CopyApplyResult> {
    let lastReason = '';
    for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
      try {
        const ledger =
          attempt === 0 && options.ledger !== undefined
            ? (options.ledger ?? undefined)
            : await this.readLedger(plan.copy, plan.sourceId);
        if (!options.force && (ledger?.digest ?? NO_TARGETS_DIGEST) === plan.digest)
          return { plan, outcome: 'unchanged' };
        await this.afterLedgerRead?.(plan);
        const step = await this.transact(plan, ledger);
        if (step.outcome !== 'retry') return step;
        lastReason = step.reason;
      } catch (e) {
        return { plan, outcome: 'failed', reason: asError(e).message };
      }
      await sleep(Math.min(1000, 20 * 2 ** attempt * (0.5 + Math.random())));
    }
    return { plan, outcome: 'failed', reason: `gave up after ${ATTEMPTS} attempts: ${lastReason}` };
  }

  /**
   * The actions of the one transaction that moves the source's targets from `ledger` (undefined:
   * none yet) to `plan`, in the order their cancellation reasons are read back: the source
   * check, target puts, stale deletes, dependency checks, edges, the ledger write.
   */
  transactionOf(plan: CopyPlan, ledger: LedgerEntry | undefined): CopyTransaction {
    const wanted = new Set(plan.targets.map((t) => keyId(t.table, t.key)));
    const stale = (ledger?.targets ?? []).filter((t) => !wanted.has(keyId(t.table, t.key)));
    const before = new Set(ledger?.dependsOn ?? []);
    const after = new Set(plan.dependencies.on);
    const edges = [
      ...plan.dependencies.on.filter((d) => !before.has(d)).map((d) => this.edgePut(plan, d)),
      ...[...before].filter((d) => !after.has(d)).map((d) => this.edgeDelete(plan, d)),
    ];
    const checks = plan.dependencies.checks.map((c) => this.dependencyCheck(c));
    const items: Record<string, unknown>[] = [this.sourceCheck(plan)];
    for (const t of plan.targets)
      items.push({
        Put: {
          TableName: this.table(t.table),
          Item: sdkValue(t.item),
          ...this.ours(t.table, plan),
        },
      });
    for (const t of stale)
      items.push({
        Delete: {
          TableName: this.table(t.table),
          Key: sdkValue(t.key),
          ...this.ours(t.table, plan),
        },
      });
    const firstCheck = items.length;
    items.push(...checks, ...edges, this.ledgerWrite(plan, ledger));
    return { items, stale, firstCheck, checks: checks.length };
  }

  private async transact(
    plan: CopyPlan,
    ledger: LedgerEntry | undefined,
  ): Promise<CopyApplyResult | { outcome: 'retry'; reason: string }> {
    const { items, stale, firstCheck, checks } = this.transactionOf(plan, ledger);
    if (items.length > TRANSACTION_LIMIT)
      return {
        plan,
        outcome: 'malformed',
        reason: `copy "${plan.copy}": ${plan.targets.length} targets, ${stale.length} deletes and ${items.length - 2 - plan.targets.length - stale.length} dependency actions need ${items.length} actions in one transaction; DynamoDB allows ${TRANSACTION_LIMIT}`,
      };

    try {
      await this.doc.send(new TransactWriteCommand({ TransactItems: items as never }));
      // Only the ledger and edges changed (a skipped source): nothing of the app's moved.
      if (plan.targets.length + stale.length === 0) return { plan, outcome: 'unchanged' };
      return { plan, outcome: 'migrated', written: plan.targets.length, deleted: stale.length };
    } catch (e) {
      if (!(e instanceof TransactionCanceledException)) throw e;
      const codes = (e.CancellationReasons ?? []).map((r) => r.Code ?? 'None');
      const failedAt = (from: number, to: number) =>
        codes.findIndex((c, i) => c === 'ConditionalCheckFailed' && i >= from && i < to);
      if (codes[0] === 'ConditionalCheckFailed')
        // The source moved on (or came back): its own stream record derives the newer version.
        return { plan, outcome: 'conflict' };
      const target = failedAt(1, firstCheck);
      if (target > 0) {
        const t =
          target <= plan.targets.length
            ? plan.targets[target - 1]
            : stale[target - 1 - plan.targets.length];
        return {
          plan,
          outcome: 'malformed',
          reason: `copy "${plan.copy}": ${keyId(t!.table, t!.key)} holds an item that is not this source's copy (its ${COPY_ATTRIBUTES.source} differs): never overwritten`,
        };
      }
      if (failedAt(firstCheck, firstCheck + checks) >= 0)
        return { plan, outcome: 'replan', reason: 'a looked-up item changed since it was read' };
      // The ledger moved (another writer of this source committed first) or a transaction
      // collided: read again and re-decide.
      return { outcome: 'retry', reason: `transaction cancelled: ${codes.join(', ')}` };
    }
  }

  /** What a lookup read still holds: the looked-up item, or an index key's stamp. */
  private dependencyCheck(c: DependencyCheck): Record<string, unknown> {
    const x = expressionBuilder();
    if (c.kind === 'item')
      return {
        ConditionCheck: {
          TableName: this.table(c.table),
          Key: sdkValue(c.key),
          ConditionExpression: x.conditions([...c.conditions]),
          ...x.placeholders(),
        },
      };
    return {
      ConditionCheck: {
        TableName: this.ledgerTable,
        Key: { pk: c.dependency, sk: STAMP_SK },
        ConditionExpression:
          c.rev === null
            ? `attribute_not_exists(${x.name('pk')})`
            : `${x.name('rev')} = ${x.value(c.rev)}`,
        ...x.placeholders(),
      },
    };
  }

  /** The source's edge in a dependency's partition: found when the looked-up item changes. */
  private edgePut(plan: CopyPlan, dependency: string): Record<string, unknown> {
    return {
      Put: {
        TableName: this.ledgerTable,
        Item: sdkValue({
          pk: dependency,
          sk: edgeSk(plan.copy, plan.sourceId),
          copy: plan.copy,
          table: plan.source.table,
          key: plan.source.key,
        }),
      },
    };
  }

  private edgeDelete(plan: CopyPlan, dependency: string): Record<string, unknown> {
    return {
      Delete: {
        TableName: this.ledgerTable,
        Key: { pk: dependency, sk: edgeSk(plan.copy, plan.sourceId) },
      },
    };
  }

  private table(declared: string): string {
    return physicalTable(this.tables, declared);
  }

  /** The source still holds the inputs read (or, for a gone source, does not exist). */
  private sourceCheck(plan: CopyPlan): Record<string, unknown> {
    const x = expressionBuilder();
    return {
      ConditionCheck: {
        TableName: this.table(plan.source.table),
        Key: sdkValue(plan.source.key),
        ConditionExpression: x.conditions(plan.conditions),
        ...x.placeholders(),
      },
    };
  }

  /** A target is written or deleted only if absent or this source's own copy. */
  private ours(table: string, plan: CopyPlan): Record<string, unknown> {
    const x = expressionBuilder();
    const [partitionKey] = this.keyNames(table) as [string];
    return {
      ConditionExpression: `attribute_not_exists(${x.name(partitionKey)}) OR ${x.name(COPY_ATTRIBUTES.source)} = ${x.value(plan.sourceId)}`,
      ...x.placeholders(),
    };
  }

  /** The ledger entry after this write; its condition: unchanged since read. */
  private ledgerWrite(plan: CopyPlan, ledger: LedgerEntry | undefined): Record<string, unknown> {
    const x = expressionBuilder();
    const condition = ledger
      ? `${x.name('rev')} = ${x.value(ledger.rev)}`
      : `attribute_not_exists(${x.name('pk')})`;
    const Key = ledgerKey(plan.copy, plan.sourceId);
    if (plan.targets.length === 0 && plan.dependencies.on.length === 0)
      return {
        Delete: {
          TableName: this.ledgerTable,
          Key,
          ConditionExpression: condition,
          ...x.placeholders(),
        },
      };
    const entry: LedgerEntry = {
      copy: plan.copy,
      source: plan.sourceId,
      digest: plan.digest,
      version: plan.version,
      rev: (ledger?.rev ?? 0) + 1,
      targets: plan.targets.map((t) => ({ table: t.table, key: t.key })),
      dependsOn: [...plan.dependencies.on],
      ...(plan.skipped !== undefined && { skipped: plan.skipped }),
    };
    return {
      Put: {
        TableName: this.ledgerTable,
        Item: sdkValue({ ...Key, ...entry }),
        ConditionExpression: condition,
        ...x.placeholders(),
      },
    };
  }
}
