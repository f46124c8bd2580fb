import { describe, expect, it } from 'vitest';
import { defineTable } from '../../../lib/core/config/define.ts';
import { resolveTableNames, TableNameError } from '../../../lib/core/config/table-names.ts';

const orders = defineTable({ name: 'orders', key: ['tenant_id', 'order_no'] });
const customers = defineTable({ name: 'customers', key: ['customer_id'], localName: 'cust-local' });
const tags = defineTable({ name: 'tags', key: ['tag'] });
const TABLES = [orders, customers, tags];

function issues(f: () => unknown): readonly string[] {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(TableNameError);
    return (e as TableNameError).issues;
  }
  throw new Error('expected a TableNameError');
}

describe('physical table names', () => {
  it('defaults to localName, else the declared name', () => {
    const names = resolveTableNames(TABLES);
    expect(names.get('orders')).toEqual({ name: 'orders', from: 'declared' });
    expect(names.get('customers')).toEqual({ name: 'cust-local', from: 'localName' });
  });

  it('takes --table-name over STREAMFILL_TABLES over the stack over localName', () => {
    const names = resolveTableNames(TABLES, {
      flags: ['orders=orders-flag'],
      env: JSON.stringify({ orders: 'orders-env', customers: 'cust-env' }),
      stack: { orders: 'orders-stack', customers: 'cust-stack', tags: 'tags-stack' },
    });
    expect(Object.fromEntries(names)).toEqual({
      orders: { name: 'orders-flag', from: 'flag' },
      customers: { name: 'cust-env', from: 'env' },
      tags: { name: 'tags-stack', from: 'stack' },
    });
  });

  it('ignores stack outputs for tables the config does not declare', () => {
    const names = resolveTableNames([orders], { stack: { session: 'chat-session-prod' } });
    expect([...names.keys()]).toEqual(['orders']);
  });

  it('accepts the same --table-name twice', () => {
    const names = resolveTableNames(TABLES, { flags: ['orders=o-1', 'orders=o-1'] });
    expect(names.get('orders')?.name).toBe('o-1');
  });

  it('names a malformed --table-name value', () => {
    for (const bad of ['orders', '=orders-prod', 'orders=', ' = ']) {
      expect(issues(() => resolveTableNames(TABLES, { flags: [bad] }))).toEqual([
        `--table-name ${JSON.stringify(bad)}: expected <declared name>=<physical name>, e.g. orders=orders-prod`,
      ]);
    }
  });

  it('names an unknown declared name, listing the declared ones', () => {
    expect(issues(() => resolveTableNames(TABLES, { flags: ['order=orders-prod'] }))).toEqual([
      '--table-name "order=orders-prod": no table "order" is declared (declared: orders, customers, tags)',
    ]);
    expect(issues(() => resolveTableNames(TABLES, { env: '{"users":"u-prod"}' }))).toEqual([
      'STREAMFILL_TABLES "users": "u-prod": no table "users" is declared (declared: orders, customers, tags)',
    ]);
  });

  it('refuses a physical name DynamoDB would refuse', () => {
    expect(issues(() => resolveTableNames(TABLES, { flags: ['orders=a b'] }))[0]).toMatch(
      /^--table-name "orders=a b": the physical name must be 3 to 255 characters/,
    );
  });

  it('names bad STREAMFILL_TABLES JSON, a non-object and a non-string value', () => {
    expect(issues(() => resolveTableNames(TABLES, { env: '{orders:1' }))[0]).toMatch(
      /^STREAMFILL_TABLES=\{orders:1: not JSON \(/,
    );
    expect(issues(() => resolveTableNames(TABLES, { env: '["orders"]' }))).toEqual([
      'STREAMFILL_TABLES=["orders"]: expected a JSON object, declared name → physical name',
    ]);
    expect(issues(() => resolveTableNames(TABLES, { env: '{"orders":42}' }))).toEqual([
      'STREAMFILL_TABLES "orders": 42: the physical name must be a string',
    ]);
  });

  it('refuses one --table-name mapping a table two ways', () => {
    expect(
      issues(() => resolveTableNames(TABLES, { flags: ['orders=o-1', 'orders=o-2'] })),
    ).toEqual(['--table-name "orders=o-2": "orders" is already mapped to "o-1" by --table-name']);
  });

  it('refuses two declared tables on one physical table, naming both sources', () => {
    expect(
      issues(() =>
        resolveTableNames(TABLES, {
          flags: ['orders=shared-table'],
          env: '{"tags":"shared-table"}',
        }),
      ),
    ).toEqual([
      'tables "orders" (--table-name) and "tags" (STREAMFILL_TABLES) are both mapped to the physical table "shared-table"',
    ]);
    expect(issues(() => resolveTableNames(TABLES, { flags: ['orders=cust-local'] }))).toEqual([
      'tables "orders" (--table-name) and "customers" (localName) are both mapped to the physical table "cust-local"',
    ]);
  });

  it('reports every problem at once', () => {
    expect(
      issues(() => resolveTableNames(TABLES, { flags: ['x=y-table', 'orders'], env: 'nope' })),
    ).toHaveLength(3);
  });

  it('treats an empty STREAMFILL_TABLES as unset', () => {
    expect(resolveTableNames(TABLES, { env: '' }).get('orders')?.from).toBe('declared');
  });
});
