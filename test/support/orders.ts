// A user's config that is not Pika, for the engine's tests: `orders` (a string partition key and
// a NUMBER sort key, a TTL) migrated with a lookup in `customers`, an opt-in step and a search.
import {
  CreateTableCommand,
  waitUntilTableExists,
  type CreateTableCommandInput,
  type DynamoDBClient,
} from '@aws-sdk/client-dynamodb';
import type { Planner } from '../../lib/core/config/planner.ts';
import { compilePlanner } from '../../lib/core/config/planner.ts';
import {
  defineConfig,
  defineLookup,
  defineMigration,
  defineSearch,
  defineTable,
  malformed,
  resolveConfig,
} from '../../lib/index.ts';

export const ordersTable = defineTable({
  name: 'orders',
  key: ['tenant_id', 'order_no'],
  ttl: 'expires_at',
});
export const customersTable = defineTable({ name: 'customers', key: ['customer_id'] });

const tier = defineLookup({
  name: 'customer-tier',
  table: customersTable,
  key: (item) =>
    typeof item.customer_id === 'string' && item.customer_id !== ''
      ? { customer_id: item.customer_id }
      : null,
  attributes: ['tier'],
});

export const ordersConfig = defineConfig({
  tables: [ordersTable, customersTable],
  migrations: [
    defineMigration({
      name: 'order-status-sk',
      table: ordersTable,
      inputs: ['status', 'created_at', 'customer_id'],
      writes: ['status_sk', 'customer_tier'],
      lookups: [tier],
      derive: (item, ctx) => {
        if (typeof item.created_at !== 'string') throw malformed('created_at is missing');
        return {
          status_sk: `${String(item.status ?? 'new')}#${item.created_at}`,
          customer_tier: String(ctx.lookup(tier)?.tier ?? 'standard'),
        };
      },
    }),
    defineMigration({
      name: 'order-region',
      table: ordersTable,
      inputs: [],
      writes: ['region'],
      optIn: true,
      derive: (item) => ({ region: String(item.tenant_id).split('-')[0] ?? 'none' }),
    }),
    defineSearch({
      name: 'order-keywords',
      table: ordersTable,
      index: 'orders',
      id: (item) => `${String(item.tenant_id)}#${String(item.order_no)}`,
      version: 'updated_at',
      fields: { status_keyword: 'status', tier_keyword: 'customer_tier' },
    }),
  ],
});

/** The orders config, compiled as the engine uses it. */
export function ordersPlanner(): Planner {
  return compilePlanner(resolveConfig(ordersConfig));
}

async function createTable(dynamodb: DynamoDBClient, def: CreateTableCommandInput): Promise<void> {
  await dynamodb.send(new CreateTableCommand(def));
  await waitUntilTableExists(
    { client: dynamodb, maxWaitTime: 60, minDelay: 1 },
    { TableName: def.TableName },
  );
}

/** An orders table: `tenant_id` (S) partition key, `order_no` (N) sort key, on demand. */
export function createOrdersTable(dynamodb: DynamoDBClient, TableName: string): Promise<void> {
  return createTable(dynamodb, {
    TableName,
    BillingMode: 'PAY_PER_REQUEST',
    AttributeDefinitions: [
      { AttributeName: 'tenant_id', AttributeType: 'S' },
      { AttributeName: 'order_no', AttributeType: 'N' },
    ],
    KeySchema: [
      { AttributeName: 'tenant_id', KeyType: 'HASH' },
      { AttributeName: 'order_no', KeyType: 'RANGE' },
    ],
  });
}

/** The looked-up customers table: `customer_id` (S). */
export function createCustomersTable(dynamodb: DynamoDBClient, TableName: string): Promise<void> {
  return createTable(dynamodb, {
    TableName,
    BillingMode: 'PAY_PER_REQUEST',
    AttributeDefinitions: [{ AttributeName: 'customer_id', AttributeType: 'S' }],
    KeySchema: [{ AttributeName: 'customer_id', KeyType: 'HASH' }],
  });
}
