// The scanner's projection and filter come from the config's declarations: the planner's
// projection, and the planner itself as the filter (an item planned without lookups that needs
// nothing is left out; anything uncertain is enqueued). The scope says when the filter is off
// and names the declared migrated tables when --table is wrong.
import { describe, expect, it } from 'vitest';
import {
  PLANNER_FILTER,
  SEARCH_NO_FILTER,
  scanFilterOf,
  scanVerdictOf,
} from '../../../lib/core/backfill-filter.ts';
import { defineConfig, defineLookup, defineMigration, defineTable } from '../../../lib/index.ts';
import { compilePlanner } from '../../../lib/core/config/planner.ts';
import { resolveConfig } from '../../../lib/core/config/resolve.ts';
import { BackfillOptionError, type BackfillOptions } from '../../../lib/engine/backfill-options.ts';
import { scopeOf, unfilteredScope } from '../../../lib/engine/backfill-scope.ts';
import { PIKA } from '../../support/pika.ts';

const options = (over: Partial<BackfillOptions> = {}): BackfillOptions => ({
  table: 'session',
  tableName: 'physical-session',
  searchEnabled: false,
  ...over,
});

describe('backfill filter and scope', () => {
  it("projects the planner's projection and filters by the planner", () => {
    const enabled = PIKA.defaultMigrations;
    expect(scanFilterOf(PIKA, 'tag', enabled)).toEqual({
      projection: PIKA.projection('tag', enabled),
      skipSettled: true,
      filterText: PLANNER_FILTER,
    });
  });

  it('enqueues every item when a search migration is in the scan', () => {
    expect(scanFilterOf(PIKA, 'session', PIKA.allMigrations)).toMatchObject({
      skipSettled: false,
      filterText: SEARCH_NO_FILTER,
    });
  });

  it('scans for the default migrations, less the search ones without a search endpoint', () => {
    const s = scopeOf(options(), 'scan', PIKA);
    expect(s.migrations).toEqual(['session-sort-key', 'session-user-type']);
    expect(s.projection).toEqual(PIKA.projection('session', s.migrations));
    expect(s.skipSettled).toBe(true);
    expect(s.filterText).toBe(PLANNER_FILTER);
    const withSearch = scopeOf(options({ searchEnabled: true }), 'scan', PIKA);
    expect(withSearch.migrations).toContain('session-search-keywords');
    expect(withSearch.skipSettled).toBe(false);
  });

  it('says why there is no filter for --no-filter, --keys, --distributed and a broken consumer', () => {
    const off = (s: ReturnType<typeof scopeOf>) => (
      expect(s.skipSettled).toBe(false),
      s.filterText
    );
    expect(off(scopeOf(options({ filter: false }), 'scan', PIKA))).toMatch(/--no-filter/);
    expect(off(scopeOf(options(), 'keys', PIKA))).toMatch(/--keys/);
    expect(off(scopeOf(options(), 'distributed', PIKA))).toMatch(/--distributed/);
    expect(off(unfilteredScope(scopeOf(options(), 'scan', PIKA), 'the consumer stopped'))).toMatch(
      /^none: the consumer stopped; .* every item is enqueued/,
    );
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

  describe('scanVerdictOf (Pika session, its DynamoDB migrations)', () => {
    const enabled = ['session-sort-key', 'session-user-type'];
    const migrated = {
      session_id: 's1',
      user_id: 'u1',
      chat_app_id: 'app',
      last_update: '2026-01-01T00:00:00Z',
      source: 'user',
      chat_app_sk: 'app#user#2026-01-01T00:00:00Z',
      user_type: 'internal-user',
    };
    const verdict = (item: Record<string, unknown>, now = 1_000) =>
      scanVerdictOf(PIKA, 'session', item, now, enabled);

    it('leaves out a migrated item and enqueues a pending one', () => {
      expect(verdict(migrated)).toBe('settled');
      expect(verdict({ ...migrated, chat_app_sk: 'app#user#2025' })).toBe('enqueue');
      expect(verdict({ ...migrated, source: undefined })).toBe('enqueue');
    });

    it('enqueues an item that needs a lookup (no user_type: the worker reads the user)', () => {
      const { user_type: _, ...noType } = migrated;
      expect(verdict(noType)).toBe('enqueue');
    });

    it('enqueues a malformed item (the worker parks it with its reason)', () => {
      expect(verdict({ ...migrated, last_update: 7 })).toBe('enqueue');
      expect(verdict({ ...migrated, session_id: undefined })).toBe('enqueue');
    });

    it('leaves out an expired item', () => {
      const ttl = PIKA.table('session').ttl as string;
      expect(verdict({ ...migrated, chat_app_sk: 'stale', [ttl]: 500 }, 1_000)).toBe('expired');
    });

    it('enqueues an item whose derive asked for a lookup, even when it went on without it', () => {
      const t = defineTable({ name: 't', key: ['id'] });
      const other = defineTable({ name: 'o', key: ['id'] });
      const l = defineLookup({
        name: 'l',
        table: other,
        key: (i) => ({ id: i.id }),
        attributes: ['x'],
      });
      const planner = compilePlanner(
        resolveConfig(
          defineConfig({
            tables: [t, other],
            migrations: [
              defineMigration({
                name: 'swallow',
                table: t,
                inputs: ['v'],
                writes: ['v'],
                lookups: [l],
                derive: (item, ctx) => {
                  try {
                    ctx.lookup(l);
                  } catch {
                    // A derive that swallows the missing lookup must not pass for settled.
                  }
                  return { v: item.v };
                },
              }),
            ],
          }),
        ),
      );
      expect(scanVerdictOf(planner, 't', { id: 'a', v: 1 }, 1_000, ['swallow'])).toBe('enqueue');
    });
  });
});

describe('a scan with a copy', () => {
  it('enqueues every item: its targets are not read by the scanner', async () => {
    const { defineConfig, defineCopy, defineTable } =
      await import('../../../lib/core/config/define.ts');
    const { compilePlanner } = await import('../../../lib/core/config/planner.ts');
    const { resolveConfig } = await import('../../../lib/core/config/resolve.ts');
    const { scanFilterOf, COPY_NO_FILTER } = await import('../../../lib/core/backfill-filter.ts');
    const src = defineTable({ name: 'src', key: ['id'] });
    const dst = defineTable({ name: 'dst', key: ['id'] });
    const copy = defineCopy({
      name: 'c',
      from: src,
      to: [dst],
      inputs: ['x'],
      derive: (i) => [{ table: dst, item: { id: i.id, x: i.x } }],
    });
    const planner = compilePlanner(
      resolveConfig(defineConfig({ tables: [src, dst], migrations: [copy] })),
    );
    expect(scanFilterOf(planner, 'src', ['c'])).toEqual({
      projection: ['id', 'x'],
      skipSettled: false,
      filterText: COPY_NO_FILTER,
    });
  });
});
