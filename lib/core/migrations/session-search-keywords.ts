// Pika 0.11: the OpenSearch `session` index gains keyword copies of three text fields so
// analytics can aggregate on them. Additive only: a guarded partial update per document.
// Besides the three keywords, each document records `streamfill_keywords_version` (long, epoch
// ms): the `last_update` its keywords were derived from. The guard orders updates by it, so a
// stale writer (replayed record, earlier historic page, abandoned invocation) always loses.
import { MalformedItemError } from '../errors.ts';
import { sessionKey } from '../keys.ts';
import type { Item, Key, SearchChange } from '../types.ts';
import { EPOCH_MS_FROM, versionMillis } from '../version.ts';
import type { MigrationInfo } from './migration.ts';

export const SEARCH_KEYWORDS_MIGRATION = 'session-search-keywords' as const;

/** keyword field in the index → session attribute it is copied from (the one declaration). */
export const SEARCH_KEYWORD_FIELDS = {
  invocation_mode_keyword: 'invocation_mode',
  user_type_keyword: 'user_type',
  source_keyword: 'source',
} as const;

export type SearchKeywordField = keyof typeof SEARCH_KEYWORD_FIELDS;

const KEYWORD_FIELDS = Object.keys(SEARCH_KEYWORD_FIELDS) as SearchKeywordField[];

/**
 * The document field holding the version (epoch ms of `last_update`) the keywords came from.
 * The guard below reads and writes it; it is part of the additive mapping.
 */
export const KEYWORDS_VERSION_FIELD = 'streamfill_keywords_version';

/** The additive mapping update (`PUT <index>/_mapping` body): keywords plus their version. */
export const SEARCH_KEYWORD_MAPPING = {
  properties: {
    ...Object.fromEntries(KEYWORD_FIELDS.map((f) => [f, { type: 'keyword' as const }])),
    [KEYWORDS_VERSION_FIELD]: { type: 'long' as const },
  },
} as {
  properties: Record<SearchKeywordField, { type: 'keyword' }> &
    Record<typeof KEYWORDS_VERSION_FIELD, { type: 'long' }>;
};

/**
 * The guarded partial update, given `params.doc` (fields to set), `params.remove` (fields to
 * remove) and `params.version` (epoch ms of the inputs' `last_update`, or null). docs/DESIGN.md
 * ("Why it converges", point 5): partial updates cannot use external versions, so the version travels as a
 * parameter and is stored in the document. It is a no-op when
 * - the keywords already come from this version or a newer one (repeats are cheap no-ops);
 *   a repair (`params.repair`, `verify --repair`: derived from the item as it is now) applies
 *   at an equal version too, so keywords a wrong update left at that version can be mended,
 * - the document was indexed from a newer `last_update` than the version (parsed as an
 *   instant with java.time: with or without milliseconds, `Z` or an offset, no zone = UTC),
 * - the update has no version (planSearch never makes one: such an item is malformed).
 * The document's own `last_update` is read with the same rules as the version (ISO-8601, or
 * whole epoch seconds / milliseconds as a number or digit string, lib/core/version.ts). Two
 * versions in the same millisecond are equal: the first applied keeps the document.
 */
export const VERSION_GUARDED_UPDATE = `
  def src = ctx._source;
  def kv = src.${KEYWORDS_VERSION_FIELD};
  if (params.version == null) { ctx.op = 'noop'; return; }
  long v = ((Number) params.version).longValue();
  if (kv instanceof Number) {
    long k = ((Number) kv).longValue();
    if (k > v || (k == v && params.repair != true)) { ctx.op = 'noop'; return; }
  }
  def lu = src.last_update;
  long luMs = Long.MIN_VALUE;
  if (lu instanceof Number) {
    long n = ((Number) lu).longValue();
    luMs = n < ${EPOCH_MS_FROM}L ? n * 1000L : n;
  } else if (lu instanceof String) {
    String t = lu.trim();
    boolean digits = t.length() > 0 && t.length() <= 16;
    for (int i = 0; digits && i < t.length(); i++) { if (!Character.isDigit(t.charAt(i))) { digits = false; } }
    if (digits) {
      long n = Long.parseLong(t);
      luMs = n < ${EPOCH_MS_FROM}L ? n * 1000L : n;
    } else {
      try { luMs = Instant.parse(t).toEpochMilli(); } catch (Exception e1) {
        try { luMs = OffsetDateTime.parse(t).toInstant().toEpochMilli(); } catch (Exception e2) {
          try { luMs = LocalDateTime.parse(t).toInstant(ZoneOffset.UTC).toEpochMilli(); } catch (Exception e3) {}
        }
      }
    }
  }
  if (luMs > v) { ctx.op = 'noop'; return; }
  src.${KEYWORDS_VERSION_FIELD} = v;
  for (def e : params.doc.entrySet()) { src[e.getKey()] = e.getValue(); }
  for (def f : params.remove) { src.remove(f); }
`;

/** The keyword values an item implies; non-string sources are left out, never stringified. */
export function searchKeywords(item: Item): Record<string, string> {
  const doc: Record<string, string> = {};
  for (const field of KEYWORD_FIELDS) {
    const value = item[SEARCH_KEYWORD_FIELDS[field]];
    if (typeof value === 'string') doc[field] = value;
  }
  return doc;
}

/**
 * The partial update for the item's search document. Pass the item as it will be AFTER the
 * DynamoDB migrations (see planItem), so defaults like `source='user'` are indexed too. A
 * keyword whose source attribute is absent (or not a string) is removed from the document.
 * Null only when the item implies no keyword at all.
 */
export function planSearch(item: Item): SearchChange | null {
  const doc = searchKeywords(item);
  if (Object.keys(doc).length === 0) return null;
  const key = sessionKey(item);
  const id = key.session_id as string;
  const remove = KEYWORD_FIELDS.filter((f) => !(f in doc));
  return { id, doc, ...(remove.length && { remove }), version: searchVersion(item, key) };
}

/**
 * The version of the item's keywords: its `last_update` in a form the guard orders (see
 * lib/core/version.ts). Anything else makes the item malformed, with the value in the reason:
 * an update the guard cannot order would be applied in arrival order, and could regress newer
 * keywords.
 */
function searchVersion(item: Item, key: Key): string {
  const lu = item.last_update;
  if (lu === undefined) throw new MalformedItemError('session', key, 'last_update', 'missing');
  if (versionMillis(lu) === undefined) {
    throw new MalformedItemError('session', key, 'last_update', 'not-a-version', { value: lu });
  }
  return typeof lu === 'string' ? lu.trim() : String(lu);
}

/**
 * Whether an existing search document holds exactly the expected keywords: every value equal,
 * and no keyword field the item no longer implies (an extra field is stale).
 */
export function searchKeywordsSatisfied(
  doc: Record<string, unknown>,
  expected: SearchChange,
): boolean {
  return KEYWORD_FIELDS.every((field) => doc[field] === expected.doc[field]);
}

export const sessionSearchKeywords = {
  name: SEARCH_KEYWORDS_MIGRATION,
  table: 'session',
  target: 'search',
  pikaVersion: '0.11',
  inputs: ['session_id', 'last_update', ...Object.values(SEARCH_KEYWORD_FIELDS)],
  writes: [...KEYWORD_FIELDS, KEYWORDS_VERSION_FIELD],
  description: 'keyword copies of invocation_mode, user_type and source in the session index',
  search: {
    fields: SEARCH_KEYWORD_FIELDS,
    mapping: SEARCH_KEYWORD_MAPPING,
    guard: VERSION_GUARDED_UPDATE,
    plan: planSearch,
  },
} as const satisfies MigrationInfo;
