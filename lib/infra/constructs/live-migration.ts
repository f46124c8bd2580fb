// The live path in AWS: the stream of every migrated table with a stream feeds the deployed
// stream consumer (handlers/stream-consumer.ts) through one Lambda event source mapping per table, each with Lambda's failure semantics
// (partial batch responses, bisect, bounded retries, on-failure DLQ). The tables belong to the
// application's stack: they are imported, never created or replaced here.
import { Duration, RemovalPolicy, Stack, Token } from 'aws-cdk-lib';
import { Table, type ITable } from 'aws-cdk-lib/aws-dynamodb';
import { PolicyStatement } from 'aws-cdk-lib/aws-iam';
import type { IKey } from 'aws-cdk-lib/aws-kms';
import { MetricType, StartingPosition, Tracing } from 'aws-cdk-lib/aws-lambda';
import { DynamoEventSource, SqsDlq } from 'aws-cdk-lib/aws-lambda-event-sources';
import { NodejsFunction } from 'aws-cdk-lib/aws-lambda-nodejs';
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import type { ITopic } from 'aws-cdk-lib/aws-sns';
import { Queue, QueueEncryption } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import {
  BATCH_SIZE,
  DLQ_RETENTION_DAYS,
  ENV,
  FUNCTION_MEMORY_MB,
  FUNCTION_TIMEOUT_SECONDS,
  workQueueVisibilitySeconds,
  STREAM_RETRY_ATTEMPTS,
  WORK_QUEUE_MAX_RECEIVES,
  WRITE_CONCURRENCY,
} from '../../config/defaults.ts';
import { LiveMigrationAlarms, STREAM_CONSUMER_METRICS } from './alarms.ts';
import { handlerEntry, handlerFunctionProps, handlerRole } from './handler-function.ts';
import { searchAccessProblems, searchAccessStatement } from './search-access.ts';
import { grantCopies, STATE_ACTIONS_WITH_COPIES } from './copy-grants.ts';
import { grantTableKey } from './table-key.ts';
import {
  consumerSettingsProblems,
  failOnProblems,
  streamArnProblems,
  timeoutProblems,
} from './props-validation.ts';

export { ESM_REQUIRE_BANNER } from './handler-function.ts';
export const STREAM_CONSUMER_ENTRY = handlerEntry('stream-consumer.ts');

/** A table the app does not define, imported by name (and stream ARN, for a live path). */
export interface ImportedTable {
  readonly tableName: string;
  /** `aws dynamodb describe-table --query Table.LatestStreamArn`. @default - no live path */
  readonly tableStreamArn?: string;
}

/** A config's tables, as ContinuousBackfill derives them: which declared tables get what. */
export interface DeclaredTables {
  /**
   * Every declared table a function touches, by declared name: a table of this app, or one
   * imported by name (imported here, under `<Name>Table`).
   */
  readonly tables: ReadonlyMap<string, ITable | ImportedTable>;
  /** The migrated tables with a stream: one mapping each, in config order. */
  readonly streamed: readonly string[];
  /** The tables some enabled item migration writes (conditional UpdateItem). */
  readonly written: readonly string[];
  /** The tables the enabled migrations' lookups read (BatchGetItem). */
  readonly lookedUp: readonly string[];
  /** The streamed tables an enabled copy reads (ConditionCheckItem in its transaction). @default - none */
  readonly copySources?: readonly string[];
  /** The tables those copies write (PutItem, DeleteItem in their transactions). @default - none */
  readonly copyTargets?: readonly string[];
  /** The global secondary indices the enabled lookups query (Query on that index only). @default - none */
  readonly indexLookups?: readonly { readonly table: string; readonly index: string }[];
  /** The generated entry registering the config, then re-exporting the stream consumer. */
  readonly entry: string;
  /** STREAMFILL_TABLES and STREAMFILL_CONFIG_FINGERPRINT. */
  readonly environment: Readonly<Record<string, string>>;
}

export interface LiveMigrationProps {
  /** The config's tables and what the enabled migrations do with them (ContinuousBackfill derives it). */
  declared: DeclaredTables;
  /**
   * The backfill state table (STREAMFILL_STATE_TABLE): the consumer records there each canary
   * of `backfill`'s consumer-first gate it reads from the stream (PutItem on it only); with
   * copies, it also holds their ledger and dependencies (required then).
   * @default - canaries are not recorded (then run `backfill --no-canary`)
   */
  stateTableName?: string;
  /**
   * The composing construct gives the consumer the state table and its grants itself
   * (ContinuousBackfill does): copies need no `stateTableName` here.
   * @default false
   */
  stateTableGrantedByParent?: boolean;
  /**
   * OpenSearch endpoint URL (SEARCH_ENDPOINT); unset turns the search-keyword migration off.
   * Requests to Amazon OpenSearch (`*.es.amazonaws.com`, `*.aoss.amazonaws.com`) are
   * SigV4-signed with the function's role; grant it with `searchDomainArn`.
   * @default - no search migration
   */
  searchEndpoint?: string;
  /** OpenSearch index (STREAMFILL_SEARCH_INDEX). @default - the config's own index */
  searchIndex?: string;
  /**
   * OpenSearch domain ARN: grants es:ESHttpGet/Head/Post/Put on the index only
   * (`<domainArn>/<index>`, `<domainArn>/<index>/*`). @default - no grant
   */
  searchDomainArn?: string;
  /** OpenSearch Serverless collection ARN: grants aoss:APIAccessAll on it. @default - no grant */
  searchCollectionArn?: string;
  /**
   * The composing construct grants search access itself (ContinuousBackfill does, for a domain
   * or a Serverless collection): no grant here, and no domain ARN required.
   * @default false
   */
  searchAccessGrantedByParent?: boolean;
  /** Concurrent conditional writes per batch (STREAMFILL_WRITE_CONCURRENCY). @default 16 */
  writeConcurrency?: number;

  /** Records per invocation. @default 100 (BATCH_SIZE) */
  batchSize?: number;
  /** How long to gather records before invoking. @default - none (invoke at once) */
  maxBatchingWindow?: Duration;
  /**
   * Retries of a failing record (after bisecting) before it goes to the DLQ.
   * @default 10 (STREAM_RETRY_ATTEMPTS.aws; the local runner uses 3, see defaults.ts for why)
   */
  retryAttempts?: number;
  /** Records older than this go to the DLQ instead of being retried (max 7 days). @default 24 h */
  maxRecordAge?: Duration;
  /**
   * Concurrent batches per shard. Lambda keeps records of one partition key in order at any
   * factor, and a migration needs no more than per-item order.
   * @default 1
   */
  parallelizationFactor?: number;
  /** Caps the function's concurrency (bounded impact). @default - unreserved */
  reservedConcurrentExecutions?: number;
  /** Active X-Ray tracing. @default false */
  tracing?: boolean;
  /** @default RetentionDays.ONE_MONTH */
  logRetention?: RetentionDays;
  /**
   * What happens to the log group when the stack is deleted (CloudFormation's default keeps it).
   * @default RemovalPolicy.RETAIN
   */
  logRemovalPolicy?: RemovalPolicy;
  /** The consumer's memory (128–10240 MB). @default 512 (FUNCTION_MEMORY_MB) */
  memorySize?: number;
  /** The consumer's timeout (1 s – 15 min). @default Duration.seconds(60) */
  timeout?: Duration;
  /**
   * The timeout of the function that reads the work queue: the queue's visibility timeout is six
   * times it (AWS's guidance for a queue read by Lambda).
   * @default - `timeout`
   */
  workerTimeout?: Duration;
  /**
   * Whether the stream mapping reads: `false` pauses the consumer by a deployment (records wait
   * in the stream, up to its 24 h retention), not by a change outside the template.
   * @default true
   */
  enabled?: boolean;
  /**
   * A customer managed KMS key for both queues (parked records carry item contents).
   * @default - SQS-managed encryption (SSE-SQS)
   */
  queueEncryptionKey?: IKey;
  /** POWERTOOLS_LOG_LEVEL. @default 'INFO' */
  logLevel?: string;

  /** Name of the backfill work queue. @default - generated */
  queueName?: string;
  /** Name of the dead-letter queue. @default - generated */
  dlqName?: string;

  /** IteratorAge alarm threshold. @default Duration.seconds(60) */
  iteratorAgeThreshold?: Duration;
  /** Alarm and OK notifications go here when given. @default - no notifications */
  alarmTopic?: ITopic;
  /** @default - generated by CloudFormation */
  dashboardName?: string;
}

/**
 * The live path of one application's tables: stream consumer function, one event source
 * mapping per streamed table, the work and dead-letter queues, least-privilege grants, alarms
 * and a dashboard. ContinuousBackfill builds it from a config; `declared` is what it derives.
 */
export class LiveMigration extends Construct {
  /** Every table the consumer touches, by declared name (imported ones imported here). */
  readonly tables: ReadonlyMap<string, ITable>;
  readonly fn: NodejsFunction;
  /** The first streamed table's mapping. */
  readonly eventSource: DynamoEventSource;
  /** One stream mapping per migrated table with a stream, by declared name. */
  readonly eventSources: ReadonlyMap<string, DynamoEventSource>;
  /** On-failure destination of the event source mapping and parking place of malformed items. */
  readonly dlq: Queue;
  /** Read by the backfill worker; redrives to `dlq` after WORK_QUEUE_MAX_RECEIVES (5) receives. */
  readonly workQueue: Queue;
  readonly alarms: LiveMigrationAlarms;

  constructor(scope: Construct, id: string, props: LiveMigrationProps) {
    super(scope, id);
    validate(this, props);

    const declared = props.declared;
    // An imported table gets a fixed id from its declared name: the stream mapping's logical id
    // derives from the table's, so it stays the same across deployments and never replaces one.
    this.tables = new Map(
      [...declared.tables].map(([name, t]) => [
        name,
        Construct.isConstruct(t)
          ? t
          : Table.fromTableAttributes(this, importId(name), {
              tableName: t.tableName,
              ...(t.tableStreamArn !== undefined && { tableStreamArn: t.tableStreamArn }),
            }),
      ]),
    );
    const table = (name: string) => this.tables.get(name) as ITable;
    const streamed: [string, ITable][] = declared.streamed.map((n) => [n, table(n)]);
    const written = declared.written.map(table);
    const lookedUp = declared.lookedUp.map(table);
    const copySources = (declared.copySources ?? []).map(table);
    const tableEnv = { ...declared.environment };

    // A message keeps its original enqueue time when it moves to a DLQ, so the DLQ keeps
    // messages twice as long (DLQ_RETENTION_DAYS, the SQS maximum) as the work queue (7 days): a message
    // parked from the work queue still has at least 7 days to be inspected and redriven.
    const encryption = props.queueEncryptionKey
      ? { encryption: QueueEncryption.KMS, encryptionMasterKey: props.queueEncryptionKey }
      : { encryption: QueueEncryption.SQS_MANAGED };
    this.dlq = new Queue(this, 'DeadLetterQueue', {
      ...(props.dlqName && { queueName: props.dlqName }),
      ...encryption,
      enforceSSL: true,
      retentionPeriod: Duration.days(DLQ_RETENTION_DAYS),
    });

    const timeout = props.timeout ?? Duration.seconds(FUNCTION_TIMEOUT_SECONDS);
    const workerTimeout = props.workerTimeout ?? timeout;
    this.workQueue = new Queue(this, 'WorkQueue', {
      ...(props.queueName && { queueName: props.queueName }),
      ...encryption,
      enforceSSL: true,
      retentionPeriod: Duration.days(7),
      visibilityTimeout: Duration.seconds(workQueueVisibilitySeconds(workerTimeout.toSeconds())),
      deadLetterQueue: { queue: this.dlq, maxReceiveCount: WORK_QUEUE_MAX_RECEIVES },
    });

    const logGroup = new LogGroup(this, 'Logs', {
      retention: props.logRetention ?? RetentionDays.ONE_MONTH,
      removalPolicy: props.logRemovalPolicy ?? RemovalPolicy.RETAIN,
    });

    this.fn = new NodejsFunction(this, 'StreamConsumer', {
      description: `streamfill: migrates every live change of ${declared.streamed.join(', ')}`,
      ...handlerFunctionProps('stream-consumer.ts', declared.entry),
      memorySize: props.memorySize ?? FUNCTION_MEMORY_MB,
      timeout,
      logGroup,
      role: handlerRole(this, 'StreamConsumerRole', logGroup),
      ...(props.reservedConcurrentExecutions !== undefined && {
        reservedConcurrentExecutions: props.reservedConcurrentExecutions,
      }),
      ...(props.tracing && { tracing: Tracing.ACTIVE }),
      environment: {
        // Read back by lib/config/lambda-env.ts.
        ...tableEnv,
        ...(props.searchEndpoint && { [ENV.searchEndpoint]: props.searchEndpoint }),
        // The config's own index unless renamed.
        ...(props.searchIndex !== undefined && { [ENV.searchIndex]: props.searchIndex }),
        [ENV.dlqUrl]: this.dlq.queueUrl,
        // Failed keyword updates become delayed search-only repair tasks on the work queue.
        [ENV.workQueueUrl]: this.workQueue.queueUrl,
        [ENV.writeConcurrency]: String(props.writeConcurrency ?? WRITE_CONCURRENCY),
        ...(props.stateTableName && { [ENV.stateTable]: props.stateTableName }),
        POWERTOOLS_SERVICE_NAME: STREAM_CONSUMER_METRICS.service,
        POWERTOOLS_METRICS_NAMESPACE: STREAM_CONSUMER_METRICS.namespace,
        POWERTOOLS_LOG_LEVEL: props.logLevel ?? 'INFO',
        NODE_OPTIONS: '--enable-source-maps',
      },
    });

    // Least privilege: the migration only updates existing items (conditional UpdateItem) and
    // reads one back when a condition fails; it never creates, replaces or deletes items. On the
    // table ARNs only (`table.grant` would add `<table>/index/*`, which nothing here reads), plus
    // each table's KMS key when it has one. Only the tables an item migration writes.
    const streamedArns = streamed.map(([, t]) => t.tableArn);
    if (written.length)
      this.fn.addToRolePolicy(
        new PolicyStatement({
          sid: 'MigrateItems',
          actions: ['dynamodb:UpdateItem', 'dynamodb:GetItem'],
          resources: written.map((t) => t.tableArn),
        }),
      );
    // Before a table's first batch: its stream must carry new images (DescribeTable's StreamViewType).
    this.fn.addToRolePolicy(
      new PolicyStatement({
        sid: 'CheckStreams',
        actions: ['dynamodb:DescribeTable'],
        resources: streamedArns,
      }),
    );
    for (const [, t] of streamed)
      grantTableKey(t, this.fn, written.includes(t) ? 'readWrite' : 'read');
    if (lookedUp.length)
      this.fn.addToRolePolicy(
        new PolicyStatement({
          sid: 'LookUpItems',
          actions: ['dynamodb:BatchGetItem'],
          resources: lookedUp.map((t) => t.tableArn),
        }),
      );
    for (const t of lookedUp) if (!written.includes(t)) grantTableKey(t, this.fn, 'read');
    grantCopies(this.fn, {
      sources: copySources,
      targets: (declared.copyTargets ?? []).map(table),
      indexLookups: (declared.indexLookups ?? []).map((l) => ({ ...l, table: table(l.table) })),
    });
    // The gate's canaries: one PutItem per canary read, on the state table only; with copies,
    // their ledger and dependencies too.
    if (props.stateTableName) {
      this.fn.addToRolePolicy(
        new PolicyStatement({
          sid: copySources.length ? 'StateAndCopyLedger' : 'RecordCanaries',
          actions: copySources.length ? [...STATE_ACTIONS_WITH_COPIES] : ['dynamodb:PutItem'],
          resources: [
            Stack.of(this).formatArn({
              service: 'dynamodb',
              resource: 'table',
              resourceName: props.stateTableName,
            }),
          ],
        }),
      );
    }
    // Malformed items are parked by the handler itself (SendMessageBatch needs SendMessage);
    // the same grant serves the event source mapping's on-failure destination.
    this.dlq.grantSendMessages(this.fn);
    // Search-only repair tasks (a keyword update that failed or found no document).
    this.workQueue.grantSendMessages(this.fn);
    if (!props.searchAccessGrantedByParent && props.searchEndpoint) {
      // The same one statement ContinuousBackfill gives both of its functions.
      const statement = searchAccessStatement({
        endpoint: props.searchEndpoint,
        ...(props.searchIndex && { index: props.searchIndex }),
        ...(props.searchDomainArn && { domainArn: props.searchDomainArn }),
        ...(props.searchCollectionArn && { collectionArn: props.searchCollectionArn }),
      });
      if (statement) this.fn.addToRolePolicy(statement);
    }

    // History is the backfill's job: each mapping starts at LATEST, so it must be running
    // before the backfill starts (see README, Deploying). Every table's mapping has the same
    // settings; its logical id derives from the table's, so adding one never replaces another.
    this.eventSources = new Map(
      streamed.map(([role, t]) => {
        const source = new DynamoEventSource(t, {
          startingPosition: StartingPosition.LATEST,
          batchSize: props.batchSize ?? BATCH_SIZE,
          ...(props.maxBatchingWindow && { maxBatchingWindow: props.maxBatchingWindow }),
          reportBatchItemFailures: true,
          bisectBatchOnError: true,
          retryAttempts: props.retryAttempts ?? STREAM_RETRY_ATTEMPTS.aws,
          maxRecordAge: props.maxRecordAge ?? Duration.hours(24),
          parallelizationFactor: props.parallelizationFactor ?? 1,
          enabled: props.enabled ?? true,
          onFailure: new SqsDlq(this.dlq),
          // Polled/filtered/failed event counts of the mapping itself, beside the function's metrics.
          metricsConfig: { metrics: [MetricType.EVENT_COUNT] },
        });
        this.fn.addEventSource(source);
        return [role, source] as const;
      }),
    );
    this.eventSource = this.eventSources.get(streamed[0]![0]) as DynamoEventSource;

    this.alarms = new LiveMigrationAlarms(this, 'Alarms', {
      fn: this.fn,
      eventSourceMappingIds: [...this.eventSources.values()].map((e) => e.eventSourceMappingId),
      dlq: this.dlq,
      workQueue: this.workQueue,
      iteratorAgeThreshold: props.iteratorAgeThreshold ?? Duration.seconds(60),
      ...(props.alarmTopic && { alarmTopic: props.alarmTopic }),
      ...(props.dashboardName && { dashboardName: props.dashboardName }),
    });
  }
}

/** The construct id of an imported declared table: `orders` → `OrdersTable`. */
function importId(name: string): string {
  return `${name.charAt(0).toUpperCase()}${name.slice(1)}Table`;
}

/** Props that cannot work, reported at synth time (CloudFormation would fail mid-deploy). */
export class LiveMigrationPropsError extends Error {
  override name = 'LiveMigrationPropsError';
}

const DOMAIN_ARN = /^arn:aws[a-z-]*:es:[a-z0-9-]+:\d{12}:domain\/[a-z][a-z0-9-]{2,27}$/;

/** Clear errors at synth time for what CloudFormation would only reject mid-deploy. */
function validate(scope: Construct, props: LiveMigrationProps): void {
  const problems: string[] = [];
  const { tables, streamed } = props.declared;
  if (streamed.length === 0) problems.push('declared.streamed is empty: no table to consume');
  // The engine gives copies a ledger only with a state table; without one they fail at runtime.
  if (
    props.declared.copySources?.length &&
    !props.stateTableName &&
    !props.stateTableGrantedByParent
  )
    problems.push(
      `declared.copySources ${props.declared.copySources.join(', ')}: copies keep their ledger in the state table, give stateTableName`,
    );
  const known = (n: string) => tables.has(n);
  for (const [what, names] of [
    ['copySources', props.declared.copySources ?? []],
    ['copyTargets', props.declared.copyTargets ?? []],
    ['indexLookups', (props.declared.indexLookups ?? []).map((l) => l.table)],
  ] as const)
    for (const n of names)
      if (!known(n)) problems.push(`declared.${what} names ${n}, which is not in declared.tables`);
  for (const n of streamed)
    if (tables.get(n)?.tableStreamArn === undefined)
      problems.push(`declared table ${n} has no stream (NEW_AND_OLD_IMAGES)`);
  const ids = new Map<string, string>();
  for (const [n, t] of tables) {
    if (Construct.isConstruct(t)) continue;
    const other = ids.get(importId(n));
    if (other !== undefined)
      problems.push(
        `declared tables ${other} and ${n} differ only in their first letter's case: imported, both would be ${importId(n)}`,
      );
    ids.set(importId(n), n);
    if (t.tableStreamArn !== undefined)
      problems.push(
        ...streamArnProblems(scope, `tables.${n}.tableStreamArn`, t.tableStreamArn, t.tableName),
      );
  }
  const endpoint = props.searchEndpoint;
  if (endpoint && !props.searchAccessGrantedByParent) {
    problems.push(
      ...searchAccessProblems({
        endpoint,
        ...(props.searchDomainArn && { domainArn: props.searchDomainArn }),
        ...(props.searchCollectionArn && { collectionArn: props.searchCollectionArn }),
      }).map((p) =>
        p.replace(
          /search\.(endpoint|domainArn|collectionArn)/g,
          (_, k: string) => `search${k[0]!.toUpperCase()}${k.slice(1)}`,
        ),
      ),
    );
  }
  problems.push(...consumerSettingsProblems(props));
  problems.push(...timeoutProblems('workerTimeout', props.workerTimeout));
  if (props.searchDomainArn && !Token.isUnresolved(props.searchDomainArn)) {
    if (!DOMAIN_ARN.test(props.searchDomainArn)) {
      problems.push(`searchDomainArn ${JSON.stringify(props.searchDomainArn)} is not a domain ARN`);
    }
  }
  failOnProblems(scope, 'LiveMigration', problems, (m) => new LiveMigrationPropsError(m));
}
