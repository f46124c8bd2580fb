// ContinuousBackfill's synthesized shape with the Pika preset (pikaBackfillProps): every
// default, every override, every synth-time refusal, least privilege and the CLI's outputs. Syntheses skip bundling
// (`aws:cdk:bundling-stacks: []`); the real bundles are run in bundles.test.ts.
import { App, Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import { AttributeType, StreamViewType, Table } from 'aws-cdk-lib/aws-dynamodb';
import { Topic } from 'aws-cdk-lib/aws-sns';
import { describe, expect, it } from 'vitest';
import {
  FUNCTION_TIMEOUT_SECONDS,
  STACK_OUTPUTS,
  WORK_QUEUE_VISIBILITY_SECONDS,
} from '../../lib/config/defaults.ts';
import {
  ContinuousBackfill,
  ContinuousBackfillPropsError,
  type ContinuousBackfillProps,
} from '../../lib/infra/constructs/continuous-backfill.ts';
import {
  addPikaTableOutputs,
  pikaBackfillProps,
  type PikaBackfillProps,
} from '../../lib/presets/pika-cdk.ts';

const NO_BUNDLING = { 'aws:cdk:bundling-stacks': [] };
const ENV = { account: '123456789012', region: 'eu-west-1' };
const STREAM_ARN =
  'arn:aws:dynamodb:eu-west-1:123456789012:table/chat-session-prod/stream/2026-03-04T05:06:07.089';
const IMPORTED: PikaBackfillProps = {
  sessionTableName: 'chat-session-prod',
  sessionTableStreamArn: STREAM_ARN,
  userTableName: 'chat-user-prod',
};
const DOMAIN_ARN = 'arn:aws:es:eu-west-1:123456789012:domain/chat-search';
const DOMAIN_URL = 'https://search-chat-search-abc.eu-west-1.es.amazonaws.com';
const COLLECTION_ARN = 'arn:aws:aoss:eu-west-1:123456789012:collection/abc123def';
const COLLECTION_URL = 'https://abc123def.eu-west-1.aoss.amazonaws.com';

interface Statement {
  Sid?: string;
  Effect: string;
  Action: string | string[];
  Resource: unknown;
}
type Resource = { Properties: Record<string, unknown>; DeletionPolicy?: string };

/** The Pika stack: the preset's props, and its table outputs when the construct exports. */
function synth(props: PikaBackfillProps | ((stack: Stack) => PikaBackfillProps) = IMPORTED) {
  const app = new App({ context: NO_BUNDLING });
  const stack = new Stack(app, 'Test', { env: ENV });
  const given = typeof props === 'function' ? props(stack) : props;
  const construct = new ContinuousBackfill(stack, 'Backfill', pikaBackfillProps(given));
  if (given.exportOutputs ?? true) addPikaTableOutputs(construct);
  return { stack, construct, template: Template.fromStack(stack) };
}

function refusal(props: PikaBackfillProps | ((stack: Stack) => PikaBackfillProps)) {
  try {
    synth(props);
  } catch (e) {
    expect(e).toBeInstanceOf(ContinuousBackfillPropsError);
    return (e as Error).message;
  }
  throw new Error('expected a ContinuousBackfillPropsError');
}

const only = (template: Template, type: string, hint: string): [string, Resource] => {
  const found = Object.entries(template.findResources(type)).filter(([id]) => id.includes(hint));
  expect(found, `${type} ${hint}`).toHaveLength(1);
  return found[0] as [string, Resource];
};
const consumerOf = (t: Template) => only(t, 'AWS::Lambda::Function', 'StreamConsumer');
const workerOf = (t: Template) => only(t, 'AWS::Lambda::Function', 'WorkerFunction');
const envOf = (fn: [string, Resource]) =>
  (fn[1].Properties.Environment as { Variables: Record<string, unknown> }).Variables;
const actionsOf = (s: Statement): string[] => [s.Action].flat();
const resourcesOf = (s: Statement): unknown[] => [s.Resource].flat();

/** The statements of the policy attached to `roleHint`'s role. */
function statementsOf(t: Template, roleHint: string): Statement[] {
  const [roleId] = only(t, 'AWS::IAM::Role', roleHint);
  return Object.values(t.findResources('AWS::IAM::Policy'))
    .filter((p) => JSON.stringify((p as Resource).Properties.Roles).includes(roleId))
    .flatMap(
      (p) => ((p as Resource).Properties.PolicyDocument as { Statement: Statement[] }).Statement,
    );
}
const allStatements = (t: Template): Statement[] =>
  Object.values(t.findResources('AWS::IAM::Policy')).flatMap(
    (p) => ((p as Resource).Properties.PolicyDocument as { Statement: Statement[] }).Statement,
  );

/** `{Fn::Join: ['', ['arn:', {Ref: 'AWS::Partition'}, …]]}` → readable text. */
function text(value: unknown): string {
  if (typeof value === 'string') return value;
  const v = value as Record<string, unknown>;
  if (v.Ref) return `{${String(v.Ref)}}`;
  if (v['Fn::GetAtt']) return `{${(v['Fn::GetAtt'] as string[]).join('.')}}`;
  if (v['Fn::Join']) {
    const [sep, parts] = v['Fn::Join'] as [string, unknown[]];
    return parts.map(text).join(sep);
  }
  return JSON.stringify(value);
}
const TABLE = (name: string) =>
  `arn:{AWS::Partition}:dynamodb:eu-west-1:123456789012:table/${name}`;

describe('defaults (imported tables)', () => {
  const { template: t, construct } = synth();

  it('two functions on Node.js 22, arm64, 512 MB, 60 s, each with its own log group and role', () => {
    t.resourceCountIs('AWS::Lambda::Function', 2);
    for (const [, fn] of [consumerOf(t), workerOf(t)]) {
      expect(fn.Properties).toMatchObject({
        Runtime: 'nodejs22.x',
        Architectures: ['arm64'],
        MemorySize: 512,
        Timeout: FUNCTION_TIMEOUT_SECONDS,
        Handler: 'index.handler',
      });
      expect(fn.Properties.ReservedConcurrentExecutions).toBeUndefined();
      expect(fn.Properties.TracingConfig).toBeUndefined();
    }
    t.resourceCountIs('AWS::Logs::LogGroup', 2);
    t.allResourcesProperties('AWS::Logs::LogGroup', { RetentionInDays: 30 });
    // No managed policy (AWSLambdaBasicExecutionRole allows every log group).
    for (const role of Object.values(t.findResources('AWS::IAM::Role'))) {
      expect((role as Resource).Properties.ManagedPolicyArns).toBeUndefined();
    }
  });

  it('the stream mapping: LATEST, partial batch responses, bisect, 10 retries, 24 h, DLQ, EventCount', () => {
    t.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      EventSourceArn: STREAM_ARN,
      FunctionName: { Ref: consumerOf(t)[0] },
      StartingPosition: 'LATEST',
      BatchSize: 100,
      FunctionResponseTypes: ['ReportBatchItemFailures'],
      BisectBatchOnFunctionError: true,
      MaximumRetryAttempts: 10,
      MaximumRecordAgeInSeconds: 86_400,
      ParallelizationFactor: 1,
      MaximumBatchingWindowInSeconds: Match.absent(),
      DestinationConfig: {
        OnFailure: {
          Destination: { 'Fn::GetAtt': [only(t, 'AWS::SQS::Queue', 'DeadLetter')[0], 'Arn'] },
        },
      },
      MetricsConfig: { Metrics: ['EventCount'] },
    });
  });

  it('the work-queue mapping: 10 messages, partial batch responses, maxConcurrency 10, EventCount', () => {
    t.resourceCountIs('AWS::Lambda::EventSourceMapping', 2);
    t.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      EventSourceArn: { 'Fn::GetAtt': [only(t, 'AWS::SQS::Queue', 'WorkQueue')[0], 'Arn'] },
      FunctionName: { Ref: workerOf(t)[0] },
      BatchSize: 10,
      FunctionResponseTypes: ['ReportBatchItemFailures'],
      ScalingConfig: { MaximumConcurrency: 10 },
      MetricsConfig: { Metrics: ['EventCount'] },
    });
  });

  it('queues: SSE, TLS only, work visibility ≥ 6 × the worker timeout, 5 receives, 14-day DLQ', () => {
    const [dlqId, dlq] = only(t, 'AWS::SQS::Queue', 'DeadLetter');
    const [, work] = only(t, 'AWS::SQS::Queue', 'WorkQueue');
    expect(dlq.Properties).toMatchObject({
      SqsManagedSseEnabled: true,
      MessageRetentionPeriod: 14 * 86_400,
    });
    expect(work.Properties).toMatchObject({
      SqsManagedSseEnabled: true,
      VisibilityTimeout: WORK_QUEUE_VISIBILITY_SECONDS,
      RedrivePolicy: { deadLetterTargetArn: { 'Fn::GetAtt': [dlqId, 'Arn'] }, maxReceiveCount: 5 },
    });
    const workerTimeout = workerOf(t)[1].Properties.Timeout as number;
    expect(work.Properties.VisibilityTimeout as number).toBeGreaterThanOrEqual(6 * workerTimeout);
    t.resourceCountIs('AWS::SQS::QueuePolicy', 2);
    t.allResourcesProperties('AWS::SQS::QueuePolicy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Effect: 'Deny',
            Condition: { Bool: { 'aws:SecureTransport': 'false' } },
          }),
        ]),
      },
    });
  });

  it('the state table: pk/sk, on demand, PITR, retained when the stack goes', () => {
    const [, table] = only(t, 'AWS::DynamoDB::Table', 'StateTable');
    expect(table.DeletionPolicy).toBe('Retain');
    expect(table.Properties).toMatchObject({
      KeySchema: [
        { AttributeName: 'pk', KeyType: 'HASH' },
        { AttributeName: 'sk', KeyType: 'RANGE' },
      ],
      BillingMode: 'PAY_PER_REQUEST',
      PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
    });
    expect(table.Properties.TableName).toBeUndefined();
    // The app's tables are imported, never created.
    t.resourceCountIs('AWS::DynamoDB::Table', 1);
  });

  it('the environment each handler reads', () => {
    const dlq = { Ref: only(t, 'AWS::SQS::Queue', 'DeadLetter')[0] };
    const migrations = 'session-sort-key,session-user-type';
    // The tag table is not given, so neither it nor its migration is deployed.
    const TABLES = JSON.stringify({ session: 'chat-session-prod', user: 'chat-user-prod' });
    expect(envOf(consumerOf(t))).toEqual({
      STREAMFILL_TABLES: TABLES,
      STREAMFILL_CONFIG_FINGERPRINT: expect.stringMatching(/^[0-9a-f]{16,}$/),
      STREAMFILL_DLQ_URL: dlq,
      // Search-only repair tasks go to the work queue.
      STREAMFILL_QUEUE_URL: { Ref: only(t, 'AWS::SQS::Queue', 'WorkQueue')[0] },
      STREAMFILL_WRITE_CONCURRENCY: '16',
      STREAMFILL_MIGRATIONS: migrations,
      // Where it records the backfill gate's canaries.
      STREAMFILL_STATE_TABLE: { Ref: only(t, 'AWS::DynamoDB::Table', 'StateTable')[0] },
      POWERTOOLS_SERVICE_NAME: 'stream-consumer',
      POWERTOOLS_METRICS_NAMESPACE: 'streamfill',
      POWERTOOLS_LOG_LEVEL: 'INFO',
      NODE_OPTIONS: '--enable-source-maps',
    });
    expect(envOf(workerOf(t))).toEqual({
      STREAMFILL_TABLES: TABLES,
      STREAMFILL_CONFIG_FINGERPRINT: expect.stringMatching(/^[0-9a-f]{16,}$/),
      STREAMFILL_DLQ_URL: dlq,
      STREAMFILL_QUEUE_URL: { Ref: only(t, 'AWS::SQS::Queue', 'WorkQueue')[0] },
      STREAMFILL_STATE_TABLE: { Ref: only(t, 'AWS::DynamoDB::Table', 'StateTable')[0] },
      STREAMFILL_WRITE_CONCURRENCY: '16',
      STREAMFILL_MIGRATIONS: migrations,
      POWERTOOLS_SERVICE_NAME: 'backfill-worker',
      POWERTOOLS_METRICS_NAMESPACE: 'streamfill',
      POWERTOOLS_LOG_LEVEL: 'INFO',
      NODE_OPTIONS: '--enable-source-maps',
    });
    expect(construct.migrations).toEqual(['session-sort-key', 'session-user-type']);
  });

  it('exposes what it created', () => {
    expect(construct.consumer).toBe(construct.liveMigration.fn);
    expect(construct.workQueue).toBe(construct.liveMigration.workQueue);
    expect(construct.dlq).toBe(construct.liveMigration.dlq);
    expect(construct.stateTable.tableArn).toBeDefined();
    expect(construct.worker.functionName).toBeDefined();
    expect(construct.workerEventSource.eventSourceMappingId).toBeDefined();
    expect([...construct.tables.keys()]).toEqual(['session', 'user']);
  });
});

describe('a live path per migrated table (issue 13)', () => {
  const TAG_STREAM =
    'arn:aws:dynamodb:eu-west-1:123456789012:table/pika-tag-def-prod/stream/2026-03-04T05:06:07.089';
  const withTagStream = {
    ...IMPORTED,
    tagTableName: 'pika-tag-def-prod',
    tagTableStreamArn: TAG_STREAM,
  };
  const streamMappings = (t: Template) =>
    Object.values(t.findResources('AWS::Lambda::EventSourceMapping'))
      .map((m) => (m as Resource).Properties)
      .filter((p) => p.StartingPosition !== undefined);

  it('one stream mapping per table with a stream, each with the same batch, bisect and on-failure settings', () => {
    const { template: t, construct } = synth({
      ...withTagStream,
      batchSize: 50,
      retryAttempts: 4,
      parallelizationFactor: 2,
    });
    const mappings = streamMappings(t);
    expect(mappings.map((m) => m.EventSourceArn).sort()).toEqual([STREAM_ARN, TAG_STREAM].sort());
    const dlq = only(t, 'AWS::SQS::Queue', 'DeadLetter')[0];
    for (const m of mappings) {
      expect(m).toMatchObject({
        StartingPosition: 'LATEST',
        BatchSize: 50,
        MaximumRetryAttempts: 4,
        ParallelizationFactor: 2,
        BisectBatchOnFunctionError: true,
        FunctionResponseTypes: ['ReportBatchItemFailures'],
        DestinationConfig: { OnFailure: { Destination: { 'Fn::GetAtt': [dlq, 'Arn'] } } },
      });
    }
    expect([...construct.consumerEventSources.keys()]).toEqual(['session', 'tag']);
    expect(construct.consumerEventSource).toBe(construct.consumerEventSources.get('session'));
  });

  it('the consumer updates, reads back and checks the stream of every streamed table', () => {
    const { template: t } = synth(withTagStream);
    const statements = statementsOf(t, 'StreamConsumerRole');
    const resourcesFor = (action: string) =>
      statements
        .filter((s) => actionsOf(s).includes(action))
        .flatMap(resourcesOf)
        .map(text)
        .sort();
    const tables = [TABLE('chat-session-prod'), TABLE('pika-tag-def-prod')].sort();
    expect(resourcesFor('dynamodb:UpdateItem')).toEqual(tables);
    expect(resourcesFor('dynamodb:GetItem')).toEqual(tables);
    expect(resourcesFor('dynamodb:DescribeTable')).toEqual(tables);
    expect(resourcesFor('dynamodb:GetRecords')).toEqual([STREAM_ARN, TAG_STREAM].sort());
  });

  it("the dropped-records alarm and the dashboard count every mapping; IteratorAge is the function's maximum", () => {
    const { template: t } = synth(withTagStream);
    const [, dropped] = only(t, 'AWS::CloudWatch::Alarm', 'StreamRecordsDropped');
    const metrics = dropped.Properties.Metrics as { Id: string; Expression?: string }[];
    expect(metrics.find((m) => m.Expression)?.Expression).toBe(
      'FILL(droppedEventCount0, 0) + FILL(droppedEventCount1, 0)',
    );
    expect(metrics.filter((m) => !m.Expression)).toHaveLength(2);
    t.hasResourceProperties('AWS::CloudWatch::Alarm', {
      MetricName: 'IteratorAge',
      Statistic: 'Maximum',
      Dimensions: [{ Name: 'FunctionName', Value: Match.anyValue() }],
    });
    const body = text(
      (
        only(t, 'AWS::CloudWatch::Dashboard', 'Dashboard')[1].Properties as {
          DashboardBody: unknown;
        }
      ).DashboardBody,
    );
    expect(body).toContain('FILL(droppedEventCount0, 0) + FILL(droppedEventCount1, 0)');
  });

  it('a tag table of this app with a stream gets its mapping by reference', () => {
    const { template: t } = synth((stack) => ({
      ...IMPORTED,
      tagTable: new Table(stack, 'Tags', {
        partitionKey: { name: 'scope', type: AttributeType.STRING },
        sortKey: { name: 'tag', type: AttributeType.STRING },
        stream: StreamViewType.NEW_AND_OLD_IMAGES,
      }),
    }));
    const [tags] = only(t, 'AWS::DynamoDB::Table', 'Tags');
    t.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      EventSourceArn: { 'Fn::GetAtt': [tags, 'StreamArn'] },
    });
    expect(streamMappings(t)).toHaveLength(2);
  });

  it('a tag table without a stream: no mapping of its own, and synth warns that it is one-shot', () => {
    const { template: t, stack } = synth({ ...IMPORTED, tagTableName: 'pika-tag-def-prod' });
    expect(streamMappings(t)).toHaveLength(1);
    Annotations.fromStack(stack).hasWarning(
      '*',
      Match.stringLikeRegexp('table tag has no stream \\(oneShot\\).*backfill --one-shot'),
    );
  });

  it.each<[string, (stack: Stack) => PikaBackfillProps, RegExp]>([
    [
      'a tag stream ARN of another table',
      () => ({ ...withTagStream, tagTableName: 'other-tags' }),
      /tables\.tag\.tableStreamArn belongs to table pika-tag-def-prod, not other-tags/,
    ],
    [
      'a tag table with another view type',
      (stack) => ({
        ...IMPORTED,
        tagTable: new Table(stack, 'Tags', {
          partitionKey: { name: 'scope', type: AttributeType.STRING },
          stream: StreamViewType.NEW_IMAGE,
        }),
      }),
      /tables\.tag Test\/Tags has stream view type NEW_IMAGE/,
    ],
  ])('refuses %s', (_name, props, message) => {
    expect(refusal(props)).toMatch(message);
  });
});

describe('least privilege', () => {
  const { template: t } = synth({ ...IMPORTED, tagTableName: 'pika-tag-def-prod' });
  const state = (tt: Template) => `{${only(tt, 'AWS::DynamoDB::Table', 'StateTable')[0]}.Arn}`;
  const queue = (hint: string) => `{${only(t, 'AWS::SQS::Queue', hint)[0]}.Arn}`;
  const byAction = (statements: Statement[]) => {
    const out: Record<string, string[]> = {};
    for (const s of statements) {
      expect(s.Effect).toBe('Allow');
      for (const a of actionsOf(s)) {
        out[a] = [...(out[a] ?? []), ...resourcesOf(s).map(text)].sort();
      }
    }
    return out;
  };

  it('the worker: items of the migrated tables, user lookups, run state, its queues, its logs', () => {
    const logs = `{${only(t, 'AWS::Logs::LogGroup', 'WorkerLogs')[0]}.Arn}`;
    const sessions = TABLE('chat-session-prod');
    const tags = TABLE('pika-tag-def-prod');
    expect(byAction(statementsOf(t, 'WorkerRole'))).toEqual({
      'logs:CreateLogStream': [logs],
      'logs:PutLogEvents': [logs],
      'dynamodb:UpdateItem': [sessions, tags, state(t)].sort(),
      'dynamodb:GetItem': [sessions, tags, state(t)].sort(),
      'dynamodb:Scan': [sessions, tags].sort(),
      'dynamodb:BatchGetItem': [TABLE('chat-user-prod')],
      'dynamodb:PutItem': [state(t)],
      'dynamodb:Query': [state(t)],
      'dynamodb:ConditionCheckItem': [state(t)],
      'sqs:SendMessage': [queue('DeadLetter'), queue('WorkQueue')].sort(),
      'sqs:GetQueueAttributes': [
        queue('DeadLetter'),
        queue('WorkQueue'),
        queue('WorkQueue'),
      ].sort(),
      'sqs:GetQueueUrl': [queue('DeadLetter'), queue('WorkQueue'), queue('WorkQueue')].sort(),
      'sqs:ReceiveMessage': [queue('WorkQueue')],
      'sqs:ChangeMessageVisibility': [queue('WorkQueue')],
      'sqs:DeleteMessage': [queue('WorkQueue')],
    });
  });

  it('the consumer: its session items, user lookups, the stream, the DLQ, its logs', () => {
    const logs = `{${only(t, 'AWS::Logs::LogGroup', 'LiveLogs')[0]}.Arn}`;
    expect(byAction(statementsOf(t, 'StreamConsumerRole'))).toEqual({
      'logs:CreateLogStream': [logs],
      'logs:PutLogEvents': [logs],
      'dynamodb:UpdateItem': [TABLE('chat-session-prod')],
      'dynamodb:GetItem': [TABLE('chat-session-prod')],
      'dynamodb:BatchGetItem': [TABLE('chat-user-prod')],
      'dynamodb:DescribeStream': [STREAM_ARN],
      'dynamodb:GetRecords': [STREAM_ARN],
      'dynamodb:GetShardIterator': [STREAM_ARN],
      'dynamodb:ListStreams': ['*'],
      // Its start check (stream view type).
      'dynamodb:DescribeTable': [TABLE('chat-session-prod')],
      // Parking, and search-only repair tasks on the work queue.
      'sqs:SendMessage': [queue('DeadLetter'), queue('WorkQueue')],
      'sqs:GetQueueAttributes': [queue('DeadLetter'), queue('WorkQueue')],
      'sqs:GetQueueUrl': [queue('DeadLetter'), queue('WorkQueue')],
      // The backfill gate's canaries, recorded as read: the state table only.
      'dynamodb:PutItem': [state(t)],
    });
  });

  it('no statement anywhere has a * action; * resources only where AWS allows nothing else', () => {
    // dynamodb:ListStreams and the X-Ray actions support no resource-level permissions.
    const STAR_ONLY = ['dynamodb:ListStreams', 'xray:PutTraceSegments', 'xray:PutTelemetryRecords'];
    const traced = synth({
      ...IMPORTED,
      tracing: true,
      search: { endpoint: DOMAIN_URL, domainArn: DOMAIN_ARN },
    }).template;
    const serverless = synth({
      ...IMPORTED,
      search: { endpoint: COLLECTION_URL, collectionArn: COLLECTION_ARN },
    }).template;
    for (const tt of [t, traced, serverless]) {
      const statements = allStatements(tt);
      expect(statements.length).toBeGreaterThan(10);
      for (const s of statements) {
        for (const a of actionsOf(s)) expect(a, a).not.toContain('*');
        if (resourcesOf(s).includes('*')) {
          for (const a of actionsOf(s)) expect(STAR_ONLY, a).toContain(a);
        }
      }
      const actions = new Set(statements.flatMap(actionsOf));
      for (const forbidden of [
        'dynamodb:DeleteItem',
        'dynamodb:BatchWriteItem',
        'dynamodb:DeleteTable',
        'dynamodb:UpdateTable',
        'sqs:PurgeQueue',
        'es:ESHttpDelete',
      ]) {
        expect(actions.has(forbidden), forbidden).toBe(false);
      }
    }
    const xray = allStatements(traced).filter((s) =>
      actionsOf(s).some((a) => a.startsWith('xray:')),
    );
    expect(xray.length).toBe(2);
  });

  it('PutItem only on the state table (the migrated tables are only ever updated)', () => {
    const puts = allStatements(t).filter((s) => actionsOf(s).includes('dynamodb:PutItem'));
    // The worker (run state) and the consumer (the gate's canaries): the state table only.
    expect(puts.flatMap(resourcesOf).map(text)).toEqual([state(t), state(t)]);
  });

  it('without the user-type migration, no user lookup is granted to the worker', () => {
    const tt = synth({ ...IMPORTED, migrations: ['session-sort-key'] }).template;
    const worker = statementsOf(tt, 'WorkerRole');
    expect(worker.flatMap(actionsOf)).not.toContain('dynamodb:BatchGetItem');
  });
});

describe('OpenSearch', () => {
  it('a managed domain: es:ESHttp{Get,Head,Post,Put} on the declared index for both, SigV4 (es)', () => {
    const { template: t, construct } = synth({
      ...IMPORTED,
      search: { endpoint: DOMAIN_URL, domainArn: DOMAIN_ARN, index: 'sessions-v2' },
    });
    for (const role of ['StreamConsumerRole', 'WorkerRole']) {
      const es = statementsOf(t, role).filter((s) => actionsOf(s).some((a) => a.startsWith('es:')));
      expect(es).toHaveLength(1);
      expect(actionsOf(es[0] as Statement).sort()).toEqual([
        'es:ESHttpGet',
        'es:ESHttpHead',
        'es:ESHttpPost',
        'es:ESHttpPut',
      ]);
      // The declared index only (`/<index>/_bulk`, `_mapping`, `_mget`), not the whole domain.
      expect(resourcesOf(es[0] as Statement)).toEqual([
        `${DOMAIN_ARN}/sessions-v2`,
        `${DOMAIN_ARN}/sessions-v2/*`,
      ]);
    }
    for (const fn of [consumerOf(t), workerOf(t)]) {
      expect(envOf(fn)).toMatchObject({
        SEARCH_ENDPOINT: DOMAIN_URL,
        STREAMFILL_SEARCH_INDEX: 'sessions-v2',
        STREAMFILL_SEARCH_AUTH: 'sigv4',
      });
    }
    expect(construct.migrations).toEqual([
      'session-sort-key',
      'session-user-type',
      'session-search-keywords',
    ]);
    expect(allStatements(t).flatMap(actionsOf)).not.toContain('aoss:APIAccessAll');
  });

  it('a Serverless collection: aoss:APIAccessAll on the collection for both, SigV4 (aoss)', () => {
    const { template: t } = synth({
      ...IMPORTED,
      search: { endpoint: COLLECTION_URL, collectionArn: COLLECTION_ARN },
    });
    for (const role of ['StreamConsumerRole', 'WorkerRole']) {
      const aoss = statementsOf(t, role).filter((s) => actionsOf(s).includes('aoss:APIAccessAll'));
      expect(aoss).toHaveLength(1);
      expect(resourcesOf(aoss[0] as Statement)).toEqual([COLLECTION_ARN]);
    }
    for (const fn of [consumerOf(t), workerOf(t)]) {
      expect(envOf(fn)).toMatchObject({
        SEARCH_ENDPOINT: COLLECTION_URL,
        STREAMFILL_SEARCH_INDEX: 'session',
        STREAMFILL_SEARCH_AUTH: 'aoss',
      });
    }
    expect(
      allStatements(t)
        .flatMap(actionsOf)
        .some((a) => a.startsWith('es:')),
    ).toBe(false);
  });

  it('a self-managed endpoint (no Amazon host) needs no grant', () => {
    const { template: t } = synth({ ...IMPORTED, search: { endpoint: 'http://localhost:9200' } });
    expect(envOf(workerOf(t)).STREAMFILL_SEARCH_AUTH).toBeUndefined();
    const actions = allStatements(t).flatMap(actionsOf);
    expect(actions.some((a) => a.startsWith('es:') || a.startsWith('aoss:'))).toBe(false);
  });
});

describe('a source table created in the same app', () => {
  const tables = (stack: Stack, stream?: StreamViewType) => ({
    sessionTable: new Table(stack, 'Sessions', {
      partitionKey: { name: 'user_id', type: AttributeType.STRING },
      sortKey: { name: 'session_id', type: AttributeType.STRING },
      ...(stream && { stream }),
    }),
    userTable: new Table(stack, 'Users', {
      partitionKey: { name: 'user_id', type: AttributeType.STRING },
    }),
    tagTable: new Table(stack, 'Tags', {
      partitionKey: { name: 'scope', type: AttributeType.STRING },
      sortKey: { name: 'tag', type: AttributeType.STRING },
    }),
  });

  it('reads its stream and names it by reference', () => {
    const { template: t, construct } = synth((s) => tables(s, StreamViewType.NEW_AND_OLD_IMAGES));
    const [sessions] = only(t, 'AWS::DynamoDB::Table', 'Sessions');
    t.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      EventSourceArn: { 'Fn::GetAtt': [sessions, 'StreamArn'] },
    });
    expect(text(envOf(workerOf(t)).STREAMFILL_TABLES)).toContain(`"session":"{${sessions}}"`);
    expect(construct.tables.get('session')).toBe(construct.node.scope!.node.findChild('Sessions'));
    expect(construct.migrations).toEqual([
      'session-sort-key',
      'session-user-type',
      'tag-usage-mode',
    ]);
    expect(construct.tables.get('tag')).toBe(construct.node.scope!.node.findChild('Tags'));
  });

  it('refuses a table without a stream, or with another view type', () => {
    expect(refusal((s) => tables(s))).toMatch(
      /sessionTable Test\/Sessions has no stream: add stream: StreamViewType.NEW_AND_OLD_IMAGES/,
    );
    expect(refusal((s) => tables(s, StreamViewType.KEYS_ONLY))).toMatch(
      /tables\.session Test\/Sessions has stream view type KEYS_ONLY/,
    );
  });

  it('refuses the table and an imported name together', () => {
    expect(
      refusal((s) => ({ ...tables(s, StreamViewType.NEW_AND_OLD_IMAGES), sessionTableName: 'x' })),
    ).toMatch(/sessionTable and sessionTableName are both set/);
  });
});

describe('overrides', () => {
  it('tuning of both mappings and functions', () => {
    const { template: t } = synth({
      ...IMPORTED,
      batchSize: 250,
      maxBatchingWindow: Duration.seconds(5),
      retryAttempts: 3,
      maxRecordAge: Duration.hours(6),
      parallelizationFactor: 2,
      reservedConcurrentExecutions: 4,
      workerBatchSize: 5,
      workerMaxConcurrency: 3,
      workerReservedConcurrentExecutions: 6,
      writeConcurrency: 8,
      tracing: true,
      logLevel: 'DEBUG',
    });
    t.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      BatchSize: 250,
      MaximumBatchingWindowInSeconds: 5,
      MaximumRetryAttempts: 3,
      MaximumRecordAgeInSeconds: 6 * 3600,
      ParallelizationFactor: 2,
    });
    t.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      BatchSize: 5,
      ScalingConfig: { MaximumConcurrency: 3 },
    });
    expect(consumerOf(t)[1].Properties).toMatchObject({
      ReservedConcurrentExecutions: 4,
      TracingConfig: { Mode: 'Active' },
    });
    expect(workerOf(t)[1].Properties).toMatchObject({
      ReservedConcurrentExecutions: 6,
      TracingConfig: { Mode: 'Active' },
    });
    for (const fn of [consumerOf(t), workerOf(t)]) {
      expect(envOf(fn)).toMatchObject({
        STREAMFILL_WRITE_CONCURRENCY: '8',
        POWERTOOLS_LOG_LEVEL: 'DEBUG',
      });
    }
  });

  it('names, retention, removal policy, migrations', () => {
    const { template: t, construct } = synth({
      ...IMPORTED,
      queueName: 'sf-work',
      dlqName: 'sf-dlq',
      stateTableName: 'sf-state',
      stateTableRemovalPolicy: RemovalPolicy.DESTROY,
      dashboardName: 'sf-dash',
      logRetention: 7,
      migrations: ['session-user-type'],
    });
    t.hasResourceProperties('AWS::SQS::Queue', { QueueName: 'sf-work' });
    t.hasResourceProperties('AWS::SQS::Queue', { QueueName: 'sf-dlq' });
    const [, state] = only(t, 'AWS::DynamoDB::Table', 'StateTable');
    expect(state.Properties.TableName).toBe('sf-state');
    expect(state.DeletionPolicy).toBe('Delete');
    t.hasResourceProperties('AWS::CloudWatch::Dashboard', { DashboardName: 'sf-dash' });
    t.allResourcesProperties('AWS::Logs::LogGroup', { RetentionInDays: 7 });
    expect(construct.migrations).toEqual(['session-user-type']);
    expect(envOf(workerOf(t)).STREAMFILL_MIGRATIONS).toBe('session-user-type');
    expect(envOf(consumerOf(t)).STREAMFILL_MIGRATIONS).toBe('session-user-type');
  });

  it('alarm thresholds and an alarm topic on every alarm', () => {
    const { template: t } = synth((s) => ({
      ...IMPORTED,
      iteratorAgeThreshold: Duration.minutes(5),
      oldestWorkMessageAgeThreshold: Duration.hours(2),
      consumerIdlePeriod: Duration.hours(1),
      alarmTopic: new Topic(s, 'Oncall'),
    }));
    t.hasResourceProperties('AWS::CloudWatch::Alarm', {
      MetricName: 'IteratorAge',
      Threshold: 300_000,
    });
    t.hasResourceProperties('AWS::CloudWatch::Alarm', {
      MetricName: 'ApproximateAgeOfOldestMessage',
      Threshold: 7200,
    });
    t.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Metrics: Match.arrayWith([
        Match.objectLike({ MetricStat: Match.objectLike({ Period: 3600 }) }),
      ]),
    });
    const topic = { Ref: only(t, 'AWS::SNS::Topic', 'Oncall')[0] };
    for (const alarm of Object.values(t.findResources('AWS::CloudWatch::Alarm'))) {
      expect((alarm as Resource).Properties.AlarmActions).toEqual([topic]);
      expect((alarm as Resource).Properties.OKActions).toEqual([topic]);
    }
  });
});

describe('alarms and dashboard', () => {
  const { template: t } = synth();
  const alarms = () =>
    Object.values(t.findResources('AWS::CloudWatch::Alarm')).map((a) => (a as Resource).Properties);

  it('IteratorAge > 60 s, DLQ depth > 0, oldest work message > 30 min', () => {
    t.hasResourceProperties('AWS::CloudWatch::Alarm', {
      MetricName: 'IteratorAge',
      Dimensions: [{ Name: 'FunctionName', Value: { Ref: consumerOf(t)[0] } }],
      Threshold: 60_000,
    });
    t.hasResourceProperties('AWS::CloudWatch::Alarm', {
      MetricName: 'ApproximateNumberOfMessagesVisible',
      Dimensions: [
        {
          Name: 'QueueName',
          Value: { 'Fn::GetAtt': [only(t, 'AWS::SQS::Queue', 'DeadLetter')[0], 'QueueName'] },
        },
      ],
      Threshold: 0,
    });
    t.hasResourceProperties('AWS::CloudWatch::Alarm', {
      MetricName: 'ApproximateAgeOfOldestMessage',
      Dimensions: [
        {
          Name: 'QueueName',
          Value: { 'Fn::GetAtt': [only(t, 'AWS::SQS::Queue', 'WorkQueue')[0], 'QueueName'] },
        },
      ],
      Statistic: 'Maximum',
      Threshold: 1800,
    });
  });

  it('errors and throttles of both functions', () => {
    for (const [id] of [consumerOf(t), workerOf(t)]) {
      for (const metric of ['Errors', 'Throttles']) {
        t.hasResourceProperties('AWS::CloudWatch::Alarm', {
          Namespace: 'AWS/Lambda',
          MetricName: metric,
          Dimensions: [{ Name: 'FunctionName', Value: { Ref: id } }],
          Threshold: 0,
        });
      }
    }
  });

  it('consumer not invoked while the table is written (15 min)', () => {
    const notInvoked = alarms().filter((a) =>
      JSON.stringify(a.Metrics ?? '').includes('FILL(invocations, 0) == 0'),
    );
    expect(notInvoked).toHaveLength(1);
    const body = JSON.stringify(notInvoked[0]);
    expect(body).toContain('ConsumedWriteCapacityUnits');
    expect(body).toContain('"Value":"chat-session-prod"');
    expect(body).toContain('Invocations');
    expect(body).toContain('"Period":900');
    expect(notInvoked[0]?.TreatMissingData).toBe('notBreaching');
  });

  it('no actions without a topic; twelve alarms in all', () => {
    expect(alarms()).toHaveLength(12);
    for (const a of alarms()) expect(a.AlarmActions).toBeUndefined();
  });

  it('one dashboard with the alarms, the lag, both functions and the EMF counts of both services', () => {
    t.resourceCountIs('AWS::CloudWatch::Dashboard', 1);
    const body = JSON.stringify(
      (Object.values(t.findResources('AWS::CloudWatch::Dashboard'))[0] as Resource).Properties
        .DashboardBody,
    );
    for (const needle of [
      'IteratorAge',
      'ApproximateAgeOfOldestMessage',
      'ApproximateNumberOfMessagesVisible',
      'Throttles',
      'Invocations',
      '\\"Migrated\\"',
      '\\"Conflicts\\"',
      '\\"Failed\\"',
      '\\"Parked\\"',
      '\\"service\\",\\"stream-consumer\\"',
      '\\"service\\",\\"backfill-worker\\"',
      'streamfill backfill alarms',
    ]) {
      expect(body, needle).toContain(needle);
    }
  });
});

describe('outputs for the CLI (--stack NAME)', () => {
  it('every STACK_OUTPUTS key but the optional ones, under its fixed name', () => {
    const { template: t } = synth();
    const outputs = t.findOutputs('*');
    const optional = ['TagTableName', 'SearchEndpoint', 'SearchIndex'];
    expect(Object.keys(outputs).sort()).toEqual(
      Object.values(STACK_OUTPUTS)
        .filter((k) => !optional.includes(k))
        .sort(),
    );
    expect(outputs.WorkQueueUrl?.Value).toEqual({
      Ref: only(t, 'AWS::SQS::Queue', 'WorkQueue')[0],
    });
    expect(outputs.DeadLetterQueueUrl?.Value).toEqual({
      Ref: only(t, 'AWS::SQS::Queue', 'DeadLetter')[0],
    });
    expect(outputs.StateTableName?.Value).toEqual({
      Ref: only(t, 'AWS::DynamoDB::Table', 'StateTable')[0],
    });
    expect(outputs.ConsumerFunctionName?.Value).toEqual({ Ref: consumerOf(t)[0] });
    expect(outputs.SessionTableName?.Value).toBe('chat-session-prod');
  });

  it('with a tag table and search, all of them; none with exportOutputs: false', () => {
    const full = synth({
      ...IMPORTED,
      tagTableName: 'pika-tag-def-prod',
      search: { endpoint: DOMAIN_URL, domainArn: DOMAIN_ARN },
    }).template.findOutputs('*');
    expect(Object.keys(full).sort()).toEqual(Object.values(STACK_OUTPUTS).sort());
    expect(full.SearchIndex?.Value).toBe('session');
    expect(synth({ ...IMPORTED, exportOutputs: false }).template.findOutputs('*')).toEqual({});
  });

  it('refuses a second exporting construct in one stack', () => {
    const app = new App({ context: NO_BUNDLING });
    const stack = new Stack(app, 'Two', { env: ENV });
    new ContinuousBackfill(stack, 'A', pikaBackfillProps(IMPORTED));
    expect(() => new ContinuousBackfill(stack, 'B', pikaBackfillProps(IMPORTED))).toThrow(
      /already has a ContinuousBackfill exporting the CLI outputs; set exportOutputs: false/,
    );
  });
});

describe('synth-time refusals name the setting and the value', () => {
  const cases: [string, PikaBackfillProps, RegExp][] = [
    [
      'no source',
      { userTableName: 'u' },
      /no session table: give sessionTable, or sessionTableName/,
    ],
    [
      'name without stream',
      { sessionTableName: 'chat-session-prod', userTableName: 'u' },
      /sessionTableName "chat-session-prod" needs sessionTableStreamArn \(aws dynamodb describe-table/,
    ],
    [
      'no user table',
      { sessionTableName: 'chat-session-prod', sessionTableStreamArn: STREAM_ARN },
      /no user table: give userTable or userTableName/,
    ],
    [
      'unknown migration',
      { ...IMPORTED, migrations: ['session-sortkey'] },
      /migrations \["session-sortkey"\] are not in config .*pika.* \(known: session-sort-key, /,
    ],
    ['empty migrations', { ...IMPORTED, migrations: [] }, /migrations is empty/],
    [
      'tag migration without tag table',
      { ...IMPORTED, migrations: ['session-sort-key', 'tag-usage-mode'] },
      /tables names no table for tag, which the migrations use/,
    ],
    [
      'search migration without search',
      { ...IMPORTED, migrations: ['session-search-keywords'] },
      /migration session-search-keywords updates OpenSearch documents: give search.endpoint/,
    ],
    [
      'only tag migrations',
      { ...IMPORTED, tagTableName: 't', migrations: ['tag-usage-mode'] },
      /no migrated table has a stream: the stream consumer would have nothing to do/,
    ],
    [
      'es endpoint without domain ARN',
      { ...IMPORTED, search: { endpoint: DOMAIN_URL } },
      /search.endpoint "https:\/\/search-chat-search-abc.eu-west-1.es.amazonaws.com" is an Amazon OpenSearch Service domain: set search.domainArn/,
    ],
    [
      'aoss endpoint without collection ARN',
      { ...IMPORTED, search: { endpoint: COLLECTION_URL } },
      /is an OpenSearch Serverless collection: set search.collectionArn/,
    ],
    [
      'bad domain ARN',
      {
        ...IMPORTED,
        search: { endpoint: DOMAIN_URL, domainArn: 'arn:aws:es:eu-west-1:1:domain/X' },
      },
      /search.domainArn "arn:aws:es:eu-west-1:1:domain\/X" is not a domain ARN/,
    ],
    [
      'bad collection ARN',
      { ...IMPORTED, search: { endpoint: COLLECTION_URL, collectionArn: 'arn:aws:aoss:x' } },
      /search.collectionArn "arn:aws:aoss:x" is not a collection ARN/,
    ],
    [
      'both search ARNs',
      {
        ...IMPORTED,
        search: { endpoint: DOMAIN_URL, domainArn: DOMAIN_ARN, collectionArn: COLLECTION_ARN },
      },
      /search.domainArn and search.collectionArn are both set/,
    ],
    [
      'endpoint not a URL',
      { ...IMPORTED, search: { endpoint: 'search.example.com' } },
      /search.endpoint "search.example.com" is not an http\(s\) URL/,
    ],
    [
      'reserved concurrency 0',
      { ...IMPORTED, reservedConcurrentExecutions: 0 },
      /reservedConcurrentExecutions must be an integer from 1 to \d+ \(0 would stop the consumer; leave it unset for unreserved\), got 0/,
    ],
    [
      'worker reserved concurrency 0',
      { ...IMPORTED, workerReservedConcurrentExecutions: 0 },
      /workerReservedConcurrentExecutions must be an integer from 1 to \d+ \(0 would stop the worker.*got 0/,
    ],
    [
      'worker reserved below its cap',
      { ...IMPORTED, workerMaxConcurrency: 20, workerReservedConcurrentExecutions: 5 },
      /workerReservedConcurrentExecutions 5 is below workerMaxConcurrency 20/,
    ],
    [
      'record age',
      { ...IMPORTED, maxRecordAge: Duration.days(8) },
      /maxRecordAge must be between 60 seconds and 7 days, got 691200 s/,
    ],
    [
      'batching window',
      { ...IMPORTED, maxBatchingWindow: Duration.minutes(6) },
      /maxBatchingWindow must be at most 300 seconds, got 360 s/,
    ],
    [
      'oldest message threshold',
      { ...IMPORTED, oldestWorkMessageAgeThreshold: Duration.seconds(30) },
      /oldestWorkMessageAgeThreshold must be at least 60 seconds, got 30 s/,
    ],
    [
      'idle period',
      { ...IMPORTED, consumerIdlePeriod: Duration.minutes(2) },
      /consumerIdlePeriod must be whole minutes from 5 minutes to 1 day, got 120 s/,
    ],
    [
      'state table name',
      { ...IMPORTED, stateTableName: 'a b' },
      /stateTableName "a b" is not a DynamoDB table name/,
    ],
    [
      'user table twice',
      { ...IMPORTED, userTable: Table.fromTableName(new Stack(), 'U', 'u') },
      /userTable and userTableName are both set/,
    ],
  ];

  it.each(cases)('%s', (_name, props, message) => {
    expect(refusal(props)).toMatch(message);
  });

  // Integer settings: [setting, bad value, the range the message must state].
  const ranges: [keyof ContinuousBackfillProps, number, string][] = [
    ['batchSize', 0, 'from 1 to 10000'],
    ['retryAttempts', 1.5, 'from 0 to 10000'],
    ['parallelizationFactor', 11, 'from 1 to 10'],
    ['writeConcurrency', 0, 'from 1 to 1000'],
    ['workerBatchSize', 11, 'from 1 to 10'],
    ['workerMaxConcurrency', 1, "from 2 to 1000 (the SQS mapping's range)"],
  ];
  it.each(ranges)('%s = %s', (setting, value, range) => {
    expect(refusal({ ...IMPORTED, [setting]: value })).toContain(
      `${setting} must be an integer ${range}, got ${value}`,
    );
  });

  it('reports every problem at once, prefixed by the construct path', () => {
    const message = refusal({ ...IMPORTED, batchSize: 0, workerBatchSize: 0 });
    expect(message).toMatch(/^ContinuousBackfill Test\/Backfill:\n {2}- batchSize/);
    expect(message).toContain('- workerBatchSize must be an integer from 1 to 10, got 0');
  });
});
