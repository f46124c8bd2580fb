// Configuration from CDK context, the construct's optional props and its synth-time checks.
// These syntheses skip bundling (`aws:cdk:bundling-stacks: []`): the real bundle is covered
// once in live-migration.test.ts.
import { readFileSync } from 'node:fs';
import { App, Duration, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  LiveMigration,
  LiveMigrationPropsError,
  type LiveMigrationProps,
} from '../../lib/infra/constructs/live-migration.ts';
import {
  configFromContext,
  defaultStackName,
  envFromStreamArn,
  StreamfillConfigError,
} from '../../lib/infra/context-config.ts';
import { StreamfillStack } from '../../lib/infra/streamfill-stack.ts';
import { pikaDeclared } from '../support/pika-declared.ts';

const cdkJson = JSON.parse(readFileSync(new URL('../../cdk.json', import.meta.url), 'utf8')) as {
  context: Record<string, unknown>;
};
const NO_BUNDLING = { 'aws:cdk:bundling-stacks': [] };
const PROD_ARN =
  'arn:aws:dynamodb:eu-west-1:210987654321:table/chat-session-prod/stream/2026-03-04T05:06:07.089';
const PROD = {
  sessionTable: 'chat-session-prod',
  sessionStreamArn: PROD_ARN,
  userTable: 'chat-user-prod',
};
const DOMAIN_ARN = 'arn:aws:es:eu-west-1:210987654321:domain/chat-search';
const TOPIC_ARN = 'arn:aws:sns:eu-west-1:210987654321:oncall';

/** The context cdk.json gives, plus what `-c key=value` would add (always strings). */
const contextOf = (cli: Record<string, unknown> = {}) =>
  new App({ context: { ...cdkJson.context, ...NO_BUNDLING, ...cli } }).node;

function configError(cli: Record<string, unknown>): string {
  try {
    configFromContext(contextOf(cli));
  } catch (e) {
    expect(e).toBeInstanceOf(StreamfillConfigError);
    return (e as Error).message;
  }
  throw new Error('expected a configuration error');
}

describe('configuration from CDK context', () => {
  it('uses cdk.json’s demo tables when none is given', () => {
    expect(configFromContext(contextOf())).toEqual({
      sessionTable: 'chat-session-local',
      sessionStreamArn:
        'arn:aws:dynamodb:us-east-1:123456789012:table/chat-session-local/stream/2026-01-01T00:00:00.000',
      userTable: 'chat-user-local',
    });
  });

  it('takes the three tables from -c, and parses numbers and booleans given as strings', () => {
    const config = configFromContext(
      contextOf({
        ...PROD,
        batchSize: '250',
        retryAttempts: '3',
        maxRecordAgeHours: '48',
        tracing: 'true',
        searchEndpoint: 'https://search.example.com',
        searchDomainArn: DOMAIN_ARN,
        tagTable: '',
      }),
    );
    expect(config).toEqual({
      ...PROD,
      batchSize: 250,
      retryAttempts: 3,
      maxRecordAgeHours: 48,
      tracing: true,
      searchEndpoint: 'https://search.example.com',
      searchDomainArn: DOMAIN_ARN,
    });
  });

  it('refuses a half-given set of tables instead of mixing real and demo tables', () => {
    const message = configError({ sessionTable: 'chat-session-prod' });
    expect(message).toContain('go together');
    expect(message).toContain('missing: sessionStreamArn, userTable');
    expect(message).toContain('-c sessionStreamArn=');
  });

  it('says what is missing when there are no demo defaults either', () => {
    const node = new App({ context: { userTable: 'chat-user-prod' } }).node;
    expect(() => configFromContext(node)).toThrow(/missing: sessionTable, sessionStreamArn/);
    expect(() => configFromContext(new App().node)).toThrow(
      /missing required context: sessionTable, sessionStreamArn, userTable/,
    );
  });

  it('reports every bad value at once, and a likely misspelt key', () => {
    const message = configError({
      ...PROD,
      batchSize: 'lots',
      tracing: 'yes',
      searchDomainArn: DOMAIN_ARN,
      usertable: 'chat-user-prod',
    });
    expect(message).toContain('batchSize must be a non-negative number, got "lots"');
    expect(message).toContain('tracing must be true or false, got "yes"');
    expect(message).toContain('searchDomainArn is set but searchEndpoint is not');
    expect(message).toContain('unknown context usertable: did you mean userTable?');
  });

  it('derives the stack’s account, region and name', () => {
    expect(envFromStreamArn(PROD_ARN)).toEqual({ account: '210987654321', region: 'eu-west-1' });
    expect(() => envFromStreamArn('chat-session-prod')).toThrow(StreamfillConfigError);
    expect(defaultStackName('chat_session.prod')).toBe('streamfill-chat-session-prod');
  });
});

describe('a fully configured stack', () => {
  let template: Template;

  beforeAll(() => {
    const app = new App({ context: NO_BUNDLING });
    const config = configFromContext(
      new App({
        context: {
          ...PROD,
          tagTable: 'pika-tag-def-prod',
          searchEndpoint: 'https://vpc-chat-search.eu-west-1.es.amazonaws.com',
          searchDomainArn: DOMAIN_ARN,
          searchIndex: 'session-v2',
          alarmTopicArn: TOPIC_ARN,
          queueName: 'streamfill-work-prod',
          dlqName: 'streamfill-dlq-prod',
          dashboardName: 'streamfill-prod',
          batchSize: '500',
          maxBatchingWindowSeconds: '5',
          retryAttempts: '4',
          maxRecordAgeHours: '168',
          parallelizationFactor: '2',
          reservedConcurrency: '8',
          iteratorAgeThresholdSeconds: '300',
          writeConcurrency: '32',
          tracing: 'true',
          logLevel: 'DEBUG',
          workerBatchSize: '4',
          workerMaxConcurrency: '6',
          workerReservedConcurrency: '12',
          stateTableName: 'streamfill-state-prod',
          oldestWorkMessageAgeMinutes: '45',
          migrations: 'session-sort-key, session-user-type,session-search-keywords,tag-usage-mode',
        },
      }).node,
    );
    const stack = new StreamfillStack(app, 'streamfill-prod', { config });
    template = Template.fromStack(stack);
  });

  it('passes search, tag table and tuning to the handler', () => {
    template.hasResourceProperties('AWS::Lambda::Function', {
      ReservedConcurrentExecutions: 8,
      TracingConfig: { Mode: 'Active' },
      Environment: {
        Variables: Match.objectLike({
          STREAMFILL_TABLES: JSON.stringify({
            session: 'chat-session-prod',
            user: 'chat-user-prod',
            tag: 'pika-tag-def-prod',
          }),
          SEARCH_ENDPOINT: 'https://vpc-chat-search.eu-west-1.es.amazonaws.com',
          STREAMFILL_SEARCH_INDEX: 'session-v2',
          STREAMFILL_WRITE_CONCURRENCY: '32',
          POWERTOOLS_LOG_LEVEL: 'DEBUG',
        }),
      },
    });
  });

  it('tunes the event source mapping', () => {
    template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      EventSourceArn: PROD_ARN,
      StartingPosition: 'LATEST',
      BatchSize: 500,
      MaximumBatchingWindowInSeconds: 5,
      MaximumRetryAttempts: 4,
      MaximumRecordAgeInSeconds: 7 * 24 * 3600,
      ParallelizationFactor: 2,
      FunctionResponseTypes: ['ReportBatchItemFailures'],
      BisectBatchOnFunctionError: true,
    });
  });

  it('grants ESHttpGet/Head/Post/Put on the domain’s paths to both functions', () => {
    const policies = Object.values(template.findResources('AWS::IAM::Policy')).map(
      (p) =>
        (
          p as {
            Properties: { Roles: unknown; PolicyDocument: { Statement: { Action: unknown }[] } };
          }
        ).Properties,
    );
    const statements = policies.flatMap((p) => p.PolicyDocument.Statement);
    const es = statements.filter((s) => JSON.stringify(s.Action).includes('es:'));
    expect(es).toEqual(
      [1, 2].map(() => ({
        Sid: 'UpdateSearchDocuments',
        Effect: 'Allow',
        Action: ['es:ESHttpGet', 'es:ESHttpHead', 'es:ESHttpPost', 'es:ESHttpPut'],
        // The declared index only, not every index of the domain.
        Resource: [`${DOMAIN_ARN}/session-v2`, `${DOMAIN_ARN}/session-v2/*`],
      })),
    );
    // The tag table is migrated by the backfill worker only: the stream consumer never touches it.
    const consumer = policies.filter((p) => JSON.stringify(p.Roles).includes('StreamConsumer'));
    expect(consumer).toHaveLength(1);
    expect(JSON.stringify(consumer)).not.toContain('pika-tag-def-prod');
    expect(JSON.stringify(statements)).toContain('pika-tag-def-prod');
  });

  it('tunes the backfill worker, its mapping, the state table and the migrations', () => {
    template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      BatchSize: 4,
      ScalingConfig: { MaximumConcurrency: 6 },
    });
    template.hasResourceProperties('AWS::Lambda::Function', {
      ReservedConcurrentExecutions: 12,
      Environment: {
        Variables: Match.objectLike({
          POWERTOOLS_SERVICE_NAME: 'backfill-worker',
          STREAMFILL_MIGRATIONS:
            'session-sort-key,session-user-type,session-search-keywords,tag-usage-mode',
        }),
      },
    });
    template.hasResourceProperties('AWS::DynamoDB::Table', { TableName: 'streamfill-state-prod' });
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      MetricName: 'ApproximateAgeOfOldestMessage',
      Threshold: 45 * 60,
    });
  });

  it('names the queues and the dashboard', () => {
    template.hasResourceProperties('AWS::SQS::Queue', { QueueName: 'streamfill-dlq-prod' });
    template.hasResourceProperties('AWS::SQS::Queue', { QueueName: 'streamfill-work-prod' });
    template.hasResourceProperties('AWS::CloudWatch::Dashboard', {
      DashboardName: 'streamfill-prod',
    });
  });

  it('notifies the topic on alarm and on recovery, with the custom lag threshold', () => {
    const alarms = Object.values(template.findResources('AWS::CloudWatch::Alarm')).map(
      (a) => (a as { Properties: Record<string, unknown> }).Properties,
    );
    expect(alarms).toHaveLength(12);
    for (const alarm of alarms) {
      expect(alarm.AlarmActions).toEqual([TOPIC_ARN]);
      expect(alarm.OKActions).toEqual([TOPIC_ARN]);
    }
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      MetricName: 'IteratorAge',
      Threshold: 300_000,
    });
  });
});

describe('synth-time checks of the construct', () => {
  const declared = (session = 'chat-session-prod', streamArn = PROD_ARN) =>
    pikaDeclared(
      { tableName: session, tableStreamArn: streamArn },
      { tableName: 'chat-user-prod' },
    );
  const base: LiveMigrationProps = { declared: declared() };
  const build = (props: Partial<LiveMigrationProps>, region = 'eu-west-1') => {
    const app = new App({ context: NO_BUNDLING });
    const stack = new Stack(app, 'S', { env: { account: '210987654321', region } });
    return () => new LiveMigration(stack, 'Live', { ...base, ...props });
  };

  it('accepts the base props', () => {
    expect(build({})).not.toThrow();
  });

  it.each<[string, Partial<LiveMigrationProps>, RegExp]>([
    [
      'a stream of another table',
      { declared: declared('chat-session-dev') },
      /tables\.session\.tableStreamArn .*belongs to table/,
    ],
    [
      'a table ARN instead of a stream ARN',
      { declared: declared('chat-session-prod', PROD_ARN.split('/stream')[0]) },
      /not a DynamoDB stream ARN/,
    ],
    ['a bad domain ARN', { searchDomainArn: 'chat-search' }, /not a domain ARN/],
    ['records older than 7 days', { maxRecordAge: Duration.days(8) }, /7 days/],
    ['a parallelization factor above 10', { parallelizationFactor: 11 }, /1 to 10/],
    ['a fractional batch size', { batchSize: 2.5 }, /batchSize/],
    ['no concurrent writes', { writeConcurrency: 0 }, /writeConcurrency/],
    [
      'item 9: reservedConcurrentExecutions = 0',
      { reservedConcurrentExecutions: 0 },
      /reservedConcurrentExecutions must be an integer from 1 to \d+ \(0 would stop the consumer/,
    ],
    [
      'item 9: an Amazon OpenSearch endpoint without the domain ARN',
      { searchEndpoint: 'https://search-chat-abc.eu-west-1.es.amazonaws.com' },
      /set searchDomainArn/,
    ],
    [
      'an OpenSearch Serverless endpoint without the collection ARN',
      { searchEndpoint: 'https://abc123.eu-west-1.aoss.amazonaws.com' },
      /set searchCollectionArn/,
    ],
    [
      'plain http to a remote search endpoint',
      { searchEndpoint: 'http://search.internal:9200' },
      /plain http to search.internal/,
    ],
  ])('refuses %s', (_name, props, message) => {
    expect(build(props)).toThrow(LiveMigrationPropsError);
    expect(build(props)).toThrow(message);
  });

  it('item 9: grants aoss:APIAccessAll on the given OpenSearch Serverless collection only', () => {
    const app = new App({ context: NO_BUNDLING });
    const stack = new Stack(app, 'S', { env: { account: '210987654321', region: 'eu-west-1' } });
    new LiveMigration(stack, 'Live', {
      ...base,
      searchEndpoint: 'https://abc123.eu-west-1.aoss.amazonaws.com',
      searchCollectionArn: 'arn:aws:aoss:eu-west-1:210987654321:collection/abc123',
    });
    const policies = JSON.stringify(Template.fromStack(stack).findResources('AWS::IAM::Policy'));
    expect(policies).toContain('aoss:APIAccessAll');
    expect(policies).toContain('"arn:aws:aoss:eu-west-1:210987654321:collection/abc123"');
    expect(policies).not.toContain('collection/*');
  });

  it('item 9 / 10: an alarm for a search index not ready; the work-queue URL, SendMessage and DescribeTable for the consumer', () => {
    const app = new App({ context: NO_BUNDLING });
    const stack = new Stack(app, 'S', { env: { account: '210987654321', region: 'eu-west-1' } });
    new LiveMigration(stack, 'Live', base);
    const t = Template.fromStack(stack);
    // The consumer's not-invoked (write-aware) and throttle alarms are BackfillAlarms',
    // asserted in continuous-backfill.test.ts.
    t.hasResourceProperties('AWS::CloudWatch::Alarm', { MetricName: 'SearchMappingNotReady' });
    t.hasResourceProperties('AWS::Lambda::Function', {
      Environment: { Variables: Match.objectLike({ STREAMFILL_QUEUE_URL: Match.anyValue() }) },
    });
    const policies = JSON.stringify(t.findResources('AWS::IAM::Policy'));
    expect(policies).toContain('dynamodb:DescribeTable');
    const sends = (policies.match(/sqs:SendMessage/g) ?? []).length;
    expect(sends).toBeGreaterThanOrEqual(2); // DLQ and work queue
  });

  it('refuses a stack in another region than the stream', () => {
    expect(build({}, 'us-east-1')).toThrow(/stream is in eu-west-1, the stack in us-east-1/);
  });
});
