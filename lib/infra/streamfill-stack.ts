// The deployable unit in attach mode: a ContinuousBackfill for one application stack's existing
// tables, configured from CDK context (`cdk deploy -c sessionTable=… -c sessionStreamArn=…
// -c userTable=…`, read by ./context-config.ts). The tables are imported, never created here.
import { Duration, Stack, type StackProps } from 'aws-cdk-lib';
import { Key } from 'aws-cdk-lib/aws-kms';
import { Topic } from 'aws-cdk-lib/aws-sns';
import type { Construct } from 'constructs';
import { addPikaTableOutputs, pikaBackfillProps } from '../presets/pika-cdk.ts';
import {
  ContinuousBackfill,
  type ContinuousBackfillProps,
} from './constructs/continuous-backfill.ts';
import { envFromStreamArn, type StreamfillConfig } from './context-config.ts';

export interface StreamfillStackProps extends StackProps {
  config: StreamfillConfig;
}

/** The construct's tuning and search props from a configuration (both stacks use it). */
export function tuningFromConfig(
  scope: Construct,
  config: StreamfillConfig,
): Omit<ContinuousBackfillProps, 'config' | 'tables' | 'oneShot'> {
  const seconds = (v: number | undefined) => (v === undefined ? undefined : Duration.seconds(v));
  return {
    ...(config.searchEndpoint && {
      search: {
        endpoint: config.searchEndpoint,
        ...(config.searchIndex && { index: config.searchIndex }),
        ...(config.searchDomainArn && { domainArn: config.searchDomainArn }),
        ...(config.searchCollectionArn && { collectionArn: config.searchCollectionArn }),
      },
    }),
    ...(config.migrations && {
      // Validated by the construct against the config.
      migrations: config.migrations.split(',').map((m) => m.trim()),
    }),
    stateTableName: config.stateTableName,
    queueName: config.queueName,
    dlqName: config.dlqName,
    dashboardName: config.dashboardName,
    writeConcurrency: config.writeConcurrency,
    batchSize: config.batchSize,
    maxBatchingWindow: seconds(config.maxBatchingWindowSeconds),
    retryAttempts: config.retryAttempts,
    maxRecordAge:
      config.maxRecordAgeHours === undefined ? undefined : Duration.hours(config.maxRecordAgeHours),
    parallelizationFactor: config.parallelizationFactor,
    reservedConcurrentExecutions: config.reservedConcurrency,
    workerBatchSize: config.workerBatchSize,
    workerMaxConcurrency: config.workerMaxConcurrency,
    workerReservedConcurrentExecutions: config.workerReservedConcurrency,
    tracing: config.tracing,
    logLevel: config.logLevel,
    iteratorAgeThreshold: seconds(config.iteratorAgeThresholdSeconds),
    oldestWorkMessageAgeThreshold:
      config.oldestWorkMessageAgeMinutes === undefined
        ? undefined
        : Duration.minutes(config.oldestWorkMessageAgeMinutes),
    memorySize: config.memorySize,
    timeout: seconds(config.timeoutSeconds),
    consumerEnabled: config.consumerEnabled,
    workerEnabled: config.workerEnabled,
    queueEncryptionKey: config.queueKmsKeyArn
      ? Key.fromKeyArn(scope, 'QueueKey', config.queueKmsKeyArn)
      : undefined,
    alarmTopic: config.alarmTopicArn
      ? Topic.fromTopicArn(scope, 'AlarmTopic', config.alarmTopicArn)
      : undefined,
  };
}

/**
 * A ContinuousBackfill attached to existing tables, in the account and region of the session
 * table's stream.
 *
 * @example
 * const config = configFromContext(app.node);
 * new StreamfillStack(app, defaultStackName(config.sessionTable), { config });
 */
export class StreamfillStack extends Stack {
  readonly backfill: ContinuousBackfill;

  constructor(scope: Construct, id: string, props: StreamfillStackProps) {
    const { config, ...stackProps } = props;
    super(scope, id, {
      description: `streamfill continuous backfill of ${config.sessionTable}`,
      env: envFromStreamArn(config.sessionStreamArn),
      ...stackProps,
    });
    // The Pika preset on the tables named in context (the tag table, without a stream, one-shot).
    this.backfill = new ContinuousBackfill(
      this,
      'Backfill',
      pikaBackfillProps({
        sessionTableName: config.sessionTable,
        sessionTableStreamArn: config.sessionStreamArn,
        userTableName: config.userTable,
        ...(config.tagTable && { tagTableName: config.tagTable }),
        ...tuningFromConfig(this, config),
      }),
    );
    addPikaTableOutputs(this.backfill);
  }
}
