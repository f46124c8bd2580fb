// The deployed shape of the live path (LiveMigration, the consumer part ContinuousBackfill
// composes), from one real synthesis with cdk.json's demo tables: the handler is bundled by the
// local esbuild (no Docker), and the bundle is run once to show that it loads and reports to the
// metrics the alarms watch. The deployed stack's outputs are tested in continuous-backfill.test.ts.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App, Stack } from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { STREAM_CONSUMER_METRICS } from '../../lib/infra/constructs/alarms.ts';
import { ESM_REQUIRE_BANNER, LiveMigration } from '../../lib/infra/constructs/live-migration.ts';
import {
  configFromContext,
  defaultStackName,
  envFromStreamArn,
} from '../../lib/infra/context-config.ts';
import { pikaDeclared } from '../support/pika-declared.ts';

const cdkJson = JSON.parse(readFileSync(new URL('../../cdk.json', import.meta.url), 'utf8')) as {
  context: Record<string, unknown>;
};
const DEMO = cdkJson.context.demoDefaults as Record<string, string>;
const STREAM_ARN = DEMO.sessionStreamArn as string;

interface Statement {
  Effect: string;
  Action: string | string[];
  Resource: unknown;
}

let outdir: string;
let template: Template;
let stack: Stack;
let assetDir: string;

beforeAll(() => {
  outdir = mkdtempSync(join(tmpdir(), 'streamfill-cdk-'));
  const app = new App({ outdir, context: cdkJson.context });
  const config = configFromContext(app.node);
  stack = new Stack(app, defaultStackName(config.sessionTable), {
    env: envFromStreamArn(config.sessionStreamArn),
  });
  new LiveMigration(stack, 'LiveMigration', {
    declared: pikaDeclared(
      { tableName: config.sessionTable, tableStreamArn: config.sessionStreamArn },
      { tableName: config.userTable },
    ),
  });
  const assembly = app.synth();
  template = Template.fromStack(stack);
  const fn = Object.values(template.findResources('AWS::Lambda::Function'))[0] as {
    Properties: { Code: { S3Key: string } };
  };
  assetDir = join(assembly.directory, `asset.${fn.Properties.Code.S3Key.replace(/\.zip$/, '')}`);
});

afterAll(() => rmSync(outdir, { recursive: true, force: true }));

/** `{Fn::Join: ['', ['arn:', {Ref: 'AWS::Partition'}, ':dynamodb:…']]}` → `arn:aws:dynamodb:…`. */
function arnText(value: unknown): string {
  if (typeof value === 'string') return value;
  const v = value as Record<string, unknown>;
  if (v.Ref === 'AWS::Partition') return 'aws';
  if (v['Fn::Join']) {
    const [sep, parts] = v['Fn::Join'] as [string, unknown[]];
    return parts.map(arnText).join(sep);
  }
  return JSON.stringify(value);
}

function statements(): Statement[] {
  return Object.values(template.findResources('AWS::IAM::Policy')).flatMap(
    (p) =>
      (p as { Properties: { PolicyDocument: { Statement: Statement[] } } }).Properties
        .PolicyDocument.Statement,
  );
}
const actionsOf = (s: Statement): string[] => [s.Action].flat();
const resourcesOf = (s: Statement): unknown[] => [s.Resource].flat();

const DLQ_ARN = (): unknown => ({
  'Fn::GetAtt': [logicalId('AWS::SQS::Queue', 'DeadLetterQueue'), 'Arn'],
});
function logicalId(type: string, hint: string): string {
  const ids = Object.keys(template.findResources(type)).filter((id) => id.includes(hint));
  expect(ids, `${type} ${hint}`).toHaveLength(1);
  return ids[0] as string;
}

describe('the stream consumer function', () => {
  it('runs the bundled handler on Node.js 22, arm64, 512 MB, 60 s', () => {
    template.resourceCountIs('AWS::Lambda::Function', 1);
    template.hasResourceProperties('AWS::Lambda::Function', {
      Runtime: 'nodejs22.x',
      Architectures: ['arm64'],
      Handler: 'index.handler',
      MemorySize: 512,
      Timeout: 60,
      LoggingConfig: { LogGroup: { Ref: logicalId('AWS::Logs::LogGroup', 'Logs') } },
    });
    template.hasResourceProperties('AWS::Logs::LogGroup', { RetentionInDays: 30 });
    const fn = Object.values(template.findResources('AWS::Lambda::Function'))[0] as {
      Properties: Record<string, unknown>;
    };
    // Optional, off by default.
    expect(fn.Properties.ReservedConcurrentExecutions).toBeUndefined();
    expect(fn.Properties.TracingConfig).toBeUndefined();
  });

  it('wires the environment the handler reads', () => {
    const fn = Object.values(template.findResources('AWS::Lambda::Function'))[0] as {
      Properties: { Environment: { Variables: Record<string, unknown> } };
    };
    expect(fn.Properties.Environment.Variables).toEqual({
      STREAMFILL_TABLES: JSON.stringify({ session: 'chat-session-local', user: 'chat-user-local' }),
      STREAMFILL_DLQ_URL: { Ref: logicalId('AWS::SQS::Queue', 'DeadLetterQueue') },
      STREAMFILL_QUEUE_URL: { Ref: logicalId('AWS::SQS::Queue', 'WorkQueue') },
      STREAMFILL_WRITE_CONCURRENCY: '16',
      POWERTOOLS_SERVICE_NAME: 'stream-consumer',
      POWERTOOLS_METRICS_NAMESPACE: 'streamfill',
      POWERTOOLS_LOG_LEVEL: 'INFO',
      NODE_OPTIONS: '--enable-source-maps',
    });
  });

  it('lives in the account and region of the table stream', () => {
    expect(stack.account).toBe('123456789012');
    expect(stack.region).toBe('us-east-1');
  });

  it('synthesizes without warnings', () => {
    Annotations.fromStack(stack).hasNoWarning('*', Match.anyValue());
    Annotations.fromStack(stack).hasNoError('*', Match.anyValue());
  });
});

describe('the bundle (local esbuild, no Docker)', () => {
  it('is an ESM file with the createRequire banner, a source map and the handler code', () => {
    const index = join(assetDir, 'index.mjs');
    expect(existsSync(index)).toBe(true);
    expect(existsSync(join(assetDir, 'index.mjs.map'))).toBe(true);
    const code = readFileSync(index, 'utf8');
    expect(code.startsWith(ESM_REQUIRE_BANNER)).toBe(true);
    expect(code.includes('batchItemFailures'), 'partial batch responses').toBe(true);
    expect(code.includes('attribute_exists'), 'the conditional writer').toBe(true);
    // Everything but Node's own modules is bundled, the pinned AWS SDK included (not the
    // runtime's): an ESM bundle imports what it left external.
    const imported = [...code.matchAll(/(?:\bfrom\s*|\bimport\s*\(\s*)["']([^"']+)["']/g)]
      .map((m) => m[1] as string)
      .filter((m) => !m.startsWith('node:') && !builtinModules.includes(m));
    expect(imported).toEqual([]);
    expect(statSync(index).size).toBeLessThan(5 * 1024 * 1024);
  });

  it('loads, answers a batch, and publishes to the metrics the alarms watch', () => {
    // A REMOVE record needs no AWS call: the handler settles it and reports its metrics.
    const script = `
      const { handler } = await import(${JSON.stringify(join(assetDir, 'index.mjs'))});
      const event = { Records: [{ eventID: '1', eventName: 'REMOVE', eventSource: 'aws:dynamodb',
        eventSourceARN: ${JSON.stringify(STREAM_ARN)},
        dynamodb: { Keys: { user_id: { S: 'u1' }, session_id: { S: 's1' } },
          SequenceNumber: '100', ApproximateCreationDateTime: Math.floor(Date.now() / 1000) } }] };
      const context = { functionName: 'f', awsRequestId: 'r', getRemainingTimeInMillis: () => 1e4 };
      console.log('RESULT ' + JSON.stringify(await handler(event, context)));`;
    const out = execFileSync(
      process.execPath,
      ['--no-warnings', '--input-type=module', '-e', script],
      {
        env: {
          PATH: process.env.PATH,
          AWS_REGION: 'us-east-1',
          STREAMFILL_SESSION_TABLE: 'chat-session-local',
          STREAMFILL_USER_TABLE: 'chat-user-local',
          POWERTOOLS_SERVICE_NAME: STREAM_CONSUMER_METRICS.service,
          POWERTOOLS_METRICS_NAMESPACE: STREAM_CONSUMER_METRICS.namespace,
        },
        encoding: 'utf8',
        timeout: 30_000,
      },
    );
    const lines = out.split('\n');
    const result = lines.find((l) => l.startsWith('RESULT '));
    expect(JSON.parse(result?.slice(7) ?? 'null')).toEqual({ batchItemFailures: [] });
    const emf = lines.flatMap((l) => {
      try {
        const j = JSON.parse(l) as { _aws?: unknown };
        return j._aws ? [j] : [];
      } catch {
        return [];
      }
    });
    const metrics = emf.find((j) => 'Failed' in j) as
      { _aws: { CloudWatchMetrics: { Namespace: string; Dimensions: string[][] }[] } } | undefined;
    expect(metrics, out).toBeDefined();
    const cw = metrics?._aws.CloudWatchMetrics[0];
    expect(cw?.Namespace).toBe(STREAM_CONSUMER_METRICS.namespace);
    expect(cw?.Dimensions).toEqual([['service']]);
    expect((metrics as unknown as Record<string, unknown>).service).toBe(
      STREAM_CONSUMER_METRICS.service,
    );
  });
});

describe('the event source mapping', () => {
  it('reads the session stream from LATEST with partial batch responses, bisect and a DLQ', () => {
    template.resourceCountIs('AWS::Lambda::EventSourceMapping', 1);
    template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      EventSourceArn: STREAM_ARN,
      FunctionName: { Ref: logicalId('AWS::Lambda::Function', 'StreamConsumer') },
      StartingPosition: 'LATEST',
      BatchSize: 100,
      FunctionResponseTypes: ['ReportBatchItemFailures'],
      BisectBatchOnFunctionError: true,
      MaximumRetryAttempts: 10,
      MaximumRecordAgeInSeconds: 24 * 3600,
      ParallelizationFactor: 1,
      DestinationConfig: { OnFailure: { Destination: DLQ_ARN() } },
      MaximumBatchingWindowInSeconds: Match.absent(),
    });
  });
});

describe('least privilege', () => {
  it('updates and reads back session items only, on the session table only', () => {
    const update = statements().filter((s) => actionsOf(s).includes('dynamodb:UpdateItem'));
    expect(update).toHaveLength(1);
    expect(actionsOf(update[0] as Statement).sort()).toEqual([
      'dynamodb:GetItem',
      'dynamodb:UpdateItem',
    ]);
    expect(resourcesOf(update[0] as Statement).map(arnText)).toEqual([
      'arn:aws:dynamodb:us-east-1:123456789012:table/chat-session-local',
    ]);
  });

  it('looks users up with BatchGetItem on the user table only', () => {
    const lookup = statements().filter((s) => actionsOf(s).includes('dynamodb:BatchGetItem'));
    expect(lookup).toHaveLength(1);
    expect(actionsOf(lookup[0] as Statement)).toEqual(['dynamodb:BatchGetItem']);
    expect(resourcesOf(lookup[0] as Statement).map(arnText)).toEqual([
      'arn:aws:dynamodb:us-east-1:123456789012:table/chat-user-local',
    ]);
  });

  it('has no wildcard actions and never creates, replaces or deletes items', () => {
    const all = statements();
    expect(all.every((s) => s.Effect === 'Allow')).toBe(true);
    const actions = new Set(all.flatMap(actionsOf));
    for (const a of actions) expect(a, a).not.toContain('*');
    for (const forbidden of [
      'dynamodb:PutItem',
      'dynamodb:DeleteItem',
      'dynamodb:BatchWriteItem',
      'dynamodb:Scan',
      'dynamodb:Query',
      'dynamodb:DeleteTable',
      'dynamodb:UpdateTable',
    ]) {
      expect(actions.has(forbidden), forbidden).toBe(false);
    }
    expect([...actions].filter((a) => a.startsWith('dynamodb:')).sort()).toEqual([
      'dynamodb:BatchGetItem',
      'dynamodb:DescribeStream',
      'dynamodb:DescribeTable',
      'dynamodb:GetItem',
      'dynamodb:GetRecords',
      'dynamodb:GetShardIterator',
      'dynamodb:ListStreams',
      'dynamodb:UpdateItem',
    ]);
    // Without a domain ARN there is no OpenSearch grant at all.
    expect([...actions].some((a) => a.startsWith('es:'))).toBe(false);
  });

  it('reads the stream by its ARN; only ListStreams (which has no resource) is on *', () => {
    const all = statements();
    for (const s of all.filter((s) => resourcesOf(s).includes('*'))) {
      expect(actionsOf(s)).toEqual(['dynamodb:ListStreams']);
    }
    const read = all.filter((s) => actionsOf(s).includes('dynamodb:GetRecords'));
    expect(read).toHaveLength(1);
    expect(resourcesOf(read[0] as Statement)).toEqual([STREAM_ARN]);
  });

  it('may send to the DLQ and to the work queue (search repair tasks), and only send', () => {
    const sqs = statements().filter((s) => actionsOf(s).some((a) => a.startsWith('sqs:')));
    expect(sqs.length).toBeGreaterThan(0);
    const work = { 'Fn::GetAtt': [logicalId('AWS::SQS::Queue', 'WorkQueue'), 'Arn'] };
    expect(
      sqs
        .map((s) => resourcesOf(s))
        .sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b))),
    ).toEqual(
      [[DLQ_ARN()], [work]].sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b))),
    );
    expect(sqs.flatMap(actionsOf)).toContain('sqs:SendMessage');
    expect(sqs.flatMap(actionsOf).some((a) => /Receive|Delete|Purge/.test(a))).toBe(false);
  });
});

describe('queues', () => {
  it('the DLQ is encrypted, TLS-only and keeps messages 14 days', () => {
    template.hasResourceProperties('AWS::SQS::Queue', {
      SqsManagedSseEnabled: true,
      MessageRetentionPeriod: 14 * 24 * 3600,
      RedrivePolicy: Match.absent(),
    });
  });

  it('the work queue redrives to the DLQ after 5 receives', () => {
    template.hasResourceProperties('AWS::SQS::Queue', {
      SqsManagedSseEnabled: true,
      MessageRetentionPeriod: 7 * 24 * 3600,
      VisibilityTimeout: 360,
      RedrivePolicy: { deadLetterTargetArn: DLQ_ARN(), maxReceiveCount: 5 },
    });
  });

  it('both queues refuse requests without TLS', () => {
    const policies = Object.values(template.findResources('AWS::SQS::QueuePolicy'));
    expect(policies).toHaveLength(2);
    template.allResourcesProperties('AWS::SQS::QueuePolicy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Effect: 'Deny',
            Action: 'sqs:*',
            Condition: { Bool: { 'aws:SecureTransport': 'false' } },
          }),
        ]),
      },
    });
  });
});

describe('alarms and dashboard', () => {
  it('has exactly the seven alarms, without actions when no topic is given', () => {
    // Not-invoked and throttle alarms of the consumer are BackfillAlarms' (write-aware).
    template.resourceCountIs('AWS::CloudWatch::Alarm', 7);
    for (const alarm of Object.values(template.findResources('AWS::CloudWatch::Alarm'))) {
      const p = (alarm as { Properties: Record<string, unknown> }).Properties;
      expect(p.AlarmActions).toBeUndefined();
      // Only "not invoked" alarms on silence (missing data breaches, below 1 invocation).
      if (p.MetricName === 'Invocations') {
        expect(p.ComparisonOperator).toBe('LessThanThreshold');
        expect(p.TreatMissingData).toBe('breaching');
      } else {
        expect(p.ComparisonOperator).toBe('GreaterThanThreshold');
        expect(p.TreatMissingData).toBe('notBreaching');
      }
    }
  });

  it('DLQ depth > 0', () => {
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Namespace: 'AWS/SQS',
      MetricName: 'ApproximateNumberOfMessagesVisible',
      Dimensions: [
        {
          Name: 'QueueName',
          Value: { 'Fn::GetAtt': [logicalId('AWS::SQS::Queue', 'DeadLetterQueue'), 'QueueName'] },
        },
      ],
      Statistic: 'Maximum',
      Threshold: 0,
    });
  });

  it('IteratorAge max > 60 s', () => {
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Namespace: 'AWS/Lambda',
      MetricName: 'IteratorAge',
      Dimensions: [
        { Name: 'FunctionName', Value: { Ref: logicalId('AWS::Lambda::Function', 'Stream') } },
      ],
      Statistic: 'Maximum',
      Threshold: 60_000,
    });
  });

  it('Lambda Errors > 0', () => {
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Namespace: 'AWS/Lambda',
      MetricName: 'Errors',
      Statistic: 'Sum',
      Threshold: 0,
    });
  });

  it('the handler’s Failed count > 0 (Powertools EMF, namespace streamfill)', () => {
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Namespace: 'streamfill',
      MetricName: 'Failed',
      Dimensions: [{ Name: 'service', Value: 'stream-consumer' }],
      Statistic: 'Sum',
      Threshold: 0,
    });
  });

  it('the dashboard shows lag, item outcomes and queue depth', () => {
    const dashboards = Object.values(template.findResources('AWS::CloudWatch::Dashboard'));
    expect(dashboards).toHaveLength(1);
    const body = JSON.stringify(
      (dashboards[0] as { Properties: { DashboardBody: unknown } }).Properties.DashboardBody,
    );
    for (const needle of [
      'IteratorAge',
      '\\"Migrated\\"',
      '\\"Conflicts\\"',
      '\\"Failed\\"',
      'ApproximateNumberOfMessagesVisible',
    ]) {
      expect(body, needle).toContain(needle);
    }
  });
});
