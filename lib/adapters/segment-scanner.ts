// Reads one Parallel Scan segment (or one partition, for --user) page by page, projecting only
// the attributes the caller names, with consumed capacity and throttling reasons made visible.
// Knows no migration rule: projection and filter come from the caller.
import {
  QueryCommand,
  ScanCommand,
  type DynamoDBDocumentClient,
  type QueryCommandInput,
  type ScanCommandInput,
} from '@aws-sdk/lib-dynamodb';
import type { ThrottlingReason } from '../core/throttle.ts';
import { sdkValue } from './exact-numbers.ts';
import type { Item } from '../core/types.ts';

/** A filter on top of the projection, e.g. `attribute_not_exists(#m)` to skip migrated items. */
export interface ScanFilter {
  expression: string;
  names?: Record<string, string>;
  values?: Record<string, unknown>;
}

export interface PageRequest {
  tableName: string;
  /** Attribute names to read (keys and derivation inputs); nothing else crosses the wire. */
  projection: readonly string[];
  filter?: ScanFilter;
  /** DynamoDB's Limit: items examined per page (before the filter). */
  pageSize?: number;
  exclusiveStartKey?: Record<string, unknown>;
  consistentRead?: boolean;
  signal?: AbortSignal;
}

export interface SegmentPageRequest extends PageRequest {
  segment: number;
  totalSegments: number;
}

export interface PartitionPageRequest extends PageRequest {
  /** The partition key, e.g. `{ user_id: 'u1' }` for `--user u1`. */
  partitionKey: Record<string, string | number>;
}

export interface ScanPage {
  /** Items that passed the filter, projected. */
  items: Item[];
  /** Items examined (ScannedCount): what the key-range progress counts. */
  scannedCount: number;
  /** Where the next page starts; undefined when the segment/partition is done. */
  lastEvaluatedKey: Record<string, unknown> | undefined;
  /** Read capacity units this page consumed (ReturnConsumedCapacity TOTAL), 0 if not reported. */
  consumedCapacity: number;
}

/**
 * DynamoDB throttled the request. `reasons` are its ThrottlingReasons (possibly empty from
 * endpoints that send none); the throttler decides from them who slows down.
 */
export class DynamoThrottledError extends Error {
  override readonly name = 'DynamoThrottledError';
  constructor(
    readonly operation: string,
    readonly errorName: string,
    readonly reasons: ThrottlingReason[],
    options: { cause: unknown; where: string },
  ) {
    const why = reasons.length
      ? reasons.map((r) => `${r.reason ?? '?'}${r.resource ? ` (${r.resource})` : ''}`).join(', ')
      : 'no reason given';
    super(`${operation} ${options.where} throttled: ${errorName}: ${why}`, {
      cause: options.cause,
    });
  }
}

const THROTTLING_ERRORS = new Set([
  'ThrottlingException',
  'ProvisionedThroughputExceededException',
  'RequestLimitExceeded',
]);

/**
 * The ThrottlingReasons of a DynamoDB throttling error, or undefined when `e` is not one.
 * ProvisionedThroughputExceededException and RequestLimitExceeded carry `ThrottlingReasons`,
 * the SDK's ThrottlingException model names it `throttlingReasons`: both are read.
 */
export function throttlingReasonsOf(e: unknown): ThrottlingReason[] | undefined {
  if (!(e instanceof Error) || !THROTTLING_ERRORS.has(e.name)) return undefined;
  const o = e as { ThrottlingReasons?: unknown; throttlingReasons?: unknown };
  const list = o.ThrottlingReasons ?? o.throttlingReasons;
  if (!Array.isArray(list)) return [];
  return list.map((r: { reason?: unknown; resource?: unknown }) => ({
    ...(typeof r?.reason === 'string' && { reason: r.reason }),
    ...(typeof r?.resource === 'string' && { resource: r.resource }),
  }));
}

function expression(
  req: PageRequest,
): Pick<
  ScanCommandInput,
  | 'ProjectionExpression'
  | 'FilterExpression'
  | 'ExpressionAttributeNames'
  | 'ExpressionAttributeValues'
> {
  if (!req.projection.length) throw new Error('projection must name at least one attribute');
  // Placeholders for every name: many input names (source, user_type...) are reserved words.
  const names: Record<string, string> = {};
  const projected = req.projection.map((n, i) => {
    names[`#p${i}`] = n;
    return `#p${i}`;
  });
  for (const [k, v] of Object.entries(req.filter?.names ?? {})) {
    if (k in names && names[k] !== v)
      throw new Error(`filter placeholder ${k} clashes with the projection`);
    names[k] = v;
  }
  const values = req.filter?.values;
  return {
    ProjectionExpression: projected.join(', '),
    ExpressionAttributeNames: names,
    ...(req.filter && { FilterExpression: req.filter.expression }),
    ...(values && Object.keys(values).length && { ExpressionAttributeValues: values }),
  };
}

async function send<T>(where: string, operation: string, run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (e) {
    const reasons = throttlingReasonsOf(e);
    if (reasons)
      throw new DynamoThrottledError(operation, (e as Error).name, reasons, { cause: e, where });
    throw e;
  }
}

/** One page of one segment. Throttling surfaces as DynamoThrottledError with its reasons. */
export async function scanSegmentPage(
  doc: DynamoDBDocumentClient,
  req: SegmentPageRequest,
): Promise<ScanPage> {
  if (
    !Number.isInteger(req.totalSegments) ||
    req.totalSegments < 1 ||
    req.totalSegments > 1_000_000
  ) {
    throw new RangeError(
      `totalSegments must be an integer in 1..1000000, got ${req.totalSegments}`,
    );
  }
  if (!Number.isInteger(req.segment) || req.segment < 0 || req.segment >= req.totalSegments) {
    throw new RangeError(
      `segment must be an integer in 0..${req.totalSegments - 1}, got ${req.segment}`,
    );
  }
  const where = `of ${req.tableName} segment ${req.segment}/${req.totalSegments}`;
  const r = await send(where, 'Scan', () =>
    doc.send(
      new ScanCommand({
        TableName: req.tableName,
        Segment: req.segment,
        TotalSegments: req.totalSegments,
        ...expression(req),
        ...(req.pageSize !== undefined && { Limit: req.pageSize }),
        // A key past 2^53 is an ExactNumber: sent back as its exact text.
        ...(req.exclusiveStartKey && {
          ExclusiveStartKey: sdkValue(req.exclusiveStartKey) as Record<string, unknown>,
        }),
        ConsistentRead: req.consistentRead ?? false,
        ReturnConsumedCapacity: 'TOTAL',
      }),
      { abortSignal: req.signal },
    ),
  );
  return {
    items: (r.Items ?? []) as Item[],
    scannedCount: r.ScannedCount ?? 0,
    lastEvaluatedKey: r.LastEvaluatedKey,
    consumedCapacity: r.ConsumedCapacity?.CapacityUnits ?? 0,
  };
}

/** One page of the items of one partition key (`--user ID`). */
export async function queryPartitionPage(
  doc: DynamoDBDocumentClient,
  req: PartitionPageRequest,
): Promise<ScanPage> {
  const entries = Object.entries(req.partitionKey);
  if (entries.length !== 1) throw new Error('partitionKey must name exactly one attribute');
  const [[pkName, pkValue]] = entries as [[string, string | number]];
  const base = expression(req);
  const input: QueryCommandInput = {
    TableName: req.tableName,
    ...base,
    KeyConditionExpression: '#pk = :pk',
    ExpressionAttributeNames: { ...base.ExpressionAttributeNames, '#pk': pkName },
    ExpressionAttributeValues: { ...base.ExpressionAttributeValues, ':pk': pkValue },
    ...(req.pageSize !== undefined && { Limit: req.pageSize }),
    // A key past 2^53 is an ExactNumber: sent back as its exact text.
    ...(req.exclusiveStartKey && {
      ExclusiveStartKey: sdkValue(req.exclusiveStartKey) as Record<string, unknown>,
    }),
    ConsistentRead: req.consistentRead ?? false,
    ReturnConsumedCapacity: 'TOTAL',
  };
  const r = await send(`of ${req.tableName} ${pkName}=${JSON.stringify(pkValue)}`, 'Query', () =>
    doc.send(new QueryCommand(input), { abortSignal: req.signal }),
  );
  return {
    items: (r.Items ?? []) as Item[],
    scannedCount: r.ScannedCount ?? 0,
    lastEvaluatedKey: r.LastEvaluatedKey,
    consumedCapacity: r.ConsumedCapacity?.CapacityUnits ?? 0,
  };
}

/**
 * All remaining pages of a segment from `exclusiveStartKey` on. The caller checkpoints each
 * page's `lastEvaluatedKey` after its items were accepted downstream, and paces between pages.
 */
export async function* scanSegment(
  doc: DynamoDBDocumentClient,
  req: SegmentPageRequest,
): AsyncGenerator<ScanPage> {
  let start = req.exclusiveStartKey;
  do {
    const page = await scanSegmentPage(doc, { ...req, exclusiveStartKey: start });
    yield page;
    start = page.lastEvaluatedKey;
  } while (start);
}
