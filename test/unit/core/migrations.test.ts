import { describe, expect, it } from 'vitest';
import { ALL_MIGRATIONS, MIGRATIONS, migrationsFor } from '../../../lib/core/migrations/index.ts';

describe('migration registry', () => {
  it('describes the four shipped migrations with their tables and targets', () => {
    expect(ALL_MIGRATIONS).toEqual([
      'session-sort-key',
      'session-user-type',
      'session-search-keywords',
      'tag-usage-mode',
    ]);
    for (const name of ALL_MIGRATIONS) expect(MIGRATIONS[name].name).toBe(name);
    expect(migrationsFor('session', ALL_MIGRATIONS).map((m) => m.name)).toEqual([
      'session-sort-key',
      'session-user-type',
      'session-search-keywords',
    ]);
    expect(migrationsFor('tag', ALL_MIGRATIONS).map((m) => m.name)).toEqual(['tag-usage-mode']);
    for (const m of Object.values(MIGRATIONS))
      expect(m.target === 'dynamodb').toBe(m.plan !== undefined);
  });
});
