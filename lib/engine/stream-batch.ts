// The stream consumer's batch, end to end: decode the records, keep the newest per item,
// migrate them through the pipeline, then apply the shared batch policy (park, count,
// report failures). The Lambda handler only wires this to its dependencies.
import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import type { DynamoDBBatchResponse, DynamoDBRecord, DynamoDBStreamEvent } from 'aws-lambda';
import { METRIC } from '../config/defaults.ts';
import { keyId } from '../core/keys.ts';
import type { Item, Key, TableRole } from '../core/types.ts';
import {
  parkMalformed,
  publishCounts,
  reportFailures,
  tallyResults,
  type BatchPolicy,
  type BatchUnit,
} from './batch-policy.ts';
import { migrateItems, type EngineDeps, type ItemResult } from './migrate-items.ts';

export interface StreamBatchOptions extends BatchPolicy {
  deps: EngineDeps;
  /** The logical table whose stream this is. @default 'session' */
  table?: TableRole;
  /** Observes each batch's results by sequence number (local runner, benchmarks). */
  onResults?: (results: ReadonlyMap<string, ItemResult>, event: DynamoDBStreamEvent) => void;
}

const image = (i: Record<string, unknown> | undefined): Item | undefined =>
  i ? (unmarshall(i as Record<string, AttributeValue>) as Item) : undefined;

const seqOf = (r: DynamoDBRecord): string => r.dynamodb?.SequenceNumber as string;

/**
 * Keeps the newest record of each item, in batch order. Planning from an older image would only
 * produce conflicts (its inputs are stale), so one write per item per batch is enough — and
 * keeps writes per changed item near 1.
 */
export function latestPerKey<T>(records: readonly T[], keyOf: (r: T) => string): T[] {
  const last = new Map<string, number>();
  records.forEach((r, i) => last.set(keyOf(r), i));
  return records.filter((r, i) => last.get(keyOf(r)) === i);
}

/**
 * Processes one stream batch and returns Lambda's partial batch response.
 *
 * @example
 * const response = await processStreamBatch(event, { deps, logger, metrics, source: 'stream-consumer' });
 */
export async function processStreamBatch(
  event: DynamoDBStreamEvent,
  options: StreamBatchOptions,
): Promise<DynamoDBBatchResponse> {
  const table = options.table ?? 'session';
  const latest = latestPerKey(event.Records, (r) => keyId(table, image(r.dynamodb?.Keys) as Key));
  // REMOVE (including TTL expiry) needs nothing: there is no item left to migrate.
  const live = latest.filter((r) => r.eventName !== 'REMOVE' && r.dynamodb?.NewImage);
  const bySeq = new Map<string, ItemResult>();
  let parked = new Set<string>();
  if (live.length) {
    const results = await migrateItems(
      table,
      live.map((r) => image(r.dynamodb?.NewImage) as Item),
      options.deps,
    );
    results.forEach((res, i) => bySeq.set(seqOf(live[i] as DynamoDBRecord), res));
    const units: BatchUnit<DynamoDBRecord>[] = live.map((r) => ({
      id: seqOf(r),
      record: r,
      table: tableFromArn(r.eventSourceARN) ?? options.deps.writer.tableName(table),
    }));
    parked = await parkMalformed(units, results, options);
  }
  options.onResults?.(bySeq, event);
  publishCounts(options.metrics, tallyResults(bySeq.values(), parked.size));
  publishDelay(options, event);
  return reportFailures(event, 'stream', seqOf, bySeq, parked, options.logger);
}

/** How far behind the application the consumer runs (stream timestamps have 1 s resolution). */
function publishDelay(policy: BatchPolicy, event: DynamoDBStreamEvent): void {
  const oldest = Math.min(
    ...event.Records.map((r) => r.dynamodb?.ApproximateCreationDateTime ?? Infinity),
  );
  if (Number.isFinite(oldest)) {
    policy.metrics.addMetric(
      METRIC.writeToProcessedDelay,
      MetricUnit.Milliseconds,
      Math.max(0, Date.now() - oldest * 1000),
    );
  }
}

/** `arn:aws:dynamodb:<region>:<account>:table/<name>/stream/<label>` → `<name>`. */
function tableFromArn(arn: string | undefined): string | undefined {
  return arn?.match(/:table\/([^/]+)/)?.[1];
}
