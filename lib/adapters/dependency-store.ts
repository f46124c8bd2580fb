// The copies' dependency items in the state table (formats: lib/core/config/copy-dependencies.ts):
// per looked-up key, a stamp (index keys) and one edge per dependent source. Edges are written by
// the copy writer, in the dependent's own transaction; stamps are bumped here by the looked-up
// item's stream record, before its dependents are read.
import { ResourceNotFoundException } from '@aws-sdk/client-dynamodb';
import {
  GetCommand,
  QueryCommand,
  UpdateCommand,
  type DynamoDBDocumentClient,
} from '@aws-sdk/lib-dynamodb';
import { STAMP_SK } from '../core/config/copy-dependencies.ts';
import type { Key } from '../core/types.ts';
import { sdkValue } from './exact-numbers.ts';

/** A stamp: bumped by every record of an item answering its index key. */
export interface Stamp {
  rev: number;
  /** The table key of the item whose record bumped it last: a candidate, checked when read. */
  by?: Key;
}

/** A source that depends on a looked-up key: re-derived when the looked-up item changes. */
export interface DependentEdge {
  copy: string;
  /** The source's declared table and key. */
  table: string;
  key: Key;
}

/**
 * @example
 * const store = new DependencyStore(doc, 'streamfill-state-local');
 * await store.bumpStamp(dependencyKey('owner', id), botKey);
 * const edges = await store.dependents(dependencyKey('owner', id));
 */
export class DependencyStore {
  constructor(
    private readonly doc: DynamoDBDocumentClient,
    /** The state table (physical name). */
    readonly table: string,
  ) {}

  /** Undefined when there is none, also when the state table does not exist (yet): no stamp. */
  async readStamp(dependency: string): Promise<Stamp | undefined> {
    let res;
    try {
      res = await this.doc.send(
        new GetCommand({
          TableName: this.table,
          Key: { pk: dependency, sk: STAMP_SK },
          ConsistentRead: true,
        }),
      );
    } catch (e) {
      // A read-only command (verify, cutover check) before anything created it. A copy's writes
      // still need the table: the ledger read fails loudly there.
      if (e instanceof ResourceNotFoundException) return undefined;
      throw e;
    }
    if (!res.Item) return undefined;
    return { rev: Number(res.Item.rev), ...(res.Item.by && { by: res.Item.by as Key }) };
  }

  async bumpStamp(dependency: string, by: Key): Promise<void> {
    await this.doc.send(
      new UpdateCommand({
        TableName: this.table,
        Key: { pk: dependency, sk: STAMP_SK },
        UpdateExpression: 'SET #by = :by ADD #rev :one',
        ExpressionAttributeNames: { '#by': 'by', '#rev': 'rev' },
        ExpressionAttributeValues: { ':by': sdkValue(by), ':one': 1 },
      }),
    );
  }

  /** Every dependent edge of `dependency` (strongly consistent, all pages). */
  async dependents(dependency: string): Promise<DependentEdge[]> {
    const edges: DependentEdge[] = [];
    let start: Record<string, unknown> | undefined;
    do {
      const res = await this.doc.send(
        new QueryCommand({
          TableName: this.table,
          KeyConditionExpression: 'pk = :pk AND begins_with(sk, :edge)',
          ExpressionAttributeValues: { ':pk': dependency, ':edge': 'edge#' },
          ConsistentRead: true,
          ExclusiveStartKey: start,
        }),
      );
      for (const item of res.Items ?? [])
        edges.push({
          copy: item.copy as string,
          table: item.table as string,
          key: item.key as Key,
        });
      start = res.LastEvaluatedKey;
    } while (start);
    return edges;
  }
}
