// resolveConfig: every rule, each problem named by its declaration and showing the bad value.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  defineLookup,
  defineMigration,
  defineSearch,
  defineTable,
  type AnyMigrationDef,
  type TableDef,
} from '../../../lib/core/config/define.ts';
import { ConfigError, resolveConfig } from '../../../lib/core/config/resolve.ts';

const orders = defineTable({ name: 'orders', key: ['tenant_id', 'order_no'], ttl: 'expires_at' });
const customers = defineTable({ name: 'customers', key: ['customer_id'] });
const tier = defineLookup({
  name: 'customer-tier',
  table: customers,
  key: (item) => ({ customer_id: item.customer_id }),
  attributes: ['tier'],
});
const statusSk = defineMigration({
  name: 'order-status-sk',
  table: orders,
  inputs: ['status'],
  writes: ['status_sk'],
  lookups: [tier],
  derive: (item) => ({ status_sk: String(item.status) }),
});
const keywords = defineSearch({
  name: 'order-keywords',
  table: orders,
  index: 'orders',
  id: (item) => String(item.order_no),
  version: 'updated_at',
  fields: { status_keyword: 'status' },
});

/** The issues of a config made of `tables` and `migrations` (raw objects allowed). */
function issuesOf(tables: readonly unknown[], migrations: readonly unknown[]): readonly string[] {
  try {
    resolveConfig({ tables, migrations });
  } catch (e) {
    if (e instanceof ConfigError) return e.issues;
    throw e;
  }
  return [];
}

const ok = [orders, customers];
const mig = (over: Record<string, unknown>): AnyMigrationDef =>
  ({ ...statusSk, ...over }) as unknown as AnyMigrationDef;
const search = (over: Record<string, unknown>): AnyMigrationDef =>
  ({ ...keywords, ...over }) as unknown as AnyMigrationDef;
const table = (over: Record<string, unknown>): TableDef =>
  ({ ...orders, ...over }) as unknown as TableDef;

describe('resolveConfig', () => {
  it('accepts a valid config and indexes it', () => {
    const r = resolveConfig({ tables: ok, migrations: [statusSk, keywords] });
    expect(r.migratedTables).toEqual(['orders']);
    expect(r.defaultMigrations).toEqual(['order-status-sk', 'order-keywords']);
    expect([...r.lookups.keys()]).toEqual(['customer-tier']);
  });

  it('rejects a non-object config and missing lists, showing the value', () => {
    expect(() => resolveConfig(42)).toThrow('the config is not an object, got 42');
    expect(issuesOf(undefined as never, [])).toEqual([
      'tables: expected a list of defineTable(…), got undefined',
    ]);
  });

  it('table key: 1 or 2 distinct non-empty names', () => {
    for (const key of [[], ['a', 'b', 'c'], ['a', 'a'], ['a', ''], 'a']) {
      expect(issuesOf([table({ key, ttl: undefined })], [])).toEqual([
        `table "orders": key must be 1 or 2 distinct non-empty attribute names (partition key first), got ${JSON.stringify(key)}`,
      ]);
    }
  });

  it('ttl is not a key attribute', () => {
    expect(issuesOf([table({ ttl: 'order_no' })], [])).toEqual([
      'table "orders": ttl "order_no" is a key attribute',
    ]);
  });

  it('table, migration and lookup names are unique', () => {
    const otherTier = { ...tier, attributes: ['x'] };
    expect(
      issuesOf(
        [orders, orders, customers],
        [statusSk, statusSk, mig({ name: 'b', writes: ['b'], lookups: [otherTier] })],
      ),
    ).toEqual([
      'table "orders" is declared twice',
      'migration "order-status-sk" is declared twice',
      'lookup "customer-tier" is declared twice (two different defineLookup)',
    ]);
  });

  it("a migration's table and its lookups' tables are declared", () => {
    expect(issuesOf([orders], [statusSk])).toEqual([
      'lookup "customer-tier": table "customers" is not in tables',
    ]);
    expect(issuesOf([customers], [keywords])).toEqual([
      'search "order-keywords": table "orders" is not in tables',
    ]);
  });

  it('writes: non-empty, no key attribute, not the ttl', () => {
    expect(issuesOf(ok, [mig({ writes: [] })])).toEqual([
      'migration "order-status-sk": writes: must name at least one attribute',
    ]);
    expect(issuesOf(ok, [mig({ writes: ['order_no', 'expires_at'] })])).toEqual([
      'migration "order-status-sk": writes "order_no", a key attribute of table "orders"',
      'migration "order-status-sk": writes "expires_at", the ttl attribute of table "orders"',
    ]);
  });

  it('no attribute written by two item migrations of one table', () => {
    expect(issuesOf(ok, [statusSk, mig({ name: 'other' })])).toEqual([
      'migration "other": writes "status_sk", already written by migration "order-status-sk" of table "orders"',
    ]);
  });

  it('inputs, writes and lookup attributes: lists of non-empty unique names', () => {
    expect(issuesOf(ok, [mig({ inputs: ['a', 'a', ''], writes: 'x' })])).toEqual([
      'migration "order-status-sk": inputs: "" is not a non-empty name',
      'migration "order-status-sk": inputs: "a" is listed twice',
      'migration "order-status-sk": writes: expected a list of attribute names, got "x"',
    ]);
    expect(issuesOf(ok, [mig({ lookups: [{ ...tier, attributes: [] }] })])).toEqual([
      'lookup "customer-tier": attributes: must name at least one attribute',
    ]);
  });

  it('derive, lookup key and search id are functions', () => {
    expect(
      issuesOf(ok, [mig({ derive: 'x', lookups: [{ ...tier, key: null }] }), search({ id: 3 })]),
    ).toEqual([
      'migration "order-status-sk": derive must be a function, got "x"',
      'lookup "customer-tier": key must be a function, got null',
      'search "order-keywords": id must be a function, got 3',
    ]);
  });

  it('search: index, version and fields with attribute sources', () => {
    expect(issuesOf(ok, [search({ index: '', version: ' ', fields: {} })])).toEqual([
      'search "order-keywords": index must be a non-empty name, got ""',
      'search "order-keywords": version must be a non-empty attribute name, got " "',
      'search "order-keywords": fields must declare at least one field',
    ]);
    expect(issuesOf(ok, [search({ fields: { f: 3 } })])).toEqual([
      'search "order-keywords": field "f" must name an attribute, got 3',
    ]);
  });

  it('no field declared by two searches of one index; one version per index', () => {
    expect(issuesOf(ok, [keywords, search({ name: 'k2', version: 'v' })])).toEqual([
      'search "k2": field "status_keyword" of index "orders" is already declared by search "order-keywords"',
      'search "k2": version "v" differs from "updated_at" of search "order-keywords" on the same index "orders"',
    ]);
  });

  it('optIn is a boolean', () => {
    expect(issuesOf(ok, [mig({ optIn: 'yes' })])).toEqual([
      'migration "order-status-sk": optIn must be true or false, got "yes"',
    ]);
  });

  it('collects every problem at once', () => {
    expect(
      issuesOf([table({ ttl: 'tenant_id' })], [mig({ optIn: 1 }), search({ index: 7 })]),
    ).toHaveLength(4);
  });
});

describe('resolveConfig on arbitrary input', () => {
  it('throws only ConfigError, whatever the shape of the declarations', () => {
    const junk = fc.oneof(
      fc.constantFrom(undefined, null, 0, '', 'x', [], {}, () => 1),
      fc.constant(['a', 'a']),
    );
    const field = (name: string) => fc.record({ [name]: junk }, { requiredKeys: [] });
    const tableArb = fc
      .tuple(fc.constantFrom(orders, customers), field('key'), field('ttl'), field('name'))
      .map(([t, ...over]) => Object.assign({}, t, ...over) as unknown);
    const migrationArb = fc
      .tuple(
        fc.constantFrom<unknown>(statusSk, keywords),
        fc.constantFrom(
          'table',
          'inputs',
          'writes',
          'lookups',
          'derive',
          'fields',
          'index',
          'name',
        ),
        junk,
      )
      .map(([m, k, v]) => ({ ...(m as object), [k]: v }) as unknown);
    fc.assert(
      fc.property(
        fc.array(fc.oneof(tableArb, junk), { maxLength: 3 }),
        fc.array(fc.oneof(migrationArb, junk), { maxLength: 3 }),
        (tables, migrations) => {
          try {
            resolveConfig({ tables, migrations });
          } catch (e) {
            expect(e).toBeInstanceOf(ConfigError);
          }
        },
      ),
      { numRuns: 500 },
    );
  });
});
