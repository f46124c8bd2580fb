// The retry state machine of one stream batch, as Lambda runs it: invoke, then acknowledge,
// retry (counted), bisect a failed invocation, or give up to on-failure; record age first.

import type { DynamoDBRecord, DynamoDBStreamEvent } from 'aws-lambda';
import { createLambdaContext, invokeHandler, sleep } from './lambda-context.ts';
import type { ShardProgress } from './on-failure.ts';
import type { ShardState } from './shard-tracker.ts';
import {
  countExpiredPrefix,
  interpretStreamBatchResponse,
  StopRequested,
  type ResolvedStreamOptions,
  type StreamBatchOutcome,
  type StreamRuntime,
} from './stream-semantics.ts';

/** Halves for BisectBatchOnFunctionError (the first half gets the extra record). */
export function bisect<T>(records: readonly T[]): [T[], T[]] {
  const mid = Math.ceil(records.length / 2);
  return [records.slice(0, mid), records.slice(mid)];
}

/** Records still to deliver, and the retries they have had (kept across partial progress). */
export interface Segment<T> {
  records: T[];
  retries: number;
}

export type RetryStep<T> =
  /** Acknowledge the first `ack` records; nothing is left. */
  | { kind: 'done'; ack: number }
  /** Acknowledge the first `ack` records, then retry `records` (one more retry counted). */
  | { kind: 'retry'; ack: number; records: T[]; retries: number }
  /** The invocation failed: retry each half on its own (not counted as a retry). */
  | { kind: 'bisect'; halves: [T[], T[]] }
  /** Retries exhausted: acknowledge the first `ack`, send `records` to on-failure. */
  | { kind: 'give-up'; ack: number; records: T[] };

/**
 * What Lambda does after an invocation. A partial failure (ReportBatchItemFailures, the first
 * record included) checkpoints before the lowest failed record and retries from it; the retry
 * counts, and progress does not reset the count: once exhausted, the rest of the batch —
 * records the handler had processed after the failed one included — goes to on-failure. Only a
 * failed invocation is bisected.
 */
export function nextRetryStep<T>(
  seg: Segment<T>,
  outcome: StreamBatchOutcome,
  policy: Pick<ResolvedStreamOptions, 'bisectBatchOnFunctionError' | 'maximumRetryAttempts'>,
): RetryStep<T> {
  if (outcome.kind === 'success') return { kind: 'done', ack: seg.records.length };
  const ack = outcome.kind === 'partial' ? outcome.failedIndex : 0;
  const rest = seg.records.slice(ack);
  if (outcome.kind === 'failure' && policy.bisectBatchOnFunctionError && rest.length > 1)
    return { kind: 'bisect', halves: bisect(rest) };
  const exhausted = policy.maximumRetryAttempts >= 0 && seg.retries >= policy.maximumRetryAttempts;
  if (exhausted) return { kind: 'give-up', ack, records: rest };
  return { kind: 'retry', ack, records: rest, retries: seg.retries + 1 };
}

interface Work extends Segment<DynamoDBRecord> {
  invokes: number;
  /** Already invoked again on purpose (at-least-once): once is enough. */
  redelivered?: boolean;
}

/** Runs one batch of a shard to its end: every record acknowledged or given up on. */
export class BatchRunner {
  constructor(
    private readonly rt: StreamRuntime,
    private readonly progress: ShardProgress,
  ) {}

  async run(s: ShardState, records: DynamoDBRecord[]): Promise<void> {
    const { opts, counters, lifecycle, log } = this.rt;
    const last = records[records.length - 1]?.dynamodb?.ApproximateCreationDateTime;
    s.iteratorAgeMs = last === undefined ? 0 : Math.max(0, Date.now() - last * 1000);
    const work: Work[] = [{ records, retries: 0, invokes: 0 }];
    while (work.length > 0) {
      if (lifecycle.stopping) throw new StopRequested();
      const seg = work[0]!;
      const expired = countExpiredPrefix(seg.records, opts.maximumRecordAgeSeconds, Date.now());
      if (expired > 0) {
        await this.progress.giveUp(s, {
          records: seg.records.slice(0, expired),
          condition: 'RecordAgeExceeded',
          invokes: seg.invokes,
          reason: `record older than maximumRecordAgeSeconds (${opts.maximumRecordAgeSeconds} s)`,
        });
        seg.records = seg.records.slice(expired);
        if (seg.records.length === 0) work.shift();
        continue;
      }

      const outcome = await this.invoke(seg.records);
      seg.invokes++;
      if (outcome.kind !== 'success') counters.failures++;
      const step = nextRetryStep(seg, outcome, opts);
      if (step.kind === 'bisect') {
        counters.bisections++;
        const [a, b] = step.halves;
        work.splice(0, 1, { ...seg, records: a }, { ...seg, records: b });
        continue;
      }
      if (step.kind === 'done' && !seg.redelivered && this.rt.redeliver?.()) {
        // At least once: the batch succeeded, but it is invoked again before its checkpoint is
        // saved (as when Lambda retries an invocation whose response it did not record).
        seg.redelivered = true;
        counters.redeliveries++;
        continue;
      }
      await this.progress.acknowledge(s, seg.records, step.ack);
      if (step.kind === 'done') {
        work.shift();
        continue;
      }
      const reason = outcome.kind === 'success' ? '' : outcome.reason;
      if (step.kind === 'give-up') {
        await this.progress.giveUp(s, {
          records: step.records,
          condition: 'RetryAttemptsExhausted',
          invokes: seg.invokes,
          reason,
          ...(outcome.kind === 'failure' && outcome.functionError
            ? { functionError: outcome.functionError }
            : {}),
        });
        work.shift();
        continue;
      }
      seg.records = step.records;
      seg.retries = step.retries;
      counters.retries++;
      log.warn(
        outcome.kind === 'partial'
          ? 'partial batch failure: retrying from the lowest failed record'
          : 'batch failed: retrying',
        {
          shardId: s.shardId,
          attempt: seg.retries,
          records: seg.records.length,
          from: seg.records[0]?.dynamodb?.SequenceNumber,
          reason,
        },
      );
      await sleep(opts.retryBackoffMs * seg.retries, lifecycle.signal);
    }
  }

  private async invoke(records: DynamoDBRecord[]): Promise<StreamBatchOutcome> {
    const { opts, log } = this.rt;
    this.rt.counters.batches++;
    const context = createLambdaContext({
      functionName: opts.functionName,
      timeoutMs: opts.functionTimeoutMs,
      region: this.rt.region,
    });
    // Lambda hands every invocation its own deserialized copy of the event.
    const event: DynamoDBStreamEvent = structuredClone({ Records: records });
    const outcome = await invokeHandler(
      this.rt.options.handler,
      event,
      context,
      opts.functionTimeoutMs,
    );
    if (!outcome.ok) {
      log.warn('handler error', { requestId: context.awsRequestId, error: outcome.error.message });
      return {
        kind: 'failure',
        reason: `${outcome.error.name}: ${outcome.error.message}`,
        functionError: 'Unhandled',
      };
    }
    return interpretStreamBatchResponse(records, outcome.result, opts.reportBatchItemFailures);
  }
}
