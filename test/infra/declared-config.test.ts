// ContinuousBackfill with a user's config (not the Pika preset): the config file is loaded at
// synth, both functions bundle a generated entry that registers it, and the mappings, the IAM
// and the environment derive from it. The bundle is run on the Lambda Node to show the config
// it registered is the user's (its tables and fingerprint), not the preset.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { App, Stack } from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import { AttributeType, StreamViewType, Table } from 'aws-cdk-lib/aws-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LAMBDA_NODE_MAJOR } from '../../lib/config/defaults.ts';
import {
  ContinuousBackfill,
  ContinuousBackfillPropsError,
  type ContinuousBackfillProps,
} from '../../lib/infra/constructs/continuous-backfill.ts';
import { ensureLambdaNode } from '../../local/lambda-node.ts';

const ENV = { account: '123456789012', region: 'eu-west-1' };
const DOMAIN_ARN = 'arn:aws:es:eu-west-1:123456789012:domain/shop-search';
const DOMAIN_URL = 'https://search-shop-search-abc.eu-west-1.es.amazonaws.com';
const ORDERS_STREAM =
  'arn:aws:dynamodb:eu-west-1:123456789012:table/orders-prod/stream/2026-01-01T00:00:00.000';
const INDEX = fileURLToPath(new URL('../../lib/index.ts', import.meta.url));

// A shop, not Pika: orders are migrated (a lookup of the customer's tier, keyword copies in the
// `orders` index); customers are only looked up; carts' migration is opt-in (off by default).
const CONFIG = `
import { defineConfig, defineLookup, defineMigration, defineSearch, defineTable } from ${JSON.stringify(INDEX)};
const orders = defineTable({ name: 'orders', key: ['tenant_id', 'order_no'] });
const customers = defineTable({ name: 'customers', key: ['customer_id'] });
const carts = defineTable({ name: 'carts', key: ['cart_id'] });
const tier = defineLookup({
  name: 'customer-tier',
  table: customers,
  key: (item) => ({ customer_id: item.customer_id }),
  attributes: ['tier'],
});
export default defineConfig({
  tables: [orders, customers, carts],
  migrations: [
    defineMigration({
      name: 'cart-total',
      table: carts,
      inputs: ['net'],
      writes: ['total'],
      optIn: true,
      derive: (item) => ({ total: item.net }),
    }),
    defineMigration({
      name: 'order-tier',
      table: orders,
      inputs: ['customer_id'],
      writes: ['customer_tier'],
      lookups: [tier],
      derive: (item, ctx) => ({ customer_tier: ctx.lookup(tier)?.tier ?? 'none' }),
    }),
    defineSearch({
      name: 'order-search',
      table: orders,
      index: 'orders',
      id: (item) => String(item.tenant_id) + '#' + String(item.order_no),
      version: 'updated_at',
      fields: { tier: 'customer_tier' },
    }),
  ],
});
`;

let dir: string;
let configPath: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'streamfill-declared-'));
  configPath = join(dir, 'streamfill.config.ts');
  writeFileSync(configPath, CONFIG);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

interface Statement {
  Sid?: string;
  Action: string | string[];
  Resource: unknown;
}

function props(
  stack: Stack,
  extra: Partial<ContinuousBackfillProps> = {},
): ContinuousBackfillProps {
  const orders = new Table(stack, 'Orders', {
    partitionKey: { name: 'tenant_id', type: AttributeType.STRING },
    sortKey: { name: 'order_no', type: AttributeType.STRING },
    stream: StreamViewType.NEW_AND_OLD_IMAGES,
  });
  return {
    config: configPath,
    tables: {
      orders,
      customers: { tableName: 'customers-prod' },
      carts: { tableName: 'carts-prod' },
    },
    search: { endpoint: DOMAIN_URL, domainArn: DOMAIN_ARN },
    ...extra,
  };
}

function synth(
  extra: Partial<ContinuousBackfillProps> = {},
  context: Record<string, unknown> = {},
) {
  const app = new App({ context: { 'aws:cdk:bundling-stacks': [], ...context } });
  const stack = new Stack(app, 'Shop', { env: ENV });
  const construct = new ContinuousBackfill(stack, 'Backfill', props(stack, extra));
  return { app, stack, construct, template: Template.fromStack(stack) };
}

/** Every statement of the role of the function whose logical id contains `which`. */
function statements(template: Template, which: 'StreamConsumer' | 'Worker'): Statement[] {
  const policies = template.findResources('AWS::IAM::Policy');
  return Object.entries(policies)
    .filter(([id]) => id.includes(which))
    .flatMap(
      ([, p]) =>
        (p as { Properties: { PolicyDocument: { Statement: Statement[] } } }).Properties
          .PolicyDocument.Statement,
    );
}
const actions = (s: Statement) => [s.Action].flat();
const resources = (s: Statement) => JSON.stringify(s.Resource);
const withAction = (all: Statement[], action: string) =>
  all.filter((s) => actions(s).includes(action));

describe('ContinuousBackfill with a declared config', { timeout: 60_000 }, () => {
  it('maps the one migrated table with a stream, and no other', () => {
    const { template, construct } = synth();
    template.resourceCountIs('AWS::Lambda::EventSourceMapping', 2); // orders stream + work queue
    template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      EventSourceArn: { 'Fn::GetAtt': [Match.stringLikeRegexp('^Orders'), 'StreamArn'] },
    });
    expect([...construct.consumerEventSources.keys()]).toEqual(['orders']);
    expect(construct.migrations).toEqual(['order-tier', 'order-search']);
  });

  it('grants UpdateItem only on orders, BatchGetItem only on customers, search only on its index', () => {
    const { template } = synth();
    for (const fn of ['StreamConsumer', 'Worker'] as const) {
      const all = statements(template, fn);
      const update = withAction(all, 'dynamodb:UpdateItem').filter(
        (s) => s.Sid !== 'BackfillState',
      );
      expect(update.length, fn).toBe(1);
      expect(resources(update[0]!), fn).toMatch(/Orders/);
      expect(resources(update[0]!), fn).not.toMatch(/customers/);
      const batchGet = withAction(all, 'dynamodb:BatchGetItem');
      expect(batchGet.length, fn).toBe(1);
      expect(resources(batchGet[0]!), fn).toMatch(/table\/customers-prod/);
      expect(resources(batchGet[0]!), fn).not.toMatch(/Orders/);
      const es = withAction(all, 'es:ESHttpPost');
      expect(es.map(resources), fn).toEqual([
        JSON.stringify([`${DOMAIN_ARN}/orders`, `${DOMAIN_ARN}/orders/*`]),
      ]);
      // Nothing touches customers but the lookup, and carts (no enabled migration) not at all.
      for (const s of all.filter((s) => /customers-prod/.test(resources(s))))
        expect(actions(s), fn).toEqual(['dynamodb:BatchGetItem']);
      expect(
        all.filter((s) => /carts-prod/.test(resources(s))),
        fn,
      ).toEqual([]);
    }
    // Scans are the worker's, on the migrated table only.
    const scans = withAction(statements(template, 'StreamConsumer'), 'dynamodb:Scan');
    expect(scans).toEqual([]);
    const workerScans = withAction(statements(template, 'Worker'), 'dynamodb:Scan');
    expect(workerScans.map(resources).join()).not.toMatch(/customers/);
  });

  it('sets STREAMFILL_TABLES (declared → physical), the fingerprint and the index on both functions', () => {
    const { template } = synth();
    const fns = Object.values(template.findResources('AWS::Lambda::Function')) as {
      Properties: { Environment: { Variables: Record<string, unknown> } };
    }[];
    expect(fns).toHaveLength(2);
    for (const fn of fns) {
      const vars = fn.Properties.Environment.Variables;
      const tables = JSON.stringify(vars.STREAMFILL_TABLES);
      expect(tables).toMatch(/orders/);
      expect(tables).toMatch(/customers-prod/);
      expect(vars.STREAMFILL_CONFIG_FINGERPRINT).toMatch(/^[0-9a-f]{16}$/);
      expect(vars.STREAMFILL_SEARCH_INDEX).toBe('orders');
      expect(vars.STREAMFILL_MIGRATIONS).toBe('order-tier,order-search');
      expect(vars.STREAMFILL_SESSION_TABLE).toBeUndefined();
    }
    template.hasOutput('Tables', {});
  });

  it('refuses a migrated table without a stream unless it is oneShot, then warns', () => {
    const cartsOn = { migrations: ['order-tier', 'cart-total'] };
    expect(() => synth(cartsOn)).toThrow(/tables\.carts has no stream: .*or list it in oneShot/);
    const { stack, template, construct } = synth({ ...cartsOn, oneShot: ['carts'] });
    expect([...construct.consumerEventSources.keys()]).toEqual(['orders']);
    Annotations.fromStack(stack).hasWarning(
      '*',
      Match.stringLikeRegexp('table carts has no stream \\(oneShot\\)'),
    );
    // One-shot carts are still scanned and written by the worker, never by the consumer.
    expect(
      resources(
        withAction(statements(template, 'Worker'), 'dynamodb:UpdateItem').find(
          (s) => s.Sid === 'MigrateItems',
        )!,
      ),
    ).toMatch(/carts-prod/);
    expect(
      withAction(statements(template, 'StreamConsumer'), 'dynamodb:UpdateItem')
        .map(resources)
        .join(),
    ).not.toMatch(/carts-prod/);
  });

  it('names missing and undeclared tables, and unknown migrations', () => {
    const attempt = (extra: (stack: Stack) => Partial<ContinuousBackfillProps>) => {
      const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
      const stack = new Stack(app, 'A', { env: ENV });
      try {
        new ContinuousBackfill(stack, 'B', props(stack, extra(stack)));
      } catch (e) {
        expect(e).toBeInstanceOf(ContinuousBackfillPropsError);
        return (e as Error).message;
      }
      throw new Error('synth did not refuse');
    };
    expect(
      attempt(() => ({
        tables: { customers: { tableName: 'customers-prod' }, bags: { tableName: 'x-1' } },
      })),
    ).toMatch(/tables names no table for orders, which.*tables bags are not declared/s);
    expect(attempt(() => ({ migrations: ['order-tier', 'session-sort-key'] }))).toMatch(
      /migrations \["session-sort-key"\] are not in config .* \(known: cart-total, order-tier, order-search\)/,
    );
    expect(attempt(() => ({ workerBatchSize: 11 }))).toMatch(
      /workerBatchSize must be an integer from 1 to 10, got 11/,
    );
    expect(attempt(() => ({ search: undefined, migrations: ['order-search'] }))).toMatch(
      /migration order-search updates OpenSearch documents: give search.endpoint/,
    );
  });

  it('accepts a declared table no enabled migration uses left out of tables', () => {
    // carts' migration is opt-in: without carts, nothing changes but STREAMFILL_TABLES.
    const { template } = synth({
      tables: {
        orders: { tableName: 'orders-prod', tableStreamArn: ORDERS_STREAM },
        customers: { tableName: 'customers-prod' },
      },
    });
    const env = Object.values(template.findResources('AWS::Lambda::Function')).map(
      (f) =>
        (f as { Properties: { Environment: { Variables: Record<string, unknown> } } }).Properties
          .Environment.Variables.STREAMFILL_TABLES,
    );
    expect(env).toEqual([
      JSON.stringify({ orders: 'orders-prod', customers: 'customers-prod' }),
      JSON.stringify({ orders: 'orders-prod', customers: 'customers-prod' }),
    ]);
    // An imported table is imported by LiveMigration under <Name>Table: its mapping's logical
    // id derives from that fixed path, not from how the table was given.
    expect(Object.keys(template.findResources('AWS::Lambda::EventSourceMapping'))).toContainEqual(
      expect.stringMatching(
        /^BackfillLiveStreamConsumerDynamoDBEventSourceShopBackfillLiveOrdersTable/,
      ),
    );
    // ... but a table the default migrations use is required (order-tier looks up customers).
    expect(() =>
      synth({
        search: undefined,
        tables: { orders: { tableName: 'orders-prod', tableStreamArn: ORDERS_STREAM } },
      }),
    ).toThrow(/tables names no table for customers, which the migrations use/);
  });

  it('without search, the search migration is off by default and no search access is granted', () => {
    const { template, construct } = synth({ search: undefined });
    expect(construct.migrations).toEqual(['order-tier']);
    expect(withAction(statements(template, 'Worker'), 'es:ESHttpPost')).toEqual([]);
  });
});

describe(`the declared config's bundle on Node ${LAMBDA_NODE_MAJOR}`, { timeout: 300_000 }, () => {
  let consumer: string;
  let fingerprint: string;
  let lambdaNode: string;
  let outdir: string;
  beforeAll(async () => {
    lambdaNode = await ensureLambdaNode();
    outdir = mkdtempSync(join(tmpdir(), 'streamfill-declared-out-'));
    const app = new App({ outdir });
    const stack = new Stack(app, 'Shop', { env: ENV });
    new ContinuousBackfill(stack, 'Backfill', props(stack, { search: undefined }));
    const assembly = app.synth();
    const template = Template.fromStack(stack);
    for (const [id, fn] of Object.entries(template.findResources('AWS::Lambda::Function'))) {
      const p = (
        fn as {
          Properties: {
            Code: { S3Key: string };
            Environment: { Variables: Record<string, string> };
          };
        }
      ).Properties;
      if (!id.includes('StreamConsumer')) continue;
      consumer = join(
        assembly.directory,
        `asset.${p.Code.S3Key.replace(/\.zip$/, '')}`,
        'index.mjs',
      );
      fingerprint = p.Environment.Variables.STREAMFILL_CONFIG_FINGERPRINT!;
    }
  }, 300_000);
  afterAll(() => rmSync(outdir, { recursive: true, force: true }));

  const run = (env: Record<string, string>): string => {
    const script = `
      if (!process.version.startsWith('v${LAMBDA_NODE_MAJOR}.')) throw new Error('running on ' + process.version);
      const { handler } = await import(${JSON.stringify(consumer)});
      const context = { functionName: 'f', awsRequestId: 'r', getRemainingTimeInMillis: () => 1e4 };
      try { console.log('RESULT ' + JSON.stringify(await handler({ Records: [] }, context))); }
      catch (e) { console.log('ERROR ' + e.message); }`;
    return execFileSync(lambdaNode, ['--no-warnings', '--input-type=module', '-e', script], {
      env: { PATH: process.env.PATH, AWS_REGION: 'us-east-1', ...env },
      encoding: 'utf8',
      timeout: 60_000,
    });
  };
  const TABLES = JSON.stringify({
    orders: 'orders-prod',
    customers: 'customers-prod',
    carts: 'carts-prod',
  });

  it("runs the user's config: its tables and fingerprint are accepted", () => {
    const out = run({ STREAMFILL_TABLES: TABLES, STREAMFILL_CONFIG_FINGERPRINT: fingerprint });
    expect(out).toContain('RESULT {"batchItemFailures":[]}');
  });

  it('refuses the Pika variables (the preset is not what was bundled)', () => {
    const out = run({ STREAMFILL_SESSION_TABLE: 's-1', STREAMFILL_USER_TABLE: 'u-1' });
    expect(out).toMatch(
      /ERROR environment variable STREAMFILL_TABLES is required: .*orders, customers/,
    );
  });

  it('refuses an environment made for another config (fingerprint)', () => {
    const out = run({
      STREAMFILL_TABLES: TABLES,
      STREAMFILL_CONFIG_FINGERPRINT: '0123456789abcdef',
    });
    expect(out).toMatch(
      /ERROR .*STREAMFILL_CONFIG_FINGERPRINT is "0123456789abcdef" but the bundled config's fingerprint is "[0-9a-f]{16}"/,
    );
  });
});
