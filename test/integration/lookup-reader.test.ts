// Declared lookups read from DynamoDB Local: collectLookups → one BatchGetItem per looked-up
// table (100 keys a request) → lookupResults → planning. A table that cannot be read fails only
// the items that need it, never with a default.
import { CreateTableCommand } from '@aws-sdk/client-dynamodb';
import { BatchWriteCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { LookupReader } from '../../lib/adapters/lookup-reader.ts';
import { destroyClients, makeClients, type Clients } from '../../lib/adapters/clients.ts';
import {
  defineConfig,
  defineLookup,
  defineMigration,
  defineTable,
} from '../../lib/core/config/define.ts';
import { compilePlanner } from '../../lib/core/config/planner.ts';
import { resolveConfig } from '../../lib/core/config/resolve.ts';
import { isLookupMissingError } from '../../lib/core/errors.ts';
import type { Item } from '../../lib/core/types.ts';
import { uniqueName, useLocalServices } from '../support/env.ts';

useLocalServices('lookup-reader');

const orders = defineTable({ name: 'orders', key: ['order_id'] });
// A composite key with a number: the reader sends keys as the planner built them.
const customers = defineTable({ name: 'customers', key: ['region', 'customer_no'] });
const regions = defineTable({ name: 'regions', key: ['region'] });
const tier = defineLookup({
  name: 'customer-tier',
  table: customers,
  key: (item) =>
    typeof item.region === 'string' && typeof item.customer_no === 'number'
      ? { region: item.region, customer_no: item.customer_no }
      : null,
  attributes: ['tier'],
});
const currency = defineLookup({
  name: 'region-currency',
  table: regions,
  key: (item) => (typeof item.region === 'string' ? { region: item.region } : null),
  attributes: ['currency'],
});
const planner = compilePlanner(
  resolveConfig(
    defineConfig({
      tables: [orders, customers, regions],
      migrations: [
        defineMigration({
          name: 'order-tier',
          table: orders,
          inputs: ['region', 'customer_no'],
          writes: ['customer_tier'],
          lookups: [tier],
          derive: (_item, ctx) => ({ customer_tier: ctx.lookup(tier)?.tier ?? 'none' }),
        }),
        defineMigration({
          name: 'order-currency',
          table: orders,
          inputs: ['region'],
          writes: ['currency'],
          lookups: [currency],
          derive: (_item, ctx) => ({ currency: ctx.lookup(currency)?.currency ?? 'none' }),
        }),
      ],
    }),
  ),
);

let clients: Clients;
const names = { customers: uniqueName('customers'), regions: uniqueName('regions') };
const CUSTOMERS = 150; // two BatchGetItem requests

beforeAll(async () => {
  clients = makeClients();
  await clients.dynamodb.send(
    new CreateTableCommand({
      TableName: names.customers,
      BillingMode: 'PAY_PER_REQUEST',
      KeySchema: [
        { AttributeName: 'region', KeyType: 'HASH' },
        { AttributeName: 'customer_no', KeyType: 'RANGE' },
      ],
      AttributeDefinitions: [
        { AttributeName: 'region', AttributeType: 'S' },
        { AttributeName: 'customer_no', AttributeType: 'N' },
      ],
    }),
  );
  await clients.dynamodb.send(
    new CreateTableCommand({
      TableName: names.regions,
      BillingMode: 'PAY_PER_REQUEST',
      KeySchema: [{ AttributeName: 'region', KeyType: 'HASH' }],
      AttributeDefinitions: [{ AttributeName: 'region', AttributeType: 'S' }],
    }),
  );
  for (let i = 0; i < CUSTOMERS; i += 25) {
    const puts = Array.from({ length: Math.min(25, CUSTOMERS - i) }, (_, j) => ({
      PutRequest: { Item: { region: 'eu', customer_no: i + j, tier: `t${i + j}` } },
    }));
    await clients.doc.send(new BatchWriteCommand({ RequestItems: { [names.customers]: puts } }));
  }
  await clients.doc.send(
    new BatchWriteCommand({
      RequestItems: {
        [names.regions]: [{ PutRequest: { Item: { region: 'eu', currency: 'EUR' } } }],
      },
    }),
  );
});

afterAll(() => destroyClients(clients));

/** Orders of customers 0..n-1, plus one of a customer that does not exist. */
function page(n: number): Item[] {
  const items: Item[] = Array.from({ length: n }, (_, i) => ({
    order_id: `o${i}`,
    region: 'eu',
    customer_no: i,
  }));
  items.push({ order_id: 'ghost', region: 'eu', customer_no: 10_000 });
  return items;
}

it('reads every looked-up key, 100 a request, and planning sees each item (null when none)', async () => {
  const reader = new LookupReader(clients.doc, names);
  const items = page(CUSTOMERS);
  const reads = planner.collectLookups('orders', items);
  const { read, failed } = await reader.read(reads.byTable);
  expect(failed.size).toBe(0);
  expect(reader.requests).toBe(3); // customers: 151 keys in 2 requests; regions: 1
  const lookups = planner.lookupResults(reads, read);
  const sets = items.map((item) => planner.planItem('orders', item, { lookups }).change?.set);
  expect(sets[0]).toEqual({ customer_tier: 't0', currency: 'EUR' });
  expect(sets[CUSTOMERS - 1]).toEqual({ customer_tier: `t${CUSTOMERS - 1}`, currency: 'EUR' });
  expect(sets[CUSTOMERS]).toEqual({ customer_tier: 'none', currency: 'EUR' });
});

it('a table that cannot be read fails the items that need it, the other table is still read', async () => {
  const reader = new LookupReader(clients.doc, { ...names, customers: uniqueName('absent') });
  const items = page(2);
  const reads = planner.collectLookups('orders', items);
  const { read, failed } = await reader.read(reads.byTable);
  expect([...failed.keys()]).toEqual(['customers']);
  expect(failed.get('customers')).toMatch(/lookup in .*absent.* failed/);
  expect(read.get('regions')).toEqual([{ region: 'eu', currency: 'EUR' }]);
  const lookups = planner.lookupResults(reads, read);
  for (const item of items) {
    const e = (() => {
      try {
        planner.planItem('orders', item, { lookups });
      } catch (err) {
        return err;
      }
    })();
    expect(isLookupMissingError(e)).toBe(true);
  }
  // Only the migration without the failed lookup: the item plans.
  expect(
    planner.planItem('orders', items[0]!, { lookups }, ['order-currency']).change?.set,
  ).toEqual({
    currency: 'EUR',
  });
});
