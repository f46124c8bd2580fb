// What every entry point does with a batch's results, whatever carried the items (stream records
// for the consumer, SQS messages for the backfill worker): park malformed items at once, count
// outcomes into metrics, and report the records that did not settle as partial failures.
import { BatchProcessor, EventType, processPartialResponse } from '@aws-lambda-powertools/batch';
import type { Logger } from '@aws-lambda-powertools/logger';
import { MetricUnit, type Metrics } from '@aws-lambda-powertools/metrics';
import type { DynamoDBRecord, SQSRecord } from 'aws-lambda';
import type { DeadLetters } from '../adapters/dead-letters.ts';
import { METRIC, type ServiceName } from '../config/defaults.ts';
import { isSettled, type ItemResult } from './migrate-items.ts';

/** One item of a batch: the record that carried it and the id Lambda reports failures by. */
export interface BatchUnit<R> {
  /** Stream: the SequenceNumber; SQS: the messageId. */
  id: string;
  record: R;
  /** The real table the item lives in (recorded with a parked item). */
  table: string;
}

/** Where a batch's items are parked, logged and counted. */
export interface BatchPolicy {
  /** Absent: malformed items are failed like any other and retried until the DLQ. */
  deadLetters?: DeadLetters;
  logger: Logger;
  metrics: Metrics;
  /** The entry point, recorded as the `source` of a parked item. */
  source: ServiceName;
}

/**
 * Parks the units whose item is malformed (retrying cannot help and would hold up a shard or a
 * queue). Returns the ids parked; when parking fails it throws, and the batch is retried whole.
 */
export async function parkMalformed<R>(
  units: readonly BatchUnit<R>[],
  results: readonly ItemResult[],
  policy: BatchPolicy,
): Promise<Set<string>> {
  const parked = new Set<string>();
  const malformed = units.flatMap((unit, i) => {
    const res = results[i];
    return res?.outcome === 'malformed' ? [{ unit, res }] : [];
  });
  if (!malformed.length || !policy.deadLetters) return parked;
  await policy.deadLetters.park(
    malformed.map(({ unit, res }) => ({
      source: policy.source,
      reason: res.reason ?? 'malformed',
      table: unit.table,
      key: res.key,
      record: unit.record,
    })),
  );
  for (const { unit, res } of malformed) {
    parked.add(unit.id);
    policy.logger.warn('malformed item parked in the DLQ', { key: res.key, reason: res.reason });
  }
  return parked;
}

/** The per-batch counts (metric name → value) of the results, with `parked` items. */
export function tallyResults(
  results: Iterable<ItemResult>,
  parked: number,
): Record<string, number> {
  const n = {
    [METRIC.migrated]: 0,
    [METRIC.unchanged]: 0,
    [METRIC.conflicts]: 0,
    [METRIC.searchMissing]: 0,
    [METRIC.failed]: 0,
    [METRIC.parked]: parked,
    [METRIC.searchRepairsQueued]: 0,
    [METRIC.searchMappingNotReady]: 0,
  };
  for (const r of results) {
    if (r.outcome === 'migrated') n[METRIC.migrated]++;
    else if (r.outcome === 'conflict') n[METRIC.conflicts]++;
    else if (
      r.outcome === 'failed' ||
      r.outcome === 'malformed' ||
      r.search === 'failed' ||
      r.search === 'not-ready'
    )
      n[METRIC.failed]++;
    else n[METRIC.unchanged]++;
    // A missing document handed to a repair task counts as missing only once the repair gives up.
    if (r.search === 'search-missing') n[METRIC.searchMissing]++;
    if (r.search === 'repair-queued') n[METRIC.searchRepairsQueued]++;
    if (r.search === 'not-ready') n[METRIC.searchMappingNotReady]++;
  }
  return n;
}

/** Adds the counts to the metrics (flushed by the handler's logMetrics middleware). */
export function publishCounts(metrics: Metrics, counts: Record<string, number>): void {
  for (const [name, value] of Object.entries(counts))
    metrics.addMetric(name, MetricUnit.Count, value);
}

/**
 * The partial batch response: every record whose item did not settle and was not parked is a
 * failure, so Lambda retries (and finally dead-letters) just those.
 */
export async function reportFailures<R extends DynamoDBRecord | SQSRecord>(
  event: { Records: R[] },
  type: 'stream' | 'sqs',
  idOf: (record: R) => string,
  results: ReadonlyMap<string, ItemResult>,
  parked: ReadonlySet<string>,
  logger: Logger,
): Promise<{ batchItemFailures: { itemIdentifier: string }[] }> {
  const processor = new BatchProcessor(
    type === 'stream' ? EventType.DynamoDBStreams : EventType.SQS,
  );
  return processPartialResponse(
    event,
    async (record: R) => {
      const id = idOf(record);
      const res = results.get(id);
      if (res && !isSettled(res) && !parked.has(id)) {
        logger.warn('record not migrated', {
          key: res.key,
          outcome: res.outcome,
          search: res.search,
          reason: res.reason,
        });
        throw new Error(res.reason ?? `${res.outcome}`);
      }
    },
    processor,
    { throwOnFullBatchFailure: false },
  );
}
