// A GSI's build state from DescribeTable, waiting for it, and a segmented scan that reads only
// the attributes needed to count which items carry its key. Knows no migration rule: the
// attribute names come from the caller.
import {
  DescribeTableCommand,
  type DynamoDBClient,
  type TableDescription,
} from '@aws-sdk/client-dynamodb';
import { ScanCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import {
  buildPending,
  emptyCoverage,
  mergeCoverage,
  tallyCoverage,
  type Coverage,
  type CoverageSpec,
  type IndexState,
  type IndexStatus,
} from '../core/index-coverage.ts';
import type { Item } from '../core/types.ts';

export interface IndexDescription extends IndexState {
  /** The index's key attribute names (partition first). */
  keyAttributes: string[];
  /** The table's primary key attribute names. */
  tableKeyAttributes: string[];
  projection: { type: string; nonKeyAttributes?: string[] };
}

export class IndexNotFoundError extends Error {
  constructor(
    readonly table: string,
    readonly index: string,
    readonly existing: string[],
  ) {
    super(
      `table "${table}" has no global secondary index "${index}" (it has: ${
        existing.length ? existing.join(', ') : 'none'
      }); check --index, or deploy the 'expand' phase first`,
    );
    this.name = 'IndexNotFoundError';
  }
}

export async function describeIndex(
  dynamodb: DynamoDBClient,
  table: string,
  index: string,
): Promise<IndexDescription> {
  const { Table } = await dynamodb.send(new DescribeTableCommand({ TableName: table }));
  return indexFrom(Table ?? {}, table, index);
}

function indexFrom(t: TableDescription, table: string, index: string): IndexDescription {
  const gsis = t.GlobalSecondaryIndexes ?? [];
  const gsi = gsis.find((g) => g.IndexName === index);
  if (!gsi)
    throw new IndexNotFoundError(
      table,
      index,
      gsis.map((g) => g.IndexName ?? '?'),
    );
  const keys = (schema: { AttributeName?: string; KeyType?: string }[] | undefined): string[] =>
    [...(schema ?? [])]
      .sort((a, b) => (a.KeyType === 'HASH' ? -1 : 0) - (b.KeyType === 'HASH' ? -1 : 0))
      .map((k) => k.AttributeName ?? '');
  return {
    table,
    index,
    status: (gsi.IndexStatus ?? 'ACTIVE') as IndexStatus,
    backfilling: gsi.Backfilling === true,
    keyAttributes: keys(gsi.KeySchema),
    tableKeyAttributes: keys(t.KeySchema),
    projection: {
      type: gsi.Projection?.ProjectionType ?? 'ALL',
      ...(gsi.Projection?.NonKeyAttributes && {
        nonKeyAttributes: gsi.Projection.NonKeyAttributes,
      }),
    },
  };
}

export interface WaitOptions {
  intervalMs?: number;
  /** Give up after this long; 0 or undefined waits as long as it takes. */
  timeoutMs?: number;
  /** Told what it waits on before each pause. */
  onWait?: (reason: string) => void;
  sleep?: (ms: number) => Promise<void>;
  now?: () => number;
}

/** Polls DescribeTable until the index is ACTIVE and no longer backfilling. */
export async function waitForIndex(
  dynamodb: DynamoDBClient,
  table: string,
  index: string,
  options: WaitOptions = {},
): Promise<IndexDescription> {
  const interval = options.intervalMs ?? 15_000;
  const sleep = options.sleep ?? ((ms) => new Promise((r) => setTimeout(r, ms)));
  const now = options.now ?? Date.now;
  const started = now();
  for (;;) {
    const d = await describeIndex(dynamodb, table, index);
    const pending = buildPending(d);
    if (!pending) return d;
    if (d.status === 'DELETING') throw new Error(pending);
    if (options.timeoutMs && now() - started >= options.timeoutMs) {
      throw new Error(`gave up after ${Math.round(options.timeoutMs / 1000)} s: ${pending}`);
    }
    options.onWait?.(`waiting: ${pending}; next check in ${Math.round(interval / 1000)} s`);
    await sleep(interval);
  }
}

export interface CoverageScanOptions {
  segments?: number;
  pageSize?: number;
  signal?: AbortSignal;
}

/**
 * Segmented Scan projecting only the base, key and primary-key attributes (cheap reads:
 * consumed capacity follows the size of what is read before projection, but the transfer
 * and memory stay small), tallied per segment and merged.
 */
export async function scanCoverage(
  doc: DynamoDBDocumentClient,
  table: string,
  spec: CoverageSpec,
  options: CoverageScanOptions = {},
): Promise<Coverage> {
  const attrs = [
    ...new Set([...(spec.primaryKey ?? []), ...spec.baseAttributes, ...spec.keyAttributes]),
  ];
  const names = Object.fromEntries(attrs.map((a, i) => [`#a${i}`, a]));
  const TotalSegments = options.segments ?? 4;
  const segment = async (Segment: number): Promise<Coverage> => {
    const c = emptyCoverage();
    let ExclusiveStartKey: Record<string, unknown> | undefined;
    do {
      const page = await doc.send(
        new ScanCommand({
          TableName: table,
          Segment,
          TotalSegments,
          Limit: options.pageSize ?? 1000,
          ProjectionExpression: Object.keys(names).join(', '),
          ExpressionAttributeNames: names,
          ...(ExclusiveStartKey && { ExclusiveStartKey }),
        }),
        { abortSignal: options.signal },
      );
      tallyCoverage(c, (page.Items ?? []) as Item[], spec);
      ExclusiveStartKey = page.LastEvaluatedKey;
    } while (ExclusiveStartKey);
    return c;
  };
  const parts = await Promise.all(Array.from({ length: TotalSegments }, (_, s) => segment(s)));
  return parts.reduce((a, b) => mergeCoverage(a, b, spec.maxSamples ?? 5), emptyCoverage());
}
