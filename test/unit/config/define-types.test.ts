import {
  defineConfig,
  defineTable,
  defineLookup,
  defineMigration,
  defineSearch,
  malformed,
} from '../../../lib/core/config/define.ts';
const orders = defineTable({ name: 'orders', key: ['tenant_id', 'order_no'], ttl: 'expires_at' });
const customers = defineTable({ name: 'customers', key: ['customer_id'] });
// @ts-expect-error a key has 1 or 2 attribute names
defineTable({ name: 'wide', key: ['a', 'b', 'c'] });
const tier = defineLookup({
  name: 'customer-tier',
  table: customers,
  key: (item) => ({ customer_id: item.customer_id }),
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
        const t: unknown = item.tenant_id;
        void t;
        return {
          status_sk: `${String(item.status ?? 'new')}#${item.created_at}`,
          customer_tier: ctx.lookup(tier)?.tier ?? 'standard',
        };
      },
    }),
    defineMigration({
      name: 'bad',
      table: orders,
      inputs: ['a'],
      writes: ['b'],
      // @ts-expect-error undeclared input
      derive: (item) => ({ b: item.zzz }),
    }),
    defineMigration({
      name: 'bad2',
      table: orders,
      inputs: ['a'],
      writes: ['b'],
      // @ts-expect-error undeclared write
      derive: (item) => ({ b: item.a, c: 1 }),
    }),
    defineMigration({
      name: 'bad3',
      table: orders,
      inputs: ['customer_id'],
      writes: ['customer_tier'],
      lookups: [tier],
      // @ts-expect-error undeclared lookup attribute (tier declares only `tier`)
      derive: (_item, ctx) => ({ customer_tier: ctx.lookup(tier)?.discount }),
    }),
    defineMigration({
      name: 'bad4',
      table: orders,
      inputs: ['a'],
      writes: ['b'],
      // @ts-expect-error undeclared write, even alone
      derive: () => ({ c: 1 }),
    }),
    defineSearch({
      name: 'order-keywords',
      table: orders,
      index: 'orders',
      id: (item) => String(item.order_no),
      version: 'updated_at',
      fields: { status_keyword: 'status' },
    }),
  ],
});

// The type checks above run with `npm run typecheck`; this keeps vitest from reporting an empty file.
import { expect, it } from 'vitest';
it('define helpers brand their declarations', () => {
  expect(orders.kind).toBe('streamfill.table');
  expect(tier.kind).toBe('streamfill.lookup');
});
