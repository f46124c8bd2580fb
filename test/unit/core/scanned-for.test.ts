// Which migrations a worker plans for an items message (issue 14 item 1): pure.
import { describe, expect, it } from 'vitest';
import { plannableMigrations, scanSegmentMigrations } from '../../../lib/core/scanned-for.ts';
import { PIKA } from '../../support/pika.ts';

const sessionDefaults = PIKA.migrationsFor('session').map((m) => m.name);
const scanProjection = (table: string, enabled: readonly string[]) =>
  PIKA.projection(table, enabled);
const withoutSearch = sessionDefaults.filter((n) => n !== 'session-search-keywords');

describe('plannableMigrations', () => {
  it('plans what the scanner scanned for and the worker runs, when the projection carries it', () => {
    const r = plannableMigrations(PIKA, 'session', sessionDefaults, {
      migrations: sessionDefaults,
      projection: scanProjection('session', sessionDefaults),
    });
    expect(r).toEqual({ plan: sessionDefaults });
  });

  it('never plans the keywords from a scan without search, and says which set differs', () => {
    const r = plannableMigrations(PIKA, 'session', sessionDefaults, {
      migrations: withoutSearch,
      projection: scanProjection('session', withoutSearch),
    });
    expect(r.plan).toEqual(withoutSearch);
    expect(r.mismatch).toMatchObject({ onlyWorker: ['session-search-keywords'], notCarried: [] });
  });

  it('a migration named but whose inputs were not projected is not planned', () => {
    const r = plannableMigrations(PIKA, 'session', sessionDefaults, {
      migrations: sessionDefaults,
      projection: scanProjection('session', withoutSearch),
    });
    expect(r.plan).toEqual(withoutSearch);
    expect(r.mismatch?.notCarried).toEqual(['session-search-keywords']);
  });

  it('a message of an older scanner plans only the DynamoDB migrations', () => {
    const r = plannableMigrations(PIKA, 'session', sessionDefaults, undefined);
    expect(r.plan).toEqual(withoutSearch);
    expect(r.mismatch?.notCarried).toEqual(['session-search-keywords']);
  });

  it('an opt-in contract step named by the scanner runs; one the worker does not know is told', () => {
    const all = ['tag-usage-mode', 'tag-usage-mode-contract'];
    const r = plannableMigrations(PIKA, 'tag', ['tag-usage-mode'], {
      migrations: [...all, 'tag-from-the-future'],
      projection: scanProjection('tag', all),
    });
    expect(r.plan).toEqual(all);
    expect(r.mismatch?.onlyScanner).toEqual(['tag-from-the-future']);
  });

  it('the mismatch names the declared table', () => {
    const r = plannableMigrations(PIKA, 'tag', ['tag-usage-mode'], undefined);
    expect(r).toEqual({ plan: ['tag-usage-mode'] });
    const m = plannableMigrations(PIKA, 'session', sessionDefaults, undefined).mismatch;
    expect(m?.table).toBe('session');
    expect(m?.text).toMatch(/^session message does not say what it was scanned for/);
  });
});

describe('scanSegmentMigrations', () => {
  it("a task's named migrations the worker runs, plus the opt-in steps it names", () => {
    expect(
      scanSegmentMigrations(PIKA, 'tag', ['tag-usage-mode'], ['tag-usage-mode-contract']),
    ).toEqual(['tag-usage-mode-contract']);
    expect(scanSegmentMigrations(PIKA, 'session', sessionDefaults, ['session-sort-key'])).toEqual([
      'session-sort-key',
    ]);
  });

  it("the worker's own set when the task names none (an older scanner)", () => {
    expect(scanSegmentMigrations(PIKA, 'session', sessionDefaults, undefined)).toEqual(
      sessionDefaults,
    );
  });
});
