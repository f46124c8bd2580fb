// registerBundledConfig: a generated Lambda entry makes the user's config the one the handlers
// plan with; without it the Pika preset is the default. A second config, or one registered after
// the planner was compiled, is an error instead of a silent switch. (One process per test file:
// the steps below run in order on the module's one state.)
import { describe, expect, it } from 'vitest';
import { defineConfig, defineMigration, defineTable } from '../../../lib/core/config/define.ts';
import { bundledPlanner, registerBundledConfig } from '../../../lib/engine/bundled-config.ts';

const orders = defineTable({ name: 'orders', key: ['order_no'] });
const shop = defineConfig({
  tables: [orders],
  migrations: [
    defineMigration({
      name: 'order-total',
      table: orders,
      inputs: ['net'],
      writes: ['total'],
      derive: (item) => ({ total: item.net }),
    }),
  ],
});

describe('registerBundledConfig', () => {
  it('makes the registered config the bundled one; registering it again is harmless', () => {
    registerBundledConfig(shop);
    registerBundledConfig(shop);
    expect(bundledPlanner().migratedTables).toEqual(['orders']);
    expect(bundledPlanner().allMigrations).toEqual(['order-total']);
  });

  it('refuses a second, different config', () => {
    expect(() => registerBundledConfig(defineConfig({ tables: [orders], migrations: [] }))).toThrow(
      /a different config is already registered/,
    );
  });
});
