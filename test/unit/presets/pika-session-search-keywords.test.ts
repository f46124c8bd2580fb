import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { applyChange } from '../../../lib/core/plan.ts';
import type { Item } from '../../../lib/core/types.ts';
import { sessionWithUserTypesArb } from '../../support/arbitraries.ts';
import { PIKA, PIKA_SEARCH_SPEC } from '../../support/pika.ts';
import { planPika, type PikaPlanContext } from '../../support/pika-plan.ts';

const ALL = ['session-sort-key', 'session-user-type', 'session-search-keywords'];
/** The search update of a (migrated) session for the session index. */
const planSearch = (item: Item) => PIKA.planSearchFor('session', item);
const planSession = (item: Item, ctx: PikaPlanContext, enabled: readonly string[]) =>
  planPika('session', item, ctx, enabled);
const base = {
  user_id: 'u1',
  session_id: 's9',
  chat_app_id: 'weather',
  last_update: '2025-03-01T10:00:00.000Z',
};

describe('session-search-keywords: constants', () => {
  it('maps each keyword field to its source attribute, all of type keyword', () => {
    expect(PIKA_SEARCH_SPEC.index).toBe('session');
    expect(PIKA_SEARCH_SPEC.sources).toEqual({
      invocation_mode_keyword: 'invocation_mode',
      user_type_keyword: 'user_type',
      source_keyword: 'source',
    });
    expect(PIKA_SEARCH_SPEC.mapping).toEqual({
      properties: {
        invocation_mode_keyword: { type: 'keyword' },
        user_type_keyword: { type: 'keyword' },
        source_keyword: { type: 'keyword' },
        // item 3: the version the keywords were derived from, declared with them.
        streamfill_keywords_version: { type: 'long' },
      },
    });
  });
});

describe('planSearch', () => {
  it('copies the three fields into a partial doc keyed by session_id', () => {
    expect(
      planSearch({
        ...base,
        invocation_mode: 'chat-app',
        user_type: 'internal-user',
        source: 'user',
      }),
    ).toEqual({
      id: 's9',
      doc: {
        invocation_mode_keyword: 'chat-app',
        user_type_keyword: 'internal-user',
        source_keyword: 'user',
      },
      // The version guards the document against a slower writer with older keywords.
      version: '2025-03-01T10:00:00.000Z',
    });
  });

  it('item 5: an item without a last_update the guard can order is malformed, never unversioned', () => {
    const { last_update: _omit, ...noVersion } = base;
    expect(() => planSearch({ ...noVersion, source: 'user' })).toThrow(
      /field "last_update" is missing/,
    );
    expect(() => planSearch({ ...base, last_update: 'soon', source: 'user' })).toThrow(
      /"soon", not a version the search guard can order/,
    );
    expect(planSearch({ ...base, last_update: 1735689600, source: 'user' })?.version).toBe(
      '1735689600',
    );
  });

  it('item 9: removes the keywords of absent and non-string fields; null when none is left', () => {
    expect(planSearch({ ...base, source: 'component', user_type: 3 })).toEqual({
      id: 's9',
      doc: { source_keyword: 'component' },
      remove: ['invocation_mode_keyword', 'user_type_keyword'],
      version: base.last_update,
    });
    expect(planSearch({ ...base, invocation_mode: null })).toBeNull();
  });
});

describe('search doc reflects the item after the DynamoDB migrations', () => {
  it('indexes the defaulted source and the looked-up user type of a legacy item', () => {
    const { change, search } = planSession(
      { ...base, invocation_mode: 'simple-chat' },
      { userTypes: new Map([['u1', 'internal-user']]) },
      ALL,
    );
    expect(change?.set).toMatchObject({ source: 'user', user_type: 'internal-user' });
    expect(search).toEqual({
      id: 's9',
      doc: {
        invocation_mode_keyword: 'simple-chat',
        user_type_keyword: 'internal-user',
        source_keyword: 'user',
      },
      version: base.last_update,
    });
  });

  it("uses 'external-user' in the doc when the user is unknown", () => {
    const { search } = planSession({ ...base }, { userTypes: new Map([['u1', null]]) }, ALL);
    expect(search?.doc).toEqual({ user_type_keyword: 'external-user', source_keyword: 'user' });
  });

  it('without the DynamoDB migrations enabled, indexes the item as it is', () => {
    const { change, search } = planSession({ ...base }, {}, ['session-search-keywords']);
    expect(change).toBeNull();
    expect(search).toBeNull();
  });

  it('property: doc = keywords of applyChange(item, change); source and user_type always set', () => {
    fc.assert(
      fc.property(sessionWithUserTypesArb, ({ item, userTypes }) => {
        const { change, search } = planSession(item, { userTypes }, ALL);
        const after = change ? applyChange(item, change) : item;
        expect(search?.id).toBe(item.session_id);
        expect(search?.doc.source_keyword).toBe(after.source);
        expect(search?.doc.source_keyword).toBe(item.source ?? 'user');
        expect(search?.doc.user_type_keyword).toBe(
          item.user_type ?? userTypes.get(item.user_id) ?? 'external-user',
        );
        expect(search?.doc.invocation_mode_keyword).toBe(item.invocation_mode);
      }),
    );
  });
});
