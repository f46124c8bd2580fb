// The copy diff's pure verdicts: a plan against what its target keys hold, a stamped target
// against its source's plan now, and a source id read back into its table and key.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { COPY_ATTRIBUTES, type CopyPlan } from '../../../lib/core/config/plan-copy.ts';
import {
  classifyPlan,
  classifyStamped,
  differingAttributes,
  stampedSource,
} from '../../../lib/core/cutover-diff.ts';
import { ExactNumber } from '../../../lib/core/exact-number.ts';
import { keyId, parseKeyId } from '../../../lib/core/keys.ts';
import type { Item, Key } from '../../../lib/core/types.ts';
import { planner } from '../../support/v2-copy.ts';

const planOf = (item: Item): CopyPlan => {
  const ctx = {
    lookups: planner.lookupResults(planner.collectLookups('v2', [item]), new Map(), new Map()),
    nowSeconds: 0,
  };
  return planner.planCopies('v2', planner.keyOf('v2', item), item, ctx)[0]!;
};
const bot = { PK: 'u1', SK: 'u1#BOT#b1', Title: 'Helper', Shared: 'u2' };
const plan = planOf(bot);
const byId = (items: Item[]) =>
  new Map(items.map((i) => [keyId('bots', { PK: i.PK as string, SK: i.SK as string }), i]));
const [own, alias] = plan.targets.map((t) => t.item) as [Item, Item];

describe('classifyPlan', () => {
  it('finds nothing when every target holds exactly its derivation', () => {
    expect(classifyPlan(plan, byId([{ ...own }, { ...alias }]))).toEqual([]);
  });

  it('compares numbers by value, as DynamoDB does', () => {
    const p = planOf({ ...bot, Title: 'x' });
    const found = byId(p.targets.map((t) => ({ ...t.item })));
    expect(classifyPlan(p, found)).toEqual([]);
    expect(differingAttributes({ n: 1 }, { n: new ExactNumber('1.0') })).toEqual([]);
  });

  it('a missing target and a differing one (bookkeeping included) are pending', () => {
    const stale = { ...own, [COPY_ATTRIBUTES.version]: 'older', Extra: 1 };
    expect(classifyPlan(plan, byId([stale]))).toEqual([
      {
        reason: 'pending',
        target: keyId('bots', { PK: 'u1', SK: 'BOT#b1' }),
        detail: `target differs in Extra, ${COPY_ATTRIBUTES.version}`,
      },
      {
        reason: 'pending',
        target: keyId('bots', { PK: 'u2', SK: 'ALIAS#b1' }),
        detail: 'target missing',
      },
    ]);
  });

  it("an item that is not this source's copy is a conflict, the app's or another source's", () => {
    const app = { PK: 'u1', SK: 'BOT#b1', Title: 'Helper' };
    const other = {
      ...alias,
      [COPY_ATTRIBUTES.source]: keyId('v2', { PK: 'u9', SK: 'u9#BOT#b1' }),
    };
    const f = classifyPlan(plan, byId([app, other]));
    expect(f.map((x) => x.reason)).toEqual(['conflict', 'conflict']);
    expect(f[0]?.detail).toMatch(/without streamfill_source \(the application's own\)/);
    expect(f[1]?.detail).toMatch(/the copy of another source/);
  });

  it('lists a skipped plan with its reason', () => {
    const skipped: CopyPlan = { ...plan, targets: [], skipped: 'lookup "x" found no y' };
    expect(classifyPlan(skipped, new Map())).toEqual([
      { reason: 'skipped', target: null, detail: 'lookup "x" found no y' },
    ]);
  });
});

describe('stamped targets', () => {
  const target = { table: 'bots', key: { PK: 'u2', SK: 'ALIAS#b1' }, source: plan.sourceId };

  it('names its source, or is an orphan when the stamp names none or another table', () => {
    expect(stampedSource(target, 'v2')).toEqual({
      table: 'v2',
      key: { PK: 'u1', SK: 'u1#BOT#b1' },
    });
    expect(stampedSource({ ...target, source: 'garbage' }, 'v2')).toMatchObject({
      reason: 'orphan',
    });
    expect(stampedSource({ ...target, source: 42 }, 'v2')).toMatchObject({ reason: 'orphan' });
    expect(stampedSource(target, 'other')).toMatchObject({
      reason: 'orphan',
      detail: expect.stringMatching(/names table "v2", not the copy's source "other"/),
    });
  });

  it('is an orphan when its source is gone or no longer derives it', () => {
    expect(classifyStamped(target, plan)).toBeNull();
    expect(classifyStamped(target, null)?.detail).toBe('its source no longer exists');
    const unshared = planOf({ ...bot, Shared: undefined });
    expect(classifyStamped(target, unshared)?.detail).toBe('its source no longer derives it');
  });
});

describe('parseKeyId', () => {
  it('reads back every key keyId writes: strings, numbers, exact numbers, binary', () => {
    const keyValue = fc.oneof(
      fc.string(),
      fc.integer(),
      fc.double({ noNaN: true, noDefaultInfinity: true }).filter((n) => !Object.is(n, -0)),
      fc.uint8Array({ minLength: 1, maxLength: 8 }),
      fc.bigInt({ min: 10n ** 20n, max: 10n ** 30n }).map((b) => new ExactNumber(String(b))),
    );
    fc.assert(
      fc.property(
        fc.dictionary(fc.string({ minLength: 1 }), keyValue, { minKeys: 1, maxKeys: 3 }),
        (key) => {
          const parsed = parseKeyId(keyId('my:table', key as Key));
          expect(parsed?.table).toBe('my:table');
          expect(keyId('my:table', parsed!.key)).toBe(keyId('my:table', key as Key));
        },
      ),
    );
  });

  it('refuses what is not a key id', () => {
    for (const bad of ['', 'v2', 'v2:', 'v2:{', 'v2:{}', ':{"a":1}', 'v2:[1]', 'v2:{"a":null}'])
      expect(parseKeyId(bad)).toBeUndefined();
  });
});
