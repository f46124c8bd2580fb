// The historic path's Lambda side: the backfill worker (handlers/backfill-worker.ts) reading
// the work queue through an SQS event source mapping with partial batch responses and a
// concurrency cap, with only the grants its messages need (item writes, distributed scan
// pages, lookups, run state, continuation tasks, parked items).
import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import type { ITable } from 'aws-cdk-lib/aws-dynamodb';
import { PolicyStatement } from 'aws-cdk-lib/aws-iam';
import { MetricType, Tracing } from 'aws-cdk-lib/aws-lambda';
import { SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import { NodejsFunction } from 'aws-cdk-lib/aws-lambda-nodejs';
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import type { IQueue } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { FUNCTION_MEMORY_MB, FUNCTION_TIMEOUT_SECONDS } from '../../config/defaults.ts';
import { handlerEntry, handlerFunctionProps, handlerRole } from './handler-function.ts';
import { grantCopies, STATE_ACTIONS_WITH_COPIES, type IndexLookupGrant } from './copy-grants.ts';
import { grantTableKey } from './table-key.ts';

export const BACKFILL_WORKER_ENTRY = handlerEntry('backfill-worker.ts');

export interface BackfillWorkerFunctionProps {
  /** The config's tables, by what the enabled migrations do with them (ContinuousBackfill derives it). */
  readonly declared: {
    /** Scanned (and read back): the tables the enabled migrations migrate. */
    readonly migrated: readonly ITable[];
    /** Updated (conditional UpdateItem): the tables an enabled item migration writes. */
    readonly written: readonly ITable[];
    /** Read with BatchGetItem by the enabled migrations' lookups. */
    readonly lookedUp: readonly ITable[];
    /** Read by an enabled copy (its transaction's ConditionCheck). @default - none */
    readonly copySources?: readonly ITable[];
    /** Written by an enabled copy (Put/Delete in its transaction). @default - none */
    readonly copyTargets?: readonly ITable[];
    /** The indices the enabled lookups query. @default - none */
    readonly indexLookups?: readonly IndexLookupGrant[];
    /** The generated entry registering the config, then re-exporting the worker. */
    readonly entry: string;
  };
  /** Run record, segment checkpoints, heartbeats; with copies, their ledger and dependencies. */
  readonly stateTable: ITable;
  readonly workQueue: IQueue;
  readonly dlq: IQueue;
  /** The variables lib/config/lambda-env.ts reads. */
  readonly environment: Record<string, string>;
  /** Messages per invocation (1–10). */
  readonly batchSize: number;
  /** Concurrent invocations the mapping may run (2–1000). */
  readonly maxConcurrency: number;
  /** @default - unreserved */
  readonly reservedConcurrentExecutions?: number;
  /** @default false */
  readonly tracing?: boolean;
  /** @default RetentionDays.ONE_MONTH */
  readonly logRetention?: RetentionDays;
  /** What happens to the log group when the stack is deleted. @default RemovalPolicy.RETAIN */
  readonly logRemovalPolicy?: RemovalPolicy;
  /** @default 512 (FUNCTION_MEMORY_MB) */
  readonly memorySize?: number;
  /** Keep the work queue's visibility timeout at six times this. @default Duration.seconds(60) */
  readonly timeout?: Duration;
  /** Whether the work-queue mapping reads (`false` pauses the worker by a deployment). @default true */
  readonly enabled?: boolean;
  /** Extra statements (e.g. OpenSearch access). @default - none */
  readonly extraStatements?: readonly PolicyStatement[];
}

/**
 * The backfill worker function and its work-queue mapping.
 *
 * @example
 * new BackfillWorkerFunction(this, 'Worker', { declared, stateTable, workQueue, dlq,
 *   environment, batchSize: 10, maxConcurrency: 10 });
 */
export class BackfillWorkerFunction extends Construct {
  readonly fn: NodejsFunction;
  readonly eventSource: SqsEventSource;

  constructor(scope: Construct, id: string, props: BackfillWorkerFunctionProps) {
    super(scope, id);
    const logGroup = new LogGroup(this, 'Logs', {
      retention: props.logRetention ?? RetentionDays.ONE_MONTH,
      removalPolicy: props.logRemovalPolicy ?? RemovalPolicy.RETAIN,
    });
    this.fn = new NodejsFunction(this, 'Function', {
      description: 'streamfill: migrates the historic items the backfill enqueued',
      ...handlerFunctionProps('backfill-worker.ts', props.declared.entry),
      memorySize: props.memorySize ?? FUNCTION_MEMORY_MB,
      timeout: props.timeout ?? Duration.seconds(FUNCTION_TIMEOUT_SECONDS),
      logGroup,
      role: handlerRole(this, 'Role', logGroup),
      ...(props.reservedConcurrentExecutions !== undefined && {
        reservedConcurrentExecutions: props.reservedConcurrentExecutions,
      }),
      ...(props.tracing && { tracing: Tracing.ACTIVE }),
      environment: { ...props.environment, NODE_OPTIONS: '--enable-source-maps' },
    });

    // Conditional UpdateItem of derived attributes; GetItem to tell a conflict from an
    // already-applied change; Scan for one page of a segment (`backfill --distributed`).
    this.grantDeclared(props.declared);
    // DeleteItem only with copies (a gone source's ledger entry): migrations never delete.
    const copies = (props.declared.copySources ?? []).length > 0;
    this.fn.addToRolePolicy(
      new PolicyStatement({
        sid: 'BackfillState',
        actions: copies
          ? [...STATE_ACTIONS_WITH_COPIES]
          : [
              'dynamodb:GetItem',
              'dynamodb:PutItem',
              'dynamodb:UpdateItem',
              'dynamodb:Query',
              'dynamodb:ConditionCheckItem',
            ],
        resources: [props.stateTable.tableArn],
      }),
    );
    // Continuation tasks and delayed search repairs go back to the work queue; malformed items
    // are parked in the DLQ by the handler itself.
    props.workQueue.grantSendMessages(this.fn);
    props.dlq.grantSendMessages(this.fn);
    for (const s of props.extraStatements ?? []) this.fn.addToRolePolicy(s);

    this.eventSource = new SqsEventSource(props.workQueue, {
      batchSize: props.batchSize,
      reportBatchItemFailures: true,
      maxConcurrency: props.maxConcurrency,
      enabled: props.enabled ?? true,
      metricsConfig: { metrics: [MetricType.EVENT_COUNT] },
    });
    this.fn.addEventSource(this.eventSource);
  }

  /**
   * Scan (and read back) the migrated tables, update only the written ones, look up the rest;
   * the copies' sources and targets, and the queried indices (copy-grants.ts).
   */
  private grantDeclared(d: BackfillWorkerFunctionProps['declared']): void {
    this.fn.addToRolePolicy(
      new PolicyStatement({
        sid: 'ScanMigratedTables',
        actions: ['dynamodb:Scan', 'dynamodb:GetItem'],
        resources: d.migrated.map((t) => t.tableArn),
      }),
    );
    if (d.written.length)
      this.fn.addToRolePolicy(
        new PolicyStatement({
          sid: 'MigrateItems',
          actions: ['dynamodb:UpdateItem'],
          resources: d.written.map((t) => t.tableArn),
        }),
      );
    if (d.lookedUp.length)
      this.fn.addToRolePolicy(
        new PolicyStatement({
          sid: 'LookUpItems',
          actions: ['dynamodb:BatchGetItem'],
          resources: d.lookedUp.map((t) => t.tableArn),
        }),
      );
    for (const t of new Set([...d.migrated, ...d.lookedUp]))
      grantTableKey(t, this.fn, d.written.includes(t) ? 'readWrite' : 'read');
    grantCopies(this.fn, {
      sources: d.copySources ?? [],
      targets: d.copyTargets ?? [],
      indexLookups: d.indexLookups ?? [],
    });
  }
}
