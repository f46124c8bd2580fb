// The Pika preset's documented rules, written out here independently of lib/presets/pika.ts,
// checked against what the planner makes of generated items: present, absent and mistyped
// inputs, expired sessions, every user-table outcome, contract on and off.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { versionGuard } from '../../../lib/core/config/plan-search.ts';
import { isMalformedItemError } from '../../../lib/core/errors.ts';
import { ExactNumber, isExactNumber } from '../../../lib/core/exact-number.ts';
import { sameValue } from '../../../lib/core/item-equality.ts';
import { conditionsHold, type PlanResult } from '../../../lib/core/plan.ts';
import type { Condition, Item, SearchChange } from '../../../lib/core/types.ts';
import { versionMillis } from '../../../lib/core/version.ts';
import {
  REFERENCE_NOW_SECONDS,
  junkArb,
  sessionItemArb,
  tagItemArb,
  withField,
} from '../../support/arbitraries.ts';
import { PIKA } from '../../support/pika.ts';

type Verdict = { malformed: true } | { malformed: false; result: PlanResult };

function verdict(plan: () => PlanResult): Verdict {
  try {
    return { malformed: false, result: plan() };
  } catch (e) {
    if (isMalformedItemError(e)) return { malformed: true };
    throw e;
  }
}

/** What the rules say of an item: parked, left to TTL, or this change and search update. */
type Expected =
  | { malformed: true }
  | { malformed: false; expired: true }
  | {
      malformed: false;
      expired: false;
      set: Item;
      remove: string[];
      migrations: string[];
      /** One condition per input the contributing rules read, plus the partition key's. */
      conditions: Condition[];
      search: SearchChange | null;
    };

const MALFORMED = { malformed: true } as const;
const isString = (v: unknown): v is string => typeof v === 'string';
const readAs = (attribute: string, value: unknown): Condition =>
  value === undefined ? { op: 'notExists', attribute } : { op: 'equals', attribute, value };

const covers = (conditions: readonly Condition[], c: Condition): boolean =>
  conditions.some(
    (d) =>
      d.op === c.op &&
      d.attribute === c.attribute &&
      (c.op !== 'equals' || (d.op === 'equals' && sameValue(d.value, c.value))),
  );

const KEYWORDS = {
  invocation_mode_keyword: 'invocation_mode',
  user_type_keyword: 'user_type',
  source_keyword: 'source',
} as const;

/** The session index update of the migrated item: string keywords set, the others removed. */
function expectedSearch(after: Item): SearchChange | null | 'malformed' {
  const doc: Record<string, string> = {};
  for (const [field, attribute] of Object.entries(KEYWORDS)) {
    const value = after[attribute];
    if (isString(value)) doc[field] = value;
  }
  if (Object.keys(doc).length === 0) return null;
  const remove = Object.keys(KEYWORDS).filter((f) => !(f in doc));
  const lu = after.last_update;
  if (versionMillis(lu) === undefined) return 'malformed'; // an update the guard cannot order
  const version = isString(lu) ? lu.trim() : String(lu);
  return { id: String(after.session_id), doc, ...(remove.length && { remove }), version };
}

/**
 * Pika 0.5 and 0.11 on a session: `source` defaults to 'user'; chat_app_sk is
 * `${chat_app_id}#${kind}#${last_update}` (kind 'component' for source 'component', else
 * 'user'); a missing user_type is the user's type when it is a non-empty string, else
 * 'external-user', and an existing one is never overwritten.
 */
function expectedSession(item: Item, userItem: Item | undefined): Expected {
  const exp = item.exp_date_unix_seconds;
  if (typeof exp === 'number' && exp <= REFERENCE_NOW_SECONDS)
    return { malformed: false, expired: true };
  const { chat_app_id: chatAppId, last_update: lastUpdate, source, user_type: userType } = item;
  if (!isString(chatAppId) || chatAppId === '') return MALFORMED;
  if (!isString(lastUpdate) || lastUpdate === '') return MALFORMED;
  if (source !== undefined && !isString(source)) return MALFORMED;
  if (userType !== undefined && !isString(userType)) return MALFORMED;

  const set: Item = {};
  const migrations: string[] = [];
  const conditions: Condition[] = [{ op: 'exists', attribute: 'user_id' }];
  const sortKey = `${chatAppId}#${source === 'component' ? 'component' : 'user'}#${lastUpdate}`;
  if (source === undefined) set.source = 'user';
  if (item.chat_app_sk !== sortKey) set.chat_app_sk = sortKey;
  if (Object.keys(set).length > 0) {
    migrations.push('session-sort-key');
    conditions.push(
      readAs('chat_app_id', chatAppId),
      readAs('last_update', lastUpdate),
      readAs('source', source),
    );
  }
  if (userType === undefined) {
    const looked = userItem?.user_type;
    set.user_type = isString(looked) && looked !== '' ? looked : 'external-user';
    migrations.push('session-user-type');
    conditions.push(readAs('user_type', undefined));
  }
  const search = expectedSearch({ ...item, ...set });
  if (search === 'malformed') return MALFORMED;
  return { malformed: false, expired: false, set, remove: [], migrations, conditions, search };
}

const GLOBAL_PIKA_TAGS = ['chart', 'image', 'prompt'];

/**
 * Pika 0.5 on a tag: expand sets a missing usage_mode ('global' for pika chart/image/prompt,
 * else 'chat-app') and keeps chat_app_id; the opt-in contract removes chat_app_id from a tag
 * that already has a usage_mode. A mistyped usage_mode or a non-scalar chat_app_id is parked.
 */
function expectedTag(item: Item, contract: boolean): Expected {
  const { usage_mode: usageMode, chat_app_id: chatAppId } = item;
  if (usageMode !== undefined && !isString(usageMode)) return MALFORMED;
  const scalar =
    chatAppId === undefined ||
    ['string', 'number', 'boolean'].includes(typeof chatAppId) ||
    isExactNumber(chatAppId);
  if (!scalar) return MALFORMED;
  const none = { malformed: false, expired: false, remove: [] as string[], search: null } as const;
  if (usageMode === undefined) {
    const global = item.scope === 'pika' && GLOBAL_PIKA_TAGS.includes(String(item.tag));
    return {
      ...none,
      set: { usage_mode: global ? 'global' : 'chat-app' },
      migrations: ['tag-usage-mode'],
      conditions: [
        { op: 'exists', attribute: 'scope' },
        { op: 'notExists', attribute: 'usage_mode' },
        readAs('chat_app_id', chatAppId),
      ],
    };
  }
  if (contract && chatAppId !== undefined) {
    return {
      ...none,
      set: {},
      remove: ['chat_app_id'],
      migrations: ['tag-usage-mode-contract'],
      conditions: [
        { op: 'exists', attribute: 'scope' },
        readAs('usage_mode', usageMode),
        readAs('chat_app_id', chatAppId),
      ],
    };
  }
  return { ...none, set: {}, migrations: [], conditions: [] };
}

/** Asserts the planner's verdict on `item` is what the rules say. */
function expectPlanned(item: Item, expected: Expected, actual: Verdict): void {
  expect(actual.malformed).toBe(expected.malformed);
  if (expected.malformed || actual.malformed) return;
  const { result } = actual;
  if (expected.expired) {
    expect(result).toEqual({ change: null, search: null, expired: true });
    return;
  }
  expect(result.expired).toBeFalsy();
  expect(result.search).toEqual(expected.search);
  if (expected.migrations.length === 0) {
    expect(result.change).toBeNull();
    return;
  }
  const change = result.change!;
  expect(change).not.toBeNull();
  expect(change.set).toEqual(expected.set);
  expect([...change.remove].sort()).toEqual([...expected.remove].sort());
  expect(change.migrations).toEqual(expected.migrations);
  for (const c of expected.conditions) expect(covers(change.conditions, c), c.attribute).toBe(true);
  // Every condition is one the item read satisfies: the write lands unless the item changed.
  expect(conditionsHold(item, change.conditions)).toBe(true);
}

/** Plans `item`; the user table holds `userItem` (undefined: no such user). */
function plan(table: string, item: Item, userItem: Item | undefined, contract: boolean): Verdict {
  const enabled = contract ? PIKA.allMigrations : PIKA.defaultMigrations;
  const reads = PIKA.collectLookups(table, [item], enabled);
  const lookups = PIKA.lookupResults(reads, new Map([['user', userItem ? [userItem] : []]]));
  const nowSeconds = REFERENCE_NOW_SECONDS;
  return verdict(() => PIKA.planItem(table, item, { nowSeconds, lookups }, enabled));
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

describe('Pika preset: the documented rules on generated items', () => {
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
          const actual = plan('session', mutated, userItem, contract);
          expectPlanned(mutated, expectedSession(mutated, userItem), actual);
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
          const actual = plan('tag', mutated, undefined, contract);
          expectPlanned(mutated, expectedTag(mutated, contract), actual);
        },
      ),
      { numRuns: 1000 },
    );
  });

  it('a few items written out: the sort key, the user type, the source default, the tag modes', () => {
    const session = {
      user_id: 'u1',
      session_id: 's1',
      chat_app_id: 'weather',
      last_update: '2025-03-01T10:00:00.000Z',
    };
    const planned = plan('session', { ...session, source: 'component' }, undefined, false);
    expect(planned).toMatchObject({
      result: {
        change: {
          set: {
            chat_app_sk: 'weather#component#2025-03-01T10:00:00.000Z',
            user_type: 'external-user',
          },
        },
      },
    });
    const partner = plan('session', session, { user_id: 'u1', user_type: 'partner' }, false);
    expect(partner).toMatchObject({
      result: {
        change: { set: { source: 'user', user_type: 'partner' } },
        search: { doc: { source_keyword: 'user', user_type_keyword: 'partner' } },
      },
    });
    const mode = (scope: string, tag: string) =>
      (plan('tag', { scope, tag }, undefined, false) as { result: PlanResult }).result.change?.set;
    expect(mode('pika', 'image')).toEqual({ usage_mode: 'global' });
    expect(mode('pika', 'download')).toEqual({ usage_mode: 'chat-app' });
    expect(mode('Pika', 'chart')).toEqual({ usage_mode: 'chat-app' });
  });

  it('a junk key attribute: malformed (or a number key, which DynamoDB types rule out), never a crash', () => {
    fc.assert(
      fc.property(
        sessionItemArb(),
        fc.constantFrom('user_id', 'session_id'),
        junkArb,
        (item, field, junk) => {
          const mutated = withField(item, field, junk);
          const reads = PIKA.collectLookups('session', [mutated]);
          const lookups = PIKA.lookupResults(reads, new Map([['user', []]]));
          const v = verdict(() => PIKA.planItem('session', mutated, { lookups }));
          expect(v.malformed).toBe(!Number.isFinite(junk));
        },
      ),
      { numRuns: 500 },
    );
  });

  it('the search spec: the session index, its keyword fields and the last_update guard', () => {
    const spec = PIKA.searchSpecFor('session')!;
    expect(spec.index).toBe('session');
    expect(spec.sources).toEqual(KEYWORDS);
    expect([...spec.fields].sort()).toEqual([
      'invocation_mode_keyword',
      'source_keyword',
      'streamfill_keywords_version',
      'user_type_keyword',
    ]);
    expect(spec.mapping).toEqual({
      properties: {
        invocation_mode_keyword: { type: 'keyword' },
        user_type_keyword: { type: 'keyword' },
        source_keyword: { type: 'keyword' },
        streamfill_keywords_version: { type: 'long' },
      },
    });
    expect(spec.guard).toBe(versionGuard('last_update'));
    expect(spec.guard).toContain('src.last_update');
  });

  it('the preset declares the Pika names, defaults and migrated tables', () => {
    expect(PIKA.allMigrations).toEqual([
      'session-sort-key',
      'session-user-type',
      'session-search-keywords',
      'tag-usage-mode',
      'tag-usage-mode-contract',
    ]);
    expect(PIKA.defaultMigrations).toEqual(PIKA.allMigrations.slice(0, 4));
    expect(PIKA.migratedTables).toEqual(['session', 'tag']);
  });

  it('summaries: the tables, targets and writes of each migration, and the inputs it reads', () => {
    // What the registry declared: every input here is read, with the key, by the preset's rule.
    const DECLARED = [
      [
        'session-sort-key',
        'session',
        'dynamodb',
        ['chat_app_id', 'last_update', 'source'],
        ['source', 'chat_app_sk'],
      ],
      ['session-user-type', 'session', 'dynamodb', ['user_id', 'user_type'], ['user_type']],
      [
        'session-search-keywords',
        'session',
        'search',
        ['session_id', 'last_update', 'invocation_mode', 'user_type', 'source'],
        [
          'invocation_mode_keyword',
          'user_type_keyword',
          'source_keyword',
          'streamfill_keywords_version',
        ],
      ],
      ['tag-usage-mode', 'tag', 'dynamodb', ['scope', 'tag', 'usage_mode'], ['usage_mode']],
      [
        'tag-usage-mode-contract',
        'tag',
        'dynamodb',
        ['scope', 'tag', 'usage_mode', 'chat_app_id'],
        ['chat_app_id'],
      ],
    ] as const;
    for (const [name, table, target, inputs, writes] of DECLARED) {
      const summary = PIKA.summaries.get(name)!;
      expect(summary).toMatchObject({ table, target, writes });
      const read = new Set([...PIKA.table(table).key, ...summary.inputs]);
      for (const input of inputs) expect(read.has(input), `${name}: ${input}`).toBe(true);
    }
  });

  it('no user read for a session that has a user_type', () => {
    const item = { user_id: 'u1', session_id: 's1', user_type: 'internal-user' };
    expect(PIKA.collectLookups('session', [item]).byTable.size).toBe(0);
    const missing = { user_id: 'u2', session_id: 's2' };
    expect(PIKA.collectLookups('session', [item, missing]).byTable.get('user')).toEqual([
      { user_id: 'u2' },
    ]);
  });
});
