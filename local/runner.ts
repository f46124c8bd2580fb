// `streamfill run` in library form: the deployed stream-consumer and backfill-worker handlers, fed
// by the local event source mappings (one per migrated table's stream, the work queue), failures
// parked in the DLQ, and each table consumer's heartbeat published for the scanner to wait on.
import { join } from 'node:path';
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import type { DynamoDBStreamEvent, SQSEvent } from 'aws-lambda';
import { createBackfillWorker } from '../handlers/backfill-worker.ts';
import { createStreamConsumer } from '../handlers/stream-consumer.ts';
import { checkConsumerStart } from '../lib/engine/consumer-start.ts';
import type { BackfillStateStore } from '../lib/adapters/backfill-state.ts';
import type { Clients } from '../lib/adapters/clients.ts';
import { DeadLetters } from '../lib/adapters/dead-letters.ts';
import { ensureQueues, type QueueUrls } from '../lib/adapters/queues.ts';
import {
  BATCH_SIZE,
  CONSUMER_HEARTBEAT,
  FUNCTION_TIMEOUT_SECONDS,
  METRICS_NAMESPACE,
  SERVICES,
  STREAM_RETRY_ATTEMPTS,
  WORK_QUEUE_MAX_RECEIVES,
  WORKER_BATCH_SIZE,
  WORKER_CONCURRENCY,
  consumerHeartbeatId,
  type ServiceName,
} from '../lib/config/defaults.ts';
import { continuityOnStart, type ConsumerHeartbeat } from '../lib/core/backfill-run.ts';
import { physicalTable } from '../lib/core/config/table-names.ts';
import type { TableNames } from '../lib/core/types.ts';
import { describeTableStream } from '../lib/adapters/tables.ts';
import type { EngineDeps, ItemResult } from '../lib/engine/migrate-items.ts';
import type { WorkBatchSummary } from '../lib/engine/work-batch.ts';
import { FileCheckpointStore, MemoryCheckpointStore } from './event-source/checkpoint.ts';
import {
  DynamoDBStreamMapping,
  type StartingPosition,
  type StreamMappingStats,
} from './event-source/dynamodb-stream-mapping.ts';
import { fenceOpenSearchClient, fenceSdkClient } from './event-source/invocation-fence.ts';
import { defaultLogger, type EventSourceLogger } from './event-source/lambda-context.ts';
import type { RedeliveryOptions } from './event-source/redelivery.ts';
import { SqsMapping, type SqsMappingStats } from './event-source/sqs-mapping.ts';

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
  /** Batches of one shard in flight at once, lanes by item key (1..10). @default 1 */
  parallelizationFactor?: number;
  /** Retries of a failing batch before the DLQ. @default 3 (STREAM_RETRY_ATTEMPTS.local) */
  maxRetries?: number;
  maxRecordAgeSeconds?: number;
  retryBackoffMs?: number;
  /** @default 'TRIM_HORIZON' */
  startingPosition?: StartingPosition;
  /**
   * A LATEST start is pinned this long after `start()` returns, as AWS may (writes of the window
   * are never delivered): the backfill's canary gate must prove the consumer reads.
   * @default LATEST_POSITION_DELAY_MS (3 s); 0 pins before `start()` returns
   */
  latestPositionDelayMs?: number;
  pollIntervalMs?: number;
  onResults?: (results: ReadonlyMap<string, ItemResult>, event: DynamoDBStreamEvent) => void;
  logger?: EventSourceLogger;
  /** Powertools log level inside the handler (default WARN: the runner is chatty enough). */
  handlerLogLevel?: 'DEBUG' | 'INFO' | 'WARN' | 'ERROR' | 'SILENT';

  /** Run the work-queue worker beside the stream consumer. @default true */
  worker?: boolean;
  /** Messages per worker invocation. @default 10 (WORKER_BATCH_SIZE, Lambda's SQS default) */
  workerBatchSize?: number;
  /** Worker batches in flight at most (the mapping's maximum concurrency). @default 4 (WORKER_CONCURRENCY.local) */
  workerConcurrency?: number;
  /**
   * The worker function's reserved concurrency: batches received beyond it are throttled (they
   * come back after their visibility timeout, a receive counted). @default unlimited
   */
  workerFunctionConcurrency?: number;
  /**
   * The worker's function timeout; the work queue's visibility timeout must not be shorter
   * (SqsMapping refuses it, as AWS does). @default 60 000 (FUNCTION_TIMEOUT_SECONDS)
   */
  workerFunctionTimeoutMs?: number;
  /** Visibility timeout of a work queue created now. @default 360 (WORK_QUEUE_VISIBILITY_SECONDS) */
  workQueueVisibilitySeconds?: number;
  /** Receives before SQS moves a message to the DLQ (queue created now). @default 5 */
  workQueueMaxReceives?: number;
  /** Observes each worker batch. */
  onWorkerResults?: (summary: WorkBatchSummary, event: SQSEvent) => void;
  /**
   * The backfill state store: scan-segment tasks save their checkpoints here, and the stream
   * consumer's heartbeat is published here (what `streamfill backfill` waits on).
   */
  stateStore?: BackfillStateStore;
  /** @default 2 000 (CONSUMER_HEARTBEAT.intervalMs) */
  heartbeatIntervalMs?: number;
  /**
   * Emulated at-least-once delivery in both mappings (event-source/redelivery.ts); the worker's
   * dice are seeded with `seed + 1`. @default off (`run`, `demo`, benches: LOCAL_REDELIVERY)
   */
  redelivery?: RedeliveryOptions & { visibilitySeconds?: number };
}

/** What the status line shows: the two mappings' work and where failures went. */
export interface RunnerCounts {
  streamRecords: number;
  workerMessages: number;
  workerItems: number;
  migrated: number;
  conflicts: number;
  /** Malformed items (and undecodable messages) the handlers parked in the DLQ. */
  parked: number;
  /**
   * Sent to the DLQ by the mappings: stream records past their retries, plus work messages
   * that failed their last allowed receive (the queue's redrive policy moves them).
   */
  onFailure: number;
  /** Deliveries repeated on purpose (stream batches re-invoked or replayed, SQS deletes skipped). */
  duplicates: number;
}

export interface LocalRunner {
  /** The mapping of the first migrated table with a live path. */
  stream: DynamoDBStreamMapping;
  /** One mapping per migrated table with a stream (tables without one have no live path). */
  streams: ReadonlyMap<string, DynamoDBStreamMapping>;
  /** Undefined when started with `worker: false`. */
  worker: SqsMapping | undefined;
  queues: QueueUrls;
  /** The stats of `stream`. */
  stats(): StreamMappingStats;
  workerStats(): SqsMappingStats | undefined;
  counts(): RunnerCounts;
  /** The heartbeat of `table`'s stream consumer as of now (what is published). @default `stream`'s table */
  heartbeat(table?: string): ConsumerHeartbeat;
  /** Resolves once every stream is caught up and the work queue is empty, all at once. */
  waitForIdle(timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
}

/**
 * Fences the clients the handlers use: a request an invocation makes after its deadline is not
 * sent, and one in flight is aborted (invocation-fence.ts), as Lambda stops a timed-out function.
 */
export function fenceLocalClients(clients: Clients): void {
  fenceSdkClient(clients.dynamodb);
  fenceSdkClient(clients.sqs);
  if (clients.search) fenceOpenSearchClient(clients.search);
}

/**
 * Starts the stream consumer on every migrated table with a stream (a stream of another view
 * type than NEW_AND_OLD_IMAGES is refused; a table without a stream is left out with a warning:
 * `backfill` refuses it unless `--one-shot`), and the worker on the work queue.
 *
 * @example
 * const runner = await startLocalRunner({ clients, deps, tables, queueName, dlqName });
 * await runner.waitForIdle(60_000);
 * await runner.stop();
 */
export async function startLocalRunner(opts: LocalRunnerOptions): Promise<LocalRunner> {
  fenceLocalClients(opts.clients);
  const maxReceives = opts.workQueueMaxReceives ?? WORK_QUEUE_MAX_RECEIVES;
  const queues = await ensureQueues(
    opts.clients.sqs,
    { queueName: opts.queueName, dlqName: opts.dlqName },
    {
      maxReceiveCount: maxReceives,
      ...(opts.workQueueVisibilitySeconds !== undefined && {
        visibilityTimeoutSeconds: opts.workQueueVisibilitySeconds,
      }),
    },
  );
  const deadLetters = new DeadLetters(opts.clients.sqs, queues.dlq);
  const counts: RunnerCounts = {
    streamRecords: 0,
    workerMessages: 0,
    workerItems: 0,
    migrated: 0,
    conflicts: 0,
    parked: 0,
    onFailure: 0,
    duplicates: 0,
  };
  const tally = (results: Iterable<ItemResult>): void => {
    for (const r of results) {
      if (r.outcome === 'migrated') counts.migrated++;
      else if (r.outcome === 'conflict') counts.conflicts++;
    }
  };
  /** Per physical table, when its consumer last handled a batch. */
  const lastBatchAtMs = new Map<string, number>();
  const handler = createStreamConsumer({
    deps: opts.deps,
    deadLetters,
    // Keyword updates that fail after the write settled become repair tasks for the worker.
    searchRepairs: { sqs: opts.clients.sqs, workQueueUrl: queues.work },
    // The backfill gate's canaries are recorded where the deployed consumer records them.
    ...(opts.stateStore && { canaries: opts.stateStore }),
    logger: handlerLogger(SERVICES.streamConsumer.logger, opts),
    // EMF lines on stdout are for CloudWatch; locally they would drown the operator's view.
    metrics: localMetrics(SERVICES.streamConsumer.service),
    onResults: (results, event) => {
      const arn = event.Records[0]?.eventSourceARN;
      const name = arn?.match(/:table\/([^/]+)/)?.[1];
      if (name) lastBatchAtMs.set(name, Date.now());
      tally(results.values());
      // Parking happens before onResults: a malformed result seen here was parked.
      for (const r of results.values()) if (r.outcome === 'malformed') counts.parked++;
      opts.onResults?.(results, event);
    },
  });
  // Which migrated tables have a live path, checked as the deployed consumer does at cold start
  // (a stream without NEW_AND_OLD_IMAGES or a missing search index is refused before anything
  // is read).
  const live: string[] = [];
  for (const table of opts.deps.planner.migratedTables) {
    const tableName = physicalTable(opts.tables, table);
    const described = await describeTableStream(opts.clients.dynamodb, tableName);
    if (!described?.enabled) {
      (opts.logger ?? defaultLogger).warn(
        `table ${tableName} (${table}) ${described ? 'has no stream' : 'does not exist'}: no live path, later application writes to it are not migrated`,
      );
      continue;
    }
    await checkConsumerStart({
      dynamodb: opts.clients.dynamodb,
      tableName,
      newImageEnough: opts.deps.planner.copiesOnly(table, opts.deps.migrations),
      ...(opts.deps.search &&
        opts.deps.planner.searchSpecsFor(table, opts.deps.migrations).length && {
          search: opts.deps.search,
        }),
    });
    live.push(table);
  }
  if (!live.length)
    throw new Error(
      `no migrated table has a stream (${opts.deps.planner.migratedTables.map((t) => opts.tables[t] ?? t).join(', ')}): nothing for the stream consumer to read`,
    );
  const checkpoints = opts.checkpointDir
    ? new FileCheckpointStore(join(opts.checkpointDir))
    : new MemoryCheckpointStore();
  const streams = new Map<string, DynamoDBStreamMapping>(
    live.map((table) => [
      table,
      new DynamoDBStreamMapping({
        tableName: physicalTable(opts.tables, table),
        handler,
        streams: opts.clients.streams,
        dynamodb: opts.clients.dynamodb,
        batchSize: opts.batchSize ?? BATCH_SIZE,
        maximumBatchingWindowMs: opts.batchingWindowMs ?? 0,
        parallelizationFactor: opts.parallelizationFactor ?? 1,
        maximumRetryAttempts: opts.maxRetries ?? STREAM_RETRY_ATTEMPTS.local,
        maximumRecordAgeSeconds: opts.maxRecordAgeSeconds ?? -1,
        retryBackoffMs: opts.retryBackoffMs,
        startingPosition: opts.startingPosition ?? 'TRIM_HORIZON',
        latestPositionDelayMs: opts.latestPositionDelayMs ?? LATEST_POSITION_DELAY_MS,
        pollIntervalMs: opts.pollIntervalMs,
        onFailure: { queueUrl: queues.dlq, sqs: opts.clients.sqs },
        checkpoint: checkpoints,
        logger: opts.logger,
        ...(opts.redelivery && { redelivery: opts.redelivery }),
      }),
    ]),
  );
  const [firstTable] = live as [string];
  const stream = streams.get(firstTable) as DynamoDBStreamMapping;
  const allStreams = [...streams.values()];

  const functionTimeoutMs = opts.workerFunctionTimeoutMs ?? FUNCTION_TIMEOUT_SECONDS * 1000;
  const workerHandler = createBackfillWorker({
    deps: opts.deps,
    deadLetters,
    workQueue: { sqs: opts.clients.sqs, url: queues.work },
    doc: opts.clients.doc,
    ...(opts.stateStore && { stateStore: opts.stateStore }),
    logger: handlerLogger(SERVICES.backfillWorker.logger, opts),
    metrics: localMetrics(SERVICES.backfillWorker.service),
    onResults: (summary, event) => {
      counts.workerMessages += summary.messages;
      counts.workerItems += summary.items.length;
      counts.parked += summary.parked;
      tally(summary.items);
      opts.onWorkerResults?.(summary, event);
    },
  });
  const worker =
    opts.worker === false
      ? undefined
      : new SqsMapping({
          queueUrl: queues.work,
          sqs: opts.clients.sqs,
          batchSize: opts.workerBatchSize ?? WORKER_BATCH_SIZE,
          maxConcurrency: opts.workerConcurrency ?? WORKER_CONCURRENCY.local,
          ...(opts.workerFunctionConcurrency !== undefined && {
            functionConcurrency: opts.workerFunctionConcurrency,
          }),
          functionName: 'streamfill-backfill-worker',
          functionTimeoutMs,
          logger: opts.logger,
          ...(opts.redelivery && {
            redelivery: { ...opts.redelivery, seed: (opts.redelivery.seed ?? 1) + 1 },
          }),
          handler: async (event, context) => {
            // A message failing its last allowed receive (reported, thrown or timed out) is
            // moved to the DLQ by the queue's redrive policy at its next receive: count it.
            const last = event.Records.filter(
              (r) => Number(r.attributes.ApproximateReceiveCount) >= maxReceives,
            ).map((r) => r.messageId);
            const started = performance.now();
            let failedIds: ReadonlySet<string> = new Set(last);
            try {
              const res = await workerHandler(event, context);
              if (performance.now() - started <= functionTimeoutMs)
                failedIds = new Set(res.batchItemFailures.map((f) => f.itemIdentifier));
              return res;
            } finally {
              counts.onFailure += last.filter((id) => failedIds.has(id)).length;
            }
          },
        });

  const heartbeat = (table: string = firstTable): ConsumerHeartbeat => {
    const m = streams.get(table);
    const s = m?.stats();
    const now = Date.now();
    return {
      component: consumerHeartbeatId(physicalTable(opts.tables, table)),
      lastBatchAtMs: lastBatchAtMs.get(physicalTable(opts.tables, table)) ?? 0,
      lagMs: s?.iteratorAgeMs ?? 0,
      // Caught up: the last poll of every shard found nothing new and nothing is pending.
      caughtUp:
        s !== undefined && s.running && s.shards.length > 0 && s.shards.every((sh) => sh.caughtUp),
      updatedAtMs: now,
    };
  };
  const publishers = opts.stateStore
    ? live.map(
        (table) =>
          new HeartbeatPublisher(
            opts.stateStore as BackfillStateStore,
            () => heartbeat(table),
            opts.heartbeatIntervalMs ?? CONSUMER_HEARTBEAT.intervalMs,
            opts.logger,
          ),
      )
    : [];
  const stopStreams = async (): Promise<void> => {
    await Promise.all(allStreams.map((m) => m.stop()));
  };

  await Promise.all(allStreams.map((m) => m.start()));
  // The first heartbeats are written before the worker takes any message: whoever sees work
  // done also sees the consumers that were running.
  await Promise.all(publishers.map((p) => p.start()));
  try {
    await worker?.start();
  } catch (e) {
    await Promise.all([stopStreams(), ...publishers.map((p) => p.stop())]);
    throw e;
  }
  const sumStreams = (f: (s: StreamMappingStats) => number): number =>
    allStreams.reduce((n, m) => n + f(m.stats()), 0);
  return {
    stream,
    streams,
    worker,
    queues,
    stats: () => stream.stats(),
    workerStats: () => worker?.stats(),
    counts: () => ({
      ...counts,
      streamRecords: sumStreams((s) => s.recordsProcessed),
      onFailure: counts.onFailure + sumStreams((s) => s.recordsToOnFailure),
      duplicates:
        sumStreams((s) => s.redeliveries + s.replays) + (worker?.stats().duplicatesScheduled ?? 0),
    }),
    heartbeat,
    waitForIdle: async (ms = 30_000) => {
      const deadline = Date.now() + ms;
      const left = (): number => Math.max(1, deadline - Date.now());
      const streamsIdle = () => Promise.all(allStreams.map((m) => m.waitForIdle(left())));
      // The worker's writes make stream records of their own: the streams are checked again after.
      await streamsIdle();
      if (worker) {
        await worker.waitForIdle(left());
        await streamsIdle();
      }
    },
    stop: async () => {
      await Promise.all([stopStreams(), worker?.stop()]);
      // A last heartbeat says each consumer stopped (a killed runner just goes stale).
      await Promise.all(publishers.map((p) => p.stop()));
    },
  };
}

/**
 * How long after `start()` the local stream mapping pins a LATEST position by default: AWS
 * documents no bound ("could miss events"); a few seconds is enough for a backfill started at
 * once to pass items whose writes the consumer then never sees — unless the canary gate waits.
 */
export const LATEST_POSITION_DELAY_MS = 3_000;

/** Publishes the consumer's heartbeat every `intervalMs` until stopped. */
class HeartbeatPublisher {
  private timer: NodeJS.Timeout | undefined;
  private last: Promise<void> = Promise.resolve();
  /** Carried over from the previous heartbeat: `backfill` judges the consumer's continuity by it. */
  private continuity: { firstSeenMs: number; continuousSinceMs: number } | undefined;

  constructor(
    private readonly store: BackfillStateStore,
    private readonly read: () => ConsumerHeartbeat,
    private readonly intervalMs: number,
    private readonly log: EventSourceLogger | undefined,
  ) {}

  async start(): Promise<void> {
    const first = this.read();
    try {
      this.continuity = continuityOnStart(
        await this.store.getHeartbeat(first.component),
        first.updatedAtMs,
      );
    } catch (e) {
      // Unknown history counts as a break: `backfill` then scans without its filter.
      this.continuity = { firstSeenMs: 0, continuousSinceMs: first.updatedAtMs };
      this.log?.warn('previous consumer heartbeat not read', { error: (e as Error).message });
    }
    this.publish();
    this.timer = setInterval(() => this.publish(), this.intervalMs);
    this.timer.unref();
    await this.last;
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.last;
    await this.put({ ...this.read(), caughtUp: false });
  }

  private publish(): void {
    this.last = this.last.then(() => this.put(this.read()));
  }

  private async put(hb: ConsumerHeartbeat): Promise<void> {
    try {
      await this.store.putHeartbeat({ ...hb, ...this.continuity });
    } catch (e) {
      this.log?.warn('consumer heartbeat not published', { error: (e as Error).message });
    }
  }
}

function handlerLogger(serviceName: string, opts: LocalRunnerOptions): Logger {
  return new Logger({ serviceName, logLevel: opts.handlerLogLevel ?? 'WARN' });
}

function localMetrics(serviceName: ServiceName): Metrics {
  // Read by Metrics' constructor; an explicit setting by the operator wins.
  process.env.POWERTOOLS_METRICS_DISABLED ??= 'true';
  return new Metrics({ namespace: METRICS_NAMESPACE, serviceName });
}
