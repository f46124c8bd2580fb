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

/** Timeout of the Lambda functions (and of the local emulation's invocations). */
export const FUNCTION_TIMEOUT_SECONDS = 60;

/**
 * Visibility timeout of the work queue: AWS's guidance for a queue read by Lambda is at least
 * six times the function timeout (a batch may be retried by the poller while still in flight),
 * and Lambda refuses a mapping whose queue is below the function timeout.
 */
export const WORK_QUEUE_VISIBILITY_SECONDS = FUNCTION_TIMEOUT_SECONDS * 6;

/** Receives of a backfill message before SQS moves it to the dead-letter queue. */
export const WORK_QUEUE_MAX_RECEIVES = 5;

/** Dead-letter retention: the SQS maximum, so a parked message has time to be redriven. */
export const DLQ_RETENTION_DAYS = 14;

/** The OpenSearch index of session documents (Pika's name for it). */
export const SEARCH_INDEX = 'session';

/** Table names of the local stack (DESIGN.md's CLI contract); real deployments pass their own. */
export const LOCAL_TABLE_NAMES: TableNames = {
  session: 'chat-session-local',
  user: 'chat-user-local',
  tag: 'pika-tag-def-local',
};

/** Queue names of the local stack; the CDK stack lets CloudFormation generate them. */
export const LOCAL_QUEUE_NAMES = { work: 'streamfill-work', dlq: 'streamfill-dlq' } as const;

/** Environment variables, shared by the CLI (with its flags) and the Lambda functions. */
export const ENV = {
  sessionTable: 'STREAMFILL_SESSION_TABLE',
  userTable: 'STREAMFILL_USER_TABLE',
  tagTable: 'STREAMFILL_TAG_TABLE',
  queueName: 'STREAMFILL_QUEUE',
  dlqName: 'STREAMFILL_DLQ',
  /** Lambda only: the DLQ's URL, where the handler parks malformed items. */
  dlqUrl: 'STREAMFILL_DLQ_URL',
  /** Lambda only: the work queue's URL, where failed keyword updates become repair tasks. */
  workQueueUrl: 'STREAMFILL_WORK_QUEUE_URL',
  searchEndpoint: 'SEARCH_ENDPOINT',
  searchIndex: 'STREAMFILL_SEARCH_INDEX',
  searchAuth: 'STREAMFILL_SEARCH_AUTH',
  writeConcurrency: 'STREAMFILL_WRITE_CONCURRENCY',
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
  /** Stream only: application write → batch processed, in ms. */
  writeToProcessedDelay: 'WriteToProcessedDelay',
} as const;
