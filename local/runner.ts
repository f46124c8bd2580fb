// `streamfill run` in library form: the deployed stream-consumer handler, fed by the local
// event source mapping from DynamoDB Local's stream, failures parked in the DLQ.
import { join } from 'node:path';
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import type { DynamoDBStreamEvent } from 'aws-lambda';
import { createStreamConsumer } from '../handlers/stream-consumer.ts';
import type { Clients } from '../lib/adapters/clients.ts';
import { DeadLetters } from '../lib/adapters/dead-letters.ts';
import { ensureQueues, type QueueUrls } from '../lib/adapters/queues.ts';
import {
  BATCH_SIZE,
  METRICS_NAMESPACE,
  SERVICES,
  STREAM_RETRY_ATTEMPTS,
} from '../lib/config/defaults.ts';
import type { TableNames } from '../lib/core/types.ts';
import type { EngineDeps, ItemResult } from '../lib/engine/migrate-items.ts';
import { FileCheckpointStore, MemoryCheckpointStore } from './event-source/checkpoint.ts';
import {
  DynamoDBStreamMapping,
  type StartingPosition,
  type StreamMappingStats,
} from './event-source/dynamodb-stream-mapping.ts';
import type { EventSourceLogger } from './event-source/lambda-context.ts';

export interface LocalRunnerOptions {
  clients: Clients;
  deps: EngineDeps;
  tables: TableNames;
  queueName: string;
  dlqName: string;
  /** Persist shard positions here so a restart resumes (default: in memory). */
  checkpointDir?: string;
  /** @default 100 (BATCH_SIZE) */
  batchSize?: number;
  /** @default 0 */
  batchingWindowMs?: number;
  /** Retries of a failing batch before the DLQ. @default 3 (STREAM_RETRY_ATTEMPTS.local) */
  maxRetries?: number;
  maxRecordAgeSeconds?: number;
  retryBackoffMs?: number;
  /** @default 'TRIM_HORIZON' */
  startingPosition?: StartingPosition;
  pollIntervalMs?: number;
  onResults?: (results: ReadonlyMap<string, ItemResult>, event: DynamoDBStreamEvent) => void;
  logger?: EventSourceLogger;
  /** Powertools log level inside the handler (default WARN: the runner is chatty enough). */
  handlerLogLevel?: 'DEBUG' | 'INFO' | 'WARN' | 'ERROR' | 'SILENT';
}

export interface LocalRunner {
  stream: DynamoDBStreamMapping;
  queues: QueueUrls;
  stats(): StreamMappingStats;
  waitForIdle(timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
}

/**
 * Starts the stream consumer on the local stack's session table.
 *
 * @example
 * const runner = await startLocalRunner({ clients, deps, tables, queueName, dlqName });
 * await runner.waitForIdle(60_000);
 * await runner.stop();
 */
export async function startLocalRunner(opts: LocalRunnerOptions): Promise<LocalRunner> {
  const queues = await ensureQueues(opts.clients.sqs, {
    queueName: opts.queueName,
    dlqName: opts.dlqName,
  });
  const handler = createStreamConsumer({
    deps: opts.deps,
    deadLetters: new DeadLetters(opts.clients.sqs, queues.dlq),
    logger: new Logger({
      serviceName: SERVICES.streamConsumer.logger,
      logLevel: opts.handlerLogLevel ?? 'WARN',
    }),
    // EMF lines on stdout are for CloudWatch; locally they would drown the operator's view.
    metrics: localMetrics(),
    onResults: opts.onResults,
  });
  const stream = new DynamoDBStreamMapping({
    tableName: opts.tables.session,
    handler,
    streams: opts.clients.streams,
    dynamodb: opts.clients.dynamodb,
    batchSize: opts.batchSize ?? BATCH_SIZE,
    maximumBatchingWindowMs: opts.batchingWindowMs ?? 0,
    maximumRetryAttempts: opts.maxRetries ?? STREAM_RETRY_ATTEMPTS.local,
    maximumRecordAgeSeconds: opts.maxRecordAgeSeconds ?? -1,
    retryBackoffMs: opts.retryBackoffMs,
    startingPosition: opts.startingPosition ?? 'TRIM_HORIZON',
    pollIntervalMs: opts.pollIntervalMs,
    onFailure: { queueUrl: queues.dlq, sqs: opts.clients.sqs },
    checkpoint: opts.checkpointDir
      ? new FileCheckpointStore(join(opts.checkpointDir))
      : new MemoryCheckpointStore(),
    logger: opts.logger,
  });
  await stream.start();
  return {
    stream,
    queues,
    stats: () => stream.stats(),
    waitForIdle: (ms) => stream.waitForIdle(ms),
    stop: () => stream.stop(),
  };
}

function localMetrics(): Metrics {
  // Read by Metrics' constructor; an explicit setting by the operator wins.
  process.env.POWERTOOLS_METRICS_DISABLED ??= 'true';
  return new Metrics({
    namespace: METRICS_NAMESPACE,
    serviceName: SERVICES.streamConsumer.service,
  });
}
