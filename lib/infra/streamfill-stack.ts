// The deployable unit: one live migration for one application stack's tables, configured
// from CDK context (`cdk deploy -c sessionTable=… -c sessionStreamArn=… -c userTable=…`).
import { CfnOutput, Duration, Stack, type StackProps } from 'aws-cdk-lib';
import { Topic } from 'aws-cdk-lib/aws-sns';
import type { Construct, Node } from 'constructs';
import { LiveMigration } from './constructs/live-migration.ts';

export interface StreamfillConfig {
  sessionTable: string;
  sessionStreamArn: string;
  userTable: string;
  tagTable?: string;
  searchEndpoint?: string;
  searchIndex?: string;
  searchDomainArn?: string;
  alarmTopicArn?: string;
  queueName?: string;
  dlqName?: string;
  dashboardName?: string;
  batchSize?: number;
  maxBatchingWindowSeconds?: number;
  retryAttempts?: number;
  maxRecordAgeHours?: number;
  parallelizationFactor?: number;
  reservedConcurrency?: number;
  iteratorAgeThresholdSeconds?: number;
  writeConcurrency?: number;
  tracing?: boolean;
  logLevel?: string;
  stackName?: string;
}

/** A configuration problem: the app prints its message alone, without a stack trace. */
export class StreamfillConfigError extends Error {
  override name = 'StreamfillConfigError';
}

const REQUIRED = ['sessionTable', 'sessionStreamArn', 'userTable'] as const;
const STRINGS = [
  'tagTable',
  'searchEndpoint',
  'searchIndex',
  'searchDomainArn',
  'alarmTopicArn',
  'queueName',
  'dlqName',
  'dashboardName',
  'logLevel',
  'stackName',
] as const;
const NUMBERS = [
  'batchSize',
  'maxBatchingWindowSeconds',
  'retryAttempts',
  'maxRecordAgeHours',
  'parallelizationFactor',
  'reservedConcurrency',
  'iteratorAgeThresholdSeconds',
  'writeConcurrency',
] as const;
const BOOLEANS = ['tracing'] as const;
const KNOWN: readonly string[] = [...REQUIRED, ...STRINGS, ...NUMBERS, ...BOOLEANS];

/** cdk.json's demo tables: used only when none of the three required values is given. */
export const DEMO_DEFAULTS_KEY = 'demoDefaults';

const USAGE =
  'npx cdk deploy -c sessionTable=chat-session-prod ' +
  '-c sessionStreamArn=arn:aws:dynamodb:<region>:<account>:table/chat-session-prod/stream/<label> ' +
  '-c userTable=chat-user-prod ' +
  "(the stream ARN: aws dynamodb describe-table --table-name <table> --query 'Table.LatestStreamArn')";

/**
 * Reads the configuration from CDK context (`-c key=value`, or cdk.json's `context`). Values
 * given on the command line are strings; an empty string counts as unset. The three tables
 * come together: either all of sessionTable, sessionStreamArn and userTable are given, or
 * none is and cdk.json's demo defaults apply (a half-given set would silently mix a real
 * table with a demo one). Every problem is reported at once, before anything is synthesized.
 */
export function configFromContext(node: Node): StreamfillConfig {
  const problems: string[] = [];
  const text = (key: string, from: (k: string) => unknown = (k) => node.tryGetContext(k)) => {
    const v = from(key);
    if (v === undefined || v === null || v === '') return undefined;
    if (typeof v !== 'string') {
      problems.push(`context ${key} must be a string, got ${JSON.stringify(v)}`);
      return undefined;
    }
    return v.trim() || undefined;
  };
  const config: Record<string, unknown> = {};
  const given = REQUIRED.filter((key) => (config[key] = text(key)) !== undefined);
  if (given.length === 0) {
    const demo: unknown = node.tryGetContext(DEMO_DEFAULTS_KEY);
    const fromDemo = (k: string): unknown =>
      demo && typeof demo === 'object' ? (demo as Record<string, unknown>)[k] : undefined;
    for (const key of REQUIRED) config[key] = text(key, fromDemo);
  }
  const missing = REQUIRED.filter((key) => config[key] === undefined);
  if (missing.length) {
    problems.push(
      (given.length
        ? `sessionTable, sessionStreamArn and userTable go together (the demo defaults in ` +
          `cdk.json apply only when none is given); missing: ${missing.join(', ')}. `
        : `missing required context: ${missing.join(', ')}. `) + `Pass each with -c, e.g. ${USAGE}`,
    );
  }
  for (const key of STRINGS) config[key] = text(key);
  for (const key of NUMBERS) {
    const v: unknown = node.tryGetContext(key);
    if (v === undefined || v === null || v === '') continue;
    const n = typeof v === 'number' ? v : typeof v === 'string' ? Number(v.trim()) : NaN;
    if (!Number.isFinite(n) || n < 0) {
      problems.push(`context ${key} must be a non-negative number, got ${JSON.stringify(v)}`);
    } else config[key] = n;
  }
  for (const key of BOOLEANS) {
    const v: unknown = node.tryGetContext(key);
    if (v === undefined || v === null || v === '') continue;
    if (v === true || v === 'true') config[key] = true;
    else if (v === false || v === 'false') config[key] = false;
    else problems.push(`context ${key} must be true or false, got ${JSON.stringify(v)}`);
  }
  // A misspelt key would silently fall back to a default: catch the likely case slips.
  for (const key of Object.keys(node.getAllContext() as Record<string, unknown>)) {
    const meant = KNOWN.find((k) => k !== key && k.toLowerCase() === key.toLowerCase());
    if (meant) problems.push(`unknown context ${key}: did you mean ${meant}?`);
  }
  if (config.searchDomainArn !== undefined && config.searchEndpoint === undefined) {
    problems.push('searchDomainArn is set but searchEndpoint is not: nothing would use the grant');
  }
  if (problems.length) {
    throw new StreamfillConfigError(`streamfill configuration:\n  - ${problems.join('\n  - ')}`);
  }
  return Object.fromEntries(
    Object.entries(config).filter(([, v]) => v !== undefined),
  ) as unknown as StreamfillConfig;
}

/** The account and region the stack must live in: those of the table's stream. */
export function envFromStreamArn(arn: string): { account: string; region: string } {
  const [, , service, region, account] = arn.split(':');
  if (service !== 'dynamodb' || !region || !account || !/^\d{12}$/.test(account)) {
    throw new StreamfillConfigError(
      `streamfill configuration: sessionStreamArn ${JSON.stringify(arn)} is not a DynamoDB ` +
        'stream ARN (arn:aws:dynamodb:<region>:<account>:table/<name>/stream/<label>)',
    );
  }
  return { account, region };
}

/** `streamfill-<session table>`, reduced to what CloudFormation accepts in a stack name. */
export function defaultStackName(sessionTable: string): string {
  return `streamfill-${sessionTable}`.replace(/[^A-Za-z0-9-]/g, '-').slice(0, 128);
}

export interface StreamfillStackProps extends StackProps {
  config: StreamfillConfig;
}

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
      description: 'STREAMFILL_DLQ for the streamfill CLI',
      value: live.dlq.queueName,
    });
    new CfnOutput(this, 'WorkQueueUrl', {
      description: 'Backfill work queue',
      value: live.workQueue.queueUrl,
    });
    new CfnOutput(this, 'WorkQueueName', {
      description: 'STREAMFILL_QUEUE for the streamfill CLI',
      value: live.workQueue.queueName,
    });
    new CfnOutput(this, 'DashboardName', {
      description: 'CloudWatch dashboard of the live migration',
      value: live.alarms.dashboard.dashboardName,
    });
  }
}
