// The deployable unit: one live migration for one application stack's tables, configured
// from CDK context (`cdk deploy -c sessionTable=… -c sessionStreamArn=… -c userTable=…`,
// read by ./context-config.ts).
import { CfnOutput, Duration, Stack, type StackProps } from 'aws-cdk-lib';
import { Topic } from 'aws-cdk-lib/aws-sns';
import type { Construct } from 'constructs';
import { ENV } from '../config/defaults.ts';
import { LiveMigration } from './constructs/live-migration.ts';
import { envFromStreamArn, type StreamfillConfig } from './context-config.ts';

export interface StreamfillStackProps extends StackProps {
  config: StreamfillConfig;
}

/**
 * One live migration, configured from a StreamfillConfig (see configFromContext), in the
 * account and region of the session table's stream.
 *
 * @example
 * const config = configFromContext(app.node);
 * new StreamfillStack(app, defaultStackName(config.sessionTable), { config });
 */
export class StreamfillStack extends Stack {
  readonly liveMigration: LiveMigration;

  constructor(scope: Construct, id: string, props: StreamfillStackProps) {
    const { config, ...stackProps } = props;
    super(scope, id, {
      description: `streamfill live migration of ${config.sessionTable}`,
      env: envFromStreamArn(config.sessionStreamArn),
      ...stackProps,
    });
    const seconds = (v: number | undefined): Duration | undefined =>
      v === undefined ? undefined : Duration.seconds(v);

    const live = new LiveMigration(this, 'LiveMigration', {
      sessionTableName: config.sessionTable,
      sessionTableStreamArn: config.sessionStreamArn,
      userTableName: config.userTable,
      tagTableName: config.tagTable,
      searchEndpoint: config.searchEndpoint,
      searchIndex: config.searchIndex,
      searchDomainArn: config.searchDomainArn,
      writeConcurrency: config.writeConcurrency,
      batchSize: config.batchSize,
      maxBatchingWindow: seconds(config.maxBatchingWindowSeconds),
      retryAttempts: config.retryAttempts,
      maxRecordAge:
        config.maxRecordAgeHours === undefined
          ? undefined
          : Duration.hours(config.maxRecordAgeHours),
      parallelizationFactor: config.parallelizationFactor,
      reservedConcurrentExecutions: config.reservedConcurrency,
      tracing: config.tracing,
      logLevel: config.logLevel,
      queueName: config.queueName,
      dlqName: config.dlqName,
      iteratorAgeThreshold: seconds(config.iteratorAgeThresholdSeconds),
      alarmTopic: config.alarmTopicArn
        ? Topic.fromTopicArn(this, 'AlarmTopic', config.alarmTopicArn)
        : undefined,
      dashboardName: config.dashboardName,
    });
    this.liveMigration = live;

    new CfnOutput(this, 'FunctionName', {
      description: 'The stream consumer Lambda function',
      value: live.fn.functionName,
    });
    new CfnOutput(this, 'EventSourceMappingId', {
      description: 'aws lambda get-event-source-mapping --uuid <id>: State must be Enabled',
      value: live.eventSource.eventSourceMappingId,
    });
    new CfnOutput(this, 'DeadLetterQueueUrl', {
      description: 'Failed and malformed records, with their reason',
      value: live.dlq.queueUrl,
    });
    new CfnOutput(this, 'DeadLetterQueueName', {
      description: `${ENV.dlqName} for the streamfill CLI`,
      value: live.dlq.queueName,
    });
    new CfnOutput(this, 'WorkQueueUrl', {
      description: 'Backfill work queue',
      value: live.workQueue.queueUrl,
    });
    new CfnOutput(this, 'WorkQueueName', {
      description: `${ENV.queueName} for the streamfill CLI`,
      value: live.workQueue.queueName,
    });
    new CfnOutput(this, 'DashboardName', {
      description: 'CloudWatch dashboard of the live migration',
      value: live.alarms.dashboard.dashboardName,
    });
  }
}
