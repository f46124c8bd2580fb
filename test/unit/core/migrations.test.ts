import { describe, expect, it } from 'vitest';
import * as core from '../../../lib/core/index.ts';
import {
  ALL_MIGRATIONS,
  MIGRATIONS,
  isMigrationName,
  migrationsFor,
  parseMigrationNames,
} from '../../../lib/core/migrations/index.ts';

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

  it('parses names into planning order and rejects unknown ones', () => {
    expect(parseMigrationNames(['tag-usage-mode', 'session-sort-key'])).toEqual([
      'session-sort-key',
      'tag-usage-mode',
    ]);
    expect(() => parseMigrationNames(['session-sort-key', 'toString'])).toThrow(/"toString"/);
    expect(isMigrationName('constructor')).toBe(false);
  });

  it('the barrel exposes the core API', () => {
    for (const name of [
      'planSessionItem',
      'planTagItem',
      'isMigrated',
      'applyChange',
      'planSearch',
      'searchKeywordsSatisfied',
      'SEARCH_KEYWORD_FIELDS',
      'SEARCH_KEYWORD_MAPPING',
      'MalformedItemError',
      'LookupMissingError',
      'isMalformedItemError',
      'formatKey',
      'keyId',
      'OutcomeCounter',
      'percentile',
      'formatDuration',
    ]) {
      expect(core).toHaveProperty(name);
    }
  });
});
