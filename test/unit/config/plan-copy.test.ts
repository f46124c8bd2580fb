// A copy's plan, pure: targets checked and stamped, conditions on the source, digests that are
// equal exactly for equal writes; and resolveConfig's rules for defineCopy.
import { describe, expect, it } from 'vitest';
import {
  defineConfig,
  defineCopy,
  defineLookup,
  defineTable,
  malformed,
  type CopyDef,
} from '../../../lib/core/config/define.ts';
import {
  COPY_ATTRIBUTES,
  NO_TARGETS_DIGEST,
  planCopy,
  planCopyOfGone,
} from '../../../lib/core/config/plan-copy.ts';
import { compilePlanner } from '../../../lib/core/config/planner.ts';
import { ConfigError, resolveConfig } from '../../../lib/core/config/resolve.ts';
import { isLookupMissingError, isMalformedItemError } from '../../../lib/core/errors.ts';

const src = defineTable({ name: 'src', key: ['id'] });
const a = defineTable({ name: 'a', key: ['pk', 'sk'] });
const b = defineTable({ name: 'b', key: ['k'] });
const owners = defineTable({ name: 'owners', key: ['owner_id'] });

const copyWith = (derive: CopyDef['derive'], extra: Partial<CopyDef> = {}): CopyDef =>
  ({
    ...defineCopy({
      name: 'c',
      from: src,
      to: [a, b],
      inputs: ['x', 'tags'],
      derive: derive as never,
    }),
    ...extra,
  }) as CopyDef;
const plan = (c: CopyDef, item: Record<string, unknown>) =>
  planCopy(c, src, { id: 'i1', ...item }, { id: 'i1' }, {});

describe('planCopy', () => {
  const fanOut = copyWith((item) => [
    {
      table: a,
      item: { pk: item.id, sk: 'one', x: item.x, hidden: (item as Record<string, unknown>).secret },
    },
    { table: b, item: { k: `b-${String(item.id)}`, tags: item.tags } },
  ]);

  it('stamps every target with the copy, the source and the source version', () => {
    const p = plan(fanOut, { x: 1, tags: new Set(['p', 'q']), secret: 's' });
    expect(p.targets.map((t) => [t.table, t.key])).toEqual([
      ['a', { pk: 'i1', sk: 'one' }],
      ['b', { k: 'b-i1' }],
    ]);
    const [first] = p.targets;
    expect(first?.item[COPY_ATTRIBUTES.copy]).toBe('c');
    expect(first?.item[COPY_ATTRIBUTES.source]).toBe('src:{"id":"i1"}');
    expect(first?.item[COPY_ATTRIBUTES.version]).toBe(p.version);
    // An undeclared attribute is invisible to derive (and so left out of the target).
    expect('hidden' in (first?.item ?? {})).toBe(false);
  });

  it('conditions the write on the source existing with every input as read, or absent', () => {
    expect(plan(fanOut, { x: 1 }).conditions).toEqual([
      { op: 'exists', attribute: 'id' },
      { op: 'equals', attribute: 'x', value: 1 },
      { op: 'notExists', attribute: 'tags' },
    ]);
    expect(planCopyOfGone(fanOut, src, { id: 'i1' })).toMatchObject({
      conditions: [{ op: 'notExists', attribute: 'id' }],
      targets: [],
      version: null,
      digest: NO_TARGETS_DIGEST,
    });
  });

  it('gives equal digests exactly for equal writes (set order and map key order do not count)', () => {
    const one = plan(fanOut, { x: { m: 1, n: 2 }, tags: new Set(['p', 'q']) });
    const same = plan(fanOut, { x: { n: 2, m: 1 }, tags: new Set(['q', 'p']) });
    const other = plan(fanOut, { x: { n: 2, m: 1 }, tags: new Set(['q']) });
    expect(same.digest).toBe(one.digest);
    expect(same.version).toBe(one.version);
    expect(other.digest).not.toBe(one.digest);
    expect(other.version).not.toBe(one.version);
    // A map whose list is named "values" is not a set: its order counts.
    const l1 = plan(fanOut, { x: { values: [1, 2] } });
    const l2 = plan(fanOut, { x: { values: [2, 1] } });
    expect(l1.digest).not.toBe(l2.digest);
  });

  it('makes a malformed(…) or a target without its key a malformed source, with the reason', () => {
    const refuses = copyWith(() => {
      throw malformed('no owner');
    });
    expect(() => plan(refuses, {})).toThrow(/copy "c": no owner/);
    const keyless = copyWith((item) => [{ table: a, item: { pk: item.x, sk: 's' } }]);
    let e: unknown;
    try {
      plan(keyless, {});
    } catch (err) {
      e = err;
    }
    expect(isMalformedItemError(e)).toBe(true);
    expect(String(e)).toMatch(/target in "a" has no usable key/);
  });

  it.each([
    [
      'a table outside to',
      () => [{ table: owners, item: { owner_id: 'o' } }],
      /not in to \(a, b\)/,
    ],
    [
      'a bookkeeping attribute',
      () => [{ table: b, item: { k: '1', streamfill_source: 'me' } }],
      /prefix is the engine's/,
    ],
    [
      'one target twice',
      () => [
        { table: b, item: { k: '1' } },
        { table: b, item: { k: '1' } },
      ],
      /twice/,
    ],
    ['no list', () => ({ table: b, item: { k: '1' } }), /must return a list/],
    [
      'a value DynamoDB cannot store',
      () => [{ table: b, item: { k: '1', v: Number.NaN } }],
      /cannot store/,
    ],
  ])('refuses a derive that returns %s (a config error)', (_what, derive, message) => {
    expect(() => plan(copyWith(derive as CopyDef['derive']), {})).toThrow(ConfigError);
    expect(() => plan(copyWith(derive as CopyDef['derive']), {})).toThrow(message);
  });

  it('reads a lookup only when it was read beforehand', () => {
    const owner = defineLookup({
      name: 'owner',
      table: owners,
      key: (i) => ({ owner_id: i.x }),
      attributes: ['name'],
    });
    const c = defineCopy({
      name: 'c',
      from: src,
      to: [b],
      inputs: ['x'],
      lookups: [owner],
      derive: (_i, ctx) => [{ table: b, item: { k: String(ctx.lookup(owner)?.name) } }],
    });
    let e: unknown;
    try {
      planCopy(c, src, { id: 'i', x: 'o1' }, { id: 'i' }, {});
    } catch (err) {
      e = err;
    }
    expect(isLookupMissingError(e)).toBe(true);
    const p = planCopy(
      c,
      src,
      { id: 'i', x: 'o1' },
      { id: 'i' },
      {
        lookups: new Map([
          ['owner', new Map([['owners:{"owner_id":"o1"}', { owner_id: 'o1', name: 'Ann' }]])],
        ]),
      },
    );
    expect(p.targets[0]?.key).toEqual({ k: 'Ann' });
  });

  it('folds a lookup of the source item itself into the source check (one action per item)', () => {
    const self = defineLookup({
      name: 'self',
      table: src,
      key: (i) => ({ id: i.id }),
      attributes: ['secret'],
    });
    const c = defineCopy({
      name: 'c',
      from: src,
      to: [b],
      inputs: ['x'],
      lookups: [self],
      derive: (i, ctx) => [
        { table: b, item: { k: `${String(i.x)}-${String(ctx.lookup(self)?.secret)}` } },
      ],
    });
    const p = planCopy(
      c,
      src,
      { id: 'i', x: 'a' },
      { id: 'i' },
      {
        lookups: new Map([
          ['self', new Map([['src:{"id":"i"}', { id: 'i', x: 'a', secret: 's' }]])],
        ]),
      },
    );
    expect(p.dependencies.checks).toEqual([]);
    expect(p.dependencies.on).toEqual(['dep#self#src:{"id":"i"}']);
    expect(p.conditions).toContainEqual({ op: 'equals', attribute: 'secret', value: 's' });
    expect(p.targets[0]?.key).toEqual({ k: 'a-s' });
  });

  it('says a source is skipped, with the lookup, only when an absent lookup leaves no target', () => {
    const owner = defineLookup({
      name: 'owner',
      table: owners,
      key: (i) => (i.x ? { owner_id: i.x } : null),
      attributes: ['name'],
    });
    const c = defineCopy({
      name: 'c',
      from: src,
      to: [b],
      inputs: ['x'],
      lookups: [owner],
      derive: (i, ctx) => {
        const found = ctx.lookup(owner);
        return found || !i.x ? [{ table: b, item: { k: `b-${String(i.id)}` } }] : [];
      },
    });
    const read = (found: Record<string, unknown> | null) => ({
      lookups: new Map([['owner', new Map([['owners:{"owner_id":"o1"}', found]])]]),
    });
    const absent = planCopy(c, src, { id: 'i', x: 'o1' }, { id: 'i' }, read(null));
    expect(absent.targets).toEqual([]);
    expect(absent.skipped).toBe('lookup "owner" found no owners:{"owner_id":"o1"}');
    const found = planCopy(c, src, { id: 'i', x: 'o1' }, { id: 'i' }, read({ owner_id: 'o1' }));
    expect(found.targets).toHaveLength(1);
    expect(found.skipped).toBeUndefined();
    // Nothing to look up is not a skip: the derivation chose its targets.
    const none = planCopy(c, src, { id: 'i' }, { id: 'i' }, {});
    expect(none.skipped).toBeUndefined();
  });
});

describe('resolveConfig of a copy', () => {
  const issuesOf = (copy: unknown, tables = [src, a, b]) => {
    try {
      resolveConfig({ tables, migrations: [copy] });
      return [];
    } catch (e) {
      return (e as ConfigError).issues;
    }
  };
  const ok = {
    kind: 'streamfill.copy',
    name: 'c',
    from: src,
    to: [a],
    inputs: ['x'],
    derive: () => [],
  };

  it('accepts a valid copy, and its source becomes a migrated table with a copy summary', () => {
    const planner = compilePlanner(
      resolveConfig(defineConfig({ tables: [src, a], migrations: [ok as CopyDef] })),
    );
    expect(planner.migratedTables).toEqual(['src']);
    expect(planner.summaries.get('c')).toMatchObject({
      target: 'copy',
      table: 'src',
      copiesTo: ['a'],
      inputs: ['x'],
    });
    expect(planner.projection('src')).toEqual(['id', 'x']);
    expect(planner.copiesFor('src').map((c) => c.name)).toEqual(['c']);
    expect(planner.planItem('src', { id: '1', x: 1 }, {})).toMatchObject({
      change: null,
      search: null,
    });
  });

  it.each([
    ['to holding the source', { ...ok, to: [src] }, /to lists the source table "src"/],
    ['an empty to', { ...ok, to: [] }, /to must list at least one/],
    ['an undeclared target', { ...ok, to: [owners] }, /to: table "owners" is not in tables/],
    ['an undeclared source', { ...ok, from: owners }, /from: table "owners" is not in tables/],
    ['a bookkeeping input', { ...ok, inputs: ['streamfill_source'] }, /reserved prefix/],
    ['no derive', { ...ok, derive: 'x' }, /derive must be a function/],
  ])('refuses %s, naming the copy', (_what, copy, message) => {
    const issues = issuesOf(copy);
    expect(issues.join('\n')).toMatch(message);
    expect(issues.join('\n')).toMatch(/copy "c"/);
  });
});
