// Pika 0.11: the OpenSearch `session` index gains keyword copies of three text fields so
// analytics can aggregate on them. Additive only: a guarded partial update per document.
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

/** The additive mapping update (`PUT <index>/_mapping` body): every field a keyword. */
export const SEARCH_KEYWORD_MAPPING = {
  properties: Object.fromEntries(KEYWORD_FIELDS.map((f) => [f, { type: 'keyword' as const }])),
} as { properties: Record<SearchKeywordField, { type: 'keyword' }> };

/**
 * Sets the fields unless the document comes from a newer version of the session (ISO-8601
 * timestamps compare as strings) or already has them (noop: no reindex). DESIGN.md point 5:
 * partial updates cannot use external versions, so the version travels as a parameter.
 */
export const VERSION_GUARDED_UPDATE = `
  def src = ctx._source;
  if (params.version != null && src.last_update instanceof String && src.last_update.compareTo(params.version) > 0) {
    ctx.op = 'noop'; return;
  }
  boolean same = true;
  for (def e : params.doc.entrySet()) { if (src[e.getKey()] != e.getValue()) { same = false; } }
  if (same) { ctx.op = 'noop'; return; }
  for (def e : params.doc.entrySet()) { src[e.getKey()] = e.getValue(); }
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
 * DynamoDB migrations (see planItem), so defaults like `source='user'` are indexed too.
 */
export function planSearch(item: Item): SearchChange | null {
  const doc = searchKeywords(item);
  if (Object.keys(doc).length === 0) return null;
  const id = sessionKey(item).session_id as string;
  return typeof item.last_update === 'string'
    ? { id, doc, version: item.last_update }
    : { id, doc };
}

/** Whether an existing search document already holds every expected keyword value. */
export function searchKeywordsSatisfied(
  doc: Record<string, unknown>,
  expected: SearchChange,
): boolean {
  return Object.entries(expected.doc).every(([field, value]) => doc[field] === value);
}

export const sessionSearchKeywords = {
  name: SEARCH_KEYWORDS_MIGRATION,
  table: 'session',
  target: 'search',
  pikaVersion: '0.11',
  inputs: ['session_id', 'last_update', ...Object.values(SEARCH_KEYWORD_FIELDS)],
  writes: KEYWORD_FIELDS,
  description: 'keyword copies of invocation_mode, user_type and source in the session index',
  search: {
    fields: SEARCH_KEYWORD_FIELDS,
    mapping: SEARCH_KEYWORD_MAPPING,
    guard: VERSION_GUARDED_UPDATE,
    plan: planSearch,
  },
} as const satisfies MigrationInfo;
