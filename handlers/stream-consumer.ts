// Lambda entry for the streams of every migrated table (one event source mapping each): every
// live change is migrated within the batch that carries it, with its table's migrations. Builds
// its dependencies once per container, checks before a table's first batch that its stream
// carries new images and, for a table with search migrations, that the search index is ready
// (lib/engine/consumer-start.ts), and hands each batch to the engine (lib/engine/stream-batch.ts).
import middy from '@middy/core';
import { Logger } from '@aws-lambda-powertools/logger';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import type { Context, DynamoDBBatchResponse, DynamoDBStreamEvent } from 'aws-lambda';
import { DynamoStateStore } from '../lib/adapters/backfill-state.ts';
import type { DeadLetters } from '../lib/adapters/dead-letters.ts';
import { METRICS_NAMESPACE, SERVICES } from '../lib/config/defaults.ts';
import { checkConsumerStart } from '../lib/engine/consumer-start.ts';
import { engineFromEnv } from '../lib/engine/deps.ts';
import type { EngineDeps } from '../lib/engine/migrate-items.ts';
import { processStreamBatch, type StreamBatchOptions } from '../lib/engine/stream-batch.ts';

const SERVICE = SERVICES.streamConsumer;

export interface StreamConsumerOptions {
  deps: EngineDeps;
  /** Where malformed items are parked at once, with their reason (else they are retried). */
  deadLetters?: DeadLetters;
  /** @default a Logger named `streamfill-stream-consumer` */
  logger?: Logger;
  /** @default Metrics in namespace `streamfill`, service `stream-consumer` */
  metrics?: Metrics;
  /**
   * The work queue where keyword updates that failed (search down) or found no document become
   * delayed search-only repair tasks, so the shard moves on. Absent: those records are retried.
   */
  searchRepairs?: StreamBatchOptions['searchRepairs'];
  /** Observes each batch's results (local runner, benchmarks). */
  onResults?: StreamBatchOptions['onResults'];
  /** Where the backfill gate's canaries are recorded as seen (the state table). */
  canaries?: StreamBatchOptions['canaries'];
}

type Handler = (event: DynamoDBStreamEvent, context: Context) => Promise<DynamoDBBatchResponse>;

/**
 * The stream consumer as a middy handler (Powertools logger context and metrics flush).
 *
 * @example
 * const handler = createStreamConsumer({ deps, deadLetters: new DeadLetters(sqs, dlqUrl) });
 */
export function createStreamConsumer(options: StreamConsumerOptions): Handler {
  const logger = options.logger ?? new Logger({ serviceName: SERVICE.logger });
  const metrics =
    options.metrics ?? new Metrics({ namespace: METRICS_NAMESPACE, serviceName: SERVICE.service });
  const batch: StreamBatchOptions = { ...options, logger, metrics, source: SERVICE.service };
  const handle = (event: DynamoDBStreamEvent) => processStreamBatch(event, batch);
  return middy(handle)
    .use(injectLambdaContext(logger))
    .use(logMetrics(metrics)) as unknown as Handler;
}

let lambda: ReturnType<typeof engineFromEnv> | undefined;
let deployed: Handler | undefined;
/** Per table name: its start check, passed or in flight (a failed one is dropped and redone). */
const started = new Map<string, Promise<void>>();
/**
 * The deployed entry point: adapters built once per container from the environment. Before
 * the first batch of a table with a change to migrate, the container checks that the table's
 * stream carries new images and, when the table has search migrations, that the search index
 * exists with its keyword mapping; a failed check fails the invocation (retried, logged) and is
 * checked again by the next one. A batch of REMOVE records only needs neither.
 */
export const handler: Handler = async (event, context) => {
  const engine = (lambda ??= engineFromEnv());
  deployed ??= createStreamConsumer({
    deps: engine.deps,
    ...(engine.deadLetters && { deadLetters: engine.deadLetters }),
    ...(engine.config.workQueueUrl && {
      searchRepairs: { sqs: engine.clients.sqs, workQueueUrl: engine.config.workQueueUrl },
    }),
    ...(engine.config.stateTable && {
      canaries: new DynamoStateStore(engine.clients.doc, engine.config.stateTable),
    }),
  });
  const changed = new Set(
    event.Records.filter((r) => r.eventName !== 'REMOVE').map((r) => r.eventSourceARN),
  );
  for (const table of engine.planner.migratedTables) {
    const tableName = engine.config.tables[table];
    // lambdaConfig names every declared table; only the legacy Pika variables may leave one empty.
    if (!tableName) continue;
    // A record of no migrated table is failed by the engine with its reason, not checked here.
    if (![...changed].some((arn) => arn?.includes(`:table/${tableName}/`))) continue;
    let check = started.get(tableName);
    if (!check) {
      check = checkConsumerStart({
        dynamodb: engine.clients.dynamodb,
        tableName,
        newImageEnough: engine.planner.copiesOnly(table, engine.deps.migrations),
        ...(engine.deps.search &&
          engine.planner.searchSpecsFor(table, engine.deps.migrations).length > 0 && {
            search: engine.deps.search,
          }),
      }).catch((e: unknown) => {
        started.delete(tableName);
        throw e;
      });
      started.set(tableName, check);
    }
    await check;
  }
  return deployed(event, context);
};
