// The one home of every default and every shared name: the CLI, the Lambda handlers, the local
// harness and the CDK constructs all read them from here, so no value has a second copy.
import type { TableNames } from '../core/types.ts';

/** Stream records per handler invocation (Lambda's own default for DynamoDB streams). */
export const BATCH_SIZE = 100;

/** Conditional UpdateItem calls in flight per batch: the writer's cap ("bounded impact"). */
export const WRITE_CONCURRENCY = 16;

/** Parallel Scan segments of the historic pass and of `verify`. */
export const SCAN_SEGMENTS = 4;

/** Items per Scan page. */
export const SCAN_PAGE_SIZE = 500;

/** Parallel Scan segments of `streamfill backfill` (docs/DESIGN.md, "The CLI contract"). */
export const BACKFILL_SEGMENTS = 16;

/** `backfill` pauses while the work queue holds more messages than this (visible + in flight + delayed). */
export const BACKFILL_MAX_BACKLOG = 2_000;

/** `backfill` pauses while the stream consumer is further behind than this. */
export const BACKFILL_MAX_LAG_SECONDS = 60;

/**
 * SDK attempts of the scanner's DynamoDB calls: low, so throttling reaches the throttler (which
 * backs off by its ThrottlingReasons) instead of being hidden inside the SDK's own retries.
 */
export const SCANNER_MAX_ATTEMPTS = 2;

/**
 * Retries of a failing stream batch before its records go to the dead-letter queue. The two
 * sides differ on purpose:
 * - `aws` (10): a deployed consumer meets transient faults that pass within minutes (a
 *   throttled user table, an OpenSearch blue/green switch); Lambda backs off between retries
 *   and bisects the batch, and malformed items never reach a retry (they are parked at once),
 *   so a generous count costs little and saves redrives. `maxRecordAge` (24 h) still bounds it.
 * - `local` (3): the harness serves laptops, tests and the demo, where the services do not
 *   throttle; a record that keeps failing is a bug to see within seconds, not minutes.
 */
export const STREAM_RETRY_ATTEMPTS = { aws: 10, local: 3 } as const;

/**
 * Items per work message at most. One message is one unit of retry and of a worker's time: 10
 * messages of 100 items stay far inside the function timeout even on a slow table (a 500-item
 * Scan page per message made local batches of 5,000 items time out), and many messages spread
 * over the worker's pollers.
 */
export const ITEMS_PER_MESSAGE = 100;

/** The Lambda runtime's Node major: the bundles target it, the bundle tests run on it. */
export const LAMBDA_NODE_MAJOR = 22;

/** Timeout of the Lambda functions (and of the local emulation's invocations). */
export const FUNCTION_TIMEOUT_SECONDS = 60;

/** Memory of the Lambda functions (the CDK constructs' default). */
export const FUNCTION_MEMORY_MB = 512;

/**
 * Visibility timeout of the work queue for a worker timeout: AWS's guidance for a queue read by
 * Lambda is at least six times the function timeout (a batch may be retried by the poller while
 * still in flight), and Lambda refuses a mapping whose queue is below the function timeout.
 */
export const workQueueVisibilitySeconds = (workerTimeoutSeconds: number): number =>
  workerTimeoutSeconds * 6;

/** The work queue's visibility timeout at the default function timeout (360 s). */
export const WORK_QUEUE_VISIBILITY_SECONDS = workQueueVisibilitySeconds(FUNCTION_TIMEOUT_SECONDS);

/** Receives of a backfill message before SQS moves it to the dead-letter queue. */
export const WORK_QUEUE_MAX_RECEIVES = 5;

/**
 * Work-queue messages per worker invocation: Lambda's default for SQS (above 10 needs a
 * batching window). One items message carries many items, so 10 messages are thousands.
 */
export const WORKER_BATCH_SIZE = 10;

/**
 * Worker invocations in flight at once ("bounded impact": each writes up to WRITE_CONCURRENCY
 * items at once). The sides differ on purpose:
 * - `aws` (10): the SQS mapping's `maxConcurrency` (Lambda's minimum is 2); Lambda scales its
 *   pollers up to it, and the table's capacity, not the machine, is the limit.
 * - `local` (4): the local runner shares two cores with DynamoDB Local; more batches in flight
 *   only queue up behind the same JVM.
 */
export const WORKER_CONCURRENCY = { aws: 10, local: 4 } as const;

/**
 * Local runs only (`run`, `demo`, the benches, the convergence test): the emulated mappings
 * redeliver a small share of successful deliveries on purpose, as AWS may (at least once). A
 * skipped SQS delete comes back after `visibilitySeconds` rather than the work queue's 360 s.
 */
export const LOCAL_REDELIVERY = { rate: 0.02, seed: 1, visibilitySeconds: 2 } as const;

/**
 * The stream consumer's heartbeat in the backfill state store (`streamfill run` locally): written
 * every `intervalMs`; the scanner treats one older than `staleAfterMs` as "consumer not running".
 */
export const CONSUMER_HEARTBEAT = { intervalMs: 2_000, staleAfterMs: 15_000 } as const;

/** The heartbeat `component` of the stream consumer of `tableName` (one consumer per stream). */
export const consumerHeartbeatId = (tableName: string): string =>
  `${SERVICES.streamConsumer.service}:${tableName}`;

/** Dead-letter retention: the SQS maximum, so a parked message has time to be redriven. */
export const DLQ_RETENTION_DAYS = 14;

/** The OpenSearch index of session documents (Pika's name for it). */
export const SEARCH_INDEX = 'session';

/** Table names of the local stack (docs/DESIGN.md, "The CLI contract"); real deployments pass their own. */
export const LOCAL_TABLE_NAMES: TableNames = {
  session: 'chat-session-local',
  user: 'chat-user-local',
  tag: 'pika-tag-def-local',
};

/** Queue names of the local stack; the CDK stack lets CloudFormation generate them. */
export const LOCAL_QUEUE_NAMES = { work: 'streamfill-work', dlq: 'streamfill-dlq' } as const;

/** The backfill state table of the local stack (run record, checkpoints, consumer heartbeat). */
export const LOCAL_STATE_TABLE = 'streamfill-state-local';

/** Environment variables, shared by the CLI (with its flags) and the Lambda functions. */
export const ENV = {
  sessionTable: 'STREAMFILL_SESSION_TABLE',
  userTable: 'STREAMFILL_USER_TABLE',
  tagTable: 'STREAMFILL_TAG_TABLE',
  queueName: 'STREAMFILL_QUEUE',
  dlqName: 'STREAMFILL_DLQ',
  /** Lambda only: the DLQ's URL, where the handler parks malformed items. */
  dlqUrl: 'STREAMFILL_DLQ_URL',
  /**
   * `true`: parked DLQ messages keep the item image (the stream record, the carried inputs, an
   * undecodable body) for 14 days. Unset or `false` (the default): only the key, the table and
   * the reason are kept; redrive re-reads the item by its key.
   */
  dlqKeepImages: 'STREAMFILL_DLQ_KEEP_IMAGES',
  /** Lambda only: the work queue's URL (continuation tasks, search repairs). */
  workQueueUrl: 'STREAMFILL_QUEUE_URL',
  /** The backfill state table (run record, segment checkpoints, consumer heartbeat). */
  stateTable: 'STREAMFILL_STATE_TABLE',
  /**
   * Comma-separated migration names: what the functions apply (unset: every default one), and
   * what `verify` checks (`--migrations`; a deployed stack's set with `--stack`).
   */
  migrations: 'STREAMFILL_MIGRATIONS',
  searchEndpoint: 'SEARCH_ENDPOINT',
  searchIndex: 'STREAMFILL_SEARCH_INDEX',
  searchAuth: 'STREAMFILL_SEARCH_AUTH',
  writeConcurrency: 'STREAMFILL_WRITE_CONCURRENCY',
  /** CLI only: the deployed stack whose outputs fill the other settings (`--stack`). */
  stack: 'STREAMFILL_STACK',
  /** CLI only: `off` turns off `backfill`'s canary (as `--no-canary` does); `on` is the default. */
  canary: 'STREAMFILL_CANARY',
  /** CLI only: print stack traces of errors. */
  debug: 'STREAMFILL_DEBUG',
} as const;

/** The env var holding each table's name. */
export const TABLE_ENV: TableNames = {
  session: ENV.sessionTable,
  user: ENV.userTable,
  tag: ENV.tagTable,
};

/** Powertools metrics: where the handlers' EMF counts land, and what the alarms watch. */
export const METRICS_NAMESPACE = 'streamfill';

/**
 * The entry points. `service` is Powertools' metrics service (a dimension the alarms select on,
 * and the `source` of a parked record); `logger` names the entry point in its log lines.
 */
export const SERVICES = {
  streamConsumer: { service: 'stream-consumer', logger: 'streamfill-stream-consumer' },
  backfillWorker: { service: 'backfill-worker', logger: 'streamfill-backfill-worker' },
  /** `streamfill backfill` (CLI): parks the items it cannot carry to the worker. */
  backfillScanner: { service: 'backfill-scanner', logger: 'streamfill-backfill-scanner' },
} as const;

export type ServiceName = (typeof SERVICES)[keyof typeof SERVICES]['service'];

/** The per-batch counts every entry point publishes (unit Count). */
export const METRIC = {
  migrated: 'Migrated',
  unchanged: 'Unchanged',
  conflicts: 'Conflicts',
  searchMissing: 'SearchMissing',
  failed: 'Failed',
  parked: 'Parked',
  /** Keyword updates handed to delayed search-only repair tasks (search down or doc missing). */
  searchRepairsQueued: 'SearchRepairsQueued',
  /** Records refused because the search index is missing or its keyword mapping is wrong. */
  searchMappingNotReady: 'SearchMappingNotReady',
  /**
   * Backfill worker only: items messages scanned for another migration set than the worker
   * runs, or without the inputs of one (those migrations are not planned for them).
   */
  migrationSetMismatch: 'MigrationSetMismatch',
  /** Stream only: application write → batch processed, in ms. */
  writeToProcessedDelay: 'WriteToProcessedDelay',
} as const;

/**
 * The CloudFormation output keys of a streamfill stack: `--stack NAME` reads them (DescribeStacks)
 * instead of five separate settings (lib/adapters/stack-outputs.ts).
 */
export const STACK_OUTPUTS = {
  workQueueUrl: 'WorkQueueUrl',
  workQueueName: 'WorkQueueName',
  dlqUrl: 'DeadLetterQueueUrl',
  dlqName: 'DeadLetterQueueName',
  stateTable: 'StateTableName',
  sessionTable: 'SessionTableName',
  userTable: 'UserTableName',
  tagTable: 'TagTableName',
  dashboard: 'DashboardName',
  consumerFunction: 'ConsumerFunctionName',
  workerFunction: 'WorkerFunctionName',
  eventSourceMappingId: 'EventSourceMappingId',
  searchEndpoint: 'SearchEndpoint',
  searchIndex: 'SearchIndex',
  /** The deployed migration set (comma-separated registry names), what `verify` checks. */
  migrations: 'Migrations',
  /** Declared table name → physical name, as JSON (STREAMFILL_TABLES's format). */
  tables: 'Tables',
} as const;

export type StackOutputKey = keyof typeof STACK_OUTPUTS;

/**
 * Whether parked messages keep item images (ENV.dlqKeepImages): `true`/`1` yes, unset,
 * `false`/`0` no; anything else is refused with the variable's name, so a typo never keeps
 * chat contents in the DLQ by accident, nor drops them when they were asked for.
 */
export function dlqKeepImages(env: NodeJS.ProcessEnv = process.env): boolean {
  const v = env[ENV.dlqKeepImages]?.trim().toLowerCase();
  if (v === undefined || v === '' || v === 'false' || v === '0') return false;
  if (v === 'true' || v === '1') return true;
  throw new Error(
    `environment variable ${ENV.dlqKeepImages} must be true or false, got ${JSON.stringify(env[ENV.dlqKeepImages])}`,
  );
}
