// Lambda's DynamoDB-stream event source semantics: the mapping's options, their defaults and
// validation, and the pure reading of a handler's response and of record age.

import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { DynamoDBStreamsClient } from '@aws-sdk/client-dynamodb-streams';
import type { SQSClient } from '@aws-sdk/client-sqs';
import type {
  Context,
  DynamoDBBatchResponse,
  DynamoDBRecord,
  DynamoDBStreamEvent,
} from 'aws-lambda';
import { readItemFailures } from './batch-response.ts';
import type { CheckpointStore } from './checkpoint.ts';
import { DEFAULT_FUNCTION_TIMEOUT_MS, type EventSourceLogger } from './lambda-context.ts';
import type { MappingLifecycle } from './mapping-lifecycle.ts';
import type { RedeliveryOptions } from './redelivery.ts';

export type DynamoDBStreamHandler = (
  event: DynamoDBStreamEvent,
  context: Context,
) => Promise<DynamoDBBatchResponse | void>;

export type StartingPosition = 'TRIM_HORIZON' | 'LATEST';

export interface DynamoDBStreamMappingOptions {
  /** The stream to read; or give `tableName` (DescribeTable -> LatestStreamArn, needs `dynamodb`). */
  streamArn?: string;
  tableName?: string;
  handler: DynamoDBStreamHandler;
  streams: DynamoDBStreamsClient;
  dynamodb?: DynamoDBClient;
  /** Max records per invocation (1..10,000). @default 100 */
  batchSize?: number;
  /**
   * Batches of one shard in flight at once (1..10), lanes by item key (lanes.ts). @default 1
   */
  parallelizationFactor?: number;
  /** Gather records across polls until the batch is full or this window passes. @default 0 */
  maximumBatchingWindowMs?: number;
  /** Where a shard without checkpoint starts on the first start. @default 'TRIM_HORIZON' */
  startingPosition?: StartingPosition;
  /**
   * LATEST is eventually consistent on AWS: a new mapping shows Enabled at once but fixes its
   * position some time later, and writes made meanwhile are never delivered. With this set,
   * `start()` returns at once and each LATEST shard is pinned this long after (the writes of
   * the window are skipped, as AWS may skip them). @default 0
   */
  latestPositionDelayMs?: number;
  /** Honour `{ batchItemFailures }` responses. @default true */
  reportBatchItemFailures?: boolean;
  /** Split a batch whose invocation failed in two and retry the halves. @default true */
  bisectBatchOnFunctionError?: boolean;
  /** Retries of a failing batch before it goes to on-failure (-1 = until the record expires). @default 3 */
  maximumRetryAttempts?: number;
  /** Records older than this are discarded to on-failure (-1 = never). @default -1 */
  maximumRecordAgeSeconds?: number;
  /** Destination for batches given up on: one SQS message per failed batch. */
  onFailure?: { queueUrl: string; sqs: SQSClient };
  /** Where shard positions are kept. @default a MemoryCheckpointStore (a new process starts over) */
  checkpoint?: CheckpointStore;
  /** Sleep between polls of a caught-up shard. @default 100 */
  pollIntervalMs?: number;
  /** How often the stream is re-described to find new shards. @default 2000 */
  describeIntervalMs?: number;
  /** Retry backoff: this × attempt. @default 200 */
  retryBackoffMs?: number;
  /** Name in the Lambda context and on-failure records. @default 'streamfill-stream-consumer' */
  functionName?: string;
  /** Invocations running longer count as failed (`Task timed out`). @default 60000 */
  functionTimeoutMs?: number;
  /** `awsRegion` of records and ARNs. @default the streams client's region */
  awsRegion?: string;
  /** @default quiet about routine work, warnings and errors on stderr */
  logger?: EventSourceLogger;
  /**
   * At-least-once delivery (redelivery.ts): a successful batch is invoked again before its
   * checkpoint, or the shard re-read from its previous checkpoint. @default off
   */
  redelivery?: RedeliveryOptions;
}

export type ResolvedStreamOptions = Required<
  Pick<
    DynamoDBStreamMappingOptions,
    | 'batchSize'
    | 'parallelizationFactor'
    | 'maximumBatchingWindowMs'
    | 'startingPosition'
    | 'latestPositionDelayMs'
    | 'reportBatchItemFailures'
    | 'bisectBatchOnFunctionError'
    | 'maximumRetryAttempts'
    | 'maximumRecordAgeSeconds'
    | 'pollIntervalMs'
    | 'describeIntervalMs'
    | 'retryBackoffMs'
    | 'functionName'
    | 'functionTimeoutMs'
  >
>;

/** The options with their defaults; a clear error for a setting Lambda would refuse. */
export function resolveStreamOptions(options: DynamoDBStreamMappingOptions): ResolvedStreamOptions {
  if (!options.streamArn && !options.tableName)
    throw new Error('DynamoDBStreamMapping needs streamArn or tableName');
  if (!options.streamArn && !options.dynamodb)
    throw new Error('DynamoDBStreamMapping needs a DynamoDBClient to resolve tableName');
  const batchSize = options.batchSize ?? 100;
  if (!Number.isInteger(batchSize) || batchSize < 1 || batchSize > 10_000)
    throw new Error(`batchSize must be 1..10000, got ${batchSize}`);
  const parallelizationFactor = options.parallelizationFactor ?? 1;
  if (
    !Number.isInteger(parallelizationFactor) ||
    parallelizationFactor < 1 ||
    parallelizationFactor > 10
  )
    throw new Error(`parallelizationFactor must be 1..10, got ${parallelizationFactor}`);
  return {
    batchSize,
    parallelizationFactor,
    maximumBatchingWindowMs: options.maximumBatchingWindowMs ?? 0,
    startingPosition: options.startingPosition ?? 'TRIM_HORIZON',
    latestPositionDelayMs: options.latestPositionDelayMs ?? 0,
    reportBatchItemFailures: options.reportBatchItemFailures ?? true,
    bisectBatchOnFunctionError: options.bisectBatchOnFunctionError ?? true,
    maximumRetryAttempts: options.maximumRetryAttempts ?? 3,
    maximumRecordAgeSeconds: options.maximumRecordAgeSeconds ?? -1,
    pollIntervalMs: options.pollIntervalMs ?? 100,
    describeIntervalMs: options.describeIntervalMs ?? 2_000,
    retryBackoffMs: options.retryBackoffMs ?? 200,
    functionName: options.functionName ?? 'streamfill-stream-consumer',
    functionTimeoutMs: options.functionTimeoutMs ?? DEFAULT_FUNCTION_TIMEOUT_MS,
  };
}

/** Numeric order of stream sequence numbers (decimal strings of any length). */
export function compareSequenceNumbers(a: string, b: string): number {
  if (/^\d+$/.test(a) && /^\d+$/.test(b)) {
    const x = BigInt(a);
    const y = BigInt(b);
    return x < y ? -1 : x > y ? 1 : 0;
  }
  return a < b ? -1 : a > b ? 1 : 0;
}

export type StreamBatchOutcome =
  | { kind: 'success' }
  /** Records before `failedIndex` succeeded (none when 0): checkpoint before it, retry from it. */
  | { kind: 'partial'; failedIndex: number; reason: string }
  | { kind: 'failure'; reason: string; functionError?: string };

/**
 * How Lambda reads a stream handler's return value. Complete success: no response, no or an
 * empty `batchItemFailures`. Complete failure: an `itemIdentifier` that is missing, empty or not
 * a sequence number of the batch. Otherwise a partial failure from the LOWEST failed sequence
 * number — also when that is the first record (later records are re-delivered too).
 */
export function interpretStreamBatchResponse(
  records: readonly DynamoDBRecord[],
  response: unknown,
  reportBatchItemFailures: boolean,
): StreamBatchOutcome {
  const index = new Map<string, number>();
  records.forEach((r, i) => {
    const seq = r.dynamodb?.SequenceNumber;
    if (seq !== undefined) index.set(seq, i);
  });
  const read = readItemFailures(response, reportBatchItemFailures, new Set(index.keys()));
  if (read.kind !== 'ids') return read;
  const lowest = Math.min(...read.ids.map((id) => index.get(id) as number));
  const failedSeq = records[lowest]?.dynamodb?.SequenceNumber ?? '';
  const reason = `handler reported ${read.ids.length} failed item(s), lowest ${failedSeq}`;
  return { kind: 'partial', failedIndex: lowest, reason };
}

/** How many leading records are older than `maxAgeSeconds` (-1 = none ever are). */
export function countExpiredPrefix(
  records: readonly DynamoDBRecord[],
  maxAgeSeconds: number,
  nowMs: number,
): number {
  if (maxAgeSeconds < 0) return 0;
  let n = 0;
  for (const r of records) {
    const created = r.dynamodb?.ApproximateCreationDateTime;
    if (created === undefined || nowMs - created * 1000 <= maxAgeSeconds * 1000) break;
    n++;
  }
  return n;
}

/** The mapping's running totals. */
export interface StreamCounters {
  /** Records the handler acknowledged. */
  recordsProcessed: number;
  /** Handler invocations, and how many of them failed (error, timeout or reported item failure). */
  batches: number;
  failures: number;
  retries: number;
  bisections: number;
  /** Records sent to the on-failure queue, and the number of messages that carried them. */
  recordsToOnFailure: number;
  onFailureMessages: number;
  /** Records given up on without an on-failure destination. */
  recordsDiscarded: number;
  /** Successful batches invoked again before their checkpoint (emulated at-least-once). */
  redeliveries: number;
  /** Times a shard was re-read from its previous checkpoint (emulated at-least-once). */
  replays: number;
}

export const newStreamCounters = (): StreamCounters => ({
  recordsProcessed: 0,
  batches: 0,
  failures: 0,
  retries: 0,
  bisections: 0,
  recordsToOnFailure: 0,
  onFailureMessages: 0,
  recordsDiscarded: 0,
  redeliveries: 0,
  replays: 0,
});

/** What the parts of a running stream mapping share. */
export interface StreamRuntime {
  readonly options: DynamoDBStreamMappingOptions;
  readonly opts: ResolvedStreamOptions;
  readonly log: EventSourceLogger;
  readonly counters: StreamCounters;
  readonly lifecycle: MappingLifecycle;
  /** Set by `start()`. */
  streamArn: string;
  region?: string;
  /** Rolls the at-least-once dice; undefined when redelivery is off. */
  readonly redeliver?: () => boolean;
}

/** Thrown inside a batch when `stop()` was called: the batch ends unacknowledged. */
export class StopRequested extends Error {}
