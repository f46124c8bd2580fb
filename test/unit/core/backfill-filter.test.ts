// The scanner's projection and filter come from the config's declarations: the planner's
// projection, and no attribute filter (a derive may leave a write absent, so presence proves
// nothing). The scope names the declared migrated tables when --table is wrong.
import { describe, expect, it } from 'vitest';
import { NO_DECLARED_FILTER, scanFilterOf } from '../../../lib/core/backfill-filter.ts';
import { BackfillOptionError, type BackfillOptions } from '../../../lib/engine/backfill-options.ts';
import { scopeOf } from '../../../lib/engine/backfill-scope.ts';
import { PIKA } from '../../support/pika.ts';

const options = (over: Partial<BackfillOptions> = {}): BackfillOptions => ({
  table: 'session',
  tableName: 'physical-session',
  searchEnabled: false,
  ...over,
});

describe('backfill filter and scope', () => {
  it("projects the planner's projection and filters nothing", () => {
    const enabled = PIKA.allMigrations;
    expect(scanFilterOf(PIKA, 'tag', enabled)).toEqual({
      projection: PIKA.projection('tag', enabled),
      filter: undefined,
      filterText: NO_DECLARED_FILTER,
    });
  });

  it('scans for the default migrations, less the search ones without a search endpoint', () => {
    const s = scopeOf(options(), 'scan', PIKA);
    expect(s.migrations).toEqual(['session-sort-key', 'session-user-type']);
    expect(s.projection).toEqual(PIKA.projection('session', s.migrations));
    expect(s.filter).toBeUndefined();
    expect(s.filterText).toBe(NO_DECLARED_FILTER);
    const withSearch = scopeOf(options({ searchEnabled: true }), 'scan', PIKA);
    expect(withSearch.migrations).toContain('session-search-keywords');
  });

  it('says why there is no filter for --no-filter and --keys', () => {
    expect(scopeOf(options({ filter: false }), 'scan', PIKA).filterText).toMatch(/--no-filter/);
    expect(scopeOf(options(), 'keys', PIKA).filterText).toMatch(/--keys/);
  });

  it('refuses a table that is not migrated, naming the migrated ones', () => {
    expect(() => scopeOf(options({ table: 'user' }), 'scan', PIKA)).toThrow(BackfillOptionError);
    expect(() => scopeOf(options({ table: 'user' }), 'scan', PIKA)).toThrow(
      '--table user: not a migrated table of the config (migrated tables: session, tag)',
    );
  });

  it('refuses a table with no enabled migration', () => {
    expect(() => scopeOf(options({ migrations: ['tag-usage-mode'] }), 'scan', PIKA)).toThrow(
      'no migration is enabled for table session',
    );
  });
});
