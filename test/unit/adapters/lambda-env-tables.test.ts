// lambdaConfig(env, planner): the physical tables come from STREAMFILL_TABLES for every table the
// bundled config declares (the legacy Pika variables only for the Pika preset), migrations are
// checked against the config's names, and a bundle built from another config refuses to start.
import { describe, expect, it } from 'vitest';
import {
  CONFIG_FINGERPRINT_ENV,
  configFingerprint,
} from '../../../lib/config/config-fingerprint.ts';
import { ConfigError, lambdaConfig } from '../../../lib/config/lambda-env.ts';
import { defineConfig, defineMigration, defineTable } from '../../../lib/core/config/define.ts';
import { compilePlanner } from '../../../lib/core/config/planner.ts';
import { resolveConfig } from '../../../lib/core/config/resolve.ts';
import { bundledPlanner } from '../../../lib/engine/bundled-config.ts';

const orders = defineTable({ name: 'orders', key: ['tenant_id', 'order_no'] });
const customers = defineTable({ name: 'customers', key: ['customer_id'] });
const total = defineMigration({
  name: 'order-total',
  table: orders,
  inputs: ['net'],
  writes: ['total'],
  derive: (item) => ({ total: item.net }),
});
const SHOP = compilePlanner(
  resolveConfig(defineConfig({ tables: [orders, customers], migrations: [total] })),
);
const PIKA = bundledPlanner();
const TABLES = JSON.stringify({ orders: 'orders-prod', customers: 'customers-prod' });

describe('lambdaConfig tables', () => {
  it('reads every declared table from STREAMFILL_TABLES', () => {
    const config = lambdaConfig({ STREAMFILL_TABLES: TABLES }, SHOP);
    expect(config.tables).toEqual({ orders: 'orders-prod', customers: 'customers-prod' });
    expect(config.searchIndex).toBeUndefined();
  });

  it('names the migrated tables STREAMFILL_TABLES leaves out', () => {
    const bad = () => lambdaConfig({ STREAMFILL_TABLES: '{"customers":"customers-prod"}' }, SHOP);
    expect(bad).toThrow(ConfigError);
    expect(bad).toThrow(/STREAMFILL_TABLES names no physical table for orders/);
  });

  it('accepts STREAMFILL_TABLES without a table no enabled migration migrates or looks up', () => {
    // customers is declared but unused by order-total: a deployment may leave it out.
    const config = lambdaConfig({ STREAMFILL_TABLES: '{"orders":"orders-prod"}' }, SHOP);
    expect(config.tables).toEqual({ orders: 'orders-prod' });
    // The Pika preset deployed without its tag table and tag migration.
    const env = {
      STREAMFILL_TABLES: JSON.stringify({ session: 's-1', user: 'u-1' }),
      STREAMFILL_MIGRATIONS: 'session-user-type',
    };
    expect(lambdaConfig(env, PIKA).tables).toEqual({ session: 's-1', user: 'u-1' });
    // ... but a lookup's table is needed: session-user-type looks up user.
    const noUser = { ...env, STREAMFILL_TABLES: JSON.stringify({ session: 's-1' }) };
    expect(() => lambdaConfig(noUser, PIKA)).toThrow(/names no physical table for user/);
    // Without STREAMFILL_MIGRATIONS the config's defaults are enabled, tag-usage-mode among them.
    const defaults = { STREAMFILL_TABLES: env.STREAMFILL_TABLES };
    expect(() => lambdaConfig(defaults, PIKA)).toThrow(/names no physical table for tag/);
  });

  it('refuses an unset STREAMFILL_TABLES for a non-Pika config, even with the legacy variables', () => {
    const bad = () =>
      lambdaConfig({ STREAMFILL_SESSION_TABLE: 's', STREAMFILL_USER_TABLE: 'u' }, SHOP);
    expect(bad).toThrow(/STREAMFILL_TABLES is required: .*orders, customers/);
  });

  it('refuses bad JSON and undeclared names, naming the variable', () => {
    expect(() => lambdaConfig({ STREAMFILL_TABLES: '{orders' }, SHOP)).toThrow(
      /environment variable STREAMFILL_TABLES=\{orders: not JSON/,
    );
    expect(() =>
      lambdaConfig({ STREAMFILL_TABLES: '{"orders":"o-1","customers":"c-1","carts":"x-1"}' }, SHOP),
    ).toThrow(/no table "carts" is declared/);
  });

  it('accepts the legacy Pika variables for the Pika preset only when STREAMFILL_TABLES is unset', () => {
    const legacy = { STREAMFILL_SESSION_TABLE: 's-1', STREAMFILL_USER_TABLE: 'u-1' };
    expect(lambdaConfig(legacy, PIKA).tables).toEqual({ session: 's-1', user: 'u-1', tag: '' });
    expect(() => lambdaConfig({ STREAMFILL_SESSION_TABLE: 's-1' }, PIKA)).toThrow(
      /STREAMFILL_USER_TABLE is missing/,
    );
    const json = JSON.stringify({ session: 's-2', user: 'u-2', tag: 't-2' });
    expect(lambdaConfig({ ...legacy, STREAMFILL_TABLES: json }, PIKA).tables).toEqual({
      session: 's-2',
      user: 'u-2',
      tag: 't-2',
    });
  });

  it("checks STREAMFILL_MIGRATIONS against the config's migrations", () => {
    const env = { STREAMFILL_TABLES: TABLES, STREAMFILL_MIGRATIONS: 'order-total' };
    expect(lambdaConfig(env, SHOP).migrations).toEqual(['order-total']);
    expect(() => lambdaConfig({ ...env, STREAMFILL_MIGRATIONS: 'session-sort-key' }, SHOP)).toThrow(
      /names unknown migrations session-sort-key \(known: order-total\)/,
    );
  });
});

describe('config fingerprint', () => {
  it('is stable per config and differs between configs', () => {
    expect(configFingerprint(SHOP)).toMatch(/^[0-9a-f]{16}$/);
    expect(configFingerprint(SHOP)).toBe(
      configFingerprint(
        compilePlanner(
          resolveConfig(defineConfig({ tables: [orders, customers], migrations: [total] })),
        ),
      ),
    );
    expect(configFingerprint(SHOP)).not.toBe(configFingerprint(PIKA));
  });

  it('a bundle whose config differs from the environment refuses to start', () => {
    const env = { STREAMFILL_TABLES: TABLES, [CONFIG_FINGERPRINT_ENV]: configFingerprint(PIKA) };
    expect(() => lambdaConfig(env, SHOP)).toThrow(
      /STREAMFILL_CONFIG_FINGERPRINT is "[0-9a-f]{16}" but the bundled config's fingerprint is/,
    );
    const ok = { ...env, [CONFIG_FINGERPRINT_ENV]: configFingerprint(SHOP) };
    expect(lambdaConfig(ok, SHOP).tables.orders).toBe('orders-prod');
  });
});
