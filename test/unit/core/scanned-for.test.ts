// Which migrations a worker plans for an items message (issue 14 item 1): pure.
import { describe, expect, it } from 'vitest';
import { DEFAULT_MIGRATIONS, migrationsFor } from '../../../lib/core/migrations/index.ts';
import { scanProjection } from '../../../lib/core/backfill-filter.ts';
import { plannableMigrations } from '../../../lib/core/scanned-for.ts';

const sessionDefaults = migrationsFor('session', DEFAULT_MIGRATIONS).map((m) => m.name);
const withoutSearch = sessionDefaults.filter((n) => n !== 'session-search-keywords');

describe('plannableMigrations', () => {
  it('plans what the scanner scanned for and the worker runs, when the projection carries it', () => {
    const r = plannableMigrations('session', sessionDefaults, {
      migrations: sessionDefaults,
      projection: scanProjection('session', sessionDefaults),
    });
    expect(r).toEqual({ plan: sessionDefaults });
  });

  it('never plans the keywords from a scan without search, and says which set differs', () => {
    const r = plannableMigrations('session', sessionDefaults, {
      migrations: withoutSearch,
      projection: scanProjection('session', withoutSearch),
    });
    expect(r.plan).toEqual(withoutSearch);
    expect(r.mismatch).toMatchObject({ onlyWorker: ['session-search-keywords'], notCarried: [] });
  });

  it('a migration named but whose inputs were not projected is not planned', () => {
    const r = plannableMigrations('session', sessionDefaults, {
      migrations: sessionDefaults,
      projection: scanProjection('session', withoutSearch),
    });
    expect(r.plan).toEqual(withoutSearch);
    expect(r.mismatch?.notCarried).toEqual(['session-search-keywords']);
  });

  it('a message of an older scanner plans only the DynamoDB migrations', () => {
    const r = plannableMigrations('session', sessionDefaults, undefined);
    expect(r.plan).toEqual(withoutSearch);
    expect(r.mismatch?.notCarried).toEqual(['session-search-keywords']);
  });

  it('an opt-in contract step named by the scanner runs; one the worker does not know is told', () => {
    const all = ['tag-usage-mode', 'tag-usage-mode-contract'];
    const r = plannableMigrations('tag', ['tag-usage-mode'], {
      migrations: [...all, 'tag-from-the-future'],
      projection: scanProjection('tag', all),
    });
    expect(r.plan).toEqual(all);
    expect(r.mismatch?.onlyScanner).toEqual(['tag-from-the-future']);
  });
});
