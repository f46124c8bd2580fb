// Pika 0.11: the OpenSearch `session` index gains keyword copies of three text fields so
// analytics can aggregate on them. Additive only: a partial update per document.
import { sessionKey } from '../keys.ts';
import type { Item, SearchChange } from '../types.ts';

export const SEARCH_KEYWORDS_MIGRATION = 'session-search-keywords' as const;

/** keyword field in the index → session attribute it is copied from. */
export const SEARCH_KEYWORD_FIELDS = {
  invocation_mode_keyword: 'invocation_mode',
  user_type_keyword: 'user_type',
  source_keyword: 'source',
} as const;

export type SearchKeywordField = keyof typeof SEARCH_KEYWORD_FIELDS;

const KEYWORD_FIELDS = Object.keys(SEARCH_KEYWORD_FIELDS) as SearchKeywordField[];

/** The additive mapping update (`PUT <index>/_mapping` body). */
export const SEARCH_KEYWORD_MAPPING = {
  properties: {
    invocation_mode_keyword: { type: 'keyword' },
    user_type_keyword: { type: 'keyword' },
    source_keyword: { type: 'keyword' },
  },
} as const satisfies { properties: Record<SearchKeywordField, { type: 'keyword' }> };

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
 * DynamoDB migrations (see planSessionItem), so defaults like `source='user'` are indexed too.
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
