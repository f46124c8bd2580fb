// Least privilege for copies: each function of a ContinuousBackfill running copies gets, per
// table, exactly what the copy writer's transaction needs (targets: Put/Delete/Get/BatchGet/
// ConditionCheck; sources: ConditionCheck besides reading; the state table: ledger and
// dependencies), Query on the one index a lookup reads, and the state table's name; a
// migrations-only stack keeps its policies. Checked on the synthesized template, per function.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { App, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { AttributeType, StreamViewType, Table, type ITable } from 'aws-cdk-lib/aws-dynamodb';
import { Key } from 'aws-cdk-lib/aws-kms';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ENV as STREAMFILL_ENV } from '../../lib/config/defaults.ts';
import { ContinuousBackfill } from '../../lib/infra/constructs/continuous-backfill.ts';
import { LiveMigration, STREAM_CONSUMER_ENTRY } from '../../lib/infra/constructs/live-migration.ts';

const ENV = { account: '123456789012', region: 'eu-west-1' };
const INDEX = fileURLToPath(new URL('../../lib/index.ts', import.meta.url));
const BEDROCK = fileURLToPath(new URL('../../lib/presets/bedrock-chat-v3.ts', import.meta.url));

// Orders are copied into the archive (a lookup of the customer by an index) and, opt-in (off by
// default), into drafts; customers are only looked up.
const COPY_CONFIG = `
import { defineConfig, defineCopy, defineLookup, defineTable } from ${JSON.stringify(INDEX)};
const orders = defineTable({ name: 'orders', key: ['order_id'] });
const customers = defineTable({ name: 'customers', key: ['customer_id'] });
const archive = defineTable({ name: 'archive', key: ['pk', 'sk'] });
const drafts = defineTable({ name: 'drafts', key: ['draft_id'] });
const byEmail = defineLookup({
  name: 'customer-by-email',
  table: customers,
  index: { name: 'EmailIndex', key: ['email'] },
  key: (item) => (typeof item.email === 'string' ? { email: item.email } : null),
  attributes: ['customer_id'],
});
export default defineConfig({
  tables: [orders, customers, archive, drafts],
  migrations: [
    defineCopy({
      name: 'order-archive',
      from: orders,
      to: [archive],
      inputs: ['email'],
      lookups: [byEmail],
      derive: (item, ctx) => [
        { table: archive, item: { pk: ctx.lookup(byEmail)?.customer_id ?? 'none', sk: item.order_id } },
      ],
    }),
    defineCopy({
      name: 'order-drafts',
      from: orders,
      to: [drafts],
      inputs: [],
      optIn: true,
      derive: (item) => [{ table: drafts, item: { draft_id: item.order_id } }],
    }),
  ],
});
`;

// Migrations only: orders get the customer's tier (a lookup by key), and carts a region looked up
// through an index (its Query grant is new; everything else is what it was before copies).
const MIGRATION_CONFIG = (withIndexLookup: boolean) => `
import { defineConfig, defineLookup, defineMigration, defineTable } from ${JSON.stringify(INDEX)};
const orders = defineTable({ name: 'orders', key: ['order_id'] });
const customers = defineTable({ name: 'customers', key: ['customer_id'] });
const tier = defineLookup({
  name: 'customer-tier',
  table: customers,
  key: (item) => ({ customer_id: item.customer_id }),
  attributes: ['tier'],
});
const byEmail = defineLookup({
  name: 'customer-by-email',
  table: customers,
  index: { name: 'EmailIndex', key: ['email'] },
  key: (item) => ({ email: item.email }),
  attributes: ['tier'],
});
export default defineConfig({
  tables: [orders, customers],
  migrations: [
    defineMigration({
      name: 'order-tier',
      table: orders,
      inputs: ['customer_id', 'email'],
      writes: ['customer_tier'],
      lookups: [${withIndexLookup ? 'byEmail' : 'tier'}],
      derive: (item, ctx) => ({ customer_tier: ctx.lookup(${withIndexLookup ? 'byEmail' : 'tier'})?.tier ?? 'none' }),
    }),
  ],
});
`;

let dir: string;
const configs: Record<string, string> = {};
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'streamfill-copy-grants-'));
  for (const [name, text] of Object.entries({
    copy: COPY_CONFIG,
    migrations: MIGRATION_CONFIG(false),
    indexMigration: MIGRATION_CONFIG(true),
  })) {
    configs[name] = join(dir, `${name}.config.ts`);
    writeFileSync(configs[name], text);
  }
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

interface Statement {
  Action: string | string[];
  Resource: unknown;
}

/** A table of this stack, by declared name, with the given stream (none: no stream). */
function table(stack: Stack, id: string, key: string[], stream?: StreamViewType): Table {
  return new Table(stack, id, {
    partitionKey: { name: key[0]!, type: AttributeType.STRING },
    ...(key[1] !== undefined && { sortKey: { name: key[1], type: AttributeType.STRING } }),
    ...(stream && { stream }),
  });
}

/**
 * Every DynamoDB action of the function's role (`StreamConsumer` or `Worker`), by resource: a
 * table by its construct id (`Orders`), an index as `Orders/index/Name`, a stream as
 * `Orders:stream`. Exact: a missing or extra grant changes it.
 */
function dynamoGrants(stack: Stack, template: Template, which: 'StreamConsumer' | 'Worker') {
  const label = new Map<string, string>();
  for (const c of stack.node.findAll())
    if (c instanceof Table) label.set(stack.getLogicalId(c.node.defaultChild as never), c.node.id);
  const name = (r: unknown): string => {
    if (typeof r === 'string') return r;
    const getAtt = (r as { 'Fn::GetAtt'?: [string, string] })['Fn::GetAtt'];
    if (getAtt)
      return `${label.get(getAtt[0]) ?? getAtt[0]}${getAtt[1] === 'Arn' ? '' : ':stream'}`;
    const join = (r as { 'Fn::Join'?: [string, unknown[]] })['Fn::Join'];
    if (join) return join[1].map((p) => (typeof p === 'string' ? p : name(p))).join('');
    return JSON.stringify(r);
  };
  const grants: Record<string, string[]> = {};
  const policies = template.findResources('AWS::IAM::Policy');
  for (const [id, p] of Object.entries(policies)) {
    if (!id.includes(which)) continue;
    const all = (p as { Properties: { PolicyDocument: { Statement: Statement[] } } }).Properties
      .PolicyDocument.Statement;
    for (const s of all) {
      const actions = [s.Action].flat().filter((a) => a.startsWith('dynamodb:'));
      for (const r of [s.Resource].flat()) {
        if (!actions.length || (r as { Ref?: string }).Ref === 'AWS::NoValue') continue;
        grants[name(r)] = [...new Set([...(grants[name(r)] ?? []), ...actions])].sort();
      }
    }
  }
  return grants;
}

/** The function's KMS actions, by the key ARN's `key/<id>` tail. */
function kmsActions(template: Template, which: 'StreamConsumer' | 'Worker') {
  const found: Record<string, string[]> = {};
  for (const [id, p] of Object.entries(template.findResources('AWS::IAM::Policy'))) {
    if (!id.includes(which)) continue;
    for (const s of (p as { Properties: { PolicyDocument: { Statement: Statement[] } } }).Properties
      .PolicyDocument.Statement) {
      const actions = [s.Action].flat().filter((a) => a.startsWith('kms:'));
      for (const r of [s.Resource].flat()) {
        const tail = /key\/[\w-]+/.exec(JSON.stringify(r))?.[0];
        if (actions.length && tail)
          found[tail] = [...new Set([...(found[tail] ?? []), ...actions])].sort();
      }
    }
  }
  return found;
}

const app = () => new App({ context: { 'aws:cdk:bundling-stacks': [] } });
const TARGET = [
  'dynamodb:BatchGetItem',
  'dynamodb:ConditionCheckItem',
  'dynamodb:DeleteItem',
  'dynamodb:GetItem',
  'dynamodb:PutItem',
];
const STATE_WITH_COPIES = [
  'dynamodb:ConditionCheckItem',
  'dynamodb:DeleteItem',
  'dynamodb:GetItem',
  'dynamodb:PutItem',
  'dynamodb:Query',
  'dynamodb:UpdateItem',
];
const STREAM_READ = ['dynamodb:DescribeStream', 'dynamodb:GetRecords', 'dynamodb:GetShardIterator'];
// The stream mapping's ListStreams, on `*` (CDK's DynamoEventSource grants it so).
const LIST_STREAMS = { '*': ['dynamodb:ListStreams'] };

function bedrockStack(sourceStream = StreamViewType.NEW_AND_OLD_IMAGES) {
  const stack = new Stack(app(), 'Bedrock', { env: ENV });
  const tables: Record<string, ITable> = {
    'bedrock-v2-conversation': table(stack, 'V2', ['PK', 'SK'], sourceStream),
    'bedrock-v3-conversation': table(stack, 'V3Conversation', ['PK', 'SK']),
    'bedrock-v3-bot': table(stack, 'V3Bot', ['PK', 'SK']),
  };
  const construct = new ContinuousBackfill(stack, 'Backfill', { config: BEDROCK, tables });
  return { stack, construct, template: Template.fromStack(stack) };
}

describe('copy grants', { timeout: 60_000 }, () => {
  it('the Bedrock preset: exactly what its copies need, per function', () => {
    const { stack, template } = bedrockStack();
    expect(dynamoGrants(stack, template, 'StreamConsumer')).toEqual({
      // Read from the stream (its start check), the alias's owner looked up by the index and
      // then read by key, the copies' source check.
      V2: ['dynamodb:BatchGetItem', 'dynamodb:ConditionCheckItem', 'dynamodb:DescribeTable'],
      'V2:stream': STREAM_READ,
      ...LIST_STREAMS,
      'V2/index/PublicBotIdIndex': ['dynamodb:Query'],
      V3Conversation: TARGET,
      V3Bot: TARGET,
      StateTable: STATE_WITH_COPIES,
    });
    expect(dynamoGrants(stack, template, 'Worker')).toEqual({
      V2: [
        'dynamodb:BatchGetItem',
        'dynamodb:ConditionCheckItem',
        'dynamodb:GetItem',
        'dynamodb:Scan',
      ],
      'V2/index/PublicBotIdIndex': ['dynamodb:Query'],
      V3Conversation: TARGET,
      V3Bot: TARGET,
      StateTable: STATE_WITH_COPIES,
    });
  });

  it('gives the consumer the state table name (the copies ledger)', () => {
    const { stack, template, construct } = bedrockStack();
    const fn = template.findResources('AWS::Lambda::Function');
    const consumer = Object.entries(fn).find(([id]) => id.includes('StreamConsumer'));
    const env = (
      consumer![1] as { Properties: { Environment: { Variables: Record<string, unknown> } } }
    ).Properties.Environment.Variables;
    expect(env[STREAMFILL_ENV.stateTable]).toEqual({
      Ref: stack.getLogicalId(construct.stateTable.node.defaultChild as never),
    });
  });

  it('a small copy config: only the enabled copy, only the index its lookup reads', () => {
    const stack = new Stack(app(), 'Shop', { env: ENV });
    const tables = {
      orders: table(stack, 'Orders', ['order_id'], StreamViewType.NEW_AND_OLD_IMAGES),
      customers: table(stack, 'Customers', ['customer_id']),
      archive: table(stack, 'Archive', ['pk', 'sk']),
      drafts: table(stack, 'Drafts', ['draft_id']),
    };
    new ContinuousBackfill(stack, 'Backfill', { config: configs.copy, tables });
    const template = Template.fromStack(stack);
    const common = {
      Customers: ['dynamodb:BatchGetItem', 'dynamodb:ConditionCheckItem'],
      'Customers/index/EmailIndex': ['dynamodb:Query'],
      Archive: TARGET,
      StateTable: STATE_WITH_COPIES,
    };
    expect(dynamoGrants(stack, template, 'StreamConsumer')).toEqual({
      ...common,
      Orders: ['dynamodb:BatchGetItem', 'dynamodb:ConditionCheckItem', 'dynamodb:DescribeTable'],
      'Orders:stream': STREAM_READ,
      ...LIST_STREAMS,
    });
    expect(dynamoGrants(stack, template, 'Worker')).toEqual({
      ...common,
      Orders: [
        'dynamodb:BatchGetItem',
        'dynamodb:ConditionCheckItem',
        'dynamodb:GetItem',
        'dynamodb:Scan',
      ],
    });
  });

  it('the opt-in copy, when enabled, adds its target', () => {
    const stack = new Stack(app(), 'Shop', { env: ENV });
    const tables = {
      orders: table(stack, 'Orders', ['order_id'], StreamViewType.NEW_AND_OLD_IMAGES),
      drafts: table(stack, 'Drafts', ['draft_id']),
    };
    new ContinuousBackfill(stack, 'Backfill', {
      config: configs.copy,
      tables,
      migrations: ['order-drafts'],
    });
    const template = Template.fromStack(stack);
    expect(dynamoGrants(stack, template, 'Worker')).toEqual({
      Orders: [
        'dynamodb:BatchGetItem',
        'dynamodb:ConditionCheckItem',
        'dynamodb:GetItem',
        'dynamodb:Scan',
      ],
      Drafts: TARGET,
      StateTable: STATE_WITH_COPIES,
    });
  });

  it('refuses a copy whose target table is not given (its writes would fail)', () => {
    const stack = new Stack(app(), 'Shop', { env: ENV });
    expect(
      () =>
        new ContinuousBackfill(stack, 'Backfill', {
          config: configs.copy,
          tables: {
            orders: table(stack, 'Orders', ['order_id'], StreamViewType.NEW_AND_OLD_IMAGES),
            customers: table(stack, 'Customers', ['customer_id']),
          },
          migrations: ['order-archive'],
        }),
    ).toThrow(/tables names no table for archive/);
  });
});

describe("a copy target's KMS key", { timeout: 60_000 }, () => {
  it('both functions may encrypt with it (they write its items); the source key stays read-only', () => {
    const stack = new Stack(app(), 'Shop', { env: ENV });
    const key = (id: string) =>
      Key.fromKeyArn(stack, id, `arn:aws:kms:eu-west-1:123456789012:key/${id}`);
    new ContinuousBackfill(stack, 'Backfill', {
      config: configs.copy,
      tables: {
        orders: Table.fromTableAttributes(stack, 'Orders', {
          tableName: 'orders-prod',
          tableStreamArn:
            'arn:aws:dynamodb:eu-west-1:123456789012:table/orders-prod/stream/2026-01-01T00:00:00.000',
          encryptionKey: key('orders-key'),
        }),
        customers: table(stack, 'Customers', ['customer_id']),
        archive: Table.fromTableAttributes(stack, 'Archive', {
          tableName: 'archive-prod',
          encryptionKey: key('archive-key'),
        }),
      },
    });
    const template = Template.fromStack(stack);
    for (const which of ['StreamConsumer', 'Worker'] as const) {
      const kms = kmsActions(template, which);
      expect(kms['key/archive-key'], which).toEqual([
        'kms:Decrypt',
        'kms:DescribeKey',
        'kms:Encrypt',
        'kms:GenerateDataKey',
      ]);
      expect(kms['key/orders-key'], which).toEqual(['kms:Decrypt', 'kms:DescribeKey']);
    }
  });
});

describe('stream view type of a copy-only source', { timeout: 60_000 }, () => {
  it('accepts a NEW_IMAGE stream on a table only copies read', () => {
    const { stack, template } = bedrockStack(StreamViewType.NEW_IMAGE);
    expect(dynamoGrants(stack, template, 'StreamConsumer')['V2:stream']).toEqual(STREAM_READ);
    template.resourceCountIs('AWS::Lambda::EventSourceMapping', 2); // V2 stream + work queue
  });

  it('still refuses NEW_IMAGE, or KEYS_ONLY on a copy source, where old images are needed', () => {
    expect(() => bedrockStack(StreamViewType.KEYS_ONLY)).toThrow(
      /tables\.bedrock-v2-conversation Bedrock\/V2 has stream view type KEYS_ONLY: its copies read the new image/,
    );
    const stack = new Stack(app(), 'Shop', { env: ENV });
    expect(
      () =>
        new ContinuousBackfill(stack, 'Backfill', {
          config: configs.migrations,
          tables: {
            orders: table(stack, 'Orders', ['order_id'], StreamViewType.NEW_IMAGE),
            customers: table(stack, 'Customers', ['customer_id']),
          },
        }),
    ).toThrow(/tables\.orders Shop\/Orders has stream view type NEW_IMAGE: the migrations read/);
  });

  it('ignores the stream of a table it only writes (a copy target)', () => {
    const stack = new Stack(app(), 'Bedrock', { env: ENV });
    const tables: Record<string, ITable> = {
      'bedrock-v2-conversation': table(stack, 'V2', ['PK', 'SK'], StreamViewType.NEW_IMAGE),
      'bedrock-v3-conversation': table(
        stack,
        'V3Conversation',
        ['PK', 'SK'],
        StreamViewType.NEW_IMAGE,
      ),
      'bedrock-v3-bot': table(stack, 'V3Bot', ['PK', 'SK'], StreamViewType.KEYS_ONLY),
    };
    new ContinuousBackfill(stack, 'Backfill', { config: BEDROCK, tables });
    Template.fromStack(stack).resourceCountIs('AWS::Lambda::EventSourceMapping', 2);
  });
});

describe('migrations only', { timeout: 60_000 }, () => {
  function migrationStack(config: string) {
    const stack = new Stack(app(), 'Shop', { env: ENV });
    const tables = {
      orders: table(stack, 'Orders', ['order_id'], StreamViewType.NEW_AND_OLD_IMAGES),
      customers: table(stack, 'Customers', ['customer_id']),
    };
    new ContinuousBackfill(stack, 'Backfill', { config, tables });
    return { stack, template: Template.fromStack(stack) };
  }

  it('keeps the policies it had before copies (pinned)', () => {
    const { stack, template } = migrationStack(configs.migrations!);
    expect(dynamoGrants(stack, template, 'StreamConsumer')).toEqual({
      Orders: ['dynamodb:DescribeTable', 'dynamodb:GetItem', 'dynamodb:UpdateItem'],
      'Orders:stream': STREAM_READ,
      ...LIST_STREAMS,
      Customers: ['dynamodb:BatchGetItem'],
      StateTable: ['dynamodb:PutItem'],
    });
    expect(dynamoGrants(stack, template, 'Worker')).toEqual({
      Orders: ['dynamodb:GetItem', 'dynamodb:Scan', 'dynamodb:UpdateItem'],
      Customers: ['dynamodb:BatchGetItem'],
      StateTable: [
        'dynamodb:ConditionCheckItem',
        'dynamodb:GetItem',
        'dynamodb:PutItem',
        'dynamodb:Query',
        'dynamodb:UpdateItem',
      ],
    });
  });

  it("a migration's index lookup adds Query on that index only", () => {
    const { stack, template } = migrationStack(configs.indexMigration!);
    for (const which of ['StreamConsumer', 'Worker'] as const) {
      const grants = dynamoGrants(stack, template, which);
      expect(grants['Customers/index/EmailIndex']).toEqual(['dynamodb:Query']);
      expect(Object.keys(grants).filter((r) => r.includes('/index/'))).toEqual([
        'Customers/index/EmailIndex',
      ]);
    }
  });
});

describe('LiveMigration on its own with copies', () => {
  const declared = (stack: Stack) => {
    const orders = table(stack, 'Orders', ['order_id'], StreamViewType.NEW_IMAGE);
    const archive = table(stack, 'Archive', ['pk', 'sk']);
    return {
      tables: new Map<string, ITable>([
        ['orders', orders],
        ['archive', archive],
      ]),
      streamed: ['orders'],
      written: [],
      lookedUp: [],
      copySources: ['orders'],
      copyTargets: ['archive'],
      entry: STREAM_CONSUMER_ENTRY,
      environment: {},
    };
  };

  it('refuses copies without the state table (their ledger)', () => {
    const stack = new Stack(app(), 'Live', { env: ENV });
    expect(() => new LiveMigration(stack, 'Live', { declared: declared(stack) })).toThrow(
      /declared\.copySources orders: copies keep their ledger in the state table, give stateTableName/,
    );
  });

  it('grants the named state table what copies need', () => {
    const stack = new Stack(app(), 'Live', { env: ENV });
    new LiveMigration(stack, 'Live', { declared: declared(stack), stateTableName: 'state' });
    const grants = dynamoGrants(stack, Template.fromStack(stack), 'StreamConsumer');
    expect(grants.Archive).toEqual(TARGET);
    expect(grants.Orders).toEqual([
      'dynamodb:BatchGetItem',
      'dynamodb:ConditionCheckItem',
      'dynamodb:DescribeTable',
    ]);
    expect(Object.entries(grants).find(([r]) => r.includes(':table/state'))?.[1]).toEqual(
      STATE_WITH_COPIES,
    );
  });
});
