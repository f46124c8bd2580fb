// The Pika preset's CDK helper (streamfill/presets/pika/cdk) and what moving the Pika table
// props out of the constructs must not change: the logical ids of the deployed stacks' resources
// (a changed stream mapping id would replace the mapping, which restarts at LATEST and loses the
// records in between) and their outputs. The ids below were read from the stacks synthesized
// before the move; they are a regression guard, not a derivation.
import { readdirSync, readFileSync } from 'node:fs';
import { App, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { AttributeType, StreamViewType, Table } from 'aws-cdk-lib/aws-dynamodb';
import { describe, expect, it } from 'vitest';
import { STACK_OUTPUTS } from '../../lib/config/defaults.ts';
import { buildApp } from '../../lib/infra/app.ts';
import {
  ContinuousBackfill,
  ContinuousBackfillPropsError,
} from '../../lib/infra/constructs/continuous-backfill.ts';
import { addPikaTableOutputs, PIKA_CONFIG, pikaBackfillProps } from '../../lib/presets/pika-cdk.ts';

const cdkJson = JSON.parse(readFileSync(new URL('../../cdk.json', import.meta.url), 'utf8')) as {
  context: Record<string, unknown>;
};
const NO_BUNDLING = { 'aws:cdk:bundling-stacks': [] };
const streamArn = (table: string) =>
  `arn:aws:dynamodb:eu-west-1:123456789012:table/${table}/stream/2026-01-01T00:00:00.000`;
const PROD = {
  sessionTable: 'chat-session-prod',
  sessionStreamArn: streamArn('chat-session-prod'),
  userTable: 'chat-user-prod',
  tagTable: 'pika-tag-def-prod',
};

const synthApp = (context: Record<string, unknown> = {}) =>
  Template.fromStack(
    buildApp(new App({ context: { ...cdkJson.context, ...NO_BUNDLING, ...context } })),
  ).toJSON() as {
    Resources: Record<string, { Type: string }>;
    Outputs: Record<string, { Value: unknown }>;
  };
const idsOf = (t: ReturnType<typeof synthApp>, type: string) =>
  Object.keys(t.Resources)
    .filter((id) => t.Resources[id]!.Type === type)
    .sort();

// Every stack resource but the mappings: the same ids in the attach and the sandbox stacks.
const CONSTRUCT_IDS = [
  'BackfillBackfillAlarmsConsumerNotInvokedFBCD99E2',
  'BackfillBackfillAlarmsConsumerThrottles4DD569D1',
  'BackfillBackfillAlarmsOldestWorkMessage5DF4F612',
  'BackfillBackfillAlarmsWorkerErrors4BC7E997',
  'BackfillBackfillAlarmsWorkerThrottles34D59028',
  'BackfillLiveAlarmsDashboard0CEE2A6C',
  'BackfillLiveAlarmsDestinationDeliveryFailures328B858D',
  'BackfillLiveAlarmsDlqNotEmpty3C7C21A9',
  'BackfillLiveAlarmsFunctionErrors1FB9D16C',
  'BackfillLiveAlarmsIteratorAgeHighFEBE0863',
  'BackfillLiveAlarmsMigrationFailed7ECFA6BF',
  'BackfillLiveAlarmsSearchMappingNotReadyDDD51A34',
  'BackfillLiveAlarmsStreamRecordsDropped0154D18C',
  'BackfillLiveDeadLetterQueue1E16F59C',
  'BackfillLiveDeadLetterQueuePolicy8BDD5479',
  'BackfillLiveLogsD5DB8BF7',
  'BackfillLiveStreamConsumer06607743',
  'BackfillLiveStreamConsumerRoleC58926F9',
  'BackfillLiveStreamConsumerRoleDefaultPolicy3F89975D',
  'BackfillLiveWorkQueueA6EA20B1',
  'BackfillLiveWorkQueuePolicy1F1FBFEC',
  'BackfillStateTableAE52CBA5',
  'BackfillWorkerFunction1D46FCE0',
  'BackfillWorkerLogs75B37A65',
  'BackfillWorkerRole40379445',
  'BackfillWorkerRoleDefaultPolicyEAE57D5C',
];
const OUTPUTS = [
  'ConsumerFunctionName',
  'DashboardName',
  'DeadLetterQueueName',
  'DeadLetterQueueUrl',
  'EventSourceMappingId',
  'Migrations',
  'SessionTableName',
  'StateTableName',
  'Tables',
  'UserTableName',
  'WorkQueueName',
  'WorkQueueUrl',
  'WorkerFunctionName',
];
const MAPPING = 'AWS::Lambda::EventSourceMapping';
const withoutMappings = (t: ReturnType<typeof synthApp>) =>
  Object.keys(t.Resources)
    .filter((id) => t.Resources[id]!.Type !== MAPPING)
    .sort();

describe('the Pika stacks keep their logical ids and outputs', { timeout: 120_000 }, () => {
  it("attach mode, cdk.json's demo tables", () => {
    const t = synthApp();
    expect(idsOf(t, MAPPING)).toEqual([
      'BackfillLiveStreamConsumerDynamoDBEventSourcestreamfillchatsessionlocalBackfillLiveSessionTableFB558864D7C73E81',
      'BackfillWorkerFunctionSqsEventSourcestreamfillchatsessionlocalBackfillLiveWorkQueueED9C27D3967D9A9C',
    ]);
    expect(withoutMappings(t)).toEqual(CONSTRUCT_IDS);
    expect(Object.keys(t.Outputs).sort()).toEqual(OUTPUTS);
    expect(t.Outputs.SessionTableName!.Value).toBe('chat-session-local');
    expect(t.Outputs.UserTableName!.Value).toBe('chat-user-local');
    expect(t.Outputs.Tables!.Value).toBe(
      JSON.stringify({ session: 'chat-session-local', user: 'chat-user-local' }),
    );
    expect(t.Outputs.Migrations!.Value).toBe('session-sort-key,session-user-type');
  });

  it('attach mode with a tag table (no stream: one-shot) and search', () => {
    const t = synthApp({
      ...PROD,
      searchEndpoint: 'https://search-chat-abc.eu-west-1.es.amazonaws.com',
      searchDomainArn: 'arn:aws:es:eu-west-1:123456789012:domain/chat',
    });
    expect(idsOf(t, MAPPING)).toEqual([
      'BackfillLiveStreamConsumerDynamoDBEventSourcestreamfillchatsessionprodBackfillLiveSessionTableC07C137817B0D295',
      'BackfillWorkerFunctionSqsEventSourcestreamfillchatsessionprodBackfillLiveWorkQueueD2BE8A3E54871987',
    ]);
    expect(withoutMappings(t)).toEqual(CONSTRUCT_IDS);
    expect(Object.keys(t.Outputs).sort()).toEqual(
      [...OUTPUTS, 'SearchEndpoint', 'SearchIndex', 'TagTableName'].sort(),
    );
    expect(t.Outputs.TagTableName!.Value).toBe('pika-tag-def-prod');
    expect(t.Outputs.Migrations!.Value).toBe(
      'session-sort-key,session-user-type,session-search-keywords,tag-usage-mode',
    );
  });

  it('a tag table with a stream gets the mapping id it had as a Pika prop', () => {
    const stack = new Stack(new App({ context: NO_BUNDLING }), 'streamfill-chat-session-prod', {
      env: { account: '123456789012', region: 'eu-west-1' },
    });
    new ContinuousBackfill(
      stack,
      'Backfill',
      pikaBackfillProps({
        sessionTableName: PROD.sessionTable,
        sessionTableStreamArn: PROD.sessionStreamArn,
        userTableName: PROD.userTable,
        tagTableName: PROD.tagTable,
        tagTableStreamArn: streamArn(PROD.tagTable),
      }),
    );
    const ids = Object.keys(Template.fromStack(stack).findResources(MAPPING)).sort();
    expect(ids).toEqual([
      'BackfillLiveStreamConsumerDynamoDBEventSourcestreamfillchatsessionprodBackfillLiveSessionTableC07C137817B0D295',
      'BackfillLiveStreamConsumerDynamoDBEventSourcestreamfillchatsessionprodBackfillLiveTagTable33ADFB34DF1F3880',
      'BackfillWorkerFunctionSqsEventSourcestreamfillchatsessionprodBackfillLiveWorkQueueD2BE8A3E54871987',
    ]);
  });

  it('the sandbox stack', () => {
    const t = synthApp({ sandbox: 'true' });
    expect(idsOf(t, MAPPING)).toEqual([
      'BackfillLiveStreamConsumerDynamoDBEventSourcestreamfillsandboxChatSessionTable5B950222D1A436B0',
      'BackfillWorkerFunctionSqsEventSourcestreamfillsandboxBackfillLiveWorkQueue3D0F11722438BA3B',
    ]);
    expect(withoutMappings(t)).toEqual(
      [
        ...CONSTRUCT_IDS,
        'ChatSessionTable9519B73E',
        'ChatUserTable74105729',
        'TagDefinitionsTableE133C34F',
      ].sort(),
    );
    expect(Object.keys(t.Outputs).sort()).toEqual([...OUTPUTS, 'TagTableName'].sort());
  });
});

describe('pikaBackfillProps', () => {
  const table = (stack: Stack, id: string, stream?: StreamViewType) =>
    new Table(stack, id, {
      partitionKey: { name: 'id', type: AttributeType.STRING },
      ...(stream && { stream }),
    });

  it('the preset as config, its tables by declared name, a tag table without a stream one-shot', () => {
    const stack = new Stack();
    const session = table(stack, 'S', StreamViewType.NEW_AND_OLD_IMAGES);
    const props = pikaBackfillProps({
      sessionTable: session,
      userTableName: 'u',
      tagTableName: 't',
    });
    expect(props.config).toBe(PIKA_CONFIG);
    expect(props.tables).toEqual({ session, user: { tableName: 'u' }, tag: { tableName: 't' } });
    expect(props.oneShot).toEqual(['tag']);
    const streamed = pikaBackfillProps({
      sessionTable: session,
      userTableName: 'u',
      tagTable: table(stack, 'T', StreamViewType.NEW_AND_OLD_IMAGES),
    });
    expect(streamed.oneShot).toBeUndefined();
    expect(pikaBackfillProps({ sessionTable: session, userTableName: 'u' }).tables).toEqual({
      session,
      user: { tableName: 'u' },
    });
  });

  it('passes every other prop through', () => {
    const props = pikaBackfillProps({
      sessionTableName: 's',
      sessionTableStreamArn: streamArn('s'),
      userTableName: 'u',
      batchSize: 7,
      migrations: ['session-sort-key'],
    });
    expect(props).toMatchObject({ batchSize: 7, migrations: ['session-sort-key'] });
    expect(Object.keys(props).filter((k) => k.endsWith('TableName'))).toEqual([]);
  });

  it('reports every problem with the table props at once', () => {
    const userTable = table(new Stack(), 'U');
    const attempt = () =>
      pikaBackfillProps({
        sessionTableStreamArn: streamArn('s'),
        userTable,
        userTableName: 'u',
        tagTableStreamArn: streamArn('t'),
      });
    expect(attempt).toThrow(ContinuousBackfillPropsError);
    expect(attempt).toThrow(
      /sessionTableStreamArn is set without sessionTableName[\s\S]*userTable and userTableName are both set[\s\S]*tagTableStreamArn is set without tagTableName[\s\S]*no session table[\s\S]*no user table/,
    );
  });

  it('the legacy table outputs use the keys the CLI reads', () => {
    const stack = new Stack();
    const backfill = new ContinuousBackfill(
      stack,
      'B',
      pikaBackfillProps({
        sessionTable: table(stack, 'S', StreamViewType.NEW_AND_OLD_IMAGES),
        userTableName: 'u',
        exportOutputs: false,
      }),
    );
    addPikaTableOutputs(backfill);
    const outputs = Object.keys(Template.fromStack(stack).toJSON().Outputs as object).sort();
    expect(outputs).toEqual([STACK_OUTPUTS.sessionTable, STACK_OUTPUTS.userTable].sort());
  });
});

describe('the constructs know no preset', () => {
  // The Pika table names and the legacy props live in lib/presets/pika-cdk.ts only.
  const dir = new URL('../../lib/infra/constructs/', import.meta.url);
  const FORBIDDEN =
    /['"`](session|user|tag)['"`]|\b(source|session|user|tag)Table(Name|StreamArn)?\b|chat-session|chat-user|pika-tag|user_type|user_id/i;

  it('no Pika table name or table prop in lib/infra/constructs', () => {
    const hits = readdirSync(dir)
      .filter((f) => f.endsWith('.ts'))
      .flatMap((f) =>
        readFileSync(new URL(f, dir), 'utf8')
          .split('\n')
          .map((line, i) => ({ at: `${f}:${i + 1}`, line }))
          .filter(({ line }) => FORBIDDEN.test(line)),
      );
    expect(hits).toEqual([]);
  });

  it('the check finds a Pika literal', () => {
    expect(FORBIDDEN.test("const t = tables.get('session');")).toBe(true);
    expect(FORBIDDEN.test('readonly sourceTableName?: string;')).toBe(true);
    expect(FORBIDDEN.test("const t = tables.get('orders');")).toBe(false);
  });
});
