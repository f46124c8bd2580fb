// What a production operator expects of the construct (issue 15 items 5 and 6): alarms on lost
// stream records, a KMS-encrypted table keeping its key, one search grant scoped to the index,
// memory/timeout/enabled props, KMS queues, and log groups that go with a sandbox only.
import { readFileSync } from 'node:fs';
import { App, Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { AttributeType, StreamViewType, Table, TableEncryption } from 'aws-cdk-lib/aws-dynamodb';
import { Key } from 'aws-cdk-lib/aws-kms';
import { describe, expect, it, vi } from 'vitest';
import { buildApp } from '../../lib/infra/app.ts';
import { ContinuousBackfill } from '../../lib/infra/constructs/continuous-backfill.ts';
import { LiveMigration } from '../../lib/infra/constructs/live-migration.ts';
import { pikaBackfillProps, type PikaBackfillProps } from '../../lib/presets/pika-cdk.ts';
import { pikaDeclared } from '../support/pika-declared.ts';

// Synthesis takes seconds on a loaded machine (as in app.test.ts); nothing here is timed.
vi.setConfig({ testTimeout: 120_000 });

const ENV = { account: '123456789012', region: 'eu-west-1' };
const NO_BUNDLING = { 'aws:cdk:bundling-stacks': [] };
const STREAM_ARN =
  'arn:aws:dynamodb:eu-west-1:123456789012:table/chat-session-prod/stream/2026-03-04T05:06:07.089';
const IMPORTED: PikaBackfillProps = {
  sessionTableName: 'chat-session-prod',
  sessionTableStreamArn: STREAM_ARN,
  userTableName: 'chat-user-prod',
};
const DOMAIN_ARN = 'arn:aws:es:eu-west-1:123456789012:domain/chat-search';

type Resource = { Properties: Record<string, unknown>; DeletionPolicy?: string };
interface Statement {
  Action: string | string[];
  Resource: unknown;
}

function synth(props: PikaBackfillProps | ((s: Stack) => PikaBackfillProps)) {
  const stack = new Stack(new App({ context: NO_BUNDLING }), 'Test', { env: ENV });
  const given = typeof props === 'function' ? props(stack) : props;
  new ContinuousBackfill(stack, 'Backfill', pikaBackfillProps(given));
  return Template.fromStack(stack);
}
const resources = (t: Template, type: string) =>
  Object.entries(t.findResources(type)) as [string, Resource][];
const byHint = (t: Template, type: string, hint: string) =>
  resources(t, type).filter(([id]) => id.includes(hint));
function statementsOfRole(t: Template, hint: string): Statement[] {
  const [[roleId]] = byHint(t, 'AWS::IAM::Role', hint) as [[string, Resource]];
  return resources(t, 'AWS::IAM::Policy')
    .filter(([, p]) => JSON.stringify(p.Properties.Roles).includes(roleId))
    .flatMap(([, p]) => (p.Properties.PolicyDocument as { Statement: Statement[] }).Statement);
}
const alarm = (t: Template, id: string) => {
  const found = byHint(t, 'AWS::CloudWatch::Alarm', id);
  expect(found, id).toHaveLength(1);
  return found[0]![1].Properties;
};

describe('alarms on records the stream mapping loses', () => {
  const t = synth(IMPORTED);
  const [[mappingId]] = byHint(t, 'AWS::Lambda::EventSourceMapping', 'StreamConsumer') as [
    [string, Resource],
  ];

  it('DestinationDeliveryFailures of the consumer: a failed batch that never reached the DLQ', () => {
    const p = alarm(t, 'DestinationDeliveryFailures');
    expect(p).toMatchObject({
      Namespace: 'AWS/Lambda',
      MetricName: 'DestinationDeliveryFailures',
      Statistic: 'Sum',
      Threshold: 0,
      ComparisonOperator: 'GreaterThanThreshold',
      TreatMissingData: 'notBreaching',
    });
    expect(JSON.stringify(p.Dimensions)).toContain('FunctionName');
  });

  it('DroppedEventCount of the stream mapping, by its EventSourceMappingUUID', () => {
    const p = alarm(t, 'StreamRecordsDropped');
    expect(p).toMatchObject({
      Namespace: 'AWS/Lambda',
      MetricName: 'DroppedEventCount',
      Threshold: 0,
    });
    expect(p.Dimensions).toEqual([{ Name: 'EventSourceMappingUUID', Value: { Ref: mappingId } }]);
  });

  it('the dashboard graphs the mapping event counts the mapping publishes (MetricsConfig EventCount)', () => {
    t.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      MetricsConfig: { Metrics: ['EventCount'] },
      StartingPosition: 'LATEST',
    });
    const [[, dash]] = resources(t, 'AWS::CloudWatch::Dashboard') as [[string, Resource]];
    const body = JSON.stringify(dash.Properties.DashboardBody);
    for (const m of [
      'PolledEventCount',
      'InvokedEventCount',
      'FailedInvokeEventCount',
      'DroppedEventCount',
      'OnFailureDestinationDeliveredEventCount',
      'DestinationDeliveryFailures',
    ])
      expect(body, m).toContain(m);
    expect(body).toContain('EventSourceMappingUUID');
  });
});

describe('a KMS-encrypted table keeps its key', () => {
  const kmsActions = (t: Template, role: string, keyHint: string) =>
    statementsOfRole(t, role)
      .filter((s) => JSON.stringify(s.Resource).includes(keyHint))
      .flatMap((s) => [s.Action].flat())
      .sort();

  it('a table of the same app: both functions may use its key for the items they migrate', () => {
    const t = synth((s) => {
      const key = new Key(s, 'TableKey');
      const table = new Table(s, 'Sessions', {
        partitionKey: { name: 'user_id', type: AttributeType.STRING },
        sortKey: { name: 'session_id', type: AttributeType.STRING },
        stream: StreamViewType.NEW_AND_OLD_IMAGES,
        encryption: TableEncryption.CUSTOMER_MANAGED,
        encryptionKey: key,
      });
      return { sessionTable: table, userTableName: 'chat-user-prod' };
    });
    for (const role of ['StreamConsumerRole', 'WorkerRole']) {
      expect(kmsActions(t, role, 'TableKey'), role).toEqual(
        expect.arrayContaining([
          'kms:Decrypt',
          'kms:DescribeKey',
          'kms:Encrypt',
          'kms:GenerateDataKey',
        ]),
      );
    }
  });

  it('an imported table with its key, and an imported user table with its own', () => {
    const t = synth((s) => ({
      sessionTable: Table.fromTableAttributes(s, 'Sessions', {
        tableName: 'chat-session-prod',
        tableStreamArn: STREAM_ARN,
        encryptionKey: Key.fromKeyArn(
          s,
          'SessionKey',
          'arn:aws:kms:eu-west-1:123456789012:key/sess',
        ),
      }),
      userTable: Table.fromTableAttributes(s, 'Users', {
        tableName: 'chat-user-prod',
        encryptionKey: Key.fromKeyArn(s, 'UserKey', 'arn:aws:kms:eu-west-1:123456789012:key/user'),
      }),
    }));
    expect(kmsActions(t, 'StreamConsumerRole', 'key/sess')).toContain('kms:Encrypt');
    // The stream's records are decrypted with the same key.
    expect(kmsActions(t, 'StreamConsumerRole', 'key/sess')).toContain('kms:Decrypt');
    expect(kmsActions(t, 'StreamConsumerRole', 'key/user')).toEqual([
      'kms:Decrypt',
      'kms:DescribeKey',
    ]);
    expect(kmsActions(t, 'WorkerRole', 'key/user')).toEqual(['kms:Decrypt', 'kms:DescribeKey']);
  });
});

describe('search access: one statement, scoped', () => {
  it('a standalone LiveMigration gets the same statement as ContinuousBackfill, es:ESHttpHead included', () => {
    const stack = new Stack(new App({ context: NO_BUNDLING }), 'L', { env: ENV });
    new LiveMigration(stack, 'Live', {
      declared: pikaDeclared(
        { tableName: 'chat-session-prod', tableStreamArn: STREAM_ARN },
        { tableName: 'chat-user-prod' },
      ),
      searchEndpoint: 'https://search-chat-search-abc.eu-west-1.es.amazonaws.com',
      searchDomainArn: DOMAIN_ARN,
    });
    const es = statementsOfRole(Template.fromStack(stack), 'StreamConsumerRole').filter((s) =>
      JSON.stringify(s.Action).includes('es:'),
    );
    expect(es).toHaveLength(1);
    expect(es[0]!.Action).toEqual([
      'es:ESHttpGet',
      'es:ESHttpHead',
      'es:ESHttpPost',
      'es:ESHttpPut',
    ]);
    expect(es[0]!.Resource).toEqual([`${DOMAIN_ARN}/session`, `${DOMAIN_ARN}/session/*`]);
  });

  it('refuses plain http to a search endpoint that is not this machine', () => {
    expect(() =>
      synth({ ...IMPORTED, search: { endpoint: 'http://search.internal:9200' } }),
    ).toThrow(/search.endpoint "http:\/\/search.internal:9200" is plain http to search.internal/);
  });
});

describe('sizing, pausing and queue encryption as props', () => {
  it('memory and timeout of both functions; the work queue visible again after 6 × the timeout', () => {
    const t = synth({ ...IMPORTED, memorySize: 1024, timeout: Duration.seconds(120) });
    for (const hint of ['StreamConsumer', 'WorkerFunction']) {
      const [[, fn]] = byHint(t, 'AWS::Lambda::Function', hint) as [[string, Resource]];
      expect(fn.Properties).toMatchObject({ MemorySize: 1024, Timeout: 120 });
    }
    t.hasResourceProperties('AWS::SQS::Queue', { VisibilityTimeout: 720 });
  });

  it('refuses memory and timeout Lambda would refuse', () => {
    expect(() => synth({ ...IMPORTED, memorySize: 64 })).toThrow(
      /memorySize must be an integer from 128 to 10240/,
    );
    expect(() => synth({ ...IMPORTED, timeout: Duration.minutes(16) })).toThrow(
      /timeout must be between 1 second and 15 minutes, got 960 s/,
    );
  });

  it('pausing the consumer or the worker is a deployment (Enabled: false on the mapping)', () => {
    const t = synth({ ...IMPORTED, consumerEnabled: false, workerEnabled: false });
    const mappings = resources(t, 'AWS::Lambda::EventSourceMapping').map(([, m]) => m.Properties);
    expect(mappings).toHaveLength(2);
    for (const m of mappings) expect(m.Enabled).toBe(false);
    const on = resources(synth(IMPORTED), 'AWS::Lambda::EventSourceMapping');
    for (const [, m] of on) expect(m.Properties.Enabled).toBe(true);
  });

  it('a customer managed key for both queues', () => {
    const t = synth((s) => ({ ...IMPORTED, queueEncryptionKey: new Key(s, 'QueueKey') }));
    const queues = resources(t, 'AWS::SQS::Queue').map(([, q]) => q.Properties);
    expect(queues).toHaveLength(2);
    for (const q of queues) {
      expect(JSON.stringify(q.KmsMasterKeyId)).toContain('QueueKey');
      expect(q.SqsManagedSseEnabled).toBeUndefined();
    }
    // The consumer parks into the DLQ and enqueues repairs: it may use the key.
    const consumer = statementsOfRole(t, 'StreamConsumerRole').filter((s) =>
      JSON.stringify(s.Resource).includes('QueueKey'),
    );
    expect(consumer.flatMap((s) => [s.Action].flat())).toEqual(
      expect.arrayContaining(['kms:Decrypt', 'kms:GenerateDataKey*']),
    );
  });
});

describe('what parked messages keep', () => {
  const envOf = (t: Template, hint: string) =>
    (
      byHint(t, 'AWS::Lambda::Function', hint)[0]![1].Properties.Environment as {
        Variables: Record<string, unknown>;
      }
    ).Variables;
  it('keys and reasons by default; the item images only with dlqKeepImages, in both functions', () => {
    const plain = synth(IMPORTED);
    const keeping = synth({ ...IMPORTED, dlqKeepImages: true });
    for (const hint of ['StreamConsumer', 'Worker']) {
      expect(envOf(plain, hint).STREAMFILL_DLQ_KEEP_IMAGES, hint).toBeUndefined();
      expect(envOf(keeping, hint).STREAMFILL_DLQ_KEEP_IMAGES, hint).toBe('true');
    }
  });
});

describe('the deployed migration set', () => {
  it('is a stack output, so `verify --stack` checks what was deployed', () => {
    const t = synth({ ...IMPORTED, migrations: ['session-sort-key'] });
    t.hasOutput('Migrations', { Value: 'session-sort-key' });
  });
});

describe('log groups', () => {
  const logPolicies = (stack: Stack) =>
    resources(Template.fromStack(stack), 'AWS::Logs::LogGroup').map(([, l]) => l.DeletionPolicy);

  it('an attached stack keeps them; the sandbox deletes them with everything else', () => {
    const ctx = { ...cdkJson.context, ...NO_BUNDLING };
    const attached = buildApp(new App({ context: ctx }));
    expect(logPolicies(attached)).toEqual(['Retain', 'Retain']);
    const sandbox = buildApp(new App({ context: { ...ctx, sandbox: 'true' } }));
    expect(logPolicies(sandbox)).toEqual(['Delete', 'Delete']);
  });

  it('the construct takes the policy as a prop', () => {
    const t = synth({ ...IMPORTED, logRemovalPolicy: RemovalPolicy.DESTROY });
    t.allResources('AWS::Logs::LogGroup', { DeletionPolicy: 'Delete' });
  });
});

const cdkJson = JSON.parse(readFileSync(new URL('../../cdk.json', import.meta.url), 'utf8')) as {
  context: Record<string, unknown>;
};
