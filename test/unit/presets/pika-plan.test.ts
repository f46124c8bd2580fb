// Planning Pika items through the preset: one merged, conditioned change per item, idempotent,
// and nothing for an item whose TTL has passed.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { applyChange, conditionsHold } from '../../../lib/core/plan.ts';
import type { Condition, Item, ItemChange } from '../../../lib/core/types.ts';
import {
  REFERENCE_NOW_SECONDS,
  lookedUpUserTypeArb,
  sessionItemArb,
  sessionWithUserTypesArb,
  tagItemArb,
} from '../../support/arbitraries.ts';
import { PIKA, withContract } from '../../support/pika.ts';
import { planPika, type PikaPlanContext } from '../../support/pika-plan.ts';

const SESSION = ['session-sort-key', 'session-user-type', 'session-search-keywords'];
const TAG = ['tag-usage-mode'];
const ALL = [...SESSION, ...TAG];

const planSession = (item: Item, ctx: PikaPlanContext, enabled: readonly string[]) =>
  planPika('session', item, ctx, enabled);
const planTag = (item: Item, ctx: PikaPlanContext, enabled: readonly string[]) =>
  planPika('tag', item, ctx, enabled);

/** Non-empty subsets of the session migrations, in any order (planning order is fixed). */
const sessionEnabledArb = fc
  .subarray(SESSION, { minLength: 1 })
  .chain((s) => fc.shuffledSubarray(s, { minLength: s.length }));

const legacy = {
  user_id: 'u1',
  session_id: 's9',
  chat_app_id: 'weather',
  last_update: '2025-03-01T10:00:00.000Z',
};
const users = { userTypes: new Map([['u1', 'internal-user']]) };

/** Every condition refers to what the item had (equals/exists) or lacked (notExists). */
function expectConditionsDescribe(item: Item, conditions: readonly Condition[]) {
  for (const c of conditions) {
    if (c.op === 'equals') expect(item[c.attribute]).toBe(c.value);
    else if (c.op === 'notExists') expect(item[c.attribute]).toBeUndefined();
    else expect(item[c.attribute]).toBeDefined();
  }
  expect(conditionsHold(item, conditions)).toBe(true);
}

describe('Pika sessions: one merged change per item', () => {
  it('merges sort key and user type into one UpdateItem with one exists condition', () => {
    const { change } = planSession({ ...legacy }, users, SESSION);
    expect(change).toEqual({
      table: 'session',
      key: { user_id: 'u1', session_id: 's9' },
      set: {
        source: 'user',
        chat_app_sk: 'weather#user#2025-03-01T10:00:00.000Z',
        user_type: 'internal-user',
      },
      remove: [],
      conditions: [
        { op: 'exists', attribute: 'user_id' },
        { op: 'equals', attribute: 'chat_app_id', value: 'weather' },
        { op: 'equals', attribute: 'last_update', value: '2025-03-01T10:00:00.000Z' },
        { op: 'notExists', attribute: 'source' },
        { op: 'notExists', attribute: 'user_type' },
      ],
      migrations: ['session-sort-key', 'session-user-type'],
    } satisfies ItemChange);
  });

  it('lists only the migrations that contributed', () => {
    const { change } = planSession({ ...legacy, user_type: 'external-user' }, {}, SESSION);
    expect(change?.migrations).toEqual(['session-sort-key']);
    expect(change?.set).not.toHaveProperty('user_type');
  });

  it('runs only the enabled migrations (and validates only their inputs)', () => {
    const { change } = planSession({ user_id: 'u1', session_id: 's9', chat_app_id: 42 }, users, [
      'session-user-type',
    ]);
    expect(change?.set).toEqual({ user_type: 'internal-user' });
    expect(planSession({ ...legacy }, {}, TAG)).toEqual({ change: null, search: null });
  });

  it('property: exactly one exists condition, and every input read is conditioned', () => {
    fc.assert(
      fc.property(sessionWithUserTypesArb, sessionEnabledArb, ({ item, userTypes }, enabled) => {
        const { change } = planSession(item, { userTypes }, enabled);
        if (!change) return;
        expect(change.conditions.filter((c) => c.op === 'exists')).toEqual([
          { op: 'exists', attribute: 'user_id' },
        ]);
        const attrs = change.conditions.map((c) => c.attribute);
        expect(new Set(attrs).size).toBe(attrs.length);
        if (change.migrations.includes('session-sort-key')) {
          expect(attrs).toEqual(expect.arrayContaining(['chat_app_id', 'last_update', 'source']));
        }
        if (change.migrations.includes('session-user-type')) expect(attrs).toContain('user_type');
      }),
    );
  });

  it('property: conditions hold on the item read (equals its values, notExists its gaps)', () => {
    fc.assert(
      fc.property(sessionWithUserTypesArb, sessionEnabledArb, ({ item, userTypes }, enabled) => {
        const { change } = planSession(item, { userTypes }, enabled);
        if (change) expectConditionsDescribe(item, change.conditions);
      }),
    );
    fc.assert(
      fc.property(tagItemArb, (item) => {
        const { change } = planTag(item, {}, TAG);
        if (change) expectConditionsDescribe(item, change.conditions);
      }),
    );
  });

  it('property: changes only write attributes their migrations declare', () => {
    fc.assert(
      fc.property(sessionWithUserTypesArb, tagItemArb, ({ item, userTypes }, tag) => {
        for (const { change } of [planSession(item, { userTypes }, ALL), planTag(tag, {}, ALL)]) {
          if (!change) continue;
          const declared = change.migrations.flatMap((m) => PIKA.summaries.get(m)?.writes ?? []);
          for (const a of [...Object.keys(change.set), ...change.remove])
            expect(declared).toContain(a);
          expect(Object.keys(change.set).length + change.remove.length).toBeGreaterThan(0);
        }
      }),
    );
  });
});

describe('idempotence', () => {
  it('property: sessions: planning the migrated item yields no change', () => {
    fc.assert(
      fc.property(sessionWithUserTypesArb, sessionEnabledArb, ({ item, userTypes }, enabled) => {
        const first = planSession(item, { userTypes }, enabled);
        const after = first.change ? applyChange(item, first.change) : item;
        // No lookups for the second pass: a migrated item must not need one.
        const second = planSession(after, {}, enabled);
        expect(second.change).toBeNull();
        expect(second.search).toEqual(first.search);
      }),
    );
  });

  it('property: tags: planning the migrated item yields no change (expand, then contract)', () => {
    fc.assert(
      fc.property(tagItemArb, (item) => {
        const { change } = planTag(item, {}, TAG);
        const expanded = change ? applyChange(item, change) : item;
        expect(planTag(expanded, {}, TAG).change).toBeNull();
        expect(expanded.chat_app_id).toEqual(item.chat_app_id); // item 7: expand keeps it
        expect(typeof expanded.usage_mode).toBe('string');
        const contract = planTag(expanded, {}, withContract(true)).change;
        const after = contract ? applyChange(expanded, contract) : expanded;
        expect(planTag(after, {}, withContract(true)).change).toBeNull();
        expect(after).not.toHaveProperty('chat_app_id');
      }),
    );
  });

  it('property: our write makes its own conditions fail (a replayed write cannot land twice)', () => {
    fc.assert(
      fc.property(sessionWithUserTypesArb, ({ item, userTypes }) => {
        const { change } = planSession(item, { userTypes }, SESSION);
        if (change && change.conditions.some((c) => c.op === 'notExists')) {
          expect(conditionsHold(applyChange(item, change), change.conditions)).toBe(false);
        }
      }),
    );
  });

  it('returns null for an already migrated session', () => {
    const done = {
      ...legacy,
      source: 'component',
      user_type: 'internal-user',
      chat_app_sk: 'weather#component#2025-03-01T10:00:00.000Z',
    };
    expect(planSession(done, {}, SESSION).change).toBeNull();
  });
});

describe('expired items', () => {
  const now = REFERENCE_NOW_SECONDS;

  it('are left alone when the TTL has passed (boundary included)', () => {
    for (const exp of [now, now - 1, 0]) {
      expect(
        planSession({ ...legacy, exp_date_unix_seconds: exp }, { nowSeconds: now }, SESSION),
      ).toEqual({
        change: null,
        search: null,
        expired: true,
      });
    }
  });

  it('are planned when the TTL is in the future, missing, non-numeric, or now is unknown', () => {
    for (const [exp, ctx] of [
      [now + 1, { nowSeconds: now }],
      [undefined, { nowSeconds: now }],
      [String(now - 10), { nowSeconds: now }],
      [now - 10, {}],
    ] as const) {
      const result = planSession(
        { ...legacy, exp_date_unix_seconds: exp },
        { ...ctx, ...users },
        SESSION,
      );
      expect(result.change).not.toBeNull();
      expect(result.expired).toBeFalsy();
    }
  });

  it('property: expired exactly when exp <= now, and then no write at all', () => {
    fc.assert(
      fc.property(sessionItemArb({ includeExpired: true }), lookedUpUserTypeArb, (item, looked) => {
        const ctx = { nowSeconds: now, userTypes: new Map([[item.user_id, looked]]) };
        const result = planSession(item, ctx, SESSION);
        const expired =
          typeof item.exp_date_unix_seconds === 'number' && item.exp_date_unix_seconds <= now;
        expect(PIKA.isExpired('session', item, now)).toBe(expired);
        expect(result.expired === true).toBe(expired);
        if (expired) expect(result).toMatchObject({ change: null, search: null });
      }),
    );
  });
});
