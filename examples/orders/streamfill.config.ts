// The orders team's migration: a status sort key and the customer's tier on every order, and a
// keyword copy of the status in each order's search document. Nothing here writes to DynamoDB:
// streamfill derives, conditions and writes.
import {
  defineConfig,
  defineLookup,
  defineMigration,
  defineSearch,
  defineTable,
  malformed,
} from 'streamfill';

const orders = defineTable({ name: 'orders', key: ['tenant_id', 'order_no'], ttl: 'expires_at' });
const customers = defineTable({ name: 'customers', key: ['customer_id'] });

const tier = defineLookup({
  name: 'customer-tier',
  table: customers,
  key: (item) => (item.customer_id === undefined ? null : { customer_id: item.customer_id }),
  attributes: ['tier'],
});

export default defineConfig({
  tables: [orders, customers],
  migrations: [
    defineMigration({
      name: 'order-status-sk',
      table: orders,
      inputs: ['status', 'created_at', 'customer_id'],
      writes: ['status_sk', 'customer_tier'],
      lookups: [tier],
      derive: (item, ctx) => {
        if (typeof item.created_at !== 'string') throw malformed('created_at is missing');
        return {
          status_sk: `${String(item.status ?? 'new')}#${item.created_at}`,
          customer_tier: ctx.lookup(tier)?.tier ?? 'standard',
        };
      },
    }),
    defineSearch({
      name: 'order-keywords',
      table: orders,
      index: 'orders',
      id: (item) => `${String(item.tenant_id)}/${String(item.order_no)}`,
      version: 'updated_at',
      fields: { status_keyword: 'status' },
    }),
  ],
});
