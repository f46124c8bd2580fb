// What the Pika preset declares: its migrations, their tables and targets, the defaults and the
// opt-in contract step, and the one search spec the search adapter is handed.
import { describe, expect, it } from 'vitest';
import { PIKA, pikaMigrations, withContract } from '../../support/pika.ts';

// The shipped migrations in planning order; a new migration may join the preset without
// touching this list.
const SHIPPED = [
  'session-sort-key',
  'session-user-type',
  'session-search-keywords',
  'tag-usage-mode',
];
const shipped = (names: readonly string[]): string[] => names.filter((n) => SHIPPED.includes(n));

describe('Pika preset migrations', () => {
  it('describes the four shipped migrations with their tables and targets', () => {
    expect(shipped(PIKA.allMigrations)).toEqual(SHIPPED);
    for (const name of PIKA.allMigrations) expect(PIKA.summaries.get(name)?.name).toBe(name);
    expect(shipped(PIKA.migrationsFor('session', PIKA.allMigrations).map((m) => m.name))).toEqual([
      'session-sort-key',
      'session-user-type',
      'session-search-keywords',
    ]);
    expect(shipped(pikaMigrations('tag'))).toEqual(['tag-usage-mode']);
    expect(PIKA.migratedTables).toEqual(expect.arrayContaining(['session', 'tag']));
    // The user table is only read (by the user-type lookup): no migration drives it.
    expect(PIKA.migratedTables).not.toContain('user');
    const targets = Object.fromEntries([...PIKA.summaries].map(([n, s]) => [n, s.target]));
    expect(targets).toMatchObject({
      'session-sort-key': 'dynamodb',
      'session-user-type': 'dynamodb',
      'session-search-keywords': 'search',
      'tag-usage-mode': 'dynamodb',
      'tag-usage-mode-contract': 'dynamodb',
    });
  });

  it('has unique names, and every migration declares its inputs and writes', () => {
    expect(new Set(PIKA.allMigrations).size).toBe(PIKA.summaries.size);
    for (const m of PIKA.summaries.values()) {
      expect(m.inputs.length, m.name).toBeGreaterThan(0);
      expect(m.writes.length, m.name).toBeGreaterThan(0);
    }
  });

  it('runs all but the contract step by default; --contract adds it', () => {
    expect(PIKA.summaries.get('tag-usage-mode-contract')?.optIn).toBe(true);
    expect(PIKA.defaultMigrations).toEqual([
      'session-sort-key',
      'session-user-type',
      'session-search-keywords',
      'tag-usage-mode',
    ]);
    expect(PIKA.allMigrations).toEqual([...PIKA.defaultMigrations, 'tag-usage-mode-contract']);
    expect(withContract(false)).toEqual(PIKA.defaultMigrations);
    expect(withContract(true)).toEqual(PIKA.allMigrations);
    expect(PIKA.migrationsFor('tag').map((m) => m.name)).toEqual(['tag-usage-mode']);
  });

  it('the user-type lookup reads the user table, for session-user-type only', () => {
    expect(PIKA.summaries.get('session-user-type')?.lookups).toEqual(['user-type']);
    expect(PIKA.lookupsFor('session').map((l) => [l.name, l.table.name])).toEqual([
      ['user-type', 'user'],
    ]);
    expect(PIKA.lookupsFor('session', ['session-sort-key'])).toEqual([]);
  });

  it('gives the search adapter the session index mapping and one guard', () => {
    const spec = PIKA.searchSpecFor('session');
    expect(spec?.mapping.properties).toMatchObject({
      invocation_mode_keyword: { type: 'keyword' },
      user_type_keyword: { type: 'keyword' },
      source_keyword: { type: 'keyword' },
    });
    expect(spec?.guard).toContain('params.version');
    expect(PIKA.searchSpecFor('tag')).toBeUndefined();
  });
});
