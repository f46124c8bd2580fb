// The per-shard reader of the stream mapping: positions the shard iterator (pinning LATEST to a
// durable position), polls GetRecords into batches, and hands each batch to the retry machine.

import {
  GetRecordsCommand,
  GetShardIteratorCommand,
  type _Record as SdkStreamRecord,
  type ShardIteratorType,
} from '@aws-sdk/client-dynamodb-streams';
import type { BatchRunner } from './batch-retry.ts';
import { SHARD_END, SHARD_START } from './checkpoint.ts';
import { sleep, toError } from './lambda-context.ts';
import { ShardLanes } from './lanes.ts';
import type { ShardProgress } from './on-failure.ts';
import type { ShardState } from './shard-tracker.ts';
import { toLambdaRecord } from './stream-event.ts';
import { compareSequenceNumbers, StopRequested, type StreamRuntime } from './stream-semantics.ts';

const errorName = (err: unknown): string => (err as { name?: string } | undefined)?.name ?? '';

export class ShardReader {
  constructor(
    private readonly rt: StreamRuntime,
    private readonly progress: ShardProgress,
    private readonly batches: BatchRunner,
    /** Called when a shard was read to its end (its children may be read now). */
    private readonly onFinished: () => void,
  ) {}

  /** Starts reading `s` in the background; `s.positioned` resolves once it has an iterator. */
  start(s: ShardState): void {
    let positioned!: () => void;
    s.positioned = new Promise<void>((resolve) => (positioned = resolve));
    const factor = this.rt.opts.parallelizationFactor;
    if (factor > 1)
      s.lanes = new ShardLanes(
        factor,
        this.rt.opts.batchSize,
        (records) => this.batches.run(s, records),
        (err) => {
          if (!(err instanceof StopRequested))
            this.rt.log.error('lane error', { shardId: s.shardId, error: toError(err).message });
        },
      );
    const delayMs =
      !s.checkpoint && s.initialPosition === 'LATEST' ? this.rt.opts.latestPositionDelayMs : 0;
    if (delayMs > 0) {
      // As AWS: start() returns at once and the mapping looks idle (no IteratorAge) while the
      // position is not fixed yet; the writes of the window are never delivered.
      positioned();
      s.lastEmptyPollAt = performance.now();
    }
    // The reader ends only once its lanes have ended their batches.
    s.task = this.run(s, positioned, delayMs)
      .finally(() => s.lanes?.drain())
      .finally(positioned);
  }

  private async run(s: ShardState, positioned: () => void, delayMs: number): Promise<void> {
    const { lifecycle, log, opts } = this.rt;
    log.debug?.('shard reader started', { shardId: s.shardId, checkpoint: s.checkpoint });
    if (delayMs > 0) await sleep(delayMs, lifecycle.signal);
    await lifecycle.pollLoop({
      step: async () => {
        if (s.iterator === undefined) {
          s.iterator = await this.getIterator(s);
          positioned();
        }
        if (s.iterator === null) {
          // A closed shard is finished once its lanes hold nothing more.
          while (s.lanes && s.lanes.load > 0 && !lifecycle.stopping) await s.lanes.changed();
          if (lifecycle.stopping) return 'done';
          await this.finish(s);
          return 'done';
        }
        const records = await this.collectBatch(s);
        if (records.length > 0) {
          if (lifecycle.stopping) return 'done';
          if (s.lanes) await this.dispatch(s, s.lanes, records);
          else await this.process(s, records);
          return;
        }
        if (s.iterator !== null) await sleep(opts.pollIntervalMs, lifecycle.signal);
      },
      onError: (err) => {
        s.pending = 0; // records already in lanes stay counted there
        if (err instanceof StopRequested) return 'stop';
        const name = errorName(err);
        if (name === 'ExpiredIteratorException' || name === 'TrimmedDataAccessException') {
          log.warn(`${name}: re-positioning the shard iterator`, {
            shardId: s.shardId,
            after: s.checkpoint ?? s.initialPosition,
          });
          s.iterator = undefined;
          return 'again';
        }
        // The iterator is kept through throttling; otherwise re-opened at the checkpoint.
        if (name !== 'LimitExceededException' && name !== 'ProvisionedThroughputExceededException')
          s.iterator = undefined;
        return 'backoff';
      },
      errorMessage: 'shard reader error',
      errorDetails: (err) => ({ shardId: s.shardId, name: errorName(err) }),
    });
  }

  private async process(s: ShardState, sdkRecords: SdkStreamRecord[]): Promise<void> {
    s.busy = true;
    const before = s.checkpoint;
    try {
      const records = sdkRecords.map((r) =>
        toLambdaRecord(r, { eventSourceARN: this.rt.streamArn, awsRegion: this.rt.region }),
      );
      await this.batches.run(s, records);
      if (this.replayChosen(s, before, records)) await this.replayFrom(s, before!, records);
    } finally {
      s.pending = 0;
      s.busy = false;
    }
  }

  /**
   * ParallelizationFactor: the records go to their lanes, and the reader polls on while they
   * run, as long as the lanes hold less than one full batch each.
   */
  private async dispatch(s: ShardState, lanes: ShardLanes, sdkRecords: SdkStreamRecord[]) {
    const { lifecycle } = this.rt;
    // The checkpoint as these records are read: with lanes, the highest record below which
    // every record is done, which may lag well behind what the lanes have finished.
    const before = s.checkpoint;
    const records = sdkRecords.map((r) =>
      toLambdaRecord(r, { eventSourceARN: this.rt.streamArn, awsRegion: this.rt.region }),
    );
    lanes.dispatch(records, () => lifecycle.stopping);
    s.pending = 0;
    if (this.replayChosen(s, before, records)) {
      // The lanes end what they hold first (a replayed record never runs beside its own
      // first delivery), then the shard is read again from `before`, records done since
      // included.
      while (lanes.busy && !lifecycle.stopping) await lanes.changed();
      if (lifecycle.stopping) return;
      lanes.tracker.reset();
      await this.replayFrom(s, before!, records);
      return;
    }
    while (lanes.load >= lanes.factor * this.rt.opts.batchSize && !lifecycle.stopping)
      await lanes.changed();
  }

  /**
   * At least once: now and then the shard is re-read from the checkpoint it had before this
   * batch, as a poller that took the shard over from one whose checkpoint was not saved would
   * (AWS replays from the last saved checkpoint on a retry or a re-shard). Never a batch that is
   * itself a replay (it would replay forever), never before any position was saved (LATEST
   * would jump forward).
   */
  private replayChosen(
    s: ShardState,
    before: string | undefined,
    records: readonly { dynamodb?: { SequenceNumber?: string } }[],
  ): boolean {
    const first = records[0]?.dynamodb?.SequenceNumber;
    if (before === undefined || !first || this.rt.lifecycle.stopping) return false;
    if (s.replayedThrough && compareSequenceNumbers(first, s.replayedThrough) <= 0) return false;
    return this.rt.redeliver?.() ?? false;
  }

  /** Puts the checkpoint back to `before`; the next poll re-reads the shard from there. */
  private async replayFrom(
    s: ShardState,
    before: string,
    records: readonly { dynamodb?: { SequenceNumber?: string } }[],
  ): Promise<void> {
    s.replayedThrough = records[records.length - 1]?.dynamodb?.SequenceNumber;
    this.rt.counters.replays++;
    await this.progress.save(s, before);
    s.iterator = undefined;
  }

  /** A fresh iterator at the checkpoint (or the initial position); null when the shard is gone. */
  private async getIterator(s: ShardState): Promise<string | null> {
    if (!s.checkpoint && s.initialPosition === 'LATEST') return this.pinLatest(s);
    if (!s.checkpoint || s.checkpoint === SHARD_START)
      return this.iteratorAt(s, { ShardIteratorType: 'TRIM_HORIZON' });
    return this.iteratorAt(s, {
      ShardIteratorType: 'AFTER_SEQUENCE_NUMBER',
      SequenceNumber: s.checkpoint,
    });
  }

  /**
   * LATEST as a durable position. A LATEST iterator is a position nobody can name: re-opened
   * after an error, an expiry or a restart it jumps forward past every record written since.
   * So the shard is read once to its current end instead (those records predate the consumer
   * and are not delivered), and the position after them is checkpointed at once: the last
   * sequence number, or SHARD_START when the shard holds none. A shard closed and read to its
   * end meanwhile is finished (null).
   */
  private async pinLatest(s: ShardState): Promise<string | null> {
    let iterator = await this.iteratorAt(s, { ShardIteratorType: 'TRIM_HORIZON' });
    let last: string | undefined;
    while (iterator) {
      const res = await this.rt.options.streams.send(
        new GetRecordsCommand({ ShardIterator: iterator, Limit: 1000 }),
      );
      const got = res.Records ?? [];
      last = got[got.length - 1]?.dynamodb?.SequenceNumber ?? last;
      iterator = res.NextShardIterator ?? null;
      if (got.length === 0) break;
    }
    if (iterator !== null) await this.progress.save(s, last ?? SHARD_START);
    this.rt.log.debug?.('LATEST pinned', { shardId: s.shardId, after: last ?? SHARD_START });
    return iterator;
  }

  private async iteratorAt(
    s: ShardState,
    position: { ShardIteratorType: ShardIteratorType; SequenceNumber?: string },
  ): Promise<string | null> {
    const { streams } = this.rt.options;
    try {
      const res = await streams.send(
        new GetShardIteratorCommand({
          StreamArn: this.rt.streamArn,
          ShardId: s.shardId,
          ...position,
        }),
      );
      return res.ShardIterator ?? null;
    } catch (err) {
      const name = errorName(err);
      if (name === 'TrimmedDataAccessException' && position.SequenceNumber) {
        // The checkpoint fell out of the 24 h retention: what follows it is all that is left.
        this.rt.log.warn('checkpoint trimmed from the stream: continuing from TRIM_HORIZON', {
          shardId: s.shardId,
          checkpoint: s.checkpoint,
        });
        const res = await streams.send(
          new GetShardIteratorCommand({
            StreamArn: this.rt.streamArn,
            ShardId: s.shardId,
            ShardIteratorType: 'TRIM_HORIZON',
          }),
        );
        return res.ShardIterator ?? null;
      }
      if (name === 'ResourceNotFoundException' && /shard/i.test(toError(err).message)) {
        this.rt.log.warn('shard no longer exists', { shardId: s.shardId });
        return null;
      }
      throw err;
    }
  }

  private async finish(s: ShardState): Promise<void> {
    s.finished = true;
    s.pending = 0;
    await this.progress.save(s, SHARD_END);
    this.rt.log.info('shard finished', { shardId: s.shardId });
    if (!this.rt.lifecycle.stopping) this.onFinished();
  }

  /**
   * One batch: a single GetRecords (window 0), or polls until `batchSize` records or the
   * batching window (counted from the first record) passes. Never more than `batchSize`.
   */
  private async collectBatch(s: ShardState): Promise<SdkStreamRecord[]> {
    const { opts, lifecycle } = this.rt;
    const records: SdkStreamRecord[] = [];
    let windowEnd: number | undefined;
    for (;;) {
      const pollAt = performance.now();
      const limit = Math.min(1000, opts.batchSize - records.length);
      const res = await this.rt.options.streams.send(
        new GetRecordsCommand({ ShardIterator: s.iterator ?? undefined, Limit: limit }),
      );
      s.iterator = res.NextShardIterator ?? null;
      const got = res.Records ?? [];
      // Fewer records than asked for: everything the shard held was read (the tip).
      if (got.length < limit) s.lastTipAt = pollAt;
      records.push(...got);
      s.pending = records.length; // lanes count their own (inFlight)
      if (records.length === 0) {
        s.lastEmptyPollAt = pollAt;
        return records;
      }
      if (got.length > 0) s.lastBatchAt = pollAt;
      if (
        records.length >= opts.batchSize ||
        s.iterator === null ||
        opts.maximumBatchingWindowMs <= 0 ||
        lifecycle.stopping
      ) {
        return records;
      }
      windowEnd ??= pollAt + opts.maximumBatchingWindowMs;
      const remaining = windowEnd - performance.now();
      if (remaining <= 0) return records;
      if (got.length === 0) await sleep(Math.min(opts.pollIntervalMs, remaining), lifecycle.signal);
    }
  }
}
