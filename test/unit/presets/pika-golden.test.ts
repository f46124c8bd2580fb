// The Pika preset, compiled by the config planner, against today's registry: same set/remove,
// same search update, same malformed verdict, and conditions that include today's.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compilePlanner } from '../../../lib/core/config/planner.ts';
import { resolveConfig } from '../../../lib/core/config/resolve.ts';
import { isMalformedItemError } from '../../../lib/core/errors.ts';
import { ExactNumber } from '../../../lib/core/exact-number.ts';
import { sameValue } from '../../../lib/core/item-equality.ts';
import {
  ALL_MIGRATIONS,
  DEFAULT_MIGRATIONS,
  REGISTRY,
  searchSpecFor,
} from '../../../lib/core/migrations/index.ts';
import { VERSION_GUARDED_UPDATE } from '../../../lib/core/migrations/session-search-keywords.ts';
import { planItem, type PlanResult } from '../../../lib/core/plan.ts';
import {
  KEY_ATTRIBUTES,
  type Condition,
  type Item,
  type TableRole,
} from '../../../lib/core/types.ts';
import pika from '../../../lib/presets/pika.ts';
import {
  REFERENCE_NOW_SECONDS,
  junkArb,
  sessionItemArb,
  tagItemArb,
  withField,
} from '../../support/arbitraries.ts';

const planner = compilePlanner(resolveConfig(pika));

type Verdict = { malformed: true } | { malformed: false; result: PlanResult };

function verdict(plan: () => PlanResult): Verdict {
  try {
    return { malformed: false, result: plan() };
  } catch (e) {
    if (isMalformedItemError(e)) return { malformed: true };
    throw e;
  }
}

const covers = (conditions: readonly Condition[], c: Condition): boolean =>
  conditions.some(
    (d) =>
      d.op === c.op &&
      d.attribute === c.attribute &&
      (c.op !== 'equals' || (d.op === 'equals' && sameValue(d.value, c.value))),
  );

/** Asserts the preset's verdict on an item is today's (conditions: a superset). */
function expectEquivalent(today: Verdict, preset: Verdict): void {
  expect(preset.malformed).toBe(today.malformed);
  if (today.malformed || preset.malformed) return;
  const [a, b] = [today.result, preset.result];
  expect(!!b.expired).toBe(!!a.expired);
  expect(b.search).toEqual(a.search);
  expect(b.change === null).toBe(a.change === null);
  if (!a.change || !b.change) return;
  expect(b.change.table).toBe(a.change.table);
  expect(b.change.key).toEqual(a.change.key);
  expect(b.change.set).toEqual(a.change.set);
  expect([...b.change.remove].sort()).toEqual([...a.change.remove].sort());
  expect(b.change.migrations).toEqual(a.change.migrations);
  for (const c of a.change.conditions) expect(covers(b.change.conditions, c)).toBe(true);
}

/** Plans `item` with both; the user table holds `userItem` (undefined: no such user). */
function compare(
  table: TableRole,
  item: Item,
  userItem: Item | undefined,
  contract: boolean,
): void {
  const userId = item.user_id;
  const looked = userItem?.user_type;
  const userTypes = new Map([
    [String(userId), typeof looked === 'string' && looked !== '' ? looked : null],
  ]);
  const nowSeconds = REFERENCE_NOW_SECONDS;
  const today = verdict(() =>
    planItem(
      table,
      item,
      { userTypes, nowSeconds },
      contract ? ALL_MIGRATIONS : DEFAULT_MIGRATIONS,
    ),
  );
  const enabled = contract ? planner.allMigrations : planner.defaultMigrations;
  const reads = planner.collectLookups(table, [item], enabled);
  const lookups = planner.lookupResults(reads, new Map([['user', userItem ? [userItem] : []]]));
  const preset = verdict(() => planner.planItem(table, item, { nowSeconds, lookups }, enabled));
  expectEquivalent(today, preset);
}

const userArb = (userId: string): fc.Arbitrary<Item | undefined> =>
  fc.oneof(
    fc.constant(undefined),
    fc.constant({ user_id: userId }),
    fc
      .constantFrom<unknown>('internal-user', 'external-user', 'partner', '', 7, ['x'])
      .map((user_type) => ({ user_id: userId, user_type })),
  );

const versionJunkArb = fc.oneof(
  junkArb,
  fc.constantFrom('garbage', ' 2025-01-01T00:00:00Z ', 1_735_689_600, '1735689600000'),
);

describe('Pika preset ≡ the registry', () => {
  it('session items: present, absent, mistyped inputs, expired, every user outcome', () => {
    fc.assert(
      fc.property(
        sessionItemArb({ includeExpired: true }).chain((item) =>
          fc.tuple(
            fc.constant(item),
            userArb(item.user_id),
            fc.constantFrom('chat_app_id', 'last_update', 'source', 'user_type', 'invocation_mode'),
            fc.option(versionJunkArb, { nil: undefined }),
            fc.boolean(),
          ),
        ),
        ([item, userItem, field, junk, contract]) => {
          const mutated = junk === undefined ? item : withField(item, field, junk);
          compare('session', mutated, userItem, contract);
        },
      ),
      { numRuns: 1500 },
    );
  });

  it('tag items: present, absent, mistyped usage_mode and chat_app_id, contract on and off', () => {
    fc.assert(
      fc.property(
        tagItemArb,
        fc.constantFrom('usage_mode', 'chat_app_id'),
        fc.option(
          fc.oneof(
            junkArb,
            fc.constant(new ExactNumber('9007199254740993.5')),
            fc.constant(new Set(['a'])),
          ),
          { nil: undefined },
        ),
        fc.boolean(),
        (item, field, junk, contract) => {
          const mutated = junk === undefined ? item : withField(item, field, junk);
          compare('tag', mutated, undefined, contract);
        },
      ),
      { numRuns: 1000 },
    );
  });

  it('a junk key attribute: malformed (or a number key, which DynamoDB types rule out), never a crash', () => {
    fc.assert(
      fc.property(
        sessionItemArb(),
        fc.constantFrom('user_id', 'session_id'),
        junkArb,
        (item, field, junk) => {
          const mutated = withField(item, field, junk);
          const reads = planner.collectLookups('session', [mutated]);
          const lookups = planner.lookupResults(reads, new Map([['user', []]]));
          const v = verdict(() => planner.planItem('session', mutated, { lookups }));
          expect(v.malformed).toBe(!Number.isFinite(junk));
        },
      ),
      { numRuns: 500 },
    );
  });

  it('the search spec: same fields, mapping and guard script as the registry', () => {
    const today = searchSpecFor('session')!;
    const preset = planner.searchSpecFor('session')!;
    expect(preset.index).toBe('session');
    expect([...preset.fields].sort()).toEqual([...today.fields].sort());
    expect(preset.mapping).toEqual(today.mapping);
    expect(preset.guard).toBe(VERSION_GUARDED_UPDATE);
  });

  it('the preset declares the registry names, defaults and migrated tables', () => {
    expect(planner.allMigrations).toEqual(ALL_MIGRATIONS);
    expect(planner.defaultMigrations).toEqual(DEFAULT_MIGRATIONS);
    expect(planner.migratedTables).toEqual(['session', 'tag']);
  });

  it('summaries: the registry inputs (a superset) and writes of each migration', () => {
    for (const m of REGISTRY) {
      const summary = planner.summaries.get(m.name)!;
      expect(summary).toMatchObject({ table: m.table, target: m.target, writes: m.writes });
      const keys: readonly string[] = KEY_ATTRIBUTES[m.table];
      const declared = new Set([...keys, ...summary.inputs]);
      for (const input of m.inputs) expect(declared.has(input)).toBe(true);
    }
  });

  it('no user read for a session that has a user_type', () => {
    const item = { user_id: 'u1', session_id: 's1', user_type: 'internal-user' };
    expect(planner.collectLookups('session', [item]).byTable.size).toBe(0);
    const missing = { user_id: 'u2', session_id: 's2' };
    expect(planner.collectLookups('session', [item, missing]).byTable.get('user')).toEqual([
      { user_id: 'u2' },
    ]);
  });
});
