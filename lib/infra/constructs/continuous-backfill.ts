// Deploy once and leave it running: the live path (LiveMigration: stream consumer, a mapping per
// migrated table with a stream, work queue and DLQ, the live alarms and dashboard) plus the
// historic path's backfill worker on the work queue, the backfill state table, their alarms and
// the outputs the CLI reads. It runs the Pika preset with the Pika table props, or a user's
// config (`config` + `tables`).
import { Annotations, CfnOutput, Duration, RemovalPolicy, Stack, Token } from 'aws-cdk-lib';
import {
  AttributeType,
  BillingMode,
  CfnTable,
  StreamViewType,
  Table,
  type ITable,
} from 'aws-cdk-lib/aws-dynamodb';
import type { IKey } from 'aws-cdk-lib/aws-kms';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import type { DynamoEventSource, SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import type { RetentionDays } from 'aws-cdk-lib/aws-logs';
import type { ITopic } from 'aws-cdk-lib/aws-sns';
import type { IQueue } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { CONFIG_FINGERPRINT_ENV } from '../../config/config-fingerprint.ts';
import { isItemMigration } from '../../core/config/resolve.ts';
import { TABLE_NAME_ENV } from '../../core/config/table-names.ts';
import { generatedEntry, loadSynthConfig } from './user-config.ts';
import type { DeclaredTables, LiveMigrationProps } from './live-migration.ts';
import type { BackfillWorkerFunctionProps } from './backfill-worker-function.ts';
import {
  ENV,
  METRICS_NAMESPACE,
  SEARCH_INDEX,
  SERVICES,
  STACK_OUTPUTS,
  WORKER_BATCH_SIZE,
  WORKER_CONCURRENCY,
  WRITE_CONCURRENCY,
  type StackOutputKey,
} from '../../config/defaults.ts';
import { bundledPlanner } from '../../engine/bundled-config.ts';
import { consumerSettingsProblems, failOnProblems, streamArnProblems } from './props-validation.ts';
import { acknowledgeFunctionFindings } from '../nag.ts';
import { BackfillAlarms } from './backfill-alarms.ts';
import { BackfillWorkerFunction } from './backfill-worker-function.ts';
import { LiveMigration } from './live-migration.ts';
import {
  searchAccessProblems,
  searchAccessStatement,
  searchEnvironment,
  type SearchAccessProps,
} from './search-access.ts';

/** A table the app does not define, imported by name (and stream ARN, for a live path). */
export interface ImportedTable {
  readonly tableName: string;
  /** `aws dynamodb describe-table --query Table.LatestStreamArn`. @default - no live path */
  readonly tableStreamArn?: string;
}

export interface ContinuousBackfillProps {
  /**
   * The streamfill config both functions run (`streamfill.config.ts`, relative to the working
   * directory or absolute): loaded at synth for the mappings, the IAM and the environment, and
   * bundled through a generated entry. Give `tables` with it, not the Pika table props.
   * @default - the built-in Pika preset, with the sourceTable/userTable/tagTable props
   */
  readonly config?: string;
  /**
   * With `config`: every table it declares, by declared name: a table of this app or one
   * imported by name (and stream ARN). A migrated table needs a stream unless listed in `oneShot`.
   */
  readonly tables?: Readonly<Record<string, ITable | ImportedTable>>;
  /**
   * With `config`: migrated tables given without a stream on purpose; their migrations are
   * one-shot (`backfill --one-shot`) and synth warns. @default - none
   */
  readonly oneShot?: readonly string[];
  /**
   * The source (chat-session) table, created in this app, with a `NEW_AND_OLD_IMAGES` stream.
   * Give this or `sourceTableName` + `sourceTableStreamArn`.
   * @default - imported by `sourceTableName`
   */
  readonly sourceTable?: ITable;
  /** An existing source table, imported by name (with `sourceTableStreamArn`). @default - `sourceTable` */
  readonly sourceTableName?: string;
  /**
   * The imported table's stream ARN (`aws dynamodb describe-table --query Table.LatestStreamArn`):
   * it carries a creation label and cannot be derived from the name.
   * @default - `sourceTable.tableStreamArn`
   */
  readonly sourceTableStreamArn?: string;
  /** The chat-user table (read for `user_type`). Give this or `userTableName`. */
  readonly userTable?: ITable;
  /** @default - `userTable` */
  readonly userTableName?: string;
  /**
   * The tag-definition table (tag-usage-mode). With a `NEW_AND_OLD_IMAGES` stream it gets its
   * own live path (a stream mapping of the consumer, like the session table's); without one its
   * migration is one-shot (`backfill --one-shot`) and synth warns.
   * @default - none
   */
  readonly tagTable?: ITable;
  /** @default - `tagTable` */
  readonly tagTableName?: string;
  /**
   * The imported tag table's stream ARN (`aws dynamodb describe-table --query
   * Table.LatestStreamArn`): its live path.
   * @default - `tagTable.tableStreamArn`
   */
  readonly tagTableStreamArn?: string;
  /**
   * The migrations to apply, by name (the config's, or the Pika preset's for the Pika props).
   * @default - every session-table migration (session-search-keywords only with `search`),
   *   plus tag-usage-mode when a tag table is given
   */
  readonly migrations?: readonly string[];
  /** OpenSearch holding the session documents (SigV4-signed). @default - no search migration */
  readonly search?: SearchAccessProps;

  /** Name of the backfill state table. @default - generated by CloudFormation */
  readonly stateTableName?: string;
  /**
   * What happens to the state table when the stack is deleted. It holds the run record and
   * checkpoints (what `--resume` needs), so it outlives the stack unless told otherwise.
   * @default RemovalPolicy.RETAIN
   */
  readonly stateTableRemovalPolicy?: RemovalPolicy;
  /** Name of the work queue. @default - generated */
  readonly queueName?: string;
  /** Name of the dead-letter queue. @default - generated */
  readonly dlqName?: string;

  /** Stream records per consumer invocation (1–10000). @default 100 (BATCH_SIZE) */
  readonly batchSize?: number;
  /** How long the stream mapping gathers records before invoking. @default - none */
  readonly maxBatchingWindow?: Duration;
  /** Retries of a failing stream batch before the DLQ (0–10000). @default 10 */
  readonly retryAttempts?: number;
  /** Stream records older than this go to the DLQ (60 s – 7 days). @default Duration.hours(24) */
  readonly maxRecordAge?: Duration;
  /** Concurrent batches per shard (1–10). @default 1 */
  readonly parallelizationFactor?: number;
  /** The consumer's reserved concurrency (≥ 1; 0 would stop it). @default - unreserved */
  readonly reservedConcurrentExecutions?: number;
  /** Work messages per worker invocation (1–10). @default 10 (WORKER_BATCH_SIZE) */
  readonly workerBatchSize?: number;
  /** Concurrent worker invocations, the SQS mapping's cap (2–1000). @default 10 (WORKER_CONCURRENCY.aws) */
  readonly workerMaxConcurrency?: number;
  /** The worker's reserved concurrency (≥ workerMaxConcurrency). @default - unreserved */
  readonly workerReservedConcurrentExecutions?: number;
  /** Conditional writes in flight per batch, both functions (≥ 1). @default 16 (WRITE_CONCURRENCY) */
  readonly writeConcurrency?: number;
  /**
   * Parked DLQ messages keep the item images (chat contents, for Pika) for the queue's 14 days,
   * instead of the table, key and reason only (redrive re-reads the item). @default false
   */
  readonly dlqKeepImages?: boolean;
  /** Active X-Ray tracing of both functions. @default false */
  readonly tracing?: boolean;
  /** Log retention of both functions. @default RetentionDays.ONE_MONTH */
  readonly logRetention?: RetentionDays;
  /**
   * What happens to both functions' log groups when the stack is deleted (the sandbox stack
   * deletes them; an attached stack keeps them for the post-mortem).
   * @default RemovalPolicy.RETAIN
   */
  readonly logRemovalPolicy?: RemovalPolicy;
  /** Memory of both functions (128–10240 MB). @default 512 (FUNCTION_MEMORY_MB) */
  readonly memorySize?: number;
  /**
   * Timeout of both functions (1 s – 15 min); the work queue's visibility timeout is six times
   * it (AWS's guidance for a queue read by Lambda).
   * @default Duration.seconds(60)
   */
  readonly timeout?: Duration;
  /**
   * Whether the stream consumer's mapping reads. `false` pauses the live migration by a
   * deployment (records wait in the stream, at most its 24 h retention).
   * @default true
   */
  readonly consumerEnabled?: boolean;
  /** Whether the worker's work-queue mapping reads (`false` pauses the worker). @default true */
  readonly workerEnabled?: boolean;
  /**
   * A customer managed KMS key for the work queue and the DLQ (parked records carry items).
   * @default - SQS-managed encryption (SSE-SQS)
   */
  readonly queueEncryptionKey?: IKey;
  /** POWERTOOLS_LOG_LEVEL of both functions. @default 'INFO' */
  readonly logLevel?: string;

  /** IteratorAge alarm threshold. @default Duration.seconds(60) */
  readonly iteratorAgeThreshold?: Duration;
  /** Oldest work message alarm threshold (≥ 1 min). @default Duration.minutes(30) */
  readonly oldestWorkMessageAgeThreshold?: Duration;
  /**
   * The "consumer not invoked" alarm fires when the source table was written during this
   * period without a single consumer invocation (whole minutes, 5 min – 1 day).
   * @default Duration.minutes(15)
   */
  readonly consumerIdlePeriod?: Duration;
  /** Alarm and OK notifications. @default - none */
  readonly alarmTopic?: ITopic;
  /** @default - generated by CloudFormation */
  readonly dashboardName?: string;
  /**
   * Adds the CfnOutputs the CLI reads (`--stack NAME`), under the fixed keys of STACK_OUTPUTS;
   * a stack holds at most one ContinuousBackfill that exports them.
   * @default true
   */
  readonly exportOutputs?: boolean;
}

/** Props that cannot work, reported at synth, each problem naming the setting and its value. */
export class ContinuousBackfillPropsError extends Error {
  override name = 'ContinuousBackfillPropsError';
}

/**
 * The whole migration in one construct: live changes through the stream consumer, historic
 * items through the work queue and the backfill worker, run state, alarms, a dashboard and
 * the stack outputs `streamfill backfill|status|redrive --stack` read.
 *
 * @example
 * new ContinuousBackfill(this, 'Migration', {
 *   sourceTableName: 'chat-session-prod',
 *   sourceTableStreamArn: 'arn:aws:dynamodb:eu-west-1:123456789012:table/chat-session-prod/stream/2026-…',
 *   userTableName: 'chat-user-prod',
 *   search: { endpoint: 'https://search-chat-….eu-west-1.es.amazonaws.com',
 *     domainArn: 'arn:aws:es:eu-west-1:123456789012:domain/chat' },
 * });
 */
export class ContinuousBackfill extends Construct {
  /** The Pika session table; with `config`, the first migrated table with a stream. */
  readonly sourceTable: ITable;
  /** The Pika user table; undefined with `config`. */
  readonly userTable: ITable | undefined;
  readonly tagTable: ITable | undefined;
  /** Every table the functions use, by declared name. */
  readonly tables: ReadonlyMap<string, ITable>;
  /** The migrations both functions apply (STREAMFILL_MIGRATIONS). */
  readonly migrations: readonly string[];
  /** The stream consumer part (function, mapping, queues, live alarms, dashboard). */
  readonly liveMigration: LiveMigration;
  readonly consumer: IFunction;
  /** The session table's stream mapping. */
  readonly consumerEventSource: DynamoEventSource;
  /** One stream mapping per migrated table with a stream, by declared name. */
  readonly consumerEventSources: ReadonlyMap<string, DynamoEventSource>;
  readonly worker: IFunction;
  readonly workerEventSource: SqsEventSource;
  readonly workQueue: IQueue;
  readonly dlq: IQueue;
  /** Run record, per-segment checkpoints, consumer heartbeat (keys `pk`, `sk`). */
  readonly stateTable: Table;
  readonly alarms: BackfillAlarms;

  constructor(scope: Construct, id: string, props: ContinuousBackfillProps) {
    super(scope, id);
    const setup =
      props.config !== undefined || props.tables !== undefined
        ? declaredSetup(this, props)
        : pikaSetup(this, props);
    this.migrations = setup.migrations;
    this.sourceTable = setup.sourceTable;
    this.userTable = setup.userTable;
    this.tagTable = setup.tagTable;
    this.tables = setup.tables;
    const search = setup.search;
    const searchStatement = search && searchAccessStatement(search);

    this.liveMigration = new LiveMigration(this, 'Live', {
      ...setup.live,
      ...(search && {
        searchEndpoint: search.endpoint,
        searchIndex: search.index,
        // Granted below for both functions (domain or Serverless collection).
        searchAccessGrantedByParent: true,
      }),
      writeConcurrency: props.writeConcurrency,
      batchSize: props.batchSize,
      maxBatchingWindow: props.maxBatchingWindow,
      retryAttempts: props.retryAttempts,
      maxRecordAge: props.maxRecordAge,
      parallelizationFactor: props.parallelizationFactor,
      reservedConcurrentExecutions: props.reservedConcurrentExecutions,
      tracing: props.tracing,
      logRetention: props.logRetention,
      logRemovalPolicy: props.logRemovalPolicy,
      memorySize: props.memorySize,
      timeout: props.timeout,
      workerTimeout: props.timeout,
      enabled: props.consumerEnabled,
      queueEncryptionKey: props.queueEncryptionKey,
      logLevel: props.logLevel,
      queueName: props.queueName,
      dlqName: props.dlqName,
      iteratorAgeThreshold: props.iteratorAgeThreshold,
      alarmTopic: props.alarmTopic,
      dashboardName: props.dashboardName,
    });
    const live = this.liveMigration;
    this.consumer = live.fn;
    this.consumerEventSource = live.eventSource;
    this.consumerEventSources = live.eventSources;
    this.workQueue = live.workQueue;
    this.dlq = live.dlq;
    const migrations = this.migrations.join(',');
    live.fn.addEnvironment(ENV.migrations, migrations);
    const keepImages: Record<string, string> = props.dlqKeepImages
      ? { [ENV.dlqKeepImages]: 'true' }
      : {};
    for (const [k, v] of Object.entries(keepImages)) live.fn.addEnvironment(k, v);
    for (const [k, v] of Object.entries(
      searchEnvironment(search, setup.searchIndex ?? SEARCH_INDEX),
    )) {
      live.fn.addEnvironment(k, v);
    }
    if (searchStatement) live.fn.addToRolePolicy(searchStatement);

    this.stateTable = new Table(this, 'StateTable', {
      ...(props.stateTableName && { tableName: props.stateTableName }),
      partitionKey: { name: 'pk', type: AttributeType.STRING },
      sortKey: { name: 'sk', type: AttributeType.STRING },
      billingMode: BillingMode.PAY_PER_REQUEST,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      removalPolicy: props.stateTableRemovalPolicy ?? RemovalPolicy.RETAIN,
    });
    // The consumer records the backfill gate's canaries here (one PutItem per canary read).
    live.fn.addEnvironment(ENV.stateTable, this.stateTable.tableName);
    this.stateTable.grant(live.fn, 'dynamodb:PutItem');

    const worker = new BackfillWorkerFunction(this, 'Worker', {
      sourceTable: this.sourceTable,
      ...setup.worker,
      stateTable: this.stateTable,
      workQueue: this.workQueue,
      dlq: this.dlq,
      batchSize: props.workerBatchSize ?? WORKER_BATCH_SIZE,
      maxConcurrency: props.workerMaxConcurrency ?? WORKER_CONCURRENCY.aws,
      reservedConcurrentExecutions: props.workerReservedConcurrentExecutions,
      tracing: props.tracing,
      logRetention: props.logRetention,
      logRemovalPolicy: props.logRemovalPolicy,
      memorySize: props.memorySize,
      timeout: props.timeout,
      enabled: props.workerEnabled,
      ...(searchStatement && { extraStatements: [searchStatement] }),
      environment: {
        // Read back by lib/config/lambda-env.ts.
        ...setup.environment,
        ...(setup.searchIndex !== undefined && { [ENV.searchIndex]: setup.searchIndex }),
        ...searchEnvironment(search, setup.searchIndex ?? SEARCH_INDEX),
        [ENV.dlqUrl]: this.dlq.queueUrl,
        [ENV.workQueueUrl]: this.workQueue.queueUrl,
        [ENV.stateTable]: this.stateTable.tableName,
        [ENV.writeConcurrency]: String(props.writeConcurrency ?? WRITE_CONCURRENCY),
        [ENV.migrations]: migrations,
        ...keepImages,
        POWERTOOLS_SERVICE_NAME: SERVICES.backfillWorker.service,
        POWERTOOLS_METRICS_NAMESPACE: METRICS_NAMESPACE,
        POWERTOOLS_LOG_LEVEL: props.logLevel ?? 'INFO',
      },
    });
    this.worker = worker.fn;
    this.workerEventSource = worker.eventSource;

    this.alarms = new BackfillAlarms(this, 'BackfillAlarms', {
      consumer: this.consumer,
      worker: this.worker,
      sourceTable: this.sourceTable,
      workQueue: this.workQueue,
      dashboard: live.alarms.dashboard,
      oldestWorkMessageAgeThreshold: props.oldestWorkMessageAgeThreshold ?? Duration.minutes(30),
      consumerIdlePeriod: props.consumerIdlePeriod ?? Duration.minutes(15),
      ...(props.alarmTopic && { alarmTopic: props.alarmTopic }),
    });

    // The cdk-nag AwsSolutions findings accepted by design, each with its reason (../nag.ts).
    const accepted = {
      ...(props.tracing && { tracing: true }),
      ...(search?.domainArn !== undefined && {
        searchDomainArn: search.domainArn,
        searchIndex: search.index ?? SEARCH_INDEX,
      }),
    };
    acknowledgeFunctionFindings({ fn: this.consumer, readsStream: true, ...accepted });
    acknowledgeFunctionFindings({ fn: this.worker, ...accepted });

    if (props.exportOutputs ?? true) {
      this.exportOutputs({
        workQueueUrl: this.workQueue.queueUrl,
        workQueueName: this.workQueue.queueName,
        dlqUrl: this.dlq.queueUrl,
        dlqName: this.dlq.queueName,
        stateTable: this.stateTable.tableName,
        ...setup.outputs,
        tables: Stack.of(this).toJsonString(
          Object.fromEntries([...this.tables].map(([n, t]) => [n, t.tableName])),
        ),
        dashboard: live.alarms.dashboard.dashboardName,
        consumerFunction: this.consumer.functionName,
        workerFunction: this.worker.functionName,
        eventSourceMappingId: this.consumerEventSource.eventSourceMappingId,
        migrations,
        ...(search && {
          searchEndpoint: search.endpoint,
          searchIndex: search.index ?? SEARCH_INDEX,
        }),
      });
    }
  }

  private exportOutputs(values: Partial<Record<StackOutputKey, string>>): void {
    const stack = Stack.of(this);
    if (EXPORTING.has(stack)) {
      throw new ContinuousBackfillPropsError(
        `ContinuousBackfill ${this.node.path}: stack ${stack.stackName} already has a ContinuousBackfill ` +
          'exporting the CLI outputs; set exportOutputs: false on this one (or give it its own stack)',
      );
    }
    EXPORTING.add(stack);
    for (const [key, value] of Object.entries(values) as [StackOutputKey, string][]) {
      const output = new CfnOutput(this, STACK_OUTPUTS[key], {
        value,
        description: OUTPUT_DESCRIPTIONS[key],
      });
      // Fixed keys: the CLI finds them by name in DescribeStacks.
      output.overrideLogicalId(STACK_OUTPUTS[key]);
    }
  }
}

const EXPORTING = new WeakSet<Stack>();

const OUTPUT_DESCRIPTIONS: Record<StackOutputKey, string> = {
  workQueueUrl: 'Backfill work queue (streamfill backfill enqueues here)',
  workQueueName: `Backfill work queue name (${ENV.queueName})`,
  dlqUrl: 'Dead-letter queue: failed and malformed records, with their reason',
  dlqName: `Dead-letter queue name (${ENV.dlqName})`,
  stateTable: `Backfill state table: run record, checkpoints, heartbeat (${ENV.stateTable})`,
  sessionTable: `The migrated table (${ENV.sessionTable})`,
  userTable: `The chat-user table (${ENV.userTable})`,
  tagTable: `The tag-definition table (${ENV.tagTable})`,
  dashboard: 'CloudWatch dashboard of the migration',
  consumerFunction: 'The stream consumer function (preflight --consumer-function)',
  workerFunction: 'The backfill worker function',
  eventSourceMappingId: 'aws lambda get-event-source-mapping --uuid <id>: State must be Enabled',
  searchEndpoint: `OpenSearch endpoint (${ENV.searchEndpoint})`,
  searchIndex: `OpenSearch index of session documents (${ENV.searchIndex})`,
  migrations: `The deployed migrations: what verify --stack checks (${ENV.migrations})`,
  tables: `Declared table name → physical name, JSON (${TABLE_NAME_ENV})`,
};

interface Source {
  name: string;
  streamArn: string;
}

/** What differs between the Pika props and a declared config; the rest is built alike. */
interface Setup {
  migrations: readonly string[];
  sourceTable: ITable;
  userTable: ITable | undefined;
  tagTable: ITable | undefined;
  tables: ReadonlyMap<string, ITable>;
  /** With its index resolved for a declared config. */
  search: SearchAccessProps | undefined;
  /** The worker's STREAMFILL_SEARCH_INDEX; undefined: the config's own. */
  searchIndex: string | undefined;
  live: Partial<LiveMigrationProps>;
  worker: Partial<BackfillWorkerFunctionProps>;
  /** The worker's table variables. */
  environment: Record<string, string>;
  outputs: Partial<Record<StackOutputKey, string>>;
}

/** The Pika props: the preset bundled by default, its tables under their legacy variables. */
function pikaSetup(scope: Construct, props: ContinuousBackfillProps): Setup {
  const source = resolveSource(scope, props);
  const migrations = props.migrations ?? defaultMigrations(props);
  check(scope, props, migrations);
  const sourceTable = props.sourceTable ?? importTable(scope, 'SourceTable', source);
  const userTable =
    props.userTable ?? Table.fromTableName(scope, 'UserTable', props.userTableName as string);
  const tagName = props.tagTable?.tableName ?? props.tagTableName;
  const tagTable =
    props.tagTable ??
    (tagName !== undefined ? Table.fromTableName(scope, 'TagTable', tagName) : undefined);
  const pika = bundledPlanner().summaries;
  const known = migrations.flatMap((m) => pika.get(m) ?? []);
  const migratesTags = known.some((m) => m.table === 'tag');
  const usesUsers = known.some((m) => m.lookups.length > 0);
  return {
    migrations,
    sourceTable,
    userTable,
    tagTable,
    tables: new Map([
      ['session', sourceTable],
      ['user', userTable],
      ...(tagTable ? [['tag', tagTable] as const] : []),
    ]),
    search: props.search,
    searchIndex: SEARCH_INDEX,
    live: {
      // The tables themselves: a KMS-encrypted table keeps its key for the consumer's grants.
      sessionTable: sourceTable,
      userTable,
      ...(props.tagTable
        ? { tagTable: props.tagTable }
        : tagName !== undefined && { tagTableName: tagName }),
      ...(props.tagTableStreamArn !== undefined && { tagTableStreamArn: props.tagTableStreamArn }),
    },
    worker: {
      ...(usesUsers && { userTable }),
      ...(migratesTags && tagTable && { tagTable }),
    },
    environment: {
      // Read back by lib/config/lambda-env.ts.
      [ENV.sessionTable]: source.name,
      [ENV.userTable]: userTable.tableName,
      ...(tagName !== undefined && { [ENV.tagTable]: tagName }),
    },
    outputs: {
      sessionTable: source.name,
      userTable: userTable.tableName,
      ...(tagName !== undefined && { tagTable: tagName }),
    },
  };
}

const PIKA_PROPS = [
  'sourceTable',
  'sourceTableName',
  'sourceTableStreamArn',
  'userTable',
  'userTableName',
  'tagTable',
  'tagTableName',
  'tagTableStreamArn',
] as const;

/**
 * A user's config: loaded now, its tables taken from `tables`, and least privilege derived from
 * it: UpdateItem only on the tables an enabled item migration writes, BatchGetItem only on the
 * looked-up ones, a stream mapping per migrated table, search access on its one index.
 */
function declaredSetup(scope: Construct, props: ContinuousBackfillProps): Setup {
  const problems: string[] = [];
  const pika = PIKA_PROPS.filter((k) => props[k] !== undefined);
  if (pika.length)
    problems.push(
      `config/tables and ${pika.join(', ')} are both set: give a config and its tables`,
    );
  if (props.config === undefined) problems.push('tables is set without config');
  if (props.tables === undefined) problems.push('config is set without tables');
  fail(scope, problems);
  const config = loadSynthConfig(props.config as string);
  const { planner } = config;
  const given = props.tables as Readonly<Record<string, ITable | ImportedTable>>;
  const declared = [...planner.resolved.tables.keys()];
  const summary = (m: string) => planner.summaries.get(m);
  const migrations =
    props.migrations ??
    planner.defaultMigrations.filter((m) => props.search || summary(m)?.target !== 'search');

  const unknownMigrations = migrations.filter((m) => !summary(m));
  if (migrations.length === 0) problems.push('migrations is empty: nothing would be migrated');
  if (unknownMigrations.length)
    problems.push(
      `migrations ${JSON.stringify(unknownMigrations)} are not in config ${props.config} (known: ${planner.allMigrations.join(', ')})`,
    );
  for (const m of migrations)
    if (summary(m)?.target === 'search' && !props.search)
      problems.push(`migration ${m} updates OpenSearch documents: give search.endpoint`);
  const missing = declared.filter((t) => given[t] === undefined);
  if (missing.length)
    problems.push(
      `tables names no table for ${missing.join(', ')} (config ${props.config} declares ${declared.join(', ')})`,
    );
  const extra = Object.keys(given).filter((t) => !declared.includes(t));
  if (extra.length)
    problems.push(
      `tables ${extra.join(', ')} are not declared in config ${props.config} (declared: ${declared.join(', ')})`,
    );
  const oneShot = props.oneShot ?? [];
  for (const t of oneShot)
    if (!planner.migratedTables.includes(t))
      problems.push(`oneShot ${JSON.stringify(t)} is not a migrated table of the config`);
  const indices = [
    ...new Set(
      planner.migratedTables.flatMap((t) =>
        planner.searchSpecsFor(t, migrations).map((spec) => spec.index),
      ),
    ),
  ];
  if (indices.length > 1)
    problems.push(
      `the migrations search ${indices.length} indices (${indices.join(', ')}): one deployment serves one index`,
    );
  if (props.search) problems.push(...searchAccessProblems(props.search));
  problems.push(...settingsProblems(props));
  fail(scope, problems);

  const tables = new Map<string, ITable>();
  for (const name of declared) {
    const t = given[name] as ITable | ImportedTable;
    if (Construct.isConstruct(t)) {
      const view = streamViewTypeOf(t);
      if (view !== undefined && view !== StreamViewType.NEW_AND_OLD_IMAGES)
        problems.push(
          `tables.${name} ${t.node.path} has stream view type ${view}: the migrations read the new and the old image (NEW_AND_OLD_IMAGES)`,
        );
      tables.set(name, t);
    } else {
      if (t.tableStreamArn !== undefined)
        problems.push(
          ...streamArnProblems(
            scope,
            `tables.${name}.tableStreamArn`,
            t.tableStreamArn,
            t.tableName,
          ),
        );
      tables.set(
        name,
        Table.fromTableAttributes(scope, `Table-${name}`, {
          tableName: t.tableName,
          ...(t.tableStreamArn !== undefined && { tableStreamArn: t.tableStreamArn }),
        }),
      );
    }
  }
  const migrated = planner.migratedTables.filter(
    (t) => planner.migrationsFor(t, migrations).length > 0,
  );
  const written = migrated.filter((t) =>
    planner.migrationsFor(t, migrations).some(isItemMigration),
  );
  const lookupsOf = (of: readonly string[]) => [
    ...new Set(of.flatMap((t) => planner.lookupsFor(t, migrations).map((l) => l.table.name))),
  ];
  const lookedUp = lookupsOf(migrated);

  const streamed: string[] = [];
  for (const t of migrated) {
    if (tables.get(t)!.tableStreamArn !== undefined) streamed.push(t);
    else if (oneShot.includes(t))
      Annotations.of(scope).addWarningV2(
        'streamfill:one-shot-table',
        `table ${t} has no stream (oneShot): no live path, its migrations are one-shot and later application writes to it are not migrated (\`backfill --one-shot\`)`,
      );
    else
      problems.push(
        `tables.${t} has no stream: it is migrated, so give a table with stream NEW_AND_OLD_IMAGES (or its tableStreamArn), or list it in oneShot`,
      );
  }
  if (streamed.length === 0 && migrated.length > 0 && problems.length === 0)
    problems.push('no migrated table has a stream: the stream consumer would have nothing to do');
  fail(scope, problems);

  const environment = {
    [TABLE_NAME_ENV]: Stack.of(scope).toJsonString(
      Object.fromEntries([...tables].map(([n, t]) => [n, t.tableName])),
    ),
    [CONFIG_FINGERPRINT_ENV]: config.fingerprint,
  };
  const byName = (n: string) => tables.get(n) as ITable;
  const liveDeclared: DeclaredTables = {
    tables,
    streamed,
    // The consumer only sees the streamed tables' changes: one-shot tables are the worker's.
    written: written.filter((t) => streamed.includes(t)),
    lookedUp: lookupsOf(streamed),
    entry: generatedEntry(config.path, 'stream-consumer.ts'),
    environment,
  };
  const search = props.search && { ...props.search, index: props.search.index ?? indices[0] };
  return {
    migrations,
    sourceTable: byName(streamed[0]!),
    userTable: undefined,
    tagTable: undefined,
    tables,
    search,
    searchIndex: search?.index,
    live: { declared: liveDeclared },
    worker: {
      declared: {
        migrated: migrated.map(byName),
        written: written.map(byName),
        lookedUp: lookedUp.map(byName),
        entry: generatedEntry(config.path, 'backfill-worker.ts'),
      },
    },
    environment,
    // The Pika preset's stacks keep the outputs a CLI from before `Tables` reads.
    outputs:
      declared.slice().sort().join(',') === 'session,tag,user'
        ? {
            sessionTable: byName('session').tableName,
            userTable: byName('user').tableName,
            tagTable: byName('tag').tableName,
          }
        : {},
  };
}

function fail(scope: Construct, problems: string[]): void {
  failOnProblems(scope, 'ContinuousBackfill', problems, (m) => new ContinuousBackfillPropsError(m));
}

/** The source table's name and stream ARN, from a table of this app or from the import props. */
function resolveSource(scope: Construct, props: ContinuousBackfillProps): Source {
  const { sourceTable: table, sourceTableName: name, sourceTableStreamArn: arn } = props;
  if (table) {
    fail(scope, [
      ...(name !== undefined || arn !== undefined
        ? [
            `sourceTable and sourceTableName/sourceTableStreamArn (${JSON.stringify(name ?? arn)}) ` +
              'are both set: give the table, or import one by name and stream ARN',
          ]
        : []),
      ...(table.tableStreamArn === undefined
        ? [
            `sourceTable ${table.node.path} has no stream: add stream: StreamViewType.NEW_AND_OLD_IMAGES`,
          ]
        : []),
    ]);
    const view = streamViewTypeOf(table);
    if (view !== undefined && view !== StreamViewType.NEW_AND_OLD_IMAGES) {
      fail(scope, [
        `sourceTable ${table.node.path} has stream view type ${view}: the migrations read the new ` +
          'and the old image (NEW_AND_OLD_IMAGES)',
      ]);
    }
    return { name: table.tableName, streamArn: table.tableStreamArn as string };
  }
  fail(scope, [
    ...(name === undefined
      ? ['no source table: give sourceTable, or sourceTableName and sourceTableStreamArn']
      : []),
    ...(name !== undefined && arn === undefined
      ? [
          `sourceTableName ${JSON.stringify(name)} needs sourceTableStreamArn ` +
            `(aws dynamodb describe-table --table-name ${name} --query Table.LatestStreamArn)`,
        ]
      : []),
  ]);
  return { name: name as string, streamArn: arn as string };
}

/** The stream view type of a table defined in this app (unknown for imported ones). */
function streamViewTypeOf(table: ITable): string | undefined {
  const cfn = table.node.defaultChild;
  if (!(cfn instanceof CfnTable)) return undefined;
  const spec = cfn.streamSpecification as CfnTable.StreamSpecificationProperty | undefined;
  return spec && !Token.isUnresolved(spec) ? spec.streamViewType : undefined;
}

function importTable(scope: Construct, id: string, source: Source): ITable {
  return Table.fromTableAttributes(scope, id, {
    tableName: source.name,
    tableStreamArn: source.streamArn,
  });
}

/** The preset's default migrations of the tables given (its search one only with `search`). */
function defaultMigrations(props: ContinuousBackfillProps): string[] {
  const pika = bundledPlanner();
  const namesOf = (table: string) =>
    pika
      .migrationsFor(table)
      .map((m) => m.name)
      .filter((m) => props.search !== undefined || pika.summaries.get(m)?.target !== 'search');
  const tags = props.tagTable || props.tagTableName ? namesOf('tag') : [];
  return [...namesOf('session'), ...tags];
}

/** Every other problem with the props, all reported at once. */
function check(
  scope: Construct,
  props: ContinuousBackfillProps,
  migrations: readonly string[],
): void {
  const problems: string[] = [];
  const both = (a: unknown, b: unknown) => a !== undefined && b !== undefined;
  if (both(props.userTable, props.userTableName)) {
    problems.push(
      `userTable and userTableName (${JSON.stringify(props.userTableName)}) are both set: give one`,
    );
  }
  if (props.userTable === undefined && props.userTableName === undefined) {
    problems.push('no user table: give userTable or userTableName (the chat-user table)');
  }
  if (both(props.tagTable, props.tagTableName)) {
    problems.push(
      `tagTable and tagTableName (${JSON.stringify(props.tagTableName)}) are both set: give one`,
    );
  }

  if (migrations.length === 0) problems.push('migrations is empty: nothing would be migrated');
  const pika = bundledPlanner();
  const unknown = migrations.filter((m) => !pika.allMigrations.includes(m));
  if (unknown.length) {
    problems.push(
      `migrations ${JSON.stringify(unknown)} are not registered (known: ${pika.allMigrations.join(', ')})`,
    );
  }
  const known = migrations.flatMap((m) => pika.summaries.get(m) ?? []);
  for (const { name: m, table, target } of known) {
    if (table === 'tag' && !props.tagTable && props.tagTableName === undefined) {
      problems.push(`migration ${m} needs the tag table: give tagTable or tagTableName`);
    }
    if (target === 'search' && !props.search) {
      problems.push(`migration ${m} updates OpenSearch documents: give search.endpoint`);
    }
  }
  if (known.length && !known.some((m) => m.table === 'session')) {
    problems.push(
      `migrations ${JSON.stringify(known.map((m) => m.name))} include no session-table migration: the stream consumer would have nothing to do`,
    );
  }
  if (props.search) problems.push(...searchAccessProblems(props.search));

  if (props.tagTable) {
    const view = streamViewTypeOf(props.tagTable);
    if (view !== undefined && view !== StreamViewType.NEW_AND_OLD_IMAGES) {
      problems.push(
        `tagTable ${props.tagTable.node.path} has stream view type ${view}: the migrations read the new ` +
          'and the old image (NEW_AND_OLD_IMAGES)',
      );
    }
  }
  if (both(props.tagTable?.tableStreamArn, props.tagTableStreamArn)) {
    problems.push('tagTable has a stream and tagTableStreamArn is set: give one');
  }
  const tagName = props.tagTable?.tableName ?? props.tagTableName;
  if (props.tagTableStreamArn !== undefined && tagName === undefined) {
    problems.push('tagTableStreamArn is set without tagTableName');
  } else if (props.tagTableStreamArn !== undefined && tagName !== undefined) {
    problems.push(
      ...streamArnProblems(scope, 'tagTableStreamArn', props.tagTableStreamArn, tagName),
    );
  }
  problems.push(...settingsProblems(props));
  fail(scope, problems);
}

/** The settings both paths share (functions, queues, alarms, state table), one message each. */
function settingsProblems(props: ContinuousBackfillProps): string[] {
  const problems: string[] = [];
  // The consumer's settings, checked as LiveMigration checks them (one message each).
  problems.push(...consumerSettingsProblems(props));
  const int = (setting: string, value: number | undefined, min: number, max: number, why = '') => {
    if (value === undefined || Token.isUnresolved(value)) return;
    if (!Number.isInteger(value) || value < min || value > max) {
      problems.push(`${setting} must be an integer from ${min} to ${max}${why}, got ${value}`);
    }
  };
  int('workerBatchSize', props.workerBatchSize, 1, 10);
  int('workerMaxConcurrency', props.workerMaxConcurrency, 2, 1_000, " (the SQS mapping's range)");
  int(
    'workerReservedConcurrentExecutions',
    props.workerReservedConcurrentExecutions,
    1,
    Number.MAX_SAFE_INTEGER,
    ' (0 would stop the worker; leave it unset for unreserved)',
  );
  const cap = props.workerMaxConcurrency ?? WORKER_CONCURRENCY.aws;
  const reserved = props.workerReservedConcurrentExecutions;
  if (reserved !== undefined && reserved >= 1 && reserved < cap) {
    problems.push(
      `workerReservedConcurrentExecutions ${reserved} is below workerMaxConcurrency ${cap}: ` +
        'the mapping would be throttled; reserve at least as much as the mapping may run',
    );
  }
  const seconds = (d: Duration | undefined) => (d === undefined ? undefined : d.toSeconds());
  const oldest = seconds(props.oldestWorkMessageAgeThreshold);
  if (oldest !== undefined && oldest < 60) {
    problems.push(`oldestWorkMessageAgeThreshold must be at least 60 seconds, got ${oldest} s`);
  }
  const idle = seconds(props.consumerIdlePeriod);
  if (idle !== undefined && (idle < 300 || idle > 86_400 || idle % 60 !== 0)) {
    problems.push(
      `consumerIdlePeriod must be whole minutes from 5 minutes to 1 day, got ${idle} s`,
    );
  }
  const name = props.stateTableName;
  if (name !== undefined && !Token.isUnresolved(name) && !/^[A-Za-z0-9_.-]{3,255}$/.test(name)) {
    problems.push(
      `stateTableName ${JSON.stringify(name)} is not a DynamoDB table name (3–255 of A-Z a-z 0-9 _ . -)`,
    );
  }
  return problems;
}
