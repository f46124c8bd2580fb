// Local emulation of a Lambda event source mapping on a DynamoDB stream: composes shard
// discovery (shard-tracker), the per-shard readers (shard-reader), the batch retry machine
// (batch-retry) and progress/on-failure delivery (on-failure) under the shared lifecycle.
//
// Fidelity rules — the emulation is how behaviour is proven before AWS, so it must never be
// kinder than AWS (what AWS does → what we do):
// - Shards are read in lineage order → the same; ParallelizationFactor N (1..10) → N batches of
//   a shard in flight, lanes by item key, in order per item only, checkpoint at the highest
//   record below which all are done (lanes.ts).
// - LATEST: AWS fixes the position when the mapping starts and keeps it through errors and
//   iterator expiry → `start()` resolves only once every shard it reads has its first position,
//   and that position is checkpointed at once (the last record then present, or SHARD_START for
//   an empty shard), so a failed first GetRecords, an expired iterator or a restart re-opens
//   there and never jumps forward. Closed shards skipped under LATEST are checkpointed
//   SHARD_END, so a restart does not replay them from TRIM_HORIZON.
// - ReportBatchItemFailures: AWS checkpoints before the lowest reported sequence number and
//   retries from it — a failure at the first record too (a partial failure, not a complete one);
//   each retry counts and progress does not reset the count; once exhausted the rest of the
//   batch, records processed after the failed one included, goes to on-failure → the same.
//   A malformed response (null/empty/unknown itemIdentifier) is a complete failure.
// - BisectBatchOnFunctionError splits only a failed invocation (error or timeout) → the same.
// - MaximumRecordAgeInSeconds and MaximumRetryAttempts send records to the on-failure
//   destination with Lambda's message shape, before the shard moves past them → the same.
// - At least once: "duplicate processing of records can occur" → with `redelivery`, a successful
//   batch is invoked again before its checkpoint is saved, and a shard is re-read from its
//   previous checkpoint after a batch (redelivery.ts).
// - A timed-out invocation is stopped ("Task timed out"; the environment is shut down) → the
//   invocation's fenced clients refuse every request from its deadline on and abort those in
//   flight (invocation-fence.ts), so a late handler writes nothing.

import { DescribeTableCommand } from '@aws-sdk/client-dynamodb';
import { BatchRunner } from './batch-retry.ts';
import { SHARD_END } from './checkpoint.ts';
import { defaultLogger } from './lambda-context.ts';
import { MappingLifecycle } from './mapping-lifecycle.ts';
import { redeliveryDice } from './redelivery.ts';
import { ShardProgress } from './on-failure.ts';
import { ShardReader } from './shard-reader.ts';
import { inFlight, ShardTracker, shardStats, type ShardStats } from './shard-tracker.ts';
import {
  newStreamCounters,
  resolveStreamOptions,
  type DynamoDBStreamMappingOptions,
  type StreamCounters,
  type StreamRuntime,
} from './stream-semantics.ts';

export { bisect } from './batch-retry.ts';
export { shardsReadyToRead, type ShardNode, type ShardStats } from './shard-tracker.ts';
export {
  compareSequenceNumbers,
  countExpiredPrefix,
  interpretStreamBatchResponse,
  type DynamoDBStreamHandler,
  type DynamoDBStreamMappingOptions,
  type StartingPosition,
  type StreamBatchOutcome,
} from './stream-semantics.ts';

export interface StreamMappingStats extends StreamCounters {
  streamArn?: string;
  running: boolean;
  /** Max over shards. */
  iteratorAgeMs: number;
  shards: ShardStats[];
}

export class DynamoDBStreamMapping {
  private readonly rt: StreamRuntime;
  private readonly lifecycle: MappingLifecycle;
  private readonly tracker: ShardTracker;
  private readonly progress: ShardProgress;
  private resolved = false;

  constructor(private readonly options: DynamoDBStreamMappingOptions) {
    const opts = resolveStreamOptions(options);
    const log = options.logger ?? defaultLogger;
    this.lifecycle = new MappingLifecycle('DynamoDBStreamMapping', log);
    this.rt = {
      options,
      opts,
      log,
      counters: newStreamCounters(),
      lifecycle: this.lifecycle,
      streamArn: options.streamArn ?? '',
      redeliver: redeliveryDice(options.redelivery),
    };
    this.progress = new ShardProgress(this.rt);
    const reader = new ShardReader(
      this.rt,
      this.progress,
      new BatchRunner(this.rt, this.progress),
      () => {
        this.tracker.schedule();
        this.tracker.refreshSoon();
      },
    );
    this.tracker = new ShardTracker(
      this.rt,
      (s) => reader.start(s),
      (s) => this.progress.save(s, SHARD_END),
    );
  }

  get streamArn(): string | undefined {
    return this.resolved || this.options.streamArn ? this.rt.streamArn : undefined;
  }

  /**
   * Resolves the stream, loads checkpoints, describes the shards and starts polling. Resolves
   * once every shard it started reading has its first iterator: a write made after `start()`
   * returns is delivered, whatever the starting position.
   */
  async start(): Promise<void> {
    await this.lifecycle.start(async () => {
      this.rt.region = this.options.awsRegion ?? (await this.options.streams.config.region());
      this.rt.streamArn = this.options.streamArn ?? (await this.resolveStreamArn());
      this.resolved = true;
      const saved = await this.progress.checkpoints.load(this.rt.streamArn);
      await this.tracker.refresh(saved);
      await Promise.all([...this.tracker.shards.values()].map((s) => s.positioned));
    });
    this.tracker.startDescribeLoop();
    this.rt.log.info('stream mapping started', {
      streamArn: this.rt.streamArn,
      shards: this.tracker.shards.size,
    });
  }

  /** Graceful: no new invocation starts; the in-flight batches finish and are checkpointed. */
  async stop(): Promise<void> {
    await this.lifecycle.stop(
      async () => {
        await Promise.allSettled([...this.tracker.shards.values()].map((s) => s.task));
        await this.tracker.drain();
      },
      { streamArn: this.streamArn, ...this.rt.counters },
    );
  }

  /**
   * Resolves once every shard is caught up — a poll that started after this call found nothing
   * and nothing is pending or being retried — or finished. Rejects after `timeoutMs`.
   */
  async waitForIdle(timeoutMs = 30_000): Promise<void> {
    if (!this.lifecycle.running)
      throw new Error(`waitForIdle: the mapping is ${this.lifecycle.state}`);
    const since = performance.now();
    await this.tracker.refresh();
    await this.lifecycle.untilIdle(
      timeoutMs - (performance.now() - since),
      Math.min(20, this.rt.opts.pollIntervalMs),
      () => this.isIdleSince(since),
      () => JSON.stringify(this.stats().shards),
    );
  }

  stats(): StreamMappingStats {
    const shards = [...this.tracker.shards.values()].map(shardStats);
    return {
      streamArn: this.streamArn,
      running: this.lifecycle.running,
      ...this.rt.counters,
      iteratorAgeMs: shards.reduce((m, s) => Math.max(m, s.iteratorAgeMs), 0),
      shards,
    };
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
    for (const s of this.tracker.shards.values()) {
      if (s.finished) continue;
      if (!s.started || s.busy || s.lanes?.busy || inFlight(s) > 0 || s.lastEmptyPollAt < since)
        return false;
    }
    return true;
  }
}
