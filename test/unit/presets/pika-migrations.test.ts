import { describe, expect, it } from 'vitest';
import {
  ALL_MIGRATIONS,
  MIGRATED_TABLES,
  MIGRATIONS,
  REGISTRY,
  migrationNamesFor,
  migrationsFor,
  searchSpecFor,
} from '../../../lib/core/migrations/index.ts';

// The shipped migrations in planning order; a new migration may join the registry without
// touching this list.
const SHIPPED = [
  'session-sort-key',
  'session-user-type',
  'session-search-keywords',
  'tag-usage-mode',
];
const shipped = (names: readonly string[]): string[] => names.filter((n) => SHIPPED.includes(n));

describe('migration registry', () => {
  it('describes the four shipped migrations with their tables and targets', () => {
    expect(shipped(ALL_MIGRATIONS)).toEqual(SHIPPED);
    for (const name of ALL_MIGRATIONS) expect(MIGRATIONS[name].name).toBe(name);
    expect(shipped(migrationsFor('session', ALL_MIGRATIONS).map((m) => m.name))).toEqual([
      'session-sort-key',
      'session-user-type',
      'session-search-keywords',
    ]);
    expect(shipped(migrationNamesFor('tag'))).toEqual(['tag-usage-mode']);
    expect(MIGRATED_TABLES).toEqual(expect.arrayContaining(['session', 'tag']));
    for (const m of Object.values(MIGRATIONS))
      expect(m.target === 'dynamodb').toBe(m.plan !== undefined);
  });

  it('has unique names, and every migration declares its inputs and writes', () => {
    expect(new Set(ALL_MIGRATIONS).size).toBe(REGISTRY.length);
    for (const m of REGISTRY) {
      expect(m.inputs.length, m.name).toBeGreaterThan(0);
      expect(m.writes.length, m.name).toBeGreaterThan(0);
    }
  });

  it('gives the search adapter the session index mapping and one guard', () => {
    const spec = searchSpecFor('session');
    expect(spec?.mapping.properties).toMatchObject({
      invocation_mode_keyword: { type: 'keyword' },
      user_type_keyword: { type: 'keyword' },
      source_keyword: { type: 'keyword' },
    });
    expect(spec?.guard).toContain('params.version');
    expect(searchSpecFor('tag')).toBeUndefined();
  });
});
