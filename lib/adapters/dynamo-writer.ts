// The applier: the one DynamoDB writer. Every migration write is a conditional UpdateItem
// compiled here, so no write can lose an application update or resurrect an item.
import { physicalTable } from '../core/config/table-names.ts';
import { ConditionalCheckFailedException, type AttributeValue } from '@aws-sdk/client-dynamodb';
import { GetCommand, UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { WRITE_CONCURRENCY } from '../config/defaults.ts';
import { mapLimit } from '../core/concurrency.ts';
import { changeAlreadyApplied } from '../core/plan.ts';
import { sdkValue, unmarshallExact } from './exact-numbers.ts';
import type { Condition, Item, ItemChange, WriteOutcome } from '../core/types.ts';

export interface ApplyResult {
  change: ItemChange;
  /** `unchanged`: the condition failed only because this very change was already applied. */
  outcome: WriteOutcome;
  /** Why it failed (only for `failed`). */
  error?: Error;
}

export interface CompiledUpdate {
  UpdateExpression: string;
  ConditionExpression: string;
  ExpressionAttributeNames: Record<string, string>;
  ExpressionAttributeValues?: Record<string, unknown>;
}

/**
 * Turns a planned change into an UpdateItem that only SETs/REMOVEs derived attributes and
 * only succeeds while the item still exists with the inputs that were read. Placeholders
 * everywhere: attribute names like `source` are reserved words in DynamoDB.
 */
export function compileUpdate(change: ItemChange): CompiledUpdate {
  const x = expressionBuilder();
  const parts: string[] = [];
  const sets = Object.entries(change.set).map(
    ([attr, value]) => `${x.name(attr)} = ${x.value(value)}`,
  );
  if (sets.length) parts.push(`SET ${sets.join(', ')}`);
  if (change.remove.length) parts.push(`REMOVE ${change.remove.map(x.name).join(', ')}`);
  if (!parts.length) throw new Error(`empty change for ${JSON.stringify(change.key)}`);
  if (!change.conditions.some((c) => c.op === 'exists')) {
    // Without it an UpdateItem would create the item: the writer refuses to resurrect.
    throw new Error(`change for ${JSON.stringify(change.key)} has no existence condition`);
  }
  return {
    UpdateExpression: parts.join(' '),
    ConditionExpression: x.conditions(change.conditions),
    ...x.placeholders(),
  };
}

/** Placeholders of one request's expressions: names like `source` are reserved words. */
export interface ExpressionBuilder {
  name(attribute: string): string;
  value(value: unknown): string;
  /** The conditions joined by AND. */
  conditions(conditions: readonly Condition[]): string;
  placeholders(): {
    ExpressionAttributeNames: Record<string, string>;
    ExpressionAttributeValues?: Record<string, unknown>;
  };
}

export function expressionBuilder(): ExpressionBuilder {
  const names: Record<string, string> = {};
  const values: Record<string, unknown> = {};
  const nameOf = new Map<string, string>();
  let v = 0;
  const name = (attr: string): string => {
    let ph = nameOf.get(attr);
    if (!ph) {
      ph = `#a${nameOf.size}`;
      nameOf.set(attr, ph);
      names[ph] = attr;
    }
    return ph;
  };
  const value = (x: unknown): string => {
    const ph = `:v${v++}`;
    values[ph] = sdkValue(x);
    return ph;
  };
  const cond = (c: Condition): string =>
    c.op === 'exists'
      ? `attribute_exists(${name(c.attribute)})`
      : c.op === 'notExists'
        ? `attribute_not_exists(${name(c.attribute)})`
        : `${name(c.attribute)} = ${value(c.value)}`;
  return {
    name,
    value,
    conditions: (cs) => cs.map(cond).join(' AND '),
    placeholders: () => ({
      ExpressionAttributeNames: names,
      ...(v > 0 && { ExpressionAttributeValues: values }),
    }),
  };
}

export interface WriterOptions {
  /** Max UpdateItem calls in flight for applyAll. @default 16 (WRITE_CONCURRENCY) */
  concurrency?: number;
}

/**
 * The one DynamoDB writer: every migration write in streamfill goes through `apply`.
 *
 * @example
 * const writer = new DynamoWriter(doc, tables, { concurrency: 32 });
 * const [r] = await writer.applyAll([change]); // r.outcome: migrated | conflict | missing | …
 */
export class DynamoWriter {
  private readonly concurrency: number;

  constructor(
    private readonly doc: DynamoDBDocumentClient,
    /** Declared table name → physical name. */
    private readonly tables: Readonly<Record<string, string>>,
    options: WriterOptions = {},
  ) {
    this.concurrency = options.concurrency ?? WRITE_CONCURRENCY;
  }

  tableName(table: string): string {
    return physicalTable(this.tables, table);
  }

  async apply(change: ItemChange): Promise<ApplyResult> {
    const TableName = this.tableName(change.table);
    try {
      await this.doc.send(
        new UpdateCommand({
          TableName,
          Key: sdkValue(change.key) as Record<string, unknown>,
          ...compileUpdate(change),
          ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
        }),
      );
      return { change, outcome: 'migrated' };
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) {
        // Never retried: the newer write wins and is migrated from its own stream record.
        // The current item tells a concurrent update (conflict) from a delete (missing)
        // and from an earlier attempt of this same write (unchanged).
        try {
          const current = error.Item
            ? unmarshallExact(error.Item as Record<string, AttributeValue>)
            : await this.read(TableName, change);
          if (!current) return { change, outcome: 'missing' };
          return {
            change,
            outcome: changeAlreadyApplied(current, change) ? 'unchanged' : 'conflict',
          };
        } catch (readError) {
          return { change, outcome: 'failed', error: asError(readError) };
        }
      }
      // The SDK already retried throttling and transient faults; the caller parks it.
      return { change, outcome: 'failed', error: asError(error) };
    }
  }

  applyAll(changes: readonly ItemChange[]): Promise<ApplyResult[]> {
    return mapLimit(changes, this.concurrency, (c) => this.apply(c));
  }

  private async read(TableName: string, change: ItemChange): Promise<Item | undefined> {
    const res = await this.doc.send(
      new GetCommand({
        TableName,
        Key: sdkValue(change.key) as Record<string, unknown>,
        ConsistentRead: true,
      }),
    );
    return res.Item;
  }
}

export function asError(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error));
}
