// Lambda entry for the chat-session table's stream: every live change is migrated within
// the batch that carries it. Thin: decode records, call the shared pipeline, report the
// records that did not settle so Lambda retries (and finally parks) just those.
import middy from '@middy/core';
import { BatchProcessor, EventType, processPartialResponse } from '@aws-lambda-powertools/batch';
import { Logger } from '@aws-lambda-powertools/logger';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import type {
  Context,
  DynamoDBBatchResponse,
  DynamoDBRecord,
  DynamoDBStreamEvent,
} from 'aws-lambda';
import { keyId } from '../lib/core/keys.ts';
import { latestPerKey } from '../lib/core/stream-batch.ts';
import type { Item } from '../lib/core/types.ts';
import {
  isSettled,
  migrateSessionItems,
  type EngineDeps,
  type ItemResult,
} from '../lib/engine/migrate-items.ts';
import { DeadLetters } from '../lib/adapters/dead-letters.ts';
import { engineFromEnv } from './engine-from-env.ts';

export interface StreamConsumerOptions {
  deps: EngineDeps;
  /** Where malformed items are parked at once, with their reason (else they are retried). */
  deadLetters?: DeadLetters;
  logger?: Logger;
  metrics?: Metrics;
  /** Observes each batch's results (local runner, benchmarks). */
  onResults?: (results: ReadonlyMap<string, ItemResult>, event: DynamoDBStreamEvent) => void;
}

type Handler = (event: DynamoDBStreamEvent, context: Context) => Promise<DynamoDBBatchResponse>;

const image = (i: Record<string, unknown> | undefined): Item | undefined =>
  i ? (unmarshall(i as Record<string, AttributeValue>) as Item) : undefined;

export function createStreamConsumer(options: StreamConsumerOptions): Handler {
  const logger = options.logger ?? new Logger({ serviceName: 'streamfill-stream-consumer' });
  const metrics =
    options.metrics ?? new Metrics({ namespace: 'streamfill', serviceName: 'stream-consumer' });

  const handle = async (event: DynamoDBStreamEvent): Promise<DynamoDBBatchResponse> => {
    const recordKey = (r: DynamoDBRecord): string =>
      keyId('session', image(r.dynamodb?.Keys) as never);
    const { latest } = latestPerKey(event.Records, recordKey);
    // REMOVE (including TTL expiry) needs nothing: there is no item left to migrate.
    const live = latest.filter((r) => r.eventName !== 'REMOVE' && r.dynamodb?.NewImage);
    const items = live.map((r) => image(r.dynamodb?.NewImage) as Item);
    const previous = live.map((r) => image(r.dynamodb?.OldImage));
    const bySeq = new Map<string, ItemResult>();
    const parked = new Set<string>();
    if (items.length) {
      const results = await migrateSessionItems(items, options.deps, { previous });
      results.forEach((res, i) => bySeq.set(live[i]?.dynamodb?.SequenceNumber as string, res));
      // Retrying a malformed item cannot help and would hold up the shard: park it now.
      const malformed = live.flatMap((r, i) =>
        results[i]?.outcome === 'malformed' ? [{ r, res: results[i] }] : [],
      );
      if (malformed.length && options.deadLetters) {
        await options.deadLetters.park(
          malformed.map(({ r, res }) => ({
            source: 'stream-consumer',
            reason: res.reason ?? 'malformed',
            table: tableFromArn(r.eventSourceARN) ?? 'session',
            key: res.key,
            record: r,
          })),
        );
        for (const { r, res } of malformed) {
          parked.add(r.dynamodb?.SequenceNumber as string);
          logger.warn('malformed item parked in the DLQ', { key: res.key, reason: res.reason });
        }
      }
    }
    options.onResults?.(bySeq, event);
    record(metrics, bySeq, event, parked.size);

    const processor = new BatchProcessor(EventType.DynamoDBStreams);
    return processPartialResponse(
      event,
      async (r: DynamoDBRecord) => {
        const seq = r.dynamodb?.SequenceNumber as string;
        const res = bySeq.get(seq);
        if (res && !isSettled(res) && !parked.has(seq)) {
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
  };

  return middy(handle)
    .use(injectLambdaContext(logger))
    .use(logMetrics(metrics)) as unknown as Handler;
}

function record(
  metrics: Metrics,
  results: ReadonlyMap<string, ItemResult>,
  event: DynamoDBStreamEvent,
  parked: number,
): void {
  const n: Record<string, number> = {
    Migrated: 0,
    Unchanged: 0,
    Conflicts: 0,
    SearchMissing: 0,
    Failed: 0,
    Parked: parked,
  };
  for (const r of results.values()) {
    if (r.outcome === 'migrated') n.Migrated!++;
    else if (r.outcome === 'conflict') n.Conflicts!++;
    else if (r.outcome === 'failed' || r.outcome === 'malformed' || r.search === 'failed')
      n.Failed!++;
    else n.Unchanged!++;
    if (r.search === 'search-missing') n.SearchMissing!++;
  }
  for (const [name, value] of Object.entries(n)) metrics.addMetric(name, MetricUnit.Count, value);
  // How far behind the application the consumer runs (stream timestamps have 1 s resolution).
  const oldest = Math.min(
    ...event.Records.map((r) => r.dynamodb?.ApproximateCreationDateTime ?? Infinity),
  );
  if (Number.isFinite(oldest)) {
    metrics.addMetric(
      'WriteToProcessedDelay',
      MetricUnit.Milliseconds,
      Math.max(0, Date.now() - oldest * 1000),
    );
  }
}

/** `arn:aws:dynamodb:<region>:<account>:table/<name>/stream/<label>` → `<name>`. */
function tableFromArn(arn: string | undefined): string | undefined {
  return arn?.match(/:table\/([^/]+)/)?.[1];
}

let deployed: Handler | undefined;
/** The deployed entry point: adapters built once per container from the environment. */
export const handler: Handler = (event, context) => {
  deployed ??= (() => {
    const { deps, sqs } = engineFromEnv();
    const dlq = process.env.STREAMFILL_DLQ_URL;
    return createStreamConsumer({ deps, ...(dlq && { deadLetters: new DeadLetters(sqs, dlq) }) });
  })();
  return deployed(event, context);
};
