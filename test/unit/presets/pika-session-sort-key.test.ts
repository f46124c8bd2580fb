import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Item } from '../../../lib/core/types.ts';
import { legacySessionItemArb } from '../../support/arbitraries.ts';
import { planPika } from '../../support/pika-plan.ts';

/** The preset's session-sort-key alone: its change, needing no lookup. */
const planSortKey = (item: Item) => planPika('session', item, {}, ['session-sort-key']).change;

const base = {
  user_id: 'u1',
  session_id: 's9',
  chat_app_id: 'weather',
  last_update: '2025-03-01T10:00:00.000Z',
};

// The Pika 0.5 mapping, written out independently of the implementation.
const KIND_BY_SOURCE: Record<string, 'user' | 'component'> = {
  user: 'user',
  'component-as-user': 'user',
  component: 'component',
};
const expectedKind = (source: unknown) =>
  typeof source === 'string' ? (KIND_BY_SOURCE[source] ?? 'user') : 'user';

describe('session-sort-key: the Pika source → sort key mapping', () => {
  it.each([
    ['missing', undefined, 'user'],
    ["'user'", 'user', 'user'],
    ["'component-as-user'", 'component-as-user', 'user'],
    ["'component'", 'component', 'component'],
    ['an unknown string', 'agent', 'user'],
  ])('source %s → %s', (_label, source, kind) => {
    const item: Item = source === undefined ? { ...base } : { ...base, source };
    const change = planSortKey(item);
    expect(change?.set.chat_app_sk).toBe(`weather#${kind}#2025-03-01T10:00:00.000Z`);
  });

  it('property: chat_app_sk = chat_app_id#kind#last_update with the mapping above', () => {
    fc.assert(
      fc.property(legacySessionItemArb, (item) => {
        const change = planSortKey(item);
        const expected = `${item.chat_app_id}#${expectedKind(item.source)}#${item.last_update}`;
        const after = change?.set.chat_app_sk ?? item.chat_app_sk;
        expect(after).toBe(expected);
        expect(change?.set.source ?? item.source).toBe(item.source ?? 'user');
      }),
    );
  });
});

describe('session-sort-key: what it writes', () => {
  it('defaults a missing source to user and sets both attributes', () => {
    expect(planSortKey({ ...base })).toEqual({
      table: 'session',
      key: { user_id: 'u1', session_id: 's9' },
      set: { source: 'user', chat_app_sk: 'weather#user#2025-03-01T10:00:00.000Z' },
      remove: [],
      conditions: [
        { op: 'exists', attribute: 'user_id' },
        { op: 'equals', attribute: 'chat_app_id', value: 'weather' },
        { op: 'equals', attribute: 'last_update', value: '2025-03-01T10:00:00.000Z' },
        { op: 'notExists', attribute: 'source' },
      ],
      migrations: ['session-sort-key'],
    });
  });

  it('never sets an existing source and conditions on its value', () => {
    const change = planSortKey({ ...base, source: 'component', chat_app_sk: 'stale' });
    expect(change?.set).toEqual({ chat_app_sk: 'weather#component#2025-03-01T10:00:00.000Z' });
    expect(change?.conditions).toContainEqual({
      op: 'equals',
      attribute: 'source',
      value: 'component',
    });
    expect(change?.conditions).not.toContainEqual({ op: 'notExists', attribute: 'source' });
  });

  it('sets only source when the sort key is already right', () => {
    const change = planSortKey({ ...base, chat_app_sk: 'weather#user#2025-03-01T10:00:00.000Z' });
    expect(change?.set).toEqual({ source: 'user' });
  });

  it('returns null for an already migrated item', () => {
    expect(
      planSortKey({
        ...base,
        source: 'component-as-user',
        chat_app_sk: 'weather#user#2025-03-01T10:00:00.000Z',
      }),
    ).toBeNull();
  });

  it('recomputes a sort key of the wrong kind or from an older last_update', () => {
    expect(
      planSortKey({
        ...base,
        source: 'component',
        chat_app_sk: 'weather#user#2025-03-01T10:00:00.000Z',
      })?.set,
    ).toEqual({ chat_app_sk: 'weather#component#2025-03-01T10:00:00.000Z' });
    expect(
      planSortKey({ ...base, source: 'user', chat_app_sk: 'weather#user#2024-01-01T00:00:00.000Z' })
        ?.set,
    ).toEqual({ chat_app_sk: 'weather#user#2025-03-01T10:00:00.000Z' });
  });

  it('property: null exactly when source is present and chat_app_sk is right', () => {
    fc.assert(
      fc.property(legacySessionItemArb, (item) => {
        const done =
          item.source !== undefined &&
          item.chat_app_sk ===
            `${item.chat_app_id}#${expectedKind(item.source)}#${item.last_update}`;
        expect(planSortKey(item) === null).toBe(done);
      }),
    );
  });
});
