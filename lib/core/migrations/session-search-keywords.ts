// Pika 0.11: the OpenSearch `session` index gains keyword copies of three text fields so
// analytics can aggregate on them. Additive only: a guarded partial update per document.
// Besides the three keywords, each document records `streamfill_keywords_version` (long, epoch
// ms): the `last_update` its keywords were derived from. The guard orders updates by it, so a
// stale writer (replayed record, earlier historic page, abandoned invocation) always loses.
import { sessionKey } from '../keys.ts';
import type { Item, SearchChange } from '../types.ts';
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
 * - the keywords already come from this version or a newer one (repeats are cheap no-ops),
 * - the document was indexed from a newer `last_update` than the version (parsed as an
 *   instant with java.time: with or without milliseconds, `Z` or an offset, no zone = UTC),
 * - the update has no version and the document's keywords have one, or nothing would change.
 */
export const VERSION_GUARDED_UPDATE = `
  def src = ctx._source;
  def kv = src.${KEYWORDS_VERSION_FIELD};
  if (params.version == null) {
    if (kv != null) { ctx.op = 'noop'; return; }
    boolean same = true;
    for (def e : params.doc.entrySet()) { if (src[e.getKey()] != e.getValue()) { same = false; } }
    for (def f : params.remove) { if (src.containsKey(f)) { same = false; } }
    if (same) { ctx.op = 'noop'; return; }
  } else {
    long v = ((Number) params.version).longValue();
    if (kv instanceof Number && ((Number) kv).longValue() >= v) { ctx.op = 'noop'; return; }
    def lu = src.last_update;
    if (lu instanceof String) {
      long luMs = Long.MIN_VALUE;
      try { luMs = Instant.parse(lu).toEpochMilli(); } catch (Exception e1) {
        try { luMs = OffsetDateTime.parse(lu).toInstant().toEpochMilli(); } catch (Exception e2) {
          try { luMs = LocalDateTime.parse(lu).toInstant(ZoneOffset.UTC).toEpochMilli(); } catch (Exception e3) {}
        }
      }
      if (luMs > v) { ctx.op = 'noop'; return; }
    }
    src.${KEYWORDS_VERSION_FIELD} = v;
  }
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
  const id = sessionKey(item).session_id as string;
  const remove = KEYWORD_FIELDS.filter((f) => !(f in doc));
  return {
    id,
    doc,
    ...(remove.length && { remove }),
    ...(typeof item.last_update === 'string' && { version: item.last_update }),
  };
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
