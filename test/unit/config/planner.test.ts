// compilePlanner: what the engine computes for a declared migration (never the user).
import { describe, expect, it } from 'vitest';
import {
  defineConfig,
  defineLookup,
  defineMigration,
  defineSearch,
  defineTable,
  malformed,
} from '../../../lib/core/config/define.ts';
import { compilePlanner } from '../../../lib/core/config/planner.ts';
import { ConfigError, resolveConfig } from '../../../lib/core/config/resolve.ts';
import { LookupMissingError, MalformedItemError } from '../../../lib/core/errors.ts';
import { ExactNumber } from '../../../lib/core/exact-number.ts';

const orders = defineTable({ name: 'orders', key: ['tenant_id', 'order_no'], ttl: 'expires_at' });
const blobs = defineTable({ name: 'blobs', key: ['digest'] });
const customers = defineTable({ name: 'customers', key: ['customer_id'] });
const tier = defineLookup({
  name: 'customer-tier',
  table: customers,
  key: (item) => (item.customer_id === undefined ? null : { customer_id: item.customer_id }),
  attributes: ['tier'],
});
const other = defineLookup({
  name: 'other',
  table: customers,
  key: () => ({ customer_id: 'c0' }),
  attributes: ['tier'],
});

/** A planner of `orders` with the given migrations (plus the tables they need). */
function plannerOf(...migrations: Parameters<typeof defineConfig>[0]['migrations'][number][]) {
  return compilePlanner(
    resolveConfig(defineConfig({ tables: [orders, blobs, customers], migrations })),
  );
}

const copy = defineMigration({
  name: 'copy',
  table: orders,
  inputs: ['a', 'unused'],
  writes: ['b'],
  derive: (item) => ({ b: item.a }),
});
const order = { tenant_id: 't1', order_no: 7, a: 'x' };

function thrown(f: () => unknown): unknown {
  try {
    f();
  } catch (e) {
    return e;
  }
  throw new Error('did not throw');
}

describe('keys', () => {
  it('string, number, big number and binary key values', () => {
    const p = plannerOf(copy);
    expect(p.keyOf('orders', order)).toEqual({ tenant_id: 't1', order_no: 7 });
    const big = new ExactNumber('9007199254740993');
    expect(p.keyOf('orders', { tenant_id: 't', order_no: big }).order_no).toBe(big);
    const digest = new Uint8Array([1, 2]);
    expect(p.keyOf('blobs', { digest })).toEqual({ digest });
  });

  it('a missing, mistyped or empty key attribute makes the item malformed, naming it', () => {
    const p = plannerOf(copy);
    for (const [item, message] of [
      [{ tenant_id: 't' }, 'orders item {tenant_id="t"}: field "order_no" is missing'],
      [
        { tenant_id: 't', order_no: true },
        'field "order_no" has type boolean, expected string, number or binary',
      ],
      [{ tenant_id: '', order_no: 1 }, 'field "tenant_id" is empty'],
    ] as const) {
      const e = thrown(() => p.planItem('orders', item, {}));
      expect(e).toBeInstanceOf(MalformedItemError);
      expect((e as Error).message).toContain(message);
    }
    expect((thrown(() => p.keyOf('blobs', { digest: new Uint8Array() })) as Error).message).toBe(
      'blobs item {}: field "digest" is empty',
    );
  });
});

describe('derive', () => {
  it('sees only its declared inputs and the key', () => {
    let seen: unknown;
    const spy = defineMigration({
      name: 'spy',
      table: orders,
      inputs: ['a'],
      writes: ['b'],
      derive: (item) => {
        seen = item;
        return null;
      },
    });
    plannerOf(spy).planItem('orders', { ...order, secret: 's' }, {});
    expect(seen).toEqual({ tenant_id: 't1', order_no: 7, a: 'x' });
  });

  it('a derive that mutates what it reads changes neither the item nor the conditions', () => {
    const mutating = defineMigration({
      name: 'mutating',
      table: orders,
      inputs: ['tags'],
      writes: ['tag_count'],
      derive: (item) => {
        const tags = item.tags as string[];
        tags.push('added');
        return { tag_count: tags.length };
      },
    });
    const item = { ...order, tags: ['a'] };
    const r = plannerOf(mutating).planItem('orders', item, {});
    expect(item.tags).toEqual(['a']);
    expect(r.change?.conditions).toContainEqual({ op: 'equals', attribute: 'tags', value: ['a'] });
  });

  it('a returned attribute outside writes is a config error naming the migration and it', () => {
    const bad = defineMigration({
      name: 'bad',
      table: orders,
      inputs: [],
      writes: ['b'],
      derive: () => ({ b: 1, c: 2 }) as never,
    });
    const e = thrown(() => plannerOf(bad).planItem('orders', order, {}));
    expect(e).toBeInstanceOf(ConfigError);
    expect((e as Error).message).toContain(
      'migration "bad": derive returned "c", which is not in writes ["b"]',
    );
  });

  it('undefined removes, a left-out write stays, null changes nothing', () => {
    const m = defineMigration({
      name: 'm',
      table: orders,
      inputs: ['a'],
      writes: ['b', 'c', 'd'],
      derive: (item) => (item.a === 'none' ? null : { b: undefined, c: undefined }),
    });
    const p = plannerOf(m);
    const r = p.planItem('orders', { ...order, b: 1, d: 2 }, {});
    expect(r.change?.remove).toEqual(['b']); // c is absent: no REMOVE of it
    expect(r.change?.set).toEqual({});
    expect(p.planItem('orders', { ...order, c: 1 }, {}).change?.remove).toEqual(['c']);
    expect(p.planItem('orders', order, {}).change).toBeNull();
    expect(p.planItem('orders', { ...order, a: 'none', b: 1 }, {}).change).toBeNull();
  });

  it('no change when every wanted value already equals the item (deep, numbers by value)', () => {
    const value = {
      m: { l: [1, 'x', new Uint8Array([3])], s: new Set(['a', 'b']) },
      n: new ExactNumber('1.50'),
    };
    const m = defineMigration({
      name: 'm',
      table: orders,
      inputs: [],
      writes: ['v'],
      derive: () => ({ v: value }),
    });
    const p = plannerOf(m);
    const same = { m: { l: [1, 'x', new Uint8Array([3])], s: new Set(['b', 'a']) }, n: 1.5 };
    expect(p.planItem('orders', { ...order, v: same }, {}).change).toBeNull();
    const other = { ...same, m: { ...same.m, s: new Set(['a']) } };
    expect(p.planItem('orders', { ...order, v: other }, {}).change?.set).toEqual({ v: value });
  });

  it('conditions: the partition key exists, every declared input equals or is absent', () => {
    const r = plannerOf(copy).planItem('orders', { ...order, a: { deep: [1] } }, {});
    expect(r.change?.conditions).toEqual([
      { op: 'exists', attribute: 'tenant_id' },
      { op: 'equals', attribute: 'a', value: { deep: [1] } },
      { op: 'notExists', attribute: 'unused' },
    ]);
  });

  it('malformed(reason) parks the item with the reason, naming table and migration', () => {
    const m = defineMigration({
      name: 'needs-a',
      table: orders,
      inputs: ['a'],
      writes: ['b'],
      derive: () => {
        throw malformed('a is odd');
      },
    });
    const e = thrown(() => plannerOf(m).planItem('orders', order, {})) as MalformedItemError;
    expect(e).toBeInstanceOf(MalformedItemError);
    expect(e.table).toBe('orders');
    expect(e.message).toBe(
      'orders item {tenant_id="t1", order_no=7}: migration "needs-a": a is odd',
    );
  });

  it('an item whose TTL has passed is left alone', () => {
    const p = plannerOf(copy);
    expect(p.planItem('orders', { ...order, expires_at: 99 }, { nowSeconds: 100 })).toEqual({
      change: null,
      search: null,
      expired: true,
    });
    expect(
      p.planItem('orders', { ...order, expires_at: 101 }, { nowSeconds: 100 }).change,
    ).not.toBeNull();
  });

  it('merges the migrations of an item in config order into one change', () => {
    const second = defineMigration({
      name: 'second',
      table: orders,
      inputs: ['a'],
      writes: ['c'],
      derive: (item) => ({ c: `${String(item.a)}!` }),
    });
    const r = plannerOf(copy, second).planItem('orders', order, {});
    expect(r.change?.set).toEqual({ b: 'x', c: 'x!' });
    expect(r.change?.migrations).toEqual(['copy', 'second']);
    expect(plannerOf(copy, second).planItem('orders', order, {}, ['second']).change?.set).toEqual({
      c: 'x!',
    });
  });
});

describe('lookups', () => {
  const withTier = defineMigration({
    name: 'with-tier',
    table: orders,
    inputs: ['customer_id'],
    writes: ['tier'],
    lookups: [tier],
    derive: (item, ctx) => ({ tier: ctx.lookup(tier)?.tier ?? 'standard' }),
  });
  const item = { ...order, customer_id: 'c1' };

  it('collects the distinct keys of a page per looked-up table, and files what was read', () => {
    const p = plannerOf(withTier);
    const items = [
      item,
      { ...item, order_no: 8 },
      { ...item, order_no: 9, customer_id: 'c2' },
      order,
    ];
    const reads = p.collectLookups('orders', items);
    expect(reads.byTable.get('customers')).toEqual([{ customer_id: 'c1' }, { customer_id: 'c2' }]);
    const lookups = p.lookupResults(
      reads,
      new Map([['customers', [{ customer_id: 'c1', tier: 'gold', secret: 1 }]]]),
    );
    expect(p.planItem('orders', item, { lookups }).change?.set).toEqual({ tier: 'gold' });
    expect(p.planItem('orders', items[2]!, { lookups }).change?.set).toEqual({ tier: 'standard' });
    // A null key: nothing read, nothing needed.
    expect(p.planItem('orders', order, {}).change?.set).toEqual({ tier: 'standard' });
  });

  it('the derive sees only the declared attributes of the looked-up item', () => {
    let seen: unknown;
    const spy = defineMigration({
      name: 'spy',
      table: orders,
      inputs: ['customer_id'],
      writes: ['tier'],
      lookups: [tier],
      derive: (_item, ctx) => {
        seen = ctx.lookup(tier);
        return null;
      },
    });
    const p = plannerOf(spy);
    const lookups = p.lookupResults(
      p.collectLookups('orders', [item]),
      new Map([['customers', [{ customer_id: 'c1', tier: 'gold', secret: 1 }]]]),
    );
    p.planItem('orders', item, { lookups });
    expect(seen).toEqual({ tier: 'gold' });
  });

  it('a key that was not looked up throws LookupMissingError, never a default', () => {
    const p = plannerOf(withTier);
    const failedRead = p.lookupResults(p.collectLookups('orders', [item]), new Map());
    for (const ctx of [{}, { lookups: failedRead }]) {
      const e = thrown(() => p.planItem('orders', item, ctx));
      expect(e).toBeInstanceOf(LookupMissingError);
      expect((e as Error).message).toContain('lookup "customer-tier"');
    }
  });

  it('a lookup the migration does not declare is a config error naming both', () => {
    const sneaky = defineMigration({
      name: 'sneaky',
      table: orders,
      inputs: [],
      writes: ['tier'],
      lookups: [tier],
      derive: (_item, ctx) => ({ tier: ctx.lookup(other as never) }),
    });
    const e = thrown(() => plannerOf(sneaky).planItem('orders', order, {}));
    expect(e).toBeInstanceOf(ConfigError);
    expect((e as Error).message).toContain(
      'migration "sneaky": derive asked for lookup "other", which it does not declare',
    );
  });
});

describe('search', () => {
  const a = defineSearch({
    name: 'a',
    table: orders,
    index: 'orders',
    id: (item) => `${String(item.tenant_id)}/${String(item.order_no)}`,
    version: 'updated at',
    fields: { status_keyword: 'status' },
  });
  const b = defineSearch({
    name: 'b',
    table: orders,
    index: 'orders',
    id: (item) => `${String(item.tenant_id)}/${String(item.order_no)}`,
    version: 'updated at',
    fields: { b_keyword: 'b' },
  });

  it('doc of string attributes, remove of the others, version checked, one update per index', () => {
    const p = plannerOf(copy, a, b);
    const item = { ...order, status: 'open', 'updated at': 1_735_689_600 };
    // The search sees the item after the DynamoDB change (b = 'x').
    expect(p.planItem('orders', item, {}).search).toEqual({
      id: 't1/7',
      doc: { status_keyword: 'open', b_keyword: 'x' },
      version: '1735689600',
    });
    expect(p.planSearchFor('orders', { ...item, status: 3, b: 'y' })).toEqual({
      id: 't1/7',
      doc: { b_keyword: 'y' },
      remove: ['status_keyword'],
      version: '1735689600',
    });
    // No field has a value: no update at all.
    expect(p.planSearchFor('orders', { ...item, status: 3 })).toBeNull();
  });

  it('an item without a usable version is malformed', () => {
    const p = plannerOf(a);
    const e = thrown(() =>
      p.planSearchFor('orders', { ...order, status: 'open', 'updated at': 'soon' }),
    );
    expect((e as Error).message).toContain('field "updated at" is "soon", not a version');
    expect(() => p.planSearchFor('orders', { ...order, status: 'open' })).toThrow(
      'field "updated at" is missing',
    );
  });

  it('the guard reads the declared version attribute', () => {
    const spec = plannerOf(a, b).searchSpecFor('orders')!;
    expect(spec.guard).toContain('def lu = src["updated at"];');
    expect(spec.mapping.properties).toEqual({
      status_keyword: { type: 'keyword' },
      b_keyword: { type: 'keyword' },
      streamfill_keywords_version: { type: 'long' },
    });
  });
});

describe('projection', () => {
  it('carries the key, inputs, item writes, search sources and version, and the TTL', () => {
    const search = defineSearch({
      name: 'kw',
      table: orders,
      index: 'orders',
      id: (item) => String(item.order_no),
      version: 'updated_at',
      fields: { status_keyword: 'status' },
    });
    const p = plannerOf(copy, search);
    expect(p.projection('orders').sort()).toEqual(
      ['a', 'b', 'expires_at', 'order_no', 'status', 'tenant_id', 'unused', 'updated_at'].sort(),
    );
    expect(p.projection('orders', ['kw']).sort()).toEqual(
      ['expires_at', 'order_no', 'status', 'tenant_id', 'updated_at'].sort(),
    );
    expect(p.projection('blobs')).toEqual(['digest']);
  });
});
