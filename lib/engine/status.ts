// `streamfill status`: gathers queue depths, the DLQ breakdown (peeked, never consumed), the
// stream consumer's state and the scan's progress into one StatusReport, locally or on AWS.
import { DescribeTableCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { SQSClient } from '@aws-sdk/client-sqs';
import {
  eventSourceMappingState,
  iteratorAgeMs,
  oldestMessageAgeSeconds,
  type AwsObserver,
} from '../adapters/aws-metrics.ts';
import { CONSUMER_HEARTBEAT } from '../config/defaults.ts';
import type { BackfillStateStore } from '../adapters/backfill-state.ts';
import { peekQueue } from '../adapters/dlq-reader.ts';
import { queueStats } from '../adapters/work-queue.ts';
import { breakdownKind, classifyDlqBody, emptyBreakdown } from '../core/dlq-message.ts';
import {
  consumerFromHeartbeat,
  consumerFromMapping,
  scanStatus,
  type ConsumerStatus,
  type QueueStatus,
  type StatusReport,
} from '../core/status-report.ts';

export interface StatusSources {
  sqs: SQSClient;
  dynamodb: DynamoDBClient;
  /** Absent when the state table does not exist yet: no run, no heartbeat (`storeMissing` says why). */
  store?: BackfillStateStore;
  storeMissing?: string;
  queues: { work: { name: string; url: string }; dlq: { name: string; url: string } };
  /** The table the backfill scans (its run record is looked up by this name). */
  tableName: string;
  /** `local`: heartbeat from the state store, no CloudWatch. `aws`: needs `aws`. */
  mode: 'local' | 'aws';
  aws?: AwsObserver;
  /** AWS: the stream consumer function (for its mapping state and IteratorAge). */
  consumerFunction?: string;
  /** Local: the heartbeat component the consumer writes. @default 'stream-consumer' */
  consumerComponent?: string;
  /** Distinct DLQ messages to peek for the breakdown. @default 100 */
  dlqSample?: number;
  nowMs?: number;
}

export async function collectStatus(src: StatusSources): Promise<StatusReport> {
  const nowMs = src.nowMs ?? Date.now();
  const [workStats, [dlqStats, peeked], consumer, scan, oldest, mismatch] = await Promise.all([
    queueStats(src.sqs, src.queues.work.url),
    dlqStatsThenPeek(src),
    consumerStatus(src, nowMs),
    (async () => {
      const run = await src.store?.getRun(src.tableName);
      return run && src.store
        ? scanStatus(run, await src.store.getCheckpoints(run.runId), nowMs)
        : null;
    })(),
    oldestAge(src),
    src.store?.getSetMismatch(src.tableName),
  ]);
  const byKind = emptyBreakdown();
  for (const m of peeked) byKind[breakdownKind(classifyDlqBody(m.body))]++;
  return {
    mode: src.mode,
    at: new Date(nowMs).toISOString(),
    queue: { name: src.queues.work.name, ...workStats, ...oldest },
    dlq: { name: src.queues.dlq.name, ...dlqStats, sampled: peeked.length, byKind },
    consumer,
    scan,
    migrationSetMismatch: mismatch ?? null,
  };
}

// In that order: a peek leaves its messages in flight for a moment, so counting during or after
// it would report them as in flight rather than visible.
async function dlqStatsThenPeek(src: StatusSources) {
  const stats = await queueStats(src.sqs, src.queues.dlq.url);
  const peeked = await peekQueue(src.sqs, src.queues.dlq.url, { max: src.dlqSample ?? 100 });
  return [stats, peeked] as const;
}

async function oldestAge(
  src: StatusSources,
): Promise<Pick<QueueStatus, 'oldestAgeSeconds' | 'oldestAgeSource'>> {
  // ElasticMQ has no such attribute, and receiving to find out would count against
  // maxReceiveCount of work messages: locally the age is simply not shown.
  if (src.mode === 'local' || !src.aws) {
    return { oldestAgeSeconds: null, oldestAgeSource: 'n/a locally' };
  }
  const age = await oldestMessageAgeSeconds(src.aws.cloudwatch, src.queues.work.name);
  return age === undefined
    ? { oldestAgeSeconds: null, oldestAgeSource: 'no CloudWatch datapoint in the last 5 min' }
    : { oldestAgeSeconds: age, oldestAgeSource: 'cloudwatch' };
}

async function consumerStatus(src: StatusSources, nowMs: number): Promise<ConsumerStatus> {
  if (src.mode === 'local') {
    if (!src.store) {
      return {
        ...consumerFromHeartbeat(undefined, nowMs, CONSUMER_HEARTBEAT.staleAfterMs),
        detail: src.storeMissing ?? 'no state store',
      };
    }
    const hb = await src.store.getHeartbeat(src.consumerComponent ?? 'stream-consumer');
    return consumerFromHeartbeat(hb, nowMs, CONSUMER_HEARTBEAT.staleAfterMs);
  }
  if (!src.aws || !src.consumerFunction) {
    return {
      source: 'none',
      state: 'missing',
      lagMs: null,
      heartbeatAgeMs: null,
      detail: 'pass --consumer-function to see the stream consumer on AWS',
    };
  }
  const t = await src.dynamodb.send(new DescribeTableCommand({ TableName: src.tableName }));
  const [state, age] = await Promise.all([
    eventSourceMappingState(src.aws.lambda, src.consumerFunction, t.Table?.LatestStreamArn),
    iteratorAgeMs(src.aws.cloudwatch, src.consumerFunction),
  ]);
  return consumerFromMapping(state, age, src.consumerFunction);
}
