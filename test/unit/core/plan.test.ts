// The planner's generic composition (lib/core/plan.ts): merging the changes of one item's
// migrations and applying a change to an item.
import { describe, expect, it } from 'vitest';
import { applyChange, mergeChanges } from '../../../lib/core/plan.ts';
import type { ItemChange } from '../../../lib/core/types.ts';

describe('mergeChanges / applyChange', () => {
  const a: ItemChange = {
    table: 'session',
    key: { user_id: 'u1', session_id: 's9' },
    set: { x: 1 },
    remove: [],
    conditions: [{ op: 'exists', attribute: 'user_id' }],
    migrations: ['session-sort-key'],
  };

  it('returns null for nothing and rejects conflicting or foreign changes', () => {
    expect(mergeChanges([])).toBeNull();
    expect(() => mergeChanges([a, { ...a, set: { x: 2 } }])).toThrow(/conflicting/);
    expect(() => mergeChanges([a, { ...a, key: { user_id: 'u1', session_id: 's8' } }])).toThrow(
      /different items/,
    );
    expect(() => mergeChanges([a, { ...a, set: {}, remove: ['x'] }])).toThrow(
      /both set and removed/,
    );
  });

  it('applyChange returns a new item and leaves the input untouched', () => {
    const item = { user_id: 'u1', session_id: 's9', x: 0, gone: 'y' };
    const after = applyChange(item, { ...a, remove: ['gone'] });
    expect(after).toEqual({ user_id: 'u1', session_id: 's9', x: 1 });
    expect(item).toEqual({ user_id: 'u1', session_id: 's9', x: 0, gone: 'y' });
  });
});
