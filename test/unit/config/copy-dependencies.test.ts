// What a derivation's lookups make it depend on: edges on what was read, and the checks its
// transaction makes (the looked-up item as read, or an index key's stamp as read).
import { describe, expect, it } from 'vitest';
import { defineLookup, defineTable } from '../../../lib/core/config/define.ts';
import { dependenciesOf, dependencyKey } from '../../../lib/core/config/copy-dependencies.ts';

const users = defineTable({ name: 'users', key: ['id'] });
const byTable = defineLookup({
  name: 'owner',
  table: users,
  key: (i) => ({ id: i.owner }),
  attributes: ['name'],
});
const byIndex = defineLookup({
  name: 'by-email',
  table: users,
  index: { name: 'EmailIndex', key: ['email'] },
  key: (i) => ({ email: i.email }),
  attributes: ['name'],
});
const ann = { id: 'u1', email: 'a@x', name: 'Ann' };

describe('dependenciesOf', () => {
  it("checks a table lookup's item as read, or still absent", () => {
    const found = dependenciesOf([
      { lookup: byTable, key: { id: 'u1' }, id: 'users:{"id":"u1"}', found: ann },
    ]);
    expect(found.on).toEqual([dependencyKey('owner', 'users:{"id":"u1"}')]);
    expect(found.checks).toEqual([
      {
        kind: 'item',
        table: 'users',
        key: { id: 'u1' },
        conditions: [
          { op: 'exists', attribute: 'id' },
          { op: 'equals', attribute: 'name', value: 'Ann' },
        ],
      },
    ]);
    const absent = dependenciesOf([
      { lookup: byTable, key: { id: 'u9' }, id: 'users:{"id":"u9"}', found: null },
    ]);
    expect(absent.checks).toEqual([
      {
        kind: 'item',
        table: 'users',
        key: { id: 'u9' },
        conditions: [{ op: 'notExists', attribute: 'id' }],
      },
    ]);
  });

  it('depends on an index key through its stamp, and on the item found by its own key', () => {
    const index = 'users@EmailIndex:{"email":"a@x"}';
    const stamps = new Map([[dependencyKey('by-email', index), 4]]);
    const d = dependenciesOf(
      [{ lookup: byIndex, key: { email: 'a@x' }, id: index, found: ann }],
      stamps,
    );
    expect(d.on).toEqual(
      [dependencyKey('by-email', index), dependencyKey('by-email', 'users:{"id":"u1"}')].sort(),
    );
    expect(d.checks).toEqual([
      { kind: 'stamp', dependency: dependencyKey('by-email', index), rev: 4 },
      {
        kind: 'item',
        table: 'users',
        key: { id: 'u1' },
        conditions: [
          { op: 'exists', attribute: 'id' },
          { op: 'equals', attribute: 'name', value: 'Ann' },
          { op: 'equals', attribute: 'email', value: 'a@x' },
        ],
      },
    ]);
    // Nothing found, no stamp yet: the write requires the stamp still absent.
    const none = dependenciesOf([{ lookup: byIndex, key: { email: 'b@x' }, id: 'i', found: null }]);
    expect(none.checks).toEqual([
      { kind: 'stamp', dependency: dependencyKey('by-email', 'i'), rev: null },
    ]);
  });
});
