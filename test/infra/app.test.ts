// The CDK app's two modes: attach to existing tables (cdk.json's demo values) or a sandbox with
// Pika-shaped tables of its own; and its refusals. Syntheses skip bundling.
import { readFileSync } from 'node:fs';
import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { buildApp, SANDBOX_STACK_NAME } from '../../lib/infra/app.ts';
import { StreamfillConfigError } from '../../lib/infra/context-config.ts';
import { SandboxStack } from '../../lib/infra/sandbox-stack.ts';
import { StreamfillStack } from '../../lib/infra/streamfill-stack.ts';

const cdkJson = JSON.parse(readFileSync(new URL('../../cdk.json', import.meta.url), 'utf8')) as {
  context: Record<string, unknown>;
};
const app = (context: Record<string, unknown> = {}) =>
  new App({ context: { ...cdkJson.context, 'aws:cdk:bundling-stacks': [], ...context } });
type Resource = { Properties: Record<string, unknown>; DeletionPolicy?: string };

describe('the CDK app', { timeout: 120_000 }, () => {
  it('attaches to the demo tables by default', () => {
    const stack = buildApp(app());
    expect(stack).toBeInstanceOf(StreamfillStack);
    expect(stack.stackName).toBe('streamfill-chat-session-local');
    const t = Template.fromStack(stack);
    // Only the state table is created; the app's tables are imported.
    t.resourceCountIs('AWS::DynamoDB::Table', 1);
  });

  it('sandbox: Pika-shaped tables with a stream, TTL and the session GSI, all deleted with the stack', () => {
    const stack = buildApp(app({ sandbox: 'true' }));
    expect(stack).toBeInstanceOf(SandboxStack);
    expect(stack.stackName).toBe(SANDBOX_STACK_NAME);
    const t = Template.fromStack(stack);
    const tables = Object.values(t.findResources('AWS::DynamoDB::Table')) as Resource[];
    expect(tables).toHaveLength(4);
    for (const table of tables) expect(table.DeletionPolicy).toBe('Delete');
    t.hasResourceProperties('AWS::DynamoDB::Table', {
      TableName: 'chat-session-streamfill-sandbox',
      KeySchema: [
        { AttributeName: 'user_id', KeyType: 'HASH' },
        { AttributeName: 'session_id', KeyType: 'RANGE' },
      ],
      StreamSpecification: { StreamViewType: 'NEW_AND_OLD_IMAGES' },
      TimeToLiveSpecification: { AttributeName: 'exp_date_unix_seconds', Enabled: true },
      GlobalSecondaryIndexes: [
        {
          IndexName: 'user-chat-app-index',
          KeySchema: [
            { AttributeName: 'user_id', KeyType: 'HASH' },
            { AttributeName: 'chat_app_id', KeyType: 'RANGE' },
          ],
          Projection: { ProjectionType: 'ALL' },
        },
      ],
    });
    t.hasResourceProperties('AWS::DynamoDB::Table', { TableName: 'chat-user-streamfill-sandbox' });
    t.hasResourceProperties('AWS::DynamoDB::Table', {
      TableName: 'pika-tag-def-streamfill-sandbox',
    });
    const worker = Object.entries(t.findResources('AWS::Lambda::Function')).find(([id]) =>
      id.includes('Worker'),
    )?.[1] as Resource;
    expect(
      (worker.Properties.Environment as { Variables: Record<string, unknown> }).Variables
        .STREAMFILL_MIGRATIONS,
    ).toBe('session-sort-key,session-user-type,tag-usage-mode');
  });

  it('sandbox: runs the Pika preset as a declared config (STREAMFILL_TABLES, fingerprint, Tables)', () => {
    const t = Template.fromStack(buildApp(app({ sandbox: 'true' })));
    for (const fn of Object.values(t.findResources('AWS::Lambda::Function')) as Resource[]) {
      const vars = (fn.Properties.Environment as { Variables: Record<string, unknown> }).Variables;
      expect(Object.keys(vars)).toEqual(
        expect.arrayContaining(['STREAMFILL_TABLES', 'STREAMFILL_CONFIG_FINGERPRINT']),
      );
      expect(vars.STREAMFILL_SESSION_TABLE).toBeUndefined();
    }
    const outputs = Object.keys(t.findOutputs('*'));
    expect(outputs).toEqual(
      expect.arrayContaining(['Tables', 'SessionTableName', 'UserTableName', 'TagTableName']),
    );
    // The tag table has no stream in a sandbox: the one stream mapping is the session table's.
    const mappings = Object.values(t.findResources('AWS::Lambda::EventSourceMapping'));
    expect(mappings.filter((m) => JSON.stringify(m).includes('StreamArn'))).toHaveLength(1);
  });

  it('sandbox: steps through the GSI change one phase at a time', () => {
    const expand = Template.fromStack(
      buildApp(app({ sandbox: 'true', indexPhase: 'expand', previousIndexPhase: 'before' })),
    );
    const session = Object.values(expand.findResources('AWS::DynamoDB::Table')).find(
      (r) => (r as Resource).Properties.TableName === 'chat-session-streamfill-sandbox',
    ) as Resource;
    expect(
      (session.Properties.GlobalSecondaryIndexes as { IndexName: string }[]).map(
        (i) => i.IndexName,
      ),
    ).toEqual(['user-chat-app-index', 'user-chat-app-sk-index']);
    expect(() =>
      buildApp(app({ sandbox: 'true', indexPhase: 'contract', previousIndexPhase: 'expand' })),
    ).toThrow(/IndexMigration .*removes user-chat-app-index, which the app still reads/);
  });

  it('refuses sandbox together with table names', () => {
    expect(() => buildApp(app({ sandbox: 'true', sessionTable: 'chat-session-prod' }))).toThrow(
      StreamfillConfigError,
    );
    expect(() => buildApp(app({ sandbox: 'true', userTable: 'chat-user-prod' }))).toThrow(
      /sandbox=true creates its own tables; drop userTable/,
    );
  });
});
