// The scanner's projection and "not yet migrated" filter come from the registry's planners:
// an item the filter keeps out must plan to nothing; an item it lets through must need a write.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { migratedShape, pendingFilter, scanProjection } from '../../../lib/core/backfill-filter.ts';
import { ALL_MIGRATIONS } from '../../../lib/core/migrations/index.ts';
import { planItem } from '../../../lib/core/plan.ts';
import type { Item } from '../../../lib/core/types.ts';

const NO_SEARCH = ALL_MIGRATIONS.filter((m) => m !== 'session-search-keywords');

/** The filter evaluated as DynamoDB would on an item (only attribute_(not_)exists terms). */
function keeps(filter: NonNullable<ReturnType<typeof pendingFilter>>, item: Item): boolean {
  return filter.expression.split(' OR ').some((term) => {
    const m = /^(attribute_not_exists|attribute_exists)\((#\w+)\)$/.exec(term);
    if (!m) throw new Error(`unexpected term ${term}`);
    const present = item[filter.names[m[2] as string] as string] !== undefined;
    return m[1] === 'attribute_exists' ? present : !present;
  });
}

describe('backfill filter and projection', () => {
  it('learns what a migrated session and tag look like from the planners', () => {
    expect(migratedShape('session', NO_SEARCH)).toEqual({
      present: ['chat_app_sk', 'source', 'user_type'],
      absent: [],
    });
    expect(migratedShape('tag', ALL_MIGRATIONS)).toEqual({
      present: ['usage_mode'],
      absent: ['chat_app_id'],
    });
  });

  it('filters nothing when the search-keyword migration is on', () => {
    expect(pendingFilter('session', ALL_MIGRATIONS)).toBeUndefined();
    expect(pendingFilter('session', NO_SEARCH)?.expression).toBe(
      'attribute_not_exists(#f0) OR attribute_not_exists(#f1) OR attribute_not_exists(#f2)',
    );
  });

  it('projects keys, inputs, current derived values and the TTL, nothing else', () => {
    const session =
      'chat_app_id chat_app_sk exp_date_unix_seconds last_update session_id source user_id user_type';
    expect(scanProjection('session', NO_SEARCH).sort().join(' ')).toBe(session);
    expect(scanProjection('tag', ALL_MIGRATIONS).sort()).toEqual([
      'chat_app_id',
      'scope',
      'tag',
      'usage_mode',
    ]);
  });

  it('keeps out only tags that plan to nothing', () => {
    const filter = pendingFilter('tag', ALL_MIGRATIONS)!;
    fc.assert(
      fc.property(
        fc.record(
          {
            scope: fc.constantFrom('pika', 'app-1'),
            tag: fc.constantFrom('chart', 'x'),
            usage_mode: fc.constantFrom('global', 'chat-app'),
            chat_app_id: fc.constantFrom('a', 'b'),
          },
          { requiredKeys: ['scope', 'tag'] },
        ),
        (tag) => {
          const needs = planItem('tag', tag, {}, ALL_MIGRATIONS).change !== null;
          expect(keeps(filter, tag)).toBe(needs);
        },
      ),
    );
  });

  it('never keeps out a session that still needs an attribute added', () => {
    const filter = pendingFilter('session', NO_SEARCH)!;
    fc.assert(
      fc.property(
        fc.record(
          {
            user_id: fc.constant('u1'),
            session_id: fc.constant('s1'),
            chat_app_id: fc.constant('app'),
            last_update: fc.constant('2025-01-01T00:00:00Z'),
            source: fc.constantFrom('user', 'component'),
            user_type: fc.constant('internal-user'),
            chat_app_sk: fc.constant('stale'),
          },
          { requiredKeys: ['user_id', 'session_id', 'chat_app_id', 'last_update'] },
        ),
        (item) => {
          const plan = planItem('session', item, { userTypes: new Map([['u1', 'x']]) }, NO_SEARCH);
          const adds = Object.keys(plan.change?.set ?? {}).some(
            (a) => (item as Item)[a] === undefined,
          );
          if (adds) expect(keeps(filter, item)).toBe(true);
        },
      ),
    );
  });
});
