import { describe, expect, it } from 'vitest';
import { compileUpdate } from '../../../lib/adapters/dynamo-writer.ts';
import type { ItemChange } from '../../../lib/core/types.ts';

const change = (over: Partial<ItemChange> = {}): ItemChange => ({
  table: 'session',
  key: { user_id: 'u1', session_id: 's1' },
  set: { source: 'user', chat_app_sk: 'a#user#t' },
  remove: [],
  conditions: [
    { op: 'exists', attribute: 'user_id' },
    { op: 'equals', attribute: 'last_update', value: 't' },
    { op: 'notExists', attribute: 'source' },
  ],
  migrations: ['session-sort-key'],
  ...over,
});

describe('compileUpdate', () => {
  it('uses placeholders for every name (source is a reserved word) and value', () => {
    const u = compileUpdate(change());
    expect(u.UpdateExpression).toBe('SET #a0 = :v0, #a1 = :v1');
    expect(u.ConditionExpression).toBe(
      'attribute_exists(#a2) AND #a3 = :v2 AND attribute_not_exists(#a0)',
    );
    expect(u.ExpressionAttributeNames).toEqual({
      '#a0': 'source',
      '#a1': 'chat_app_sk',
      '#a2': 'user_id',
      '#a3': 'last_update',
    });
    expect(u.ExpressionAttributeValues).toEqual({ ':v0': 'user', ':v1': 'a#user#t', ':v2': 't' });
  });

  it('compiles REMOVE and omits values when there are none', () => {
    const u = compileUpdate(
      change({
        set: {},
        remove: ['chat_app_id'],
        conditions: [{ op: 'exists', attribute: 'scope' }],
      }),
    );
    expect(u.UpdateExpression).toBe('REMOVE #a0');
    expect(u.ExpressionAttributeValues).toBeUndefined();
  });

  it('refuses a change without an existence condition: it would recreate deleted items', () => {
    expect(() => compileUpdate(change({ conditions: [] }))).toThrow(/no existence condition/);
  });

  it('refuses an empty change', () => {
    expect(() => compileUpdate(change({ set: {}, remove: [] }))).toThrow(/empty change/);
  });
});
