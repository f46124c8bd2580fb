// Local emulation of a Lambda event source mapping on a DynamoDB stream: polls the shards in
// lineage order, hands batches to the very handler function that is deployed, and applies
// Lambda's semantics for partial batch responses, retries, bisection, record age, on-failure
// destinations and checkpoints.

import { DescribeTableCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import {
  DescribeStreamCommand,
  GetRecordsCommand,
  GetShardIteratorCommand,
  type DynamoDBStreamsClient,
  type _Record as SdkStreamRecord,
  type Shard,
  type ShardIteratorType,
} from '@aws-sdk/client-dynamodb-streams';
import { SendMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import type {
  Context,
  DynamoDBBatchResponse,
  DynamoDBRecord,
  DynamoDBStreamEvent,
} from 'aws-lambda';
import { randomUUID } from 'node:crypto';
import { readItemFailures } from './batch-response.ts';
import { MemoryCheckpointStore, SHARD_END, type CheckpointStore } from './checkpoint.ts';
import {
  DEFAULT_FUNCTION_TIMEOUT_MS,
  createLambdaContext,
  defaultLogger,
  functionArn,
  invokeHandler,
  sleep,
  toError,
  type EventSourceLogger,
} from './lambda-context.ts';
import {
  serializeStreamOnFailure,
  toLambdaRecord,
  type StreamFailureCondition,
} from './stream-event.ts';

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
  /** Max records per invocation (default 100, max 10,000). */
  batchSize?: number;
  /** Gather records across polls until the batch is full or this window passes (default 0). */
  maximumBatchingWindowMs?: number;
  /** Where a shard without checkpoint starts on the first start (default TRIM_HORIZON). */
  startingPosition?: StartingPosition;
  /** Honour `{ batchItemFailures }` responses (default true). */
  reportBatchItemFailures?: boolean;
  /** Split a failing batch in two and retry the halves (default true). */
  bisectBatchOnFunctionError?: boolean;
  /** Retries of a failing batch before it goes to on-failure (default 3; -1 = until the record expires). */
  maximumRetryAttempts?: number;
  /** Records older than this are discarded to on-failure (default -1 = never). */
  maximumRecordAgeSeconds?: number;
  /** Destination for batches given up on: one SQS message per failed batch. */
  onFailure?: { queueUrl: string; sqs: SQSClient };
  /** Default: in memory (a restart of the process starts over from `startingPosition`). */
  checkpoint?: CheckpointStore;
  /** Sleep between polls of a caught-up shard (default 100 ms). */
  pollIntervalMs?: number;
  /** How often the stream is re-described to find new shards (default 2,000 ms). */
  describeIntervalMs?: number;
  /** Retry backoff: this × attempt (default 200 ms). */
  retryBackoffMs?: number;
  /** Name in the Lambda context and on-failure records (default `streamfill-stream-consumer`). */
  functionName?: string;
  /** Invocations running longer count as failed (`Task timed out`), default 60 s. */
  functionTimeoutMs?: number;
  /** `awsRegion` of records and ARNs; default: the streams client's region. */
  awsRegion?: string;
  logger?: EventSourceLogger;
}

export interface ShardStats {
  shardId: string;
  parentShardId?: string;
  status: 'waiting' | 'reading' | 'finished';
  closed: boolean;
  /** Last acknowledged sequence number. */
  checkpoint?: string;
  /** Records fetched and not yet acknowledged. */
  pendingRecords: number;
  /** Last poll found nothing new and nothing is pending. */
  caughtUp: boolean;
  /**
   * Lambda's IteratorAge: time between receiving the last batch and the creation of its last
   * record (0 when caught up). DynamoDB Local truncates creation times to the minute.
   */
  iteratorAgeMs: number;
  recordsProcessed: number;
}

export interface StreamMappingStats {
  streamArn?: string;
  running: boolean;
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
  /** Max over shards. */
  iteratorAgeMs: number;
  shards: ShardStats[];
}

// ---------------------------------------------------------------------------------------
// Pure parts (unit-tested)

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
  /** Records before `failedIndex` succeeded: checkpoint the one before it and retry from it. */
  | { kind: 'partial'; failedIndex: number; reason: string }
  | { kind: 'failure'; reason: string };

/**
 * How Lambda reads a stream handler's return value. Complete success: no response, no or an
 * empty `batchItemFailures`. Complete failure: an `itemIdentifier` that is missing, empty or not
 * a sequence number of the batch, or a failure at the first record. Otherwise retry from the
 * LOWEST failed sequence number (later records are re-delivered too).
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
  if (lowest === 0) return { kind: 'failure', reason };
  return { kind: 'partial', failedIndex: lowest, reason };
}

/** Halves for BisectBatchOnFunctionError (the first half gets the extra record). */
export function bisect<T>(records: readonly T[]): [T[], T[]] {
  const mid = Math.ceil(records.length / 2);
  return [records.slice(0, mid), records.slice(mid)];
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

export interface ShardNode {
  shardId: string;
  parentShardId?: string;
}

/**
 * Shards that may be read now: not finished, not already being read, and whose parent is
 * finished or no longer listed (trimmed). Children only after their parent: lineage order.
 */
export function shardsReadyToRead(
  shards: readonly ShardNode[],
  finished: ReadonlySet<string>,
  reading: ReadonlySet<string>,
): string[] {
  const listed = new Set(shards.map((s) => s.shardId));
  return shards
    .filter((s) => !finished.has(s.shardId) && !reading.has(s.shardId))
    .filter(
      (s) => !s.parentShardId || !listed.has(s.parentShardId) || finished.has(s.parentShardId),
    )
    .map((s) => s.shardId);
}

const errorName = (err: unknown): string => (err as { name?: string } | undefined)?.name ?? '';

// ---------------------------------------------------------------------------------------

interface ShardState {
  shardId: string;
  parentShardId?: string;
  closed: boolean;
  finished: boolean;
  started: boolean;
  checkpoint?: string;
  /** Used when there is no checkpoint. */
  initialPosition: StartingPosition;
  /** undefined: get one; null: end of a closed shard reached. */
  iterator?: string | null;
  pending: number;
  busy: boolean;
  /** performance.now() at the start of the last poll that found nothing, with nothing pending. */
  lastEmptyPollAt: number;
  /** performance.now() at the start of the last poll that returned records. */
  lastBatchAt: number;
  iteratorAgeMs: number;
  recordsProcessed: number;
  task?: Promise<void>;
}

interface Segment {
  records: DynamoDBRecord[];
  retries: number;
  invokes: number;
}

class StopRequested extends Error {}

export class DynamoDBStreamMapping {
  private readonly opts: Required<
    Pick<
      DynamoDBStreamMappingOptions,
      | 'batchSize'
      | 'maximumBatchingWindowMs'
      | 'startingPosition'
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
  private readonly checkpoints: CheckpointStore;
  private readonly log: EventSourceLogger;
  private readonly shards = new Map<string, ShardState>();
  private readonly stopController = new AbortController();
  private arn?: string;
  private region?: string;
  private state: 'new' | 'running' | 'stopping' | 'stopped' = 'new';
  private describeLoop?: Promise<void>;
  private refreshChain: Promise<void> = Promise.resolve();
  private readonly counters = {
    recordsProcessed: 0,
    batches: 0,
    failures: 0,
    retries: 0,
    bisections: 0,
    recordsToOnFailure: 0,
    onFailureMessages: 0,
    recordsDiscarded: 0,
  };

  constructor(private readonly options: DynamoDBStreamMappingOptions) {
    if (!options.streamArn && !options.tableName)
      throw new Error('DynamoDBStreamMapping needs streamArn or tableName');
    if (!options.streamArn && !options.dynamodb)
      throw new Error('DynamoDBStreamMapping needs a DynamoDBClient to resolve tableName');
    const batchSize = options.batchSize ?? 100;
    if (!Number.isInteger(batchSize) || batchSize < 1 || batchSize > 10_000)
      throw new Error(`batchSize must be 1..10000, got ${batchSize}`);
    this.opts = {
      batchSize,
      maximumBatchingWindowMs: options.maximumBatchingWindowMs ?? 0,
      startingPosition: options.startingPosition ?? 'TRIM_HORIZON',
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
    this.checkpoints = options.checkpoint ?? new MemoryCheckpointStore();
    this.log = options.logger ?? defaultLogger;
  }

  get streamArn(): string | undefined {
    return this.arn;
  }

  /** Resolve the stream, load checkpoints, describe the shards and start polling. */
  async start(): Promise<void> {
    if (this.state !== 'new')
      throw new Error(
        `DynamoDBStreamMapping cannot start: it is ${this.state} (create a new instance)`,
      );
    this.state = 'running';
    try {
      this.region = this.options.awsRegion ?? (await this.options.streams.config.region());
      this.arn = this.options.streamArn ?? (await this.resolveStreamArn());
      const saved = await this.checkpoints.load(this.arn);
      await this.refreshShards(saved);
    } catch (err) {
      this.state = 'stopped';
      throw err;
    }
    this.describeLoop = this.runDescribeLoop();
    this.log.info('stream mapping started', { streamArn: this.arn, shards: this.shards.size });
  }

  /** Graceful: no new invocation starts; the in-flight batches finish and are checkpointed. */
  async stop(): Promise<void> {
    if (this.state === 'new') {
      this.state = 'stopped';
      return;
    }
    if (this.state !== 'running') return;
    this.state = 'stopping';
    this.stopController.abort();
    await Promise.allSettled([...this.shards.values()].map((s) => s.task));
    await this.describeLoop;
    await this.refreshChain.catch(() => undefined);
    this.state = 'stopped';
    this.log.info('stream mapping stopped', { streamArn: this.arn, ...this.counters });
  }

  /**
   * Resolves once every shard is caught up — a poll that started after this call found nothing
   * and nothing is pending or being retried — or finished. Rejects after `timeoutMs`.
   */
  async waitForIdle(timeoutMs = 30_000): Promise<void> {
    if (this.state !== 'running') throw new Error(`waitForIdle: the mapping is ${this.state}`);
    const since = performance.now();
    const deadline = since + timeoutMs;
    await this.refreshShards();
    while (performance.now() < deadline) {
      if (this.state !== 'running') throw new Error(`waitForIdle: the mapping is ${this.state}`);
      if (this.isIdleSince(since)) return;
      await sleep(Math.min(20, this.opts.pollIntervalMs));
    }
    throw new Error(
      `stream mapping not idle after ${timeoutMs} ms: ${JSON.stringify(this.stats().shards)}`,
    );
  }

  stats(): StreamMappingStats {
    const shards: ShardStats[] = [...this.shards.values()].map((s) => {
      const caughtUp =
        s.finished ||
        (s.started && !s.busy && s.pending === 0 && s.lastEmptyPollAt > s.lastBatchAt);
      const out: ShardStats = {
        shardId: s.shardId,
        status: s.finished ? 'finished' : s.started ? 'reading' : 'waiting',
        closed: s.closed,
        pendingRecords: s.pending,
        caughtUp,
        iteratorAgeMs: caughtUp ? 0 : s.iteratorAgeMs,
        recordsProcessed: s.recordsProcessed,
      };
      if (s.parentShardId) out.parentShardId = s.parentShardId;
      if (s.checkpoint) out.checkpoint = s.checkpoint;
      return out;
    });
    return {
      streamArn: this.arn,
      running: this.state === 'running',
      ...this.counters,
      iteratorAgeMs: shards.reduce((m, s) => Math.max(m, s.iteratorAgeMs), 0),
      shards,
    };
  }

  // -------------------------------------------------------------------------------------

  private get signal(): AbortSignal {
    return this.stopController.signal;
  }

  private get stopping(): boolean {
    return this.state !== 'running';
  }

  private async resolveStreamArn(): Promise<string> {
    const table = await this.options.dynamodb!.send(
      new DescribeTableCommand({ TableName: this.options.tableName }),
    );
    const arn = table.Table?.LatestStreamArn;
    if (!arn || !table.Table?.StreamSpecification?.StreamEnabled)
      throw new Error(`table ${this.options.tableName} has no enabled stream`);
    return arn;
  }

  private isIdleSince(since: number): boolean {
    for (const s of this.shards.values()) {
      if (s.finished) continue;
      if (!s.started || s.busy || s.pending > 0 || s.lastEmptyPollAt < since) return false;
    }
    return true;
  }

  private async describeAll(): Promise<Shard[]> {
    const shards: Shard[] = [];
    let exclusiveStartShardId: string | undefined;
    do {
      const res = await this.options.streams.send(
        new DescribeStreamCommand({
          StreamArn: this.arn,
          ExclusiveStartShardId: exclusiveStartShardId,
          Limit: 100,
        }),
      );
      shards.push(...(res.StreamDescription?.Shards ?? []));
      exclusiveStartShardId = res.StreamDescription?.LastEvaluatedShardId;
    } while (exclusiveStartShardId);
    return shards;
  }

  /** Serialized: each call runs a DescribeStream that starts after the previous ones. */
  private refreshShards(initialCheckpoints?: Record<string, string>): Promise<void> {
    const run = this.refreshChain
      .catch(() => undefined)
      .then(() => this.doRefresh(initialCheckpoints));
    this.refreshChain = run;
    return run;
  }

  private async doRefresh(initialCheckpoints?: Record<string, string>): Promise<void> {
    const listed = await this.describeAll();
    const initial = initialCheckpoints !== undefined;
    const resuming = initial && Object.keys(initialCheckpoints).length > 0;
    for (const shard of listed) {
      const shardId = shard.ShardId;
      if (!shardId) continue;
      const closed = shard.SequenceNumberRange?.EndingSequenceNumber !== undefined;
      const known = this.shards.get(shardId);
      if (known) {
        known.closed ||= closed;
        continue;
      }
      const saved = initialCheckpoints?.[shardId];
      const state: ShardState = {
        shardId,
        closed,
        finished: saved === SHARD_END,
        started: false,
        // LATEST applies only to the shards open at the very first start; everything found
        // later (children) or unknown to a resumed consumer is read from its beginning.
        initialPosition: initial && !resuming ? this.opts.startingPosition : 'TRIM_HORIZON',
        pending: 0,
        busy: false,
        lastEmptyPollAt: 0,
        lastBatchAt: 0,
        iteratorAgeMs: 0,
        recordsProcessed: 0,
      };
      if (shard.ParentShardId) state.parentShardId = shard.ParentShardId;
      if (saved !== undefined && saved !== SHARD_END) state.checkpoint = saved;
      // With LATEST, closed shards hold only history before the consumer existed: skip them.
      if (!state.finished && !state.checkpoint && state.initialPosition === 'LATEST' && closed)
        state.finished = true;
      this.shards.set(shardId, state);
    }
    this.schedule();
  }

  private schedule(): void {
    if (this.stopping) return;
    const nodes: ShardNode[] = [...this.shards.values()].map((s) => ({
      shardId: s.shardId,
      parentShardId: s.parentShardId,
    }));
    const finished = new Set(
      [...this.shards.values()].filter((s) => s.finished).map((s) => s.shardId),
    );
    const reading = new Set(
      [...this.shards.values()].filter((s) => s.started).map((s) => s.shardId),
    );
    for (const id of shardsReadyToRead(nodes, finished, reading)) {
      const s = this.shards.get(id)!;
      s.started = true;
      s.task = this.runShard(s);
    }
  }

  private async runDescribeLoop(): Promise<void> {
    while (!this.stopping) {
      await sleep(this.opts.describeIntervalMs, this.signal);
      if (this.stopping) break;
      try {
        await this.refreshShards();
      } catch (err) {
        this.log.warn('DescribeStream failed', {
          streamArn: this.arn,
          error: toError(err).message,
        });
      }
    }
  }

  private async runShard(s: ShardState): Promise<void> {
    this.log.debug?.('shard reader started', { shardId: s.shardId, checkpoint: s.checkpoint });
    let errors = 0;
    while (!this.stopping) {
      try {
        if (s.iterator === undefined) s.iterator = await this.getIterator(s);
        if (s.iterator === null) {
          await this.finishShard(s);
          return;
        }
        const records = await this.collectBatch(s);
        errors = 0;
        if (records.length > 0) {
          if (this.stopping) break;
          await this.processBatch(s, records);
          continue;
        }
        if (s.iterator === null) continue;
        await sleep(this.opts.pollIntervalMs, this.signal);
      } catch (err) {
        s.pending = 0;
        if (err instanceof StopRequested) break;
        const name = errorName(err);
        if (name === 'ExpiredIteratorException' || name === 'TrimmedDataAccessException') {
          this.log.warn(`${name}: re-positioning the shard iterator`, {
            shardId: s.shardId,
            after: s.checkpoint ?? s.initialPosition,
          });
          s.iterator = undefined;
          continue;
        }
        errors++;
        this.log.error('shard reader error', {
          shardId: s.shardId,
          error: toError(err).message,
          name,
        });
        if (name !== 'LimitExceededException' && name !== 'ProvisionedThroughputExceededException')
          s.iterator = undefined;
        await sleep(Math.min(5_000, 250 * 2 ** Math.min(errors, 5)), this.signal);
      }
    }
  }

  /** A fresh iterator at the checkpoint (or the initial position); null when the shard is gone. */
  private async getIterator(s: ShardState): Promise<string | null> {
    const position: { ShardIteratorType: ShardIteratorType; SequenceNumber?: string } = s.checkpoint
      ? { ShardIteratorType: 'AFTER_SEQUENCE_NUMBER', SequenceNumber: s.checkpoint }
      : { ShardIteratorType: s.initialPosition };
    try {
      const res = await this.options.streams.send(
        new GetShardIteratorCommand({ StreamArn: this.arn, ShardId: s.shardId, ...position }),
      );
      return res.ShardIterator ?? null;
    } catch (err) {
      const name = errorName(err);
      if (name === 'TrimmedDataAccessException' && s.checkpoint) {
        // The checkpoint fell out of the 24 h retention: what follows it is all that is left.
        this.log.warn('checkpoint trimmed from the stream: continuing from TRIM_HORIZON', {
          shardId: s.shardId,
          checkpoint: s.checkpoint,
        });
        const res = await this.options.streams.send(
          new GetShardIteratorCommand({
            StreamArn: this.arn,
            ShardId: s.shardId,
            ShardIteratorType: 'TRIM_HORIZON',
          }),
        );
        return res.ShardIterator ?? null;
      }
      if (name === 'ResourceNotFoundException' && /shard/i.test(toError(err).message)) {
        this.log.warn('shard no longer exists', { shardId: s.shardId });
        return null;
      }
      throw err;
    }
  }

  private async finishShard(s: ShardState): Promise<void> {
    s.finished = true;
    s.pending = 0;
    await this.saveCheckpoint(s, SHARD_END);
    this.log.info('shard finished', { shardId: s.shardId });
    if (this.stopping) return;
    // Its children may be listed already, or appear with the next DescribeStream.
    this.schedule();
    this.refreshShards().catch((err: unknown) =>
      this.log.warn('DescribeStream failed', { error: toError(err).message }),
    );
  }

  /**
   * One batch: a single GetRecords (window 0), or polls until `batchSize` records or the
   * batching window (counted from the first record) passes. Never more than `batchSize`.
   */
  private async collectBatch(s: ShardState): Promise<SdkStreamRecord[]> {
    const records: SdkStreamRecord[] = [];
    let windowEnd: number | undefined;
    for (;;) {
      const pollAt = performance.now();
      const res = await this.options.streams.send(
        new GetRecordsCommand({
          ShardIterator: s.iterator ?? undefined,
          Limit: Math.min(1000, this.opts.batchSize - records.length),
        }),
      );
      s.iterator = res.NextShardIterator ?? null;
      const got = res.Records ?? [];
      records.push(...got);
      s.pending = records.length;
      if (records.length === 0) {
        s.lastEmptyPollAt = pollAt;
        return records;
      }
      if (got.length > 0) s.lastBatchAt = pollAt;
      if (
        records.length >= this.opts.batchSize ||
        s.iterator === null ||
        this.opts.maximumBatchingWindowMs <= 0 ||
        this.stopping
      ) {
        return records;
      }
      windowEnd ??= pollAt + this.opts.maximumBatchingWindowMs;
      const remaining = windowEnd - performance.now();
      if (remaining <= 0) return records;
      if (got.length === 0) await sleep(Math.min(this.opts.pollIntervalMs, remaining), this.signal);
    }
  }

  private async processBatch(s: ShardState, sdkRecords: SdkStreamRecord[]): Promise<void> {
    s.busy = true;
    try {
      const records = sdkRecords.map((r) =>
        toLambdaRecord(r, { eventSourceARN: this.arn!, awsRegion: this.region }),
      );
      const last = records[records.length - 1]?.dynamodb?.ApproximateCreationDateTime;
      s.iteratorAgeMs = last === undefined ? 0 : Math.max(0, Date.now() - last * 1000);
      const work: Segment[] = [{ records, retries: 0, invokes: 0 }];
      while (work.length > 0) {
        if (this.stopping) throw new StopRequested();
        const seg = work[0]!;
        const expired = countExpiredPrefix(
          seg.records,
          this.opts.maximumRecordAgeSeconds,
          Date.now(),
        );
        if (expired > 0) {
          const old = seg.records.slice(0, expired);
          await this.giveUp(
            s,
            old,
            'RecordAgeExceeded',
            seg.invokes,
            `record older than maximumRecordAgeSeconds (${this.opts.maximumRecordAgeSeconds} s)`,
          );
          seg.records = seg.records.slice(expired);
          if (seg.records.length === 0) work.shift();
          continue;
        }

        const outcome = await this.invoke(seg.records);
        seg.invokes++;
        if (outcome.kind === 'success') {
          await this.acknowledge(s, seg.records, seg.records.length);
          work.shift();
          continue;
        }
        this.counters.failures++;
        if (outcome.kind === 'partial') {
          // Lambda checkpoints just before the lowest failed record and retries from it.
          await this.acknowledge(s, seg.records, outcome.failedIndex);
          seg.records = seg.records.slice(outcome.failedIndex);
          seg.retries = 0;
          this.log.info('partial batch failure: retrying from the lowest failed record', {
            shardId: s.shardId,
            from: seg.records[0]?.dynamodb?.SequenceNumber,
          });
          continue;
        }
        if (this.opts.bisectBatchOnFunctionError && seg.records.length > 1) {
          const [a, b] = bisect(seg.records);
          this.counters.bisections++;
          work.splice(0, 1, { ...seg, records: a }, { ...seg, records: b });
          continue;
        }
        if (this.opts.maximumRetryAttempts >= 0 && seg.retries >= this.opts.maximumRetryAttempts) {
          await this.giveUp(
            s,
            seg.records,
            'RetryAttemptsExhausted',
            seg.invokes,
            outcome.reason,
            outcome.functionError,
          );
          work.shift();
          continue;
        }
        seg.retries++;
        this.counters.retries++;
        this.log.warn('batch failed: retrying', {
          shardId: s.shardId,
          attempt: seg.retries,
          records: seg.records.length,
          reason: outcome.reason,
        });
        await sleep(this.opts.retryBackoffMs * seg.retries, this.signal);
      }
    } finally {
      s.pending = 0;
      s.busy = false;
    }
  }

  private async invoke(
    records: DynamoDBRecord[],
  ): Promise<
    | { kind: 'success' }
    | { kind: 'partial'; failedIndex: number; reason: string }
    | { kind: 'failure'; reason: string; functionError?: string }
  > {
    this.counters.batches++;
    const context = createLambdaContext({
      functionName: this.opts.functionName,
      timeoutMs: this.opts.functionTimeoutMs,
      region: this.region,
    });
    // Lambda hands every invocation its own deserialized copy of the event.
    const event: DynamoDBStreamEvent = structuredClone({ Records: records });
    const outcome = await invokeHandler(
      this.options.handler,
      event,
      context,
      this.opts.functionTimeoutMs,
    );
    if (!outcome.ok) {
      this.log.warn('handler error', {
        requestId: context.awsRequestId,
        error: outcome.error.message,
      });
      return {
        kind: 'failure',
        reason: `${outcome.error.name}: ${outcome.error.message}`,
        functionError: 'Unhandled',
      };
    }
    return interpretStreamBatchResponse(records, outcome.result, this.opts.reportBatchItemFailures);
  }

  private async acknowledge(
    s: ShardState,
    records: DynamoDBRecord[],
    count: number,
  ): Promise<void> {
    if (count <= 0) return;
    const seq = records[count - 1]?.dynamodb?.SequenceNumber;
    this.counters.recordsProcessed += count;
    s.recordsProcessed += count;
    s.pending = Math.max(0, s.pending - count);
    if (seq) await this.saveCheckpoint(s, seq);
  }

  /** Send the records to the on-failure destination (or drop them), then move past them. */
  private async giveUp(
    s: ShardState,
    records: DynamoDBRecord[],
    condition: StreamFailureCondition,
    invokes: number,
    reason: string,
    functionError?: string,
  ): Promise<void> {
    const onFailure = this.options.onFailure;
    if (!onFailure) {
      this.counters.recordsDiscarded += records.length;
      this.log.error('batch given up without an on-failure destination: records skipped', {
        shardId: s.shardId,
        condition,
        reason,
        from: records[0]?.dynamodb?.SequenceNumber,
        to: records[records.length - 1]?.dynamodb?.SequenceNumber,
      });
    } else {
      const bodies = serializeStreamOnFailure({
        condition,
        requestId: randomUUID(),
        functionArn: functionArn(this.opts.functionName, this.region),
        approximateInvokeCount: invokes,
        functionError,
        statusCode: 200,
        shardId: s.shardId,
        streamArn: this.arn!,
        records,
        reason,
      });
      for (const body of bodies) await this.sendUntilDelivered(onFailure, body);
      this.counters.recordsToOnFailure += records.length;
      this.counters.onFailureMessages += bodies.length;
      this.log.warn('batch sent to the on-failure destination', {
        shardId: s.shardId,
        condition,
        reason,
        records: records.length,
        from: records[0]?.dynamodb?.SequenceNumber,
      });
    }
    const seq = records[records.length - 1]?.dynamodb?.SequenceNumber;
    s.pending = Math.max(0, s.pending - records.length);
    if (seq) await this.saveCheckpoint(s, seq);
  }

  /** The shard must not move past records that were not parked: keep trying until stopped. */
  private async sendUntilDelivered(
    onFailure: { queueUrl: string; sqs: SQSClient },
    body: string,
  ): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        await onFailure.sqs.send(
          new SendMessageCommand({ QueueUrl: onFailure.queueUrl, MessageBody: body }),
        );
        return;
      } catch (err) {
        this.log.error('cannot send to the on-failure queue: retrying', {
          queueUrl: onFailure.queueUrl,
          attempt,
          error: toError(err).message,
        });
        if (this.stopping) throw new StopRequested();
        await sleep(Math.min(5_000, this.opts.retryBackoffMs * attempt), this.signal);
        if (this.stopping) throw new StopRequested();
      }
    }
  }

  private async saveCheckpoint(s: ShardState, seq: string): Promise<void> {
    if (seq !== SHARD_END) s.checkpoint = seq;
    try {
      await this.checkpoints.save(this.arn!, s.shardId, seq);
    } catch (err) {
      // The in-memory position still advances; a restart would re-deliver from the last saved one.
      this.log.error('checkpoint save failed', {
        shardId: s.shardId,
        sequenceNumber: seq,
        error: toError(err).message,
      });
    }
  }
}
