// fast-check arbitraries for Pika-shaped items: legacy, partly and fully migrated. Shared by
// unit properties, integration tests (seeding real tables) and benchmarks.
import fc from 'fast-check';
import type { Item } from '../../lib/core/types.ts';

/** 2026-01-01T00:00:00Z. Items are generated relative to it unless `nowSeconds` is given. */
export const REFERENCE_NOW_SECONDS = 1_767_225_600;
const DAY = 86_400;

export const SOURCE_VARIANTS = ['user', 'component', 'component-as-user'] as const;
export const USER_TYPES = ['internal-user', 'external-user'] as const;
export const INVOCATION_MODES = [
  'chat-app',
  'chat-app-component',
  'direct-agent-invoke',
  'simple-chat',
] as const;

export type SessionItem = Item & {
  user_id: string;
  session_id: string;
  chat_app_id: string;
  last_update: string;
};
export type TagItem = Item & { scope: string; tag: string };

// Generated names never contain "undefined"/"null", so tests can assert that no such text
// leaks into keys or messages.
const noSentinelWords = (s: string) => !/undefined|null/i.test(s);

/** A smallish pool so that several sessions share a user, as in real tables. */
export const userIdArb: fc.Arbitrary<string> = fc.oneof(
  fc.integer({ min: 0, max: 63 }).map((n) => `user-${n.toString(16).padStart(4, '0')}`),
  fc.stringMatching(/^[a-z]{3,8}\.[a-z]{3,8}@example\.com$/).filter(noSentinelWords),
);

export const sessionIdArb: fc.Arbitrary<string> = fc.uuid();

export const chatAppIdArb: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom('weather', 'customer-support', 'hr-assistant', 'sales-insights', 'it-helpdesk'),
  fc.stringMatching(/^[a-z][a-z0-9-]{1,24}$/).filter(noSentinelWords),
);

export function isoDateArb(minSeconds: number, maxSeconds: number): fc.Arbitrary<string> {
  return fc
    .date({
      min: new Date(minSeconds * 1000),
      max: new Date(maxSeconds * 1000),
      noInvalidDate: true,
    })
    .map((d) => d.toISOString());
}

/** `source` as found in tables: the three Pika values plus odd strings written by old code. */
export const sourceArb: fc.Arbitrary<string> = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom(...SOURCE_VARIANTS) },
  { weight: 1, arbitrary: fc.constantFrom('', 'Component', 'agent', 'user ') },
);

export const userTypeArb: fc.Arbitrary<string> = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom(...USER_TYPES) },
  { weight: 1, arbitrary: fc.constantFrom('partner', '') },
);

/** What the chat-user table says about a user: a type, or null (not found / no type). */
export const lookedUpUserTypeArb: fc.Arbitrary<string | null> = fc.oneof(
  fc.constantFrom(...USER_TYPES),
  fc.constant(null),
  fc.constant('partner'),
);

export interface SessionArbOptions {
  /** Reference "now" (epoch seconds) for last_update and TTL values. */
  nowSeconds?: number;
  /** Also generate items whose TTL is already in the past. */
  includeExpired?: boolean;
  userId?: fc.Arbitrary<string>;
}

type SortKeyVariant = 'correct' | 'stale' | 'other-kind' | 'garbage';

function expectedSortKey(item: SessionItem): string {
  const kind = item.source === 'component' ? 'component' : 'user';
  return `${item.chat_app_id}#${kind}#${item.last_update}`;
}

/**
 * A chat-session item in any state a live table holds during the migration: `source`,
 * `user_type`, `invocation_mode`, `chat_app_sk` and the TTL each optional; `chat_app_sk`
 * correct, stale (older last_update), of the other kind, or garbage.
 */
export function sessionItemArb(opts: SessionArbOptions = {}): fc.Arbitrary<SessionItem> {
  const now = opts.nowSeconds ?? REFERENCE_NOW_SECONDS;
  const expMin = opts.includeExpired ? now - 30 * DAY : now + DAY;
  return fc
    .record(
      {
        user_id: opts.userId ?? userIdArb,
        session_id: sessionIdArb,
        chat_app_id: chatAppIdArb,
        last_update: isoDateArb(now - 700 * DAY, now - 1),
        title: fc.constantFrom('Weather in Paris', 'Reset my password', 'Q3 numbers', ''),
        exp_date_unix_seconds: fc.integer({ min: expMin, max: now + 400 * DAY }),
        source: sourceArb,
        user_type: userTypeArb,
        invocation_mode: fc.constantFrom(...INVOCATION_MODES),
        sortKey: fc.constantFrom<SortKeyVariant>('correct', 'stale', 'other-kind', 'garbage'),
      },
      {
        requiredKeys: ['user_id', 'session_id', 'chat_app_id', 'last_update', 'title'],
        noNullPrototype: true,
      },
    )
    .map(({ sortKey, ...fields }) => {
      const item = { ...fields } as SessionItem;
      if (sortKey !== undefined) {
        const correct = expectedSortKey(item);
        item.chat_app_sk =
          sortKey === 'correct'
            ? correct
            : sortKey === 'stale'
              ? `${item.chat_app_id}#user#2020-01-01T00:00:00.000Z`
              : sortKey === 'other-kind'
                ? correct.replace(/#(user|component)#/, (_m, k) =>
                    k === 'user' ? '#component#' : '#user#',
                  )
                : 'garbage';
      }
      return item;
    });
}

/** The default: legacy and partly migrated sessions, none expired. */
export const legacySessionItemArb: fc.Arbitrary<SessionItem> = sessionItemArb();

/** A session plus the user-type lookup result for its user (as adapters provide it). */
export const sessionWithUserTypesArb: fc.Arbitrary<{
  item: SessionItem;
  userTypes: ReadonlyMap<string, string | null>;
}> = fc
  .tuple(legacySessionItemArb, lookedUpUserTypeArb)
  .map(([item, userType]) => ({ item, userTypes: new Map([[item.user_id, userType]]) }));

/** Lookup results for a set of users. */
export function userTypesArb(
  userIds: readonly string[],
): fc.Arbitrary<ReadonlyMap<string, string | null>> {
  return fc
    .array(lookedUpUserTypeArb, { minLength: userIds.length, maxLength: userIds.length })
    .map((types) => new Map(userIds.map((id, i) => [id, types[i] ?? null])));
}

/** A tag definition: pika built-ins (global or not) and chat-app tags, legacy or migrated. */
export const tagItemArb: fc.Arbitrary<TagItem> = fc.record(
  {
    scope: fc.oneof(
      { weight: 3, arbitrary: fc.constant('pika') },
      { weight: 2, arbitrary: fc.constantFrom('weather', 'hr', 'support', 'Pika') },
      { weight: 1, arbitrary: fc.stringMatching(/^[a-z][a-z0-9-]{1,12}$/).filter(noSentinelWords) },
    ),
    tag: fc.oneof(
      { weight: 3, arbitrary: fc.constantFrom('chart', 'image', 'prompt') },
      { weight: 2, arbitrary: fc.constantFrom('download', 'dashboard', 'Chart', 'prompts') },
      { weight: 1, arbitrary: fc.stringMatching(/^[a-z][a-z0-9-]{1,12}$/).filter(noSentinelWords) },
    ),
    status: fc.constantFrom('enabled', 'disabled'),
    chat_app_id: chatAppIdArb,
    usage_mode: fc.constantFrom('global', 'chat-app'),
  },
  { requiredKeys: ['scope', 'tag', 'status'], noNullPrototype: true },
);

/** Marker for "attribute absent" among junk values. */
export const MISSING: unique symbol = Symbol('missing');

/** Values no migration input may hold: absent, null, numbers, booleans, '', lists, maps. */
export const junkArb: fc.Arbitrary<unknown> = fc.oneof(
  fc.constant(MISSING),
  fc.constant(null),
  fc.integer(),
  fc.double({ noNaN: true }),
  fc.boolean(),
  fc.constant(''),
  fc.array(fc.string({ maxLength: 3 }), { maxLength: 2 }),
  fc.dictionary(fc.string({ minLength: 1, maxLength: 3 }), fc.string({ maxLength: 3 }), {
    maxKeys: 2,
    noNullPrototype: true,
  }),
);

/** `item` with `field` replaced by `value` (deleted for MISSING). */
export function withField(item: Item, field: string, value: unknown): Item {
  const next: Item = { ...item };
  if (value === MISSING) delete next[field];
  else next[field] = value;
  return next;
}

// Samples with unique keys (fast-check's bias repeats small values), deterministic per seed.
function uniqueSample<T extends Item>(
  arb: fc.Arbitrary<T>,
  count: number,
  seed: number,
  keyOf: (item: T) => string,
): T[] {
  const byKey = new Map<string, T>();
  for (let round = 0; byKey.size < count; round++) {
    if (round > 50) throw new Error(`could not sample ${count} items with distinct keys`);
    for (const item of fc.sample(arb, { numRuns: count, seed: seed + round })) {
      if (byKey.size < count && !byKey.has(keyOf(item))) byKey.set(keyOf(item), item);
    }
  }
  return [...byKey.values()];
}

/** Deterministic sessions with distinct keys, for seeding tables and benchmarks. */
export function sampleSessionItems(
  count: number,
  opts: SessionArbOptions & { seed?: number } = {},
): SessionItem[] {
  const { seed = 42, ...arbOpts } = opts;
  return uniqueSample(
    sessionItemArb(arbOpts),
    count,
    seed,
    (i) => `${i.user_id}\u0000${i.session_id}`,
  );
}

/** Deterministic tag definitions with distinct keys (the key space is small: keep count modest). */
export function sampleTagItems(count: number, seed = 42): TagItem[] {
  return uniqueSample(tagItemArb, count, seed, (i) => `${i.scope}\u0000${i.tag}`);
}
