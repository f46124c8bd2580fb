// Where a shard's progress goes: checkpoints of acknowledged records, and batches given up on
// sent to the on-failure destination (Lambda's record of them) before the shard moves past them.

import { SendMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import type { DynamoDBRecord } from 'aws-lambda';
import { randomUUID } from 'node:crypto';
import { MemoryCheckpointStore, SHARD_END, type CheckpointStore } from './checkpoint.ts';
import { functionArn, sleep, toError } from './lambda-context.ts';
import type { ShardState } from './shard-tracker.ts';
import { buildStreamOnFailureMessage, type StreamFailureCondition } from './stream-event.ts';
import { StopRequested, type StreamRuntime } from './stream-semantics.ts';

export interface GiveUp {
  records: DynamoDBRecord[];
  condition: StreamFailureCondition;
  /** Invocations the records had (Lambda's approximateInvokeCount). */
  invokes: number;
  reason: string;
  functionError?: string;
}

export class ShardProgress {
  readonly checkpoints: CheckpointStore;

  constructor(private readonly rt: StreamRuntime) {
    this.checkpoints = rt.options.checkpoint ?? new MemoryCheckpointStore();
  }

  /** The first `count` records are done: count them and checkpoint the last of them. */
  async acknowledge(s: ShardState, records: DynamoDBRecord[], count: number): Promise<void> {
    if (count <= 0) return;
    const seq = records[count - 1]?.dynamodb?.SequenceNumber;
    this.rt.counters.recordsProcessed += count;
    s.recordsProcessed += count;
    s.pending = Math.max(0, s.pending - count);
    if (s.lanes) await this.saveContiguous(s, records.slice(0, count));
    else if (seq) await this.save(s, seq);
  }

  /** Lanes: checkpoint only the highest record below which every record is done. */
  private async saveContiguous(s: ShardState, done: readonly DynamoDBRecord[]): Promise<void> {
    const seqs = done.flatMap((r) =>
      r.dynamodb?.SequenceNumber ? [r.dynamodb.SequenceNumber] : [],
    );
    const checkpoint = s.lanes?.tracker.done(seqs);
    if (checkpoint) await this.save(s, checkpoint);
  }

  /** Send the records to the on-failure destination (or drop them), then move past them. */
  async giveUp(s: ShardState, g: GiveUp): Promise<void> {
    const { counters, log } = this.rt;
    const { records, condition, reason } = g;
    const onFailure = this.rt.options.onFailure;
    if (!onFailure) {
      counters.recordsDiscarded += records.length;
      log.error('batch given up without an on-failure destination: records skipped', {
        shardId: s.shardId,
        condition,
        reason,
        from: records[0]?.dynamodb?.SequenceNumber,
        to: records[records.length - 1]?.dynamodb?.SequenceNumber,
      });
    } else {
      const body = JSON.stringify(
        buildStreamOnFailureMessage({
          condition,
          requestId: randomUUID(),
          functionArn: functionArn(this.rt.opts.functionName, this.rt.region),
          approximateInvokeCount: g.invokes,
          functionError: g.functionError,
          statusCode: 200,
          shardId: s.shardId,
          streamArn: this.rt.streamArn,
          records,
        }),
      );
      await this.sendUntilDelivered(onFailure, body);
      counters.recordsToOnFailure += records.length;
      counters.onFailureMessages++;
      log.warn('batch sent to the on-failure destination', {
        shardId: s.shardId,
        condition,
        reason,
        records: records.length,
        from: records[0]?.dynamodb?.SequenceNumber,
      });
    }
    const seq = records[records.length - 1]?.dynamodb?.SequenceNumber;
    s.pending = Math.max(0, s.pending - records.length);
    if (s.lanes) await this.saveContiguous(s, records);
    else if (seq) await this.save(s, seq);
  }

  /** Saves `position` (a sequence number, SHARD_START or SHARD_END) as the shard's checkpoint. */
  async save(s: ShardState, position: string): Promise<void> {
    if (position !== SHARD_END) s.checkpoint = position;
    try {
      await this.checkpoints.save(this.rt.streamArn, s.shardId, position);
    } catch (err) {
      // The in-memory position still advances; a restart would re-deliver from the last saved one.
      this.rt.log.error('checkpoint save failed', {
        shardId: s.shardId,
        sequenceNumber: position,
        error: toError(err).message,
      });
    }
  }

  /** The shard must not move past records that were not parked: keep trying until stopped. */
  private async sendUntilDelivered(
    onFailure: { queueUrl: string; sqs: SQSClient },
    body: string,
  ): Promise<void> {
    const { lifecycle } = this.rt;
    for (let attempt = 1; ; attempt++) {
      try {
        await onFailure.sqs.send(
          new SendMessageCommand({ QueueUrl: onFailure.queueUrl, MessageBody: body }),
        );
        return;
      } catch (err) {
        this.rt.log.error('cannot send to the on-failure queue: retrying', {
          queueUrl: onFailure.queueUrl,
          attempt,
          error: toError(err).message,
        });
        if (lifecycle.stopping) throw new StopRequested();
        await sleep(Math.min(5_000, this.rt.opts.retryBackoffMs * attempt), lifecycle.signal);
        if (lifecycle.stopping) throw new StopRequested();
      }
    }
  }
}
